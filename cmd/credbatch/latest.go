package main

// `credbatch report R1 [R2 …] --latest OUT` (SPEC.md "Hand-out"): one list
// over a run (R1) and its reruns, one row per (user, action), in R1's
// manifest order, with the final outcome, the newest secret and the report
// each came from. The rule, as an Okta admin reads it:
//
//   - The outcome is the newest attempt's (by finished_at; a later report
//     wins a tie), and source names its report.
//   - The secret is the one the newest success issued: a new temporary
//     password or reset link makes the older ones stop working, so an older
//     secret is never handed out once a newer one was issued (and when the
//     newest was emailed, there is none to hand out).
//   - A later attempt that did not apply (a 4xx, a 429, a skip) leaves that
//     secret standing; the note says so. A later attempt of a secret-issuing
//     action that may have applied (in_doubt, no answer, a 5xx) may have
//     issued a newer secret that nobody holds: the older one is still given,
//     and the note says it may no longer work and to run the row again.
//   - Rows of a rerun match R1's rows by (user_id, action), else by (user,
//     action) as the manifest wrote it (IDs exactly, logins ignoring case).
//     A rerun row that matches none of R1's follows R1's rows, with line 0
//     and a note naming its first report and line; R1's rows that finished
//     in no report are named on stderr, and are in no row.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"filippo.io/age"

	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

// latestOpts are the flags of report --latest.
type latestOpts struct {
	out       string
	encryptTo []string
	manifest  string // R1's manifest, if it moved
}

// latestInput is one report given to --latest and its run.
type latestInput struct {
	name string // as given: the source column
	rows []*report.Row
	hdr  checkpoint.Header
}

// handoutEvent is one report row of a (user, action): an attempt that ended.
type handoutEvent struct {
	row *report.Row
	src int // index in the inputs: a later report wins a tie
}

// handoutEntry is one row of the hand-out list: an R1 manifest row, or a
// rerun's row that matches none of R1's.
type handoutEntry struct {
	line   int // R1's manifest line; 0 for a rerun's row that matches none of R1's
	events []handoutEvent
}

// writeLatest writes the hand-out list of the reports at paths to o.out.
func writeLatest(e *env, paths []string, o *latestOpts) error {
	outFormat, err := report.FormatOf(o.out)
	if err != nil {
		return usagef("name it .csv or .jsonl", "--latest %s: %w", o.out, err)
	}
	if _, err := os.Lstat(o.out); err == nil {
		return usagef("choose another name, or move the old file away", "--latest %s: %w: a hand-out list is never overwritten", o.out, fs.ErrExist)
	}
	if st, err := os.Stat(filepath.Dir(o.out)); err != nil || !st.IsDir() {
		return usagef("create the directory first", "--latest %s: the directory %s does not exist", o.out, filepath.Dir(o.out))
	}
	var recips []age.Recipient
	if len(o.encryptTo) > 0 {
		if recips, _, err = parseRecipients(o.encryptTo); err != nil {
			return err
		}
	}
	inputs, closeAll, err := openLatestInputs(paths)
	defer closeAll()
	if err != nil {
		return err
	}
	entries, extras, err := matchRows(inputs, paths[0], o.manifest)
	if err != nil {
		return err
	}

	var rows []*report.Row
	var never []int
	bySource := make([]int, len(inputs))
	mayBeDead, failed := 0, 0
	for _, en := range append(entries, extras...) {
		if len(en.events) == 0 {
			never = append(never, en.line)
			continue
		}
		r, src, dead := settle(en, inputs)
		if dead {
			mayBeDead++
		}
		if r.Outcome == report.Failed || r.Outcome == report.InDoubt {
			failed++
		}
		bySource[src]++
		rows = append(rows, r)
	}
	sealed := 0
	if recips != nil {
		seal := sealer(recips)
		for _, r := range rows {
			for _, s := range []*secret.String{&r.TempPassword, &r.ResetURL} {
				if v := s.Reveal(); v == "" || strings.HasPrefix(v, sealedPrefix) {
					continue // nothing to seal, or sealed by the run already
				}
				if *s, err = seal(*s); err != nil {
					return fmt.Errorf("%w: --encrypt-to: %w", runner.ErrLocal, err)
				}
				sealed++
			}
		}
	}
	if err := writeHandout(o.out, outFormat, rows); err != nil {
		return err
	}

	var from []string
	for i, in := range inputs {
		from = append(from, fmt.Sprintf("%s %d", in.name, bySource[i]))
	}
	infof(e.stderr, "wrote %s: %d %s (the newest outcome from %s)", o.out, len(rows), plural(len(rows), "row", "rows"), strings.Join(from, ", "))
	temp, links := 0, 0
	for _, r := range rows {
		if !r.TempPassword.IsZero() {
			temp++
		}
		if !r.ResetURL.IsZero() {
			links++
		}
	}
	infof(e.stderr, "secrets in it: %d temporary %s, %d reset %s (never printed)%s", temp, plural(temp, "password", "passwords"), links, plural(links, "link", "links"),
		map[bool]string{true: fmt.Sprintf("; %d sealed with --encrypt-to", sealed), false: ""}[recips != nil])
	if n := len(extras); n > 0 {
		infof(e.stderr, "%d %s of the reruns %s no row of %s: after its rows", n, plural(n, "row", "rows"), plural(n, "matches", "match"), paths[0])
	}
	if mayBeDead > 0 {
		warnf(e.stderr, "%d %s a secret that may no longer work (a later attempt may have issued a newer one): see the note; run %s again",
			mayBeDead, plural(mayBeDead, "row holds", "rows hold"), plural(mayBeDead, "it", "them"))
	}
	if len(never) > 0 {
		warnf(e.stderr, "%d %s of %s finished in no report (%s): rerun %s's original command to finish %s; %s in no row",
			len(never), plural(len(never), "row", "rows"), paths[0], lineList(never), paths[0], plural(len(never), "it", "them"), plural(len(never), "it is", "they are"))
	}
	if failed > 0 || len(never) > 0 {
		return errRowsFailed
	}
	return nil
}

