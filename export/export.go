package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/credbatch/credbatch/internal/crashpoint"
	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/runner/pace"
)

// Errors an export returns before it sends anything, for the caller to
// tell the user what to fix (exit 2).
var (
	// ErrExists: OUT exists (a manifest is never overwritten).
	ErrExists = errors.New("the manifest already exists: a manifest is never overwritten")
	// ErrOrphanPartial: OUT.partial exists, holds data, and has no state
	// file: it is not an export this command can resume.
	ErrOrphanPartial = errors.New("a partial manifest without its state file")
	// ErrEmpty: the listing held no user to write (none, or every one
	// left out): no manifest is written.
	ErrEmpty = errors.New("no user to write: no manifest was written")
	// ErrLocal is wrapped by a failure to write OUT.partial, its state or
	// OUT: the export stopped and the same command resumes it.
	ErrLocal = errors.New("writing the manifest failed")
)

// SettingsError is a rerun whose settings differ from those the
// interrupted export started with.
type SettingsError struct {
	State string // the state file
	Diffs []SettingsDiff
}

func (e *SettingsError) Error() string {
	msg := fmt.Sprintf("this command does not match the export recorded in %s:", e.State)
	for i, d := range e.Diffs {
		if i > 0 {
			msg += ";"
		}
		msg += fmt.Sprintf(" %s is %q there but %q now", d.Field, d.Saved, d.Now)
	}
	return msg
}

// RefusedError is a listing that Okta refused (a 4xx other than 429): a
// bad search or filter (400 E0000031), an unknown group or app (404), a
// token without the right (403). Before says that no file was created.
type RefusedError struct {
	Err    *okta.APIError
	Before bool
}

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// Config sets an export up.
type Config struct {
	Client  *okta.Client
	Fetcher *Fetcher
	OrgURL  string // normalised, as the client has it
	Source  Source
	Out     string // OUT.csv or OUT.jsonl; OUT.partial and OUT.partial.state beside it
	Columns Columns
	Keep    Statuses
	// ToolVersion is recorded in the state file.
	ToolVersion string
}

// Progress is how far an export got (this invocation's pages and users,
// and those of the runs it resumed).
type Progress struct {
	Pages, Listed, Written int64
}

// Result is what an export did.
type Result struct {
	Source                 Source
	Pages, Listed, Written int
	ByStatus               map[string]int // the rows written, by status
	LeftOut                map[string]int // see State.LeftOut
	Resumed                bool           // it continued an interrupted export
	AlreadyDone            bool           // an earlier run had written OUT; this one only tidied up
}

// Export is one export, from Open to the end of Run.
type Export struct {
	cfg                    Config
	enc                    *encoder
	partialPath, statePath string
	state                  *State // a resume's; nil for a new export
	settings               Settings
	pages, listed, written atomic.Int64
}

// Open checks OUT, OUT.partial and OUT.partial.state, sending nothing: an
// existing OUT is refused (unless the state says an export of the same
// settings finished and only its tidying was interrupted); OUT.partial
// holding data without a state file is refused; a state of other settings
// is refused (*SettingsError). A state of the same settings makes Run
// resume it.
func Open(cfg Config) (*Export, error) {
	format, err := FormatOf(cfg.Out)
	if err != nil {
		return nil, err
	}
	x := &Export{cfg: cfg, enc: newEncoder(format, cfg.Columns),
		partialPath: cfg.Out + ".partial", statePath: cfg.Out + ".partial.state"}
	x.settings = Settings{OrgURL: cfg.OrgURL, Source: cfg.Source.Kind, Value: cfg.Source.Value,
		StatusFilter: cfg.Source.StatusFilter, Statuses: cfg.Keep.List(), Format: format,
		Action: cfg.Columns.Action, SendEmail: boolSetting(cfg.Columns.SendEmail),
		Revoke: boolSetting(cfg.Columns.RevokeSessions), Strict: boolSetting(cfg.Columns.Strict)}
	st, err := loadState(x.statePath)
	if err != nil {
		return nil, err
	}
	out, outErr := os.Stat(cfg.Out)
	outExists := outErr == nil
	part, partErr := os.Stat(x.partialPath)
	partialExists := partErr == nil
	if st == nil {
		switch {
		case outExists:
			return nil, fmt.Errorf("%s: %w", cfg.Out, ErrExists)
		case partialExists && part.Size() > 0:
			return nil, fmt.Errorf("%s: %w %s", x.partialPath, ErrOrphanPartial, x.statePath)
		case partialExists:
			// Created, and killed before its first state: nothing in it.
			if err := os.Remove(x.partialPath); err != nil {
				return nil, err
			}
		}
		return x, nil
	}
	if d := st.Settings.diff(x.settings); len(d) > 0 {
		return nil, &SettingsError{State: x.statePath, Diffs: d}
	}
	switch {
	case outExists && !(st.Done && (!partialExists || os.SameFile(out, part))):
		return nil, fmt.Errorf("%s: %w", cfg.Out, ErrExists)
	case !partialExists && !(st.Done && outExists) && st.Length > 0:
		return nil, fmt.Errorf("%s: %w: the file is gone", x.partialPath, ErrPartialChanged)
	}
	x.state = st
	x.settings.GroupID, x.settings.GroupName = st.Settings.GroupID, st.Settings.GroupName
	x.cfg.Source.GroupID, x.cfg.Source.GroupName = st.Settings.GroupID, st.Settings.GroupName
	return x, nil
}

