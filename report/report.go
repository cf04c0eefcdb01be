// Package report owns credbatch's report: one Row per manifest row, its two
// file forms (CSV with a header, or JSONL with one object a line), the writer
// that appends rows, the strict reader that reads them back, Repair (which
// cuts the torn tail a crash leaves behind), and the Summary that
// `credbatch report` and `run` print.
//
// The report is the one place, with the checkpoint, where the secrets Okta
// issues (temporary passwords, reset links) are written in clear: AppendRow
// is the only function here that calls secret.String.Reveal, and the report
// file is created with mode 0600 and never overwritten (Create). Nothing in
// this package prints, and no error or Summary output carries a field value.
//
// CSV cells are written exactly as they are: a cell starting with '=', '+',
// '-' or '@' is not prefixed or quoted to defuse spreadsheet formulas,
// because the report is first of all a machine-read record (resume and
// `credbatch report` read it back and must get the same values, and a user
// or login may legitimately start with '-' or '+'). Open it in a spreadsheet
// with formula evaluation off, or import it as text.
//
// Reports are read with encoding/csv and encoding/json. Every value reads
// back as written, with one exception of encoding/csv's: a CR right before a
// line feed inside a quoted CSV cell reads as the line feed alone. Only
// error_summary (server text) can hold one in practice; the secrets Okta
// issues, IDs, logins and times never do.
package report

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/credbatch/credbatch/internal/secret"
)

// Outcome is how a row ended.
type Outcome string

// The outcomes of SPEC.md "Report".
const (
	Succeeded    Outcome = "succeeded"
	Failed       Outcome = "failed"
	InDoubt      Outcome = "in_doubt" // may have reached Okta, no answer recorded, not safe to repeat
	Skipped      Outcome = "skipped"  // excluded user (or the token's own user)
	WouldSucceed Outcome = "would_succeed"
	WouldFail    Outcome = "would_fail"
)

// Outcomes lists every outcome in a stable display order.
var Outcomes = []Outcome{Succeeded, Failed, InDoubt, Skipped, WouldSucceed, WouldFail}

// ErrUnknownOutcome is returned (wrapped) by ParseOutcome.
var ErrUnknownOutcome = errors.New("unknown outcome")

// ParseOutcome returns the Outcome named by s (exact, lower case).
func ParseOutcome(s string) (Outcome, error) {
	switch o := Outcome(s); o {
	case Succeeded, Failed, InDoubt, Skipped, WouldSucceed, WouldFail:
		return o, nil
	}
	if len(s) > 32 {
		s = s[:32] + "..."
	}
	return "", fmt.Errorf("report: %w %q (want succeeded, failed, in_doubt, skipped, would_succeed or would_fail)", ErrUnknownOutcome, s)
}

// Error codes credbatch adds to Okta's errorCode values.
const (
	CodeNetwork       = "CB_NETWORK"
	CodeTimeout       = "CB_TIMEOUT"
	CodeLoginMismatch = "CB_LOGIN_MISMATCH"
	CodeDuplicateUser = "CB_DUPLICATE_USER"
)

// Row is one report row: the outcome of one manifest row. Field order and
// meaning follow Columns and SPEC.md "Report".
type Row struct {
	Line          int    // the manifest line the row starts on; the report's key
	User          string // the manifest's user value (ID or login)
	UserID        string // the Okta ID acted on or resolved to; empty when unknown
	Action        string
	Outcome       Outcome
	HTTPStatus    int // 0: no HTTP answer (written empty)
	ErrorCode     string
	ErrorSummary  string
	OktaRequestID string
	TempPassword  secret.String
	ResetURL      secret.String
	UserStatus    string
	Attempts      int       // 0 is written empty
	StartedAt     time.Time // zero: nothing sent (written empty)
	FinishedAt    time.Time
	// Who the user is, for the people who hand out secrets: from the
	// manifest when it gives them, else from Okta (the runner fills them;
	// this package carries them). Empty in a report written before them.
	Login     string
	Email     string
	FirstName string
	LastName  string
	// A hand-out list's (LayoutHandout) own fields: the report a row came
	// from, and what a reader must know about its secret. Empty elsewhere.
	Source string
	Note   string
}

// Columns is the CSV header and the JSONL keys, in order.
var Columns = []string{"line", "user", "user_id", "action", "outcome", "http_status", "error_code", "error_summary", "okta_request_id", "temp_password", "reset_url", "user_status", "attempts", "started_at", "finished_at", "login", "email", "first_name", "last_name"}

// Layout is which columns a report file holds. A CSV report's header fixes
// it for the whole file; a JSONL row names its keys, so a JSONL report has
// no layout of its own (rows written before the name columns just lack
// those keys).
type Layout int

const (
	// LayoutFull is Columns: what this version writes.
	LayoutFull Layout = iota
	// LayoutV1 is the first 15 of Columns, without login, email,
	// first_name and last_name: reports written before those columns. They
	// read as rows whose four name fields are empty; Repair (a resume)
	// brings such a CSV report to LayoutFull before rows are appended.
	LayoutV1
	// LayoutHandout is Columns, then source and note: the hand-out list
	// that `credbatch report --latest` writes from a run and its reruns.
	LayoutHandout
)

// Columns returns the layout's column names, in order.
func (l Layout) Columns() []string { return allColumns[:l.width()] }

func (l Layout) width() int {
	switch l {
	case LayoutV1:
		return widthV1
	case LayoutHandout:
		return widthHandout
	}
	return numColumns
}

func (l Layout) valid() bool { return l == LayoutFull || l == LayoutV1 || l == LayoutHandout }

// allColumns holds every column of every layout: each layout is a prefix.
var allColumns = append(Columns[:numColumns:numColumns], "source", "note")

const (
	numColumns   = 19
	widthV1      = 15
	widthHandout = 21
)

// TimeLayout is the report's time format: RFC 3339, UTC, milliseconds.
// Times are truncated to the millisecond when written.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Format is a report file format.
type Format int

// The report formats.
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

func (f Format) valid() bool { return f == CSV || f == JSONL }

// ErrFormat is returned (wrapped) for a path whose extension is neither .csv
// nor .jsonl, or for an invalid Format value.
var ErrFormat = errors.New("unknown report format (want .csv or .jsonl)")

// FormatOf returns the format named by path's extension: .csv or .jsonl
// (case-insensitive).
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return CSV, nil
	case ".jsonl":
		return JSONL, nil
	}
	return 0, fmt.Errorf("report: %s: %w", path, ErrFormat)
}

// ErrExists is returned (wrapped) by Create when the path already exists.
// errors.Is(err, fs.ErrExist) holds too. Its text is only "already exists",
// so a message reads "report: PATH already exists", saying it once.
var ErrExists error = existsError{}

type existsError struct{}

func (existsError) Error() string        { return "already exists" }
func (existsError) Is(target error) bool { return target == fs.ErrExist }

// Create creates a new report file at path for appending, with mode 0600
// whatever the umask, and fsyncs the parent directory so the file's name is
// durable. It never opens an existing file: when path exists it returns an
// error wrapping ErrExists. The caller writes the header (Writer.WriteHeader)
// and closes the file.
func Create(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("report: %s %w", path, ErrExists)
		}
		return nil, fmt.Errorf("report: create: %w", err)
	}
	fail := func(err error) (*os.File, error) {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, fmt.Errorf("report: create %s: %w", path, err)
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fail(err)
	}
	return f, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open parent directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync parent directory: %w", err)
	}
	return nil
}