// openLatestInputs reads every report and its checkpoint's header, and
// refuses what cannot be merged: a report given twice, a missing or busy
// checkpoint, a dry run, reports of different orgs, a damaged report. The
// checkpoints stay locked until closeAll.
func openLatestInputs(paths []string) (inputs []*latestInput, closeAll func(), err error) {
	var journals []*checkpoint.Journal
	closeAll = func() {
		for _, j := range journals {
			_ = j.Close()
		}
	}
	seen := map[string]string{}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, closeAll, usagef("", "%s: %w", p, err)
		}
		if first, ok := seen[abs]; ok {
			return nil, closeAll, usagef("give each report once", "--latest: %s and %s are the same report", first, p)
		}
		seen[abs] = p
		cp := p + ".checkpoint"
		if _, err := os.Stat(cp); err != nil {
			return nil, closeAll, usagef("the checkpoint is written beside the report as REPORT.checkpoint; put it back",
				"--latest needs the checkpoint of every report (it names the run's org), and %s has none: %w", p, err)
		}
		j, st, err := openRunCheckpoint(cp)
		if err != nil {
			return nil, closeAll, err
		}
		journals = append(journals, j)
		if st.Header.DryRun {
			return nil, closeAll, usagef("give the reports of real runs", "--latest: %s is a dry run's report: it issued nothing", p)
		}
		in := &latestInput{name: p, hdr: st.Header}
		lines := map[int]bool{}
		err = report.ReadFile(p, func(r *report.Row) error {
			if lines[r.Line] {
				return usagef("rerun its original command: it completes and repairs the report from its checkpoint",
					"%s: line %d has two rows: the report is damaged", p, r.Line)
			}
			lines[r.Line] = true
			in.rows = append(in.rows, r)
			return nil
		})
		if err != nil {
			var ue *usageError
			if errors.As(err, &ue) {
				return nil, closeAll, err
			}
			return nil, closeAll, usagef("", "reading the report %s: %w", p, err)
		}
		inputs = append(inputs, in)
	}
	for _, in := range inputs[1:] {
		if in.hdr.OrgURL != inputs[0].hdr.OrgURL {
			var orgs []string
			for _, in := range inputs {
				orgs = append(orgs, fmt.Sprintf("%s is of %s", in.name, in.hdr.OrgURL))
			}
			return nil, closeAll, usagef("give the reports of one org's run and its reruns",
				"--latest: the reports are of different orgs: %s", strings.Join(orgs, ", "))
		}
	}
	return inputs, closeAll, nil
}