// Resuming returns the state of the export Run will resume, or nil.
func (x *Export) Resuming() *State { return x.state }

// Progress returns how far the export got; safe to call while Run runs.
func (x *Export) Progress() Progress {
	return Progress{Pages: x.pages.Load(), Listed: x.listed.Load(), Written: x.written.Load()}
}

// Source is the export's source (a group's ID and name once resolved).
func (x *Export) Source() Source { return x.cfg.Source }

// local marks a failure to write a file.
func local(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrLocal, what, err)
}

// Run exports: a new export resolves its group and fetches the first
// page before it creates any file; then each page's rows are appended to
// OUT.partial and made durable, then the state file records the next
// link; when no next link is left, OUT.partial becomes OUT. Feed ending
// stops it between pages (the error wraps ErrStopped); the same command
// resumes it.
func (x *Export) Run() (*Result, error) {
	res := &Result{Resumed: x.state != nil}
	st := x.state
	var p *partial
	var users *userSet
	var counts map[string]int
	var err error
	switch {
	case st == nil:
		if x.cfg.Source.Kind == FromGroup && x.cfg.Source.GroupID == "" {
			g, err := ResolveGroup(x.cfg.Fetcher, x.cfg.Client, x.cfg.Source.Value)
			if err != nil {
				return nil, refused(err, true)
			}
			x.cfg.Source.GroupID, x.cfg.Source.GroupName = g.ID, g.Name
			x.settings.GroupID, x.settings.GroupName = g.ID, g.Name
		}
		first := x.cfg.Source.First()
		items, pg, err := x.fetch(first)
		if err != nil {
			return nil, refused(err, true)
		}
		if p, err = createPartial(x.partialPath); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return nil, fmt.Errorf("%s: %w", x.partialPath, ErrBusy)
			}
			return nil, local("creating "+x.partialPath, err)
		}
		defer p.close()
		st = &State{Format: stateFormat, ToolVersion: x.cfg.ToolVersion, Settings: x.settings,
			Next: first, SHA256: p.sum(), LeftOut: map[string]int{}}
		if err := saveState(x.statePath, st); err != nil {
			return nil, local("saving "+x.statePath, err)
		}
		users, counts = newUserSet(), map[string]int{}
		if err := x.commit(p, st, users, counts, items, pg); err != nil {
			return nil, err
		}
	case st.Done && !exists(x.partialPath) && exists(x.cfg.Out):
		// OUT was linked and OUT.partial removed: only the state is left.
		if err := os.Remove(x.statePath); err != nil {
			return nil, local("removing "+x.statePath, err)
		}
		res.AlreadyDone = true
		return x.result(res, st, nil), nil
	case !exists(x.partialPath): // saved before its first rows: start it again
		if p, err = createPartial(x.partialPath); err != nil {
			return nil, local("creating "+x.partialPath, err)
		}
		defer p.close()
		users, counts = newUserSet(), map[string]int{}
	default:
		if p, users, counts, err = openPartial(x.partialPath, st, x.enc); err != nil {
			return nil, err
		}
		defer p.close()
	}
	if st.LeftOut == nil {
		st.LeftOut = map[string]int{}
	}
	x.pages.Store(int64(st.Pages))
	x.listed.Store(int64(st.Listed))
	x.written.Store(int64(st.Written))
	for !st.Done {
		items, pg, err := x.fetch(st.Next)
		if err != nil {
			return x.result(res, st, counts), refused(err, false)
		}
		if err := x.commit(p, st, users, counts, items, pg); err != nil {
			return x.result(res, st, counts), err
		}
	}
	if st.Written == 0 {
		// Nothing to act on: no manifest (one without rows is refused by
		// validate and run).
		_ = p.close()
		for _, f := range []string{x.partialPath, x.statePath} {
			if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return x.result(res, st, counts), local("removing "+f, err)
			}
		}
		return x.result(res, st, counts), ErrEmpty
	}
	if err := x.finish(); err != nil {
		return x.result(res, st, counts), err
	}
	return x.result(res, st, counts), nil
}

func (x *Export) result(res *Result, st *State, counts map[string]int) *Result {
	res.Source = x.cfg.Source
	res.Pages, res.Listed, res.Written = st.Pages, st.Listed, st.Written
	res.ByStatus, res.LeftOut = cloneCounts(counts), cloneCounts(st.LeftOut)
	return res
}

