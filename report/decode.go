package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/credbatch/credbatch/internal/secret"
)

// ErrMalformed is wrapped by the LineError of a line that does not parse.
var ErrMalformed = errors.New("malformed report line")

// ErrTorn is wrapped by the LineError of a last line that has no line end,
// or a CSV record whose quoted cell is never closed: what an interrupted
// write leaves. Repair cuts it.
var ErrTorn = errors.New("torn report line (no line end: interrupted write?)")

// LineError says which line of a report file is wrong and why. It never
// holds a cell's value. Line is the line of the report file (the CSV header
// is line 1), not the manifest line in Row.Line.
type LineError struct {
	Line   int
	Column string // the column at fault, when one is
	Msg    string
	Err    error // ErrMalformed or ErrTorn
}

func (e *LineError) Error() string {
	if e.Column != "" {
		return fmt.Sprintf("line %d: column %s: %s", e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

// Unwrap returns ErrMalformed or ErrTorn.
func (e *LineError) Unwrap() error { return e.Err }

// Read reads a whole report in format f from r and calls fn with each row in
// file order (a new *Row each time: fn may keep it). It is strict: a CSV
// header other than Columns, a wrong number of cells, a bad number, time or
// outcome, an unknown JSONL key, a blank line or a last line without '\n'
// stops it with a *LineError naming the report line. An empty CSV input
// (no header: a crash right after Create) is a LineError wrapping ErrTorn;
// an empty JSONL input has no rows. An error
// returned by fn stops Read and is returned as it is.
//
// CSV is read with encoding/csv, JSONL one line at a time with
// encoding/json: keys in any order, and spaces between them.
func Read(r io.Reader, f Format, fn func(*Row) error) error {
	switch f {
	case CSV:
		return readCSV(r, fn)
	case JSONL:
		return readJSONL(r, fn)
	}
	return fmt.Errorf("report: read: %w", ErrFormat)
}

func readCSV(r io.Reader, fn func(*Row) error) error {
	c := newCSVReader(r)
	err := c.header()
	if err == io.EOF {
		err = &LineError{Line: 1, Msg: "empty CSV report: no header", Err: ErrTorn}
	}
	if err != nil {
		return fmt.Errorf("report: read: %w", err)
	}
	for {
		err := c.read()
		if err == io.EOF {
			return nil
		}
		var row *Row
		if err == nil {
			row, err = c.row()
		}
		if err != nil {
			return fmt.Errorf("report: read: %w", err)
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}

func readJSONL(r io.Reader, fn func(*Row) error) error {
	l := newLineReader(r)
	for {
		line, err := l.next()
		if err == io.EOF {
			return nil
		}
		var row *Row
		if err == nil {
			row, err = l.row(line)
		}
		if err != nil {
			return fmt.Errorf("report: read: %w", err)
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}

// ReadFile reads the report at path, in the format its extension names, as
// Read does.
func ReadFile(path string, fn func(*Row) error) error {
	format, err := FormatOf(path)
	if err != nil {
		return err
	}
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer file.Close()
	err = Read(file, format, fn)
	var le *LineError
	if errors.As(err, &le) {
		return fmt.Errorf("report: %s: %w", path, le)
	}
	return err
}

// LayoutOf returns the layout of the report at path: for a CSV report the
// one its header names, for JSONL LayoutHandout when its first row has a
// source (every hand-out row has one), else LayoutFull. An empty report is
// LayoutFull. Errors are Read's.
func LayoutOf(path string) (Layout, error) {
	format, err := FormatOf(path)
	if err != nil {
		return 0, err
	}
	file, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("report: %w", err)
	}
	defer file.Close()
	if format == CSV {
		c := newCSVReader(file)
		switch err := c.header(); {
		case err == io.EOF:
			return LayoutFull, nil
		case err != nil:
			return 0, fmt.Errorf("report: %s: %w", path, err)
		}
		return c.layout, nil
	}
	line, err := newLineReader(file).next()
	switch {
	case err == io.EOF:
		return LayoutFull, nil
	case err != nil:
		return 0, fmt.Errorf("report: %s: %w", path, err)
	}
	if v, ok := jsonValue(line, `"source"`); ok && len(v) > 2 && v[0] == '"' {
		return LayoutHandout, nil
	}
	return LayoutFull, nil
}

// lineReader reads a JSONL report one line at a time, counting lines and
// bytes.
type lineReader struct {
	br   *bufio.Reader
	buf  []byte
	line int   // the report line last read
	off  int64 // bytes read
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line without its line end (a slice valid until the
// next call), io.EOF at the end, or a *LineError wrapping ErrTorn for a last
// line without '\n'.
func (l *lineReader) next() ([]byte, error) {
	l.buf = l.buf[:0]
	for {
		chunk, err := l.br.ReadSlice('\n')
		l.buf = append(l.buf, chunk...)
		l.off += int64(len(chunk))
		switch err {
		case nil:
			l.line++
			return bytes.TrimSuffix(l.buf[:len(l.buf)-1], []byte{'\r'}), nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if len(l.buf) == 0 {
				return nil, io.EOF
			}
			l.line++
			return nil, &LineError{Line: l.line, Msg: "the line has no line end", Err: ErrTorn}
		default:
			return nil, fmt.Errorf("report: read: %w", err)
		}
	}
}

// atEOF reports whether nothing follows the line last read.
func (l *lineReader) atEOF() bool {
	_, err := l.br.Peek(1)
	return err == io.EOF
}

// row decodes the line last read in full.
func (l *lineReader) row(line []byte) (*Row, error) {
	r, col, msg := parseJSONLine(line)
	if msg != "" {
		return nil, &LineError{Line: l.line, Column: col, Msg: msg, Err: ErrMalformed}
	}
	return r, nil
}

// atoiSigned parses a whole number written with digits and, for a negative
// one, a leading '-' (Repair's checks refuse those: no manifest line is).
func atoiSigned(s string) (int, error) {
	if s == "" || s[0] == '+' {
		return 0, ErrMalformed
	}
	return strconv.Atoi(s)
}

// atoiLine parses a line number: digits only, no sign.
func atoiLine(s string) (int, error) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, ErrMalformed
	}
	return strconv.Atoi(s)
}

// rowFromFields decodes the cells of a CSV record that starts on the report
// line line: as many as its file's layout has.
func rowFromFields(f []string, line int) (*Row, error) {
	malformed := func(col, msg string) (*Row, error) {
		return nil, &LineError{Line: line, Column: col, Msg: msg, Err: ErrMalformed}
	}
	r := &Row{
		User:          f[1],
		UserID:        f[2],
		Action:        f[3],
		ErrorCode:     f[6],
		ErrorSummary:  f[7],
		OktaRequestID: f[8],
		TempPassword:  secret.New(f[9]),
		ResetURL:      secret.New(f[10]),
		UserStatus:    f[11],
	}
	var err error
	if r.Line, err = atoiSigned(f[0]); err != nil {
		return malformed("line", "not a whole number")
	}
	if r.Outcome, err = ParseOutcome(f[4]); err != nil {
		return malformed("outcome", "unknown outcome")
	}
	if r.HTTPStatus, err = optInt(f[5]); err != nil {
		return malformed("http_status", "not a whole number")
	}
	if r.Attempts, err = optInt(f[12]); err != nil {
		return malformed("attempts", "not a whole number")
	}
	if r.StartedAt, err = optTime(f[13]); err != nil {
		return malformed("started_at", "not a time like "+TimeLayout)
	}
	if r.FinishedAt, err = optTime(f[14]); err != nil {
		return malformed("finished_at", "not a time like "+TimeLayout)
	}
	if len(f) > widthV1 {
		r.Login, r.Email, r.FirstName, r.LastName = f[15], f[16], f[17], f[18]
	}
	if len(f) > numColumns {
		r.Source, r.Note = f[19], f[20]
	}
	return r, nil
}

func optInt(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	if s[0] < '0' || s[0] > '9' {
		return 0, ErrMalformed
	}
	return strconv.Atoi(s)
}

func optTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(TimeLayout, s)
}

// jsonRow is the JSONL form of a Row, for decoding.
type jsonRow struct {
	Line          *int   `json:"line"`
	User          string `json:"user"`
	UserID        string `json:"user_id"`
	Action        string `json:"action"`
	Outcome       string `json:"outcome"`
	HTTPStatus    int    `json:"http_status"`
	ErrorCode     string `json:"error_code"`
	ErrorSummary  string `json:"error_summary"`
	OktaRequestID string `json:"okta_request_id"`
	TempPassword  string `json:"temp_password"`
	ResetURL      string `json:"reset_url"`
	UserStatus    string `json:"user_status"`
	Attempts      int    `json:"attempts"`
	StartedAt     string `json:"started_at"`
	FinishedAt    string `json:"finished_at"`
	Login         string `json:"login"`
	Email         string `json:"email"`
	FirstName     string `json:"first_name"`
	LastName      string `json:"last_name"`
	Source        string `json:"source"`
	Note          string `json:"note"`
}

// ParseJSONLine parses one JSONL report line (without its line end) as
// AppendRow wrote it: the fast path for reading the rows a checkpoint holds.
// Errors name the column, never a value.
func ParseJSONLine(line []byte) (*Row, error) {
	r, col, msg := parseJSONLine(line)
	if msg != "" {
		return nil, &LineError{Line: 1, Column: col, Msg: msg, Err: ErrMalformed}
	}
	return r, nil
}

// parseJSONLine decodes one line; on failure it returns the column and a
// message that quotes nothing from the input.
func parseJSONLine(line []byte) (*Row, string, string) {
	if len(bytes.TrimSpace(line)) == 0 {
		return nil, "", "a blank line"
	}
	var jr jsonRow
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&jr); err != nil {
		// Never echo encoding/json's message: it may quote the input.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, te.Field, "wrong JSON type"
		}
		if strings.HasPrefix(err.Error(), "json: unknown field") {
			return nil, "", "an unknown key"
		}
		return nil, "", "not a JSON object"
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "", "more than one JSON value"
	}
	if jr.Line == nil {
		return nil, "line", "missing"
	}
	r := &Row{
		Line:          *jr.Line,
		User:          jr.User,
		UserID:        jr.UserID,
		Action:        jr.Action,
		HTTPStatus:    jr.HTTPStatus,
		ErrorCode:     jr.ErrorCode,
		ErrorSummary:  jr.ErrorSummary,
		OktaRequestID: jr.OktaRequestID,
		TempPassword:  secret.New(jr.TempPassword),
		ResetURL:      secret.New(jr.ResetURL),
		UserStatus:    jr.UserStatus,
		Attempts:      jr.Attempts,
		Login:         jr.Login,
		Email:         jr.Email,
		FirstName:     jr.FirstName,
		LastName:      jr.LastName,
		Source:        jr.Source,
		Note:          jr.Note,
	}
	var err error
	if r.Outcome, err = ParseOutcome(jr.Outcome); err != nil {
		return nil, "outcome", "unknown outcome"
	}
	if r.HTTPStatus < 0 {
		return nil, "http_status", "negative"
	}
	if r.Attempts < 0 {
		return nil, "attempts", "negative"
	}
	if r.StartedAt, err = optTime(jr.StartedAt); err != nil {
		return nil, "started_at", "not a time like " + TimeLayout
	}
	if r.FinishedAt, err = optTime(jr.FinishedAt); err != nil {
		return nil, "finished_at", "not a time like " + TimeLayout
	}
	return r, "", ""
}