// matchRows gives each row of every report to its entry: R1's manifest rows
// in order (read from R1's manifest, which must not have changed), then the
// reruns' rows that match none of them.
func matchRows(inputs []*latestInput, r1 string, manifestOverride string) (entries, extras []*handoutEntry, err error) {
	hdr := inputs[0].hdr
	m, err := runManifest(r1, hdr, manifestOverride, r1+".checkpoint")
	if err != nil {
		return nil, nil, err
	}
	d, err := headerDefaults(hdr)
	if err != nil {
		return nil, nil, err
	}
	byLine := map[int]*handoutEntry{}
	byKey := map[string]*handoutEntry{}
	key := func(user, action string) string { return user + "\x00" + action }
	claim := func(idx map[string]*handoutEntry, k string, en *handoutEntry) {
		if _, ok := idx[k]; !ok { // the first row of a (user, action) keeps it
			idx[k] = en
		}
	}
	if err := m.Each(d, func(j *jobs.Job) error {
		en := &handoutEntry{line: j.Line}
		entries = append(entries, en)
		byLine[j.Line] = en
		claim(byKey, key(j.UserKey(), string(j.Action)), en)
		return nil
	}); err != nil {
		return nil, nil, usagef("", "reading %s's manifest %s: %w", r1, m.Path, err)
	}
	for _, r := range inputs[0].rows {
		en := byLine[r.Line]
		if en == nil {
			return nil, nil, usagef("", "%s: line %d is no row of its manifest %s", r1, r.Line, m.Path)
		}
		en.events = append(en.events, handoutEvent{row: r, src: 0})
		if r.UserID != "" {
			claim(byKey, key(r.UserID, r.Action), en)
		}
	}
	for i, in := range inputs[1:] {
		rows := slices.Clone(in.rows)
		slices.SortStableFunc(rows, func(a, b *report.Row) int { return a.Line - b.Line })
		for _, r := range rows {
			// the Okta ID first: it names the user whatever the manifest wrote
			ks := []string{key(jobs.UserKey(r.User), r.Action)}
			if r.UserID != "" {
				ks = append([]string{key(r.UserID, r.Action)}, ks...)
			}
			var en *handoutEntry
			for _, k := range ks {
				if en == nil {
					en = byKey[k]
				}
			}
			if en == nil {
				en = &handoutEntry{}
				extras = append(extras, en)
			}
			for _, k := range ks {
				claim(byKey, k, en) // a later report naming the user otherwise finds it too
			}
			en.events = append(en.events, handoutEvent{row: r, src: i + 1})
		}
	}
	return entries, extras, nil
}

// headerDefaults are the run's row-default flags, from its checkpoint.
func headerDefaults(h checkpoint.Header) (jobs.Defaults, error) {
	var d jobs.Defaults
	if h.Action != "" {
		a, err := jobs.ParseAction(h.Action)
		if err != nil {
			return d, usagef("", "the checkpoint's --action: %w", err)
		}
		d.Action = a
	}
	for _, f := range []struct {
		v   string
		dst **bool
	}{{h.SendEmail, &d.SendEmail}, {h.RevokeSessions, &d.RevokeSessions}, {h.Strict, &d.Strict}} {
		switch f.v {
		case "true", "false":
			b := f.v == "true"
			*f.dst = &b
		}
	}
	return d, nil
}

