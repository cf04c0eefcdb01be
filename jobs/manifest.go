package jobs

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/credbatch/credbatch/internal/secret"
)

// Format is a manifest's file format.
type Format int

// The manifest formats, chosen by file extension.
const (
	CSV Format = iota + 1
	JSONL
)

// String returns "csv" or "jsonl".
func (f Format) String() string {
	switch f {
	case CSV:
		return "csv"
	case JSONL:
		return "jsonl"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ErrUnknownFormat is returned (wrapped) by FormatOf and Open for a path
// whose extension is not .csv, .jsonl or .ndjson.
var ErrUnknownFormat = errors.New("unknown manifest format")

// FormatOf returns the format a path's extension names: .csv is CSV; .jsonl
// and .ndjson are JSONL; case is ignored. Any other extension is an error
// wrapping ErrUnknownFormat.
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return CSV, nil
	case ".jsonl", ".ndjson":
		return JSONL, nil
	}
	return 0, fmt.Errorf("%s: %w: the extension must be .csv, .jsonl or .ndjson", path, ErrUnknownFormat)
}

// Manifest is a manifest file on disk. It holds no rows: every method reads
// the file again.
type Manifest struct {
	Path   string
	Format Format
}

// Open checks that path is an existing regular file with a known extension.
// It does not read the file (see Validate). "-" (standard input) is not
// handled here: copy it to a file with CopyStdin first.
func Open(path string) (*Manifest, error) {
	if path == "-" {
		return nil, errors.New("manifest -: standard input must be copied to a file first (jobs.CopyStdin)")
	}
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open manifest: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("open manifest %s: not a regular file", path)
	}
	return &Manifest{Path: path, Format: format}, nil
}

// Defaults are the row-default flags of run and validate. A nil pointer (or
// an empty Action) means the flag was not given.
type Defaults struct {
	Action                            Action // for rows whose action cell is empty (or with no action column)
	SendEmail, RevokeSessions, Strict *bool
}

func (d Defaults) flag(c col) *bool {
	switch c {
	case colSendEmail:
		return d.SendEmail
	case colRevokeSessions:
		return d.RevokeSessions
	case colStrict:
		return d.Strict
	}
	return nil
}

// Job is one validated manifest row.
type Job struct {
	Line     int    // the line on which the row starts (first CSV data row is line 2; JSONL: the line number)
	User     string // as written (trimmed)
	UserIsID bool   // User matches ^00u[0-9A-Za-z]{17}$
	Action   Action
	// The row's value, else the default flag when the action takes the
	// column, else nil (Okta's default: the parameter is not sent).
	SendEmail, RevokeSessions, Strict                  *bool
	OldPassword, NewPassword, Password, RecoveryAnswer secret.String
	RecoveryQuestion                                   string

	// The informational columns, trimmed ("" when absent): who the user is,
	// as the manifest says, for the report. They change nothing: the
	// action goes to User whatever they hold. Login is the login column
	// only when a user, user_id or id column names the user; when login is
	// the only column naming the user, it is User and Login is "".
	Login, Email, FirstName, LastName, Status string
}

// UserKey is the key that identifies the job's user before resolution: an
// Okta ID as written (IDs are case-sensitive), a login lower-cased (logins
// are not).
func (j *Job) UserKey() string {
	if j.UserIsID {
		return j.User
	}
	return strings.ToLower(j.User)
}

// UserKey is the key that identifies a user as a manifest names one (the
// key Job.UserKey gives): an Okta ID as written, a login lower-cased.
func UserKey(user string) string {
	if IsUserID(user) {
		return user
	}
	return strings.ToLower(user)
}