// refused makes Okta's refusal of a listing a *RefusedError (before: no
// file was created yet); a group that is not there is one already.
func refused(err error, before bool) error {
	var ae *okta.APIError
	var ge *GroupError
	if errors.As(err, &ae) && ae.HTTPStatus >= 400 && ae.HTTPStatus < 500 && ae.HTTPStatus != 429 && ae.HTTPStatus != 401 && !errors.As(err, &ge) {
		return &RefusedError{Err: ae, Before: before}
	}
	return err
}

// fetch gets one page of the source's listing, paced and retried, and
// looks up the users an app listing gave without their User.
func (x *Export) fetch(url string) ([]okta.ListedUser, *okta.Page, error) {
	c, f := x.cfg.Client, x.cfg.Fetcher
	var items []okta.ListedUser
	var page *okta.Page
	err := f.Do(x.cfg.Source.Bucket(), func(ctx context.Context, o okta.CallOptions) (*okta.Page, error) {
		var err error
		if x.cfg.Source.Kind == FromApp {
			items, page, err = c.AppUsersPage(ctx, url, o)
		} else {
			items, page, err = c.UsersPage(ctx, url, o)
		}
		return page, err
	})
	if err != nil {
		return nil, nil, err
	}
	for i := range items {
		if !items[i].Partial {
			continue
		}
		id := items[i].ID
		err := f.Do(pace.Get, func(ctx context.Context, o okta.CallOptions) (*okta.Page, error) {
			u, pg, err := c.ListedUserByID(ctx, id, o)
			if err == nil {
				items[i] = *u
			}
			return pg, err
		})
		switch {
		case errors.Is(err, okta.ErrNotFound):
			items[i] = okta.ListedUser{ID: id, Partial: true} // deleted since: left out as "gone"
		case err != nil:
			return nil, nil, err
		}
	}
	return items, page, nil
}

// commit writes a page's rows and then its state, each durable.
func (x *Export) commit(p *partial, st *State, users *userSet, counts map[string]int, items []okta.ListedUser, pg *okta.Page) error {
	var buf bytes.Buffer
	if p.length == 0 {
		if err := x.enc.header(&buf); err != nil {
			return local("encoding the header", err)
		}
	}
	leftOut := cloneCounts(st.LeftOut)
	added := map[string]int{}
	for i := range items {
		u := &items[i]
		switch {
		case u.Partial:
			leftOut["gone"]++
		case !x.cfg.Keep[u.Status]:
			leftOut[statusName(u.Status)]++
		case !users.add(u.ID):
			leftOut["duplicate"]++
		default:
			if err := x.enc.row(&buf, u); err != nil {
				return local("encoding a row", err)
			}
			added[u.Status]++
		}
	}
	if err := p.write(buf.Bytes()); err != nil {
		return local("writing "+p.path, err)
	}
	crashpoint.Hit("export-after-rows")
	for s, n := range added {
		counts[s] += n
	}
	st.Next, st.Done = pg.Next, pg.Next == ""
	st.Pages++
	st.Listed += len(items)
	st.Written, st.Length, st.SHA256, st.LeftOut = users.len(), p.length, p.sum(), leftOut
	if err := saveState(x.statePath, st); err != nil {
		return local("saving "+x.statePath, err)
	}
	crashpoint.Hit("export-after-state")
	x.pages.Store(int64(st.Pages))
	x.listed.Store(int64(st.Listed))
	x.written.Store(int64(st.Written))
	return nil
}

func statusName(s string) string {
	if s == "" {
		return "no status"
	}
	return s
}

// finish makes the complete OUT.partial OUT — linked, so that an OUT made
// meanwhile is never replaced — then removes OUT.partial and the state.
func (x *Export) finish() error {
	out := x.cfg.Out
	if err := os.Link(x.partialPath, out); err != nil {
		switch fi, serr := os.Stat(out); {
		case serr == nil:
			pi, perr := os.Stat(x.partialPath)
			if perr != nil || !os.SameFile(fi, pi) {
				return fmt.Errorf("%s: %w (it appeared while the export ran; the export is complete in %s)", out, ErrExists, x.partialPath)
			}
		case errors.Is(err, fs.ErrExist):
			return local("linking "+out, err)
		default: // no hard links here: a rename, OUT being absent
			if err := os.Rename(x.partialPath, out); err != nil {
				return local("renaming "+x.partialPath, err)
			}
		}
	}
	if err := syncDir(filepath.Dir(out)); err != nil {
		return local("syncing the directory of "+out, err)
	}
	crashpoint.Hit("export-after-link")
	if err := os.Remove(x.partialPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return local("removing "+x.partialPath, err)
	}
	if err := os.Remove(x.statePath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return local("removing "+x.statePath, err)
	}
	if err := syncDir(filepath.Dir(out)); err != nil {
		return local("syncing the directory of "+out, err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func dirOf(path string) string { return filepath.Dir(path) }