// settle makes the hand-out row of one (user, action) from its attempts,
// by the rule of this file's comment. src is the input its outcome came
// from; dead says its secret may no longer work.
func settle(en *handoutEntry, inputs []*latestInput) (out *report.Row, src int, dead bool) {
	ev := slices.Clone(en.events)
	slices.SortStableFunc(ev, func(a, b handoutEvent) int {
		if c := a.row.FinishedAt.Compare(b.row.FinishedAt); c != 0 {
			return c
		}
		return a.src - b.src
	})
	final := ev[len(ev)-1]
	src = final.src
	r := *final.row
	out = &r
	out.Line, out.Source, out.Note = en.line, inputs[final.src].name, ""
	defer func() {
		if en.line == 0 {
			first := fmt.Sprintf("not in %s: first in %s line %d", inputs[0].name, inputs[ev[0].src].name, ev[0].row.Line)
			out.Note = strings.TrimSuffix(first+"; "+out.Note, "; ")
		}
	}()
	// who the user is: the newest attempt that says
	for i := len(ev) - 1; i >= 0; i-- {
		from := ev[i].row
		for _, f := range []struct{ dst, v *string }{{&out.UserID, &from.UserID}, {&out.Login, &from.Login},
			{&out.Email, &from.Email}, {&out.FirstName, &from.FirstName}, {&out.LastName, &from.LastName}} {
			if *f.dst == "" {
				*f.dst = *f.v
			}
		}
	}
	at := func(e handoutEvent) string {
		return fmt.Sprintf("%s line %d", inputs[e.src].name, e.row.Line)
	}
	what := func(e handoutEvent) string {
		s := string(e.row.Outcome)
		if e.row.ErrorCode != "" {
			s += " " + e.row.ErrorCode
		}
		return s
	}
	issued := -1 // the newest success
	for i, e := range ev {
		if e.row.Outcome == report.Succeeded {
			issued = i
		}
	}
	if !report.IssuesSecret(out.Action) {
		if issued >= 0 && ev[issued] != final {
			out.Note = fmt.Sprintf("succeeded earlier (%s, finished %s)", at(ev[issued]), ev[issued].row.FinishedAt.UTC().Format(report.TimeLayout))
		}
		return out, src, false
	}
	out.TempPassword, out.ResetURL = secret.String{}, secret.String{}
	if issued < 0 {
		for _, e := range ev {
			if report.MayHaveApplied(e.row) {
				out.Note = report.ReasonSecretLost
				break
			}
		}
		return out, src, false
	}
	from := ev[issued]
	out.TempPassword, out.ResetURL = from.row.TempPassword, from.row.ResetURL
	var notes []string
	if out.TempPassword.IsZero() && out.ResetURL.IsZero() {
		notes = append(notes, fmt.Sprintf("the newest link was emailed to the user (%s)", at(from)))
	} else if from != final {
		notes = append(notes, fmt.Sprintf("the secret is from %s, finished %s", at(from), from.row.FinishedAt.UTC().Format(report.TimeLayout)))
	}
	if from != final {
		later := final
		for _, e := range ev[issued+1:] {
			if report.MayHaveApplied(e.row) {
				later, dead = e, true
			}
		}
		if dead {
			notes = append(notes, fmt.Sprintf("a later attempt (%s: %s) may have issued a newer one, so this one may no longer work: run it again to issue a new one", at(later), what(later)))
		} else {
			notes = append(notes, fmt.Sprintf("the later attempt (%s: %s) issued none: it still stands", at(later), what(later)))
		}
	}
	out.Note = strings.Join(notes, "; ")
	return out, src, dead && !(out.TempPassword.IsZero() && out.ResetURL.IsZero())
}

// writeHandout creates path (O_EXCL, mode 0600) and writes rows in the
// hand-out layout; on any error the file is removed.
func writeHandout(path string, f report.Format, rows []*report.Row) error {
	return writeRowsFile("--latest", path, f, report.LayoutHandout, rows)
}

// writeRowsFile creates path (O_EXCL, mode 0600) and writes rows in the
// layout, durably; on any error the file is removed. flag names the option
// the file is for, in errors.
func writeRowsFile(flag, path string, f report.Format, layout report.Layout, rows []*report.Row) error {
	file, err := report.Create(path)
	if err != nil {
		if errors.Is(err, report.ErrExists) {
			return usagef("choose another name, or move the old file away", "%s: %w", flag, err)
		}
		return fmt.Errorf("%w: %s: %w", runner.ErrLocal, flag, err)
	}
	fail := func(err error) error {
		_ = file.Close()
		_ = os.Remove(path)
		return fmt.Errorf("%w: %s: writing %s: %w", runner.ErrLocal, flag, path, err)
	}
	w := report.NewLayoutWriter(file, f, layout)
	if err := w.WriteHeader(); err != nil {
		return fail(err)
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			return fail(err)
		}
	}
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	if err := file.Sync(); err != nil {
		return fail(err)
	}
	if err := file.Close(); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("%w: %s: writing %s: %w", runner.ErrLocal, flag, path, err)
	}
	return nil
}