// IsUserID reports whether s is an Okta user ID: it matches
// ^00u[0-9A-Za-z]{17}$.
func IsUserID(s string) bool {
	if len(s) != 20 || s[:3] != "00u" {
		return false
	}
	for i := 3; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// Summary describes a manifest that Validate read.
type Summary struct {
	Rows         int            // data rows (valid or not)
	PerAction    map[Action]int // rows per action, for rows whose action is known
	SHA256       string         // hex SHA-256 of the file's bytes (as given: before any transcoding)
	Size         int64          // the file's size in bytes
	HasPasswords bool           // some row carries old_password, new_password, password or recovery_answer
	Encoding     Encoding       // UTF8, or UTF16LE / UTF16BE (read transcoded); "" when the encoding was refused
	Separator    rune           // a CSV's separator: ',', ';' or '\t' (0 for JSONL, or when it was refused)
	Effects      Effects        // what the valid rows will make happen to people
}

// Validate reads the whole manifest once and checks every row against
// SPEC.md's rules, applying d as run would.
//
// Manifest problems are returned together as *Errors (each a *LineError).
// A row-default flag that no row's action takes is an error wrapping
// ErrFlagUnused; when the manifest also has problems, both are returned
// joined (errors.As / errors.Is find each). With either, the Summary is
// still returned. An I/O error or an unknown d.Action returns a nil Summary
// and a plain error.
func (m *Manifest) Validate(d Defaults) (*Summary, error) {
	if d.Action != "" && !d.Action.valid() {
		return nil, fmt.Errorf("--action: %w (actions: %s)", ErrUnknownAction, actionList())
	}
	f, err := os.Open(m.Path)
	if err != nil {
		return nil, fmt.Errorf("validate manifest: %w", err)
	}
	defer f.Close()

	h := sha256.New()
	cw := &countWriter{w: h}
	tee := io.TeeReader(f, cw)

	errs := &Errors{}
	sum := &Summary{PerAction: make(map[Action]int)}
	var takesSeen [numActionCols]bool
	s := newScanner(m, d.Action != "", errs.add)
	dups := &dupDetector{}

	j := new(Job) // one for every row: each is done with before the next
	err = s.scan(tee, func(r *rawRow) error {
		sum.Rows++
		if !fill(j, m.Path, r, d, errs.add) {
			return nil
		}
		if !sum.HasPasswords && (!j.OldPassword.IsZero() || !j.NewPassword.IsZero() || !j.Password.IsZero() || !j.RecoveryAnswer.IsZero()) {
			sum.HasPasswords = true
		}
		if !j.Action.valid() {
			return nil
		}
		sum.PerAction[j.Action]++
		sum.Effects.Add(j)
		tbl := takes[j.Action]
		for c := colSendEmail; c < numActionCols; c++ {
			if tbl[c] != Refused {
				takesSeen[c] = true
			}
		}
		if j.User != "" {
			dups.add(j.UserKey(), j.Action)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return nil, fmt.Errorf("validate manifest: read %s: %w", m.Path, err)
	}
	if suspects := dups.repeated(); suspects != nil {
		more, err := m.duplicates(d, suspects)
		if err != nil {
			return nil, err
		}
		mergeByLine(errs, more)
	}
	sum.SHA256 = hex.EncodeToString(h.Sum(nil))
	sum.Size = cw.n
	sum.Encoding = s.enc
	sum.Separator = rune(s.comma)

	if sum.Rows == 0 && !s.fatal {
		errs.add(&LineError{File: m.Path, Line: max(1, s.lastLine), Msg: "the manifest has no rows",
			Hint: "add one row per user and action"})
	}

	var flagErrs []error
	for _, fl := range []struct {
		c    col
		name string
	}{{colSendEmail, "--send-email"}, {colRevokeSessions, "--revoke-sessions"}, {colStrict, "--strict"}} {
		if d.flag(fl.c) != nil && !takesSeen[fl.c] {
			flagErrs = append(flagErrs, fmt.Errorf("%w: %s was given but no row's action takes %s", ErrFlagUnused, fl.name, colNames[fl.c]))
		}
	}
	switch {
	case errs.Total > 0 && len(flagErrs) > 0:
		return sum, errors.Join(append([]error{errs}, flagErrs...)...)
	case errs.Total > 0:
		return sum, errs
	case len(flagErrs) > 0:
		return sum, errors.Join(flagErrs...)
	}
	return sum, nil
}

// Each reads the manifest again and calls fn with each row's Job, in file
// order. The Job is Each's own, refilled for every row: fn must not keep
// the pointer after it returns (it copies *j to keep the row; a million-row
// run allocates no Job). It stops at fn's first error and returns it. Call it
// after Validate succeeded: a row that does not validate (the file changed,
// or Validate was skipped) stops Each with that row's *LineError. Each does
// not check for duplicates.
func (m *Manifest) Each(d Defaults, fn func(*Job) error) error {
	if d.Action != "" && !d.Action.valid() {
		return fmt.Errorf("--action: %w (actions: %s)", ErrUnknownAction, actionList())
	}
	f, err := os.Open(m.Path)
	if err != nil {
		return fmt.Errorf("read manifest: %w", err)
	}
	defer f.Close()
	var first *LineError
	keep := func(le *LineError) {
		if first == nil {
			first = le
		}
	}
	s := newScanner(m, d.Action != "", keep)
	j := new(Job)
	err = s.scan(f, func(r *rawRow) error {
		if first != nil {
			return first
		}
		ok := fill(j, m.Path, r, d, keep)
		if first != nil {
			return first
		}
		if !ok {
			return fmt.Errorf("read manifest %s: line %d could not be read as a row", m.Path, r.line)
		}
		return fn(j)
	})
	if err != nil {
		return err
	}
	if first != nil {
		return first
	}
	return nil
}

// Fingerprint returns the hex SHA-256 and the size of the manifest's bytes,
// as Validate's Summary reports them.
func (m *Manifest) Fingerprint() (sha256hex string, size int64, err error) {
	f, err := os.Open(m.Path)
	if err != nil {
		return "", 0, fmt.Errorf("fingerprint manifest: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("fingerprint manifest %s: %w", m.Path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// CopyRows writes to w the manifest's header (CSV) and the original bytes
// of every row whose starting line keep accepts, in file order, so that the
// result is a runnable manifest of the same format (and separator). It
// returns the number of rows written. Blank lines before a copied CSV row
// are copied with it. A UTF-16 manifest is copied as its UTF-8 text (a CSV
// with a UTF-8 BOM, which Excel recognises).
func (m *Manifest) CopyRows(keep func(line int) bool, w io.Writer) (int, error) {
	f, err := os.Open(m.Path)
	if err != nil {
		return 0, fmt.Errorf("copy manifest rows: %w", err)
	}
	defer f.Close()
	var (
		n          int
		headerDone bool
	)
	s := newScanner(m, true, func(*LineError) {})
	c := &copier{f: f, s: s, w: w, buf: make([]byte, 32<<10)}
	copyRange := c.copyRange
	err = s.scan(f, func(r *rawRow) error {
		if !keep(r.line) {
			return nil
		}
		if !headerDone && m.Format == CSV {
			headerDone = true
			if err := copyRange(0, s.headerEnd); err != nil {
				return err
			}
		}
		if err := copyRange(r.start, r.end); err != nil {
			return err
		}
		n++
		return nil
	})
	if err == nil && !headerDone && m.Format == CSV {
		err = copyRange(0, s.headerEnd)
	}
	if err != nil {
		return n, fmt.Errorf("copy rows of %s: %w", m.Path, err)
	}
	return n, nil
}

// copier copies ranges of a manifest's text, in increasing order.
type copier struct {
	f   *os.File
	s   *scanner
	w   io.Writer
	buf []byte
	fwd *bufio.Reader // a UTF-16 manifest's text, read once from the start
	pos int64         // fwd's text offset
}

func (c *copier) copyRange(start, end int64) error {
	if end <= start {
		return nil
	}
	if c.s.dec == nil {
		_, err := io.CopyBuffer(onlyWriter{c.w}, io.NewSectionReader(c.f, start, end-start), c.buf)
		return err
	}
	if c.fwd == nil {
		first := c.s.dec.marks[0]
		c.fwd = bufio.NewReaderSize(newDecoder(io.NewSectionReader(c.f, first.in, 1<<62), c.s.enc, first.in, first.out, false), 32<<10)
		if c.s.m.Format == CSV {
			if _, err := c.w.Write(utf8BOM); err != nil {
				return err
			}
		}
	}
	if start < c.pos {
		return fmt.Errorf("text range %d-%d after %d", start, end, c.pos)
	}
	if _, err := c.fwd.Discard(int(start - c.pos)); err != nil {
		return err
	}
	k, err := io.CopyBuffer(onlyWriter{c.w}, io.LimitReader(c.fwd, end-start), c.buf)
	c.pos = start + k
	if err == nil && k < end-start {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// onlyWriter hides a writer's ReadFrom, so io.CopyBuffer uses its buffer.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }

// CopyStdin copies a manifest from r (standard input) to dst, which it
// creates (it must not exist) with mode 0600, and syncs to disk. On error
// dst is removed.
func CopyStdin(r io.Reader, dst string) (err error) {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("copy standard input: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(dst)
		}
	}()
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("copy standard input to %s: %w", dst, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("copy standard input: sync %s: %w", dst, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("copy standard input: close %s: %w", dst, err)
	}
	if d, derr := os.Open(filepath.Dir(dst)); derr == nil {
		_ = d.Sync() // best effort: make the new directory entry durable
		_ = d.Close()
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
