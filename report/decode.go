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
func Read(r io.Reader, f Format, fn func(*Row) error) error {
	if !f.valid() {
		return fmt.Errorf("report: read: %w", ErrFormat)
	}
	s := newScanner(r, f)
	if f == CSV {
		err := s.header()
		if err == io.EOF {
			err = &LineError{Line: 1, Msg: "empty CSV report: no header", Err: ErrTorn}
		}
		if err != nil {
			return fmt.Errorf("report: read: %w", err)
		}
	}
	for {
		row, err := s.next()
		if err == io.EOF {
			return nil
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

// Repair makes the report at path whole again after a crash, in place: a
// last line without '\n', or a last line (record) that does not parse, is cut
// and the cut is fsynced. It returns the number of complete rows kept. An
// empty CSV file gets its header; a CSV file holding only a torn header (a
// prefix of it) is cut and given the whole header. A malformed line that is
// not the last one is not a torn tail: Repair changes nothing and returns its
// *LineError (wrapping ErrMalformed), as it does for a CSV header that is not
// Columns.
func Repair(path string) (rows int, err error) {
	format, err := FormatOf(path)
	if err != nil {
		return 0, err
	}
	file, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("report: repair: %w", err)
	}
	defer func() {
		if cerr := file.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("report: repair %s: %w", path, cerr)
		}
	}()
	s := newScanner(file, format)
	var (
		keep        int64 // bytes to keep
		writeHeader bool
	)
	if format == CSV {
		herr := s.header()
		switch {
		case herr == nil:
			keep = s.off
		case herr == io.EOF:
			writeHeader = true
		case errors.Is(herr, ErrTorn) && strings.HasPrefix(csvHeader, string(s.buf)):
			writeHeader = true
		case errors.Is(herr, ErrTorn):
			return 0, fmt.Errorf("report: repair %s: %w", path, s.malformed(1, "", "the header is not the report's columns"))
		default:
			return 0, fmt.Errorf("report: repair %s: %w", path, herr)
		}
	}
	if !writeHeader {
		for {
			// Every record gets the cheap checks (shape, line, outcome);
			// only the last, the one a crash can leave torn, is decoded in
			// full. A million-row report repairs in a fraction of a second.
			err := s.quickNext()
			if err == nil && s.atEOF() {
				err = s.fullCurrent()
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				if errors.Is(err, ErrTorn) || s.atEOF() {
					break // the torn tail: cut from keep
				}
				return 0, fmt.Errorf("report: repair %s: %w", path, err)
			}
			rows++
			keep = s.off
		}
	}
	size, err := file.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("report: repair %s: %w", path, err)
	}
	if size == keep && !writeHeader {
		return rows, nil
	}
	if err := file.Truncate(keep); err != nil {
		return 0, fmt.Errorf("report: repair %s: %w", path, err)
	}
	if writeHeader {
		if _, err := file.WriteAt([]byte(csvHeader), 0); err != nil {
			return 0, fmt.Errorf("report: repair %s: write header: %w", path, err)
		}
	}
	if err := file.Sync(); err != nil {
		return 0, fmt.Errorf("report: repair %s: %w", path, err)
	}
	return rows, nil
}

// scanner reads one record at a time, tracking the report line and the byte
// offset of the end of the last whole record.
type scanner struct {
	br     *bufio.Reader
	f      Format
	line   int   // report lines consumed
	off    int64 // bytes consumed
	buf    []byte
	spans  []span
	fields [numColumns]string
	cur    int // the report line the record quickNext read starts on
}

type span struct {
	start, end int
	esc        bool // holds doubled quotes
}

func newScanner(r io.Reader, f Format) *scanner {
	return &scanner{br: bufio.NewReaderSize(r, 64<<10), f: f, spans: make([]span, 0, numColumns)}
}

func (s *scanner) atEOF() bool {
	_, err := s.br.Peek(1)
	return err == io.EOF
}

// readLine appends one physical line (with its '\n', if any) to s.buf. It
// returns io.EOF when nothing was left to read.
func (s *scanner) readLine() (ok bool, err error) {
	n := 0
	for {
		chunk, err := s.br.ReadSlice('\n')
		s.buf = append(s.buf, chunk...)
		n += len(chunk)
		switch err {
		case nil:
			s.line++
			s.off += int64(n)
			return true, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if n > 0 {
				s.line++
				s.off += int64(n)
				return true, nil
			}
			return false, io.EOF
		default:
			return false, fmt.Errorf("report: read: %w", err)
		}
	}
}

func (s *scanner) malformed(line int, col, msg string) *LineError {
	return &LineError{Line: line, Column: col, Msg: msg, Err: ErrMalformed}
}

// header reads and checks the CSV header. It returns io.EOF for an empty
// input.
func (s *scanner) header() error {
	start, err := s.record()
	if err != nil {
		return err
	}
	if len(s.spans) != numColumns {
		return s.malformed(start, "", "the header is not the report's columns")
	}
	for i, sp := range s.spans {
		if string(s.buf[sp.start:sp.end]) != Columns[i] || sp.esc {
			return s.malformed(start, "", "the header is not the report's columns")
		}
	}
	return nil
}

// quickNext reads the next record and checks what is cheap to check: its
// shape (cell count, or a JSON object on one line), a positive line number
// and a known outcome. fullCurrent then decodes the same record in full.
func (s *scanner) quickNext() error {
	if s.f == JSONL {
		s.buf = s.buf[:0]
		s.cur = s.line + 1
		if _, err := s.readLine(); err != nil {
			return err
		}
		if s.buf[len(s.buf)-1] != '\n' {
			return &LineError{Line: s.cur, Msg: "the line has no line end", Err: ErrTorn}
		}
		line := bytes.TrimSuffix(s.buf[:len(s.buf)-1], []byte{'\r'})
		rest, ok := bytes.CutPrefix(line, []byte(`{"line":`))
		if !ok || !bytes.HasSuffix(rest, []byte{'}'}) {
			return s.malformed(s.cur, "", "not a report row")
		}
		end := bytes.IndexAny(rest, ",}")
		if n, err := strconv.Atoi(string(rest[:end])); err != nil || n < 0 {
			return s.malformed(s.cur, "line", "not a line number")
		}
		if out := jsonField(line, `"outcome":"`); out == "" {
			return s.malformed(s.cur, "outcome", "missing")
		} else if _, err := ParseOutcome(out); err != nil {
			return s.malformed(s.cur, "outcome", "unknown outcome")
		}
		return nil
	}
	start, err := s.record()
	s.cur = start
	if err != nil {
		return err
	}
	if len(s.spans) != numColumns {
		return s.malformed(start, "", fmt.Sprintf("%d cells, want %d", len(s.spans), numColumns))
	}
	if sp := s.spans[0]; sp.esc {
		return s.malformed(start, "line", "not a line number")
	} else if n, err := strconv.Atoi(string(s.buf[sp.start:sp.end])); err != nil || n < 0 {
		return s.malformed(start, "line", "not a line number")
	}
	if sp := s.spans[4]; sp.esc {
		return s.malformed(start, "outcome", "unknown outcome")
	} else if _, err := ParseOutcome(string(s.buf[sp.start:sp.end])); err != nil {
		return s.malformed(start, "outcome", "unknown outcome")
	}
	return nil
}

// fullCurrent decodes in full the record quickNext last read.
func (s *scanner) fullCurrent() error {
	if s.f == JSONL {
		line := bytes.TrimSuffix(s.buf[:len(s.buf)-1], []byte{'\r'})
		if _, col, msg := parseJSONLine(line); msg != "" {
			return s.malformed(s.cur, col, msg)
		}
		return nil
	}
	s.fillFields()
	_, err := s.rowFromFields(s.cur)
	return err
}

// JSONField returns the value of the string field name in a JSONL row that
// AppendRow wrote, without decoding the rest: the fast path for the fields
// whose values never hold an escape (line-free IDs, action names, outcomes,
// error codes). Inside any JSON string a quote is escaped, so the first
// unescaped `"name":"` is the field itself. It returns "" when the field is
// absent or its value holds an escape.
func JSONField(line []byte, name string) string {
	return jsonField(line, `"`+name+`":"`)
}

// jsonField returns the value after key (which ends with the opening quote)
// up to the next quote, or "" when absent or escaped.
func jsonField(line []byte, key string) string {
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return ""
	}
	v := line[i+len(key):]
	j := bytes.IndexByte(v, '"')
	if j < 0 || bytes.IndexByte(v[:j], '\\') >= 0 {
		return ""
	}
	return string(v[:j])
}

// fillFields unquotes the cells of the CSV record record() last read.
func (s *scanner) fillFields() {
	rec := string(s.buf)
	for i, sp := range s.spans {
		v := rec[sp.start:sp.end]
		if sp.esc {
			v = strings.ReplaceAll(v, `""`, `"`)
		}
		s.fields[i] = v
	}
}

// next returns the next row, io.EOF at the end, or a *LineError.
func (s *scanner) next() (*Row, error) {
	if s.f == JSONL {
		return s.nextJSON()
	}
	start, err := s.record()
	if err != nil {
		return nil, err
	}
	if len(s.spans) != numColumns {
		return nil, s.malformed(start, "", fmt.Sprintf("%d cells, want %d", len(s.spans), numColumns))
	}
	s.fillFields()
	return s.rowFromFields(start)
}

const (
	stFieldStart = iota
	stUnquoted
	stQuoted
	stQuoteSeen
)

// record reads one CSV record into s.buf and its cells' spans into s.spans,
// and returns the report line it starts on.
func (s *scanner) record() (int, error) {
	s.buf = s.buf[:0]
	s.spans = s.spans[:0]
	start := s.line + 1
	if _, err := s.readLine(); err != nil {
		return start, err
	}
	state := stFieldStart
	cellStart, esc := 0, false
	push := func(end int) {
		s.spans = append(s.spans, span{cellStart, end, esc})
		esc = false
	}
	for i := 0; ; i++ {
		if i == len(s.buf) {
			// The buffer ends without ending the record: either the
			// last line has no '\n', or a quoted cell goes on.
			if state == stQuoted && s.buf[i-1] == '\n' {
				ok, err := s.readLine()
				if err != nil && err != io.EOF {
					return start, err
				}
				if ok {
					i--
					continue
				}
			}
			return start, &LineError{Line: start, Msg: "the record has no line end", Err: ErrTorn}
		}
		c := s.buf[i]
		switch state {
		case stFieldStart, stUnquoted:
			switch c {
			case '"':
				if state == stUnquoted {
					return start, s.malformed(start, colName(len(s.spans)), "a quote inside an unquoted cell")
				}
				state, cellStart = stQuoted, i+1
			case ',':
				if state == stFieldStart {
					cellStart = i
				}
				push(i)
				state = stFieldStart
			case '\n', '\r':
				if state == stFieldStart {
					cellStart = i
				}
				if c == '\r' && !(i+1 < len(s.buf) && s.buf[i+1] == '\n') {
					return start, s.malformed(start, colName(len(s.spans)), "a carriage return outside quotes")
				}
				if c == '\r' && i+2 != len(s.buf) || c == '\n' && i+1 != len(s.buf) {
					return start, s.malformed(start, "", "bad line end")
				}
				push(i)
				return start, nil
			default:
				if state == stFieldStart {
					state, cellStart = stUnquoted, i
				}
			}
		case stQuoted:
			if c == '"' {
				state = stQuoteSeen
			}
		case stQuoteSeen:
			switch c {
			case '"':
				esc = true
				state = stQuoted
			case ',':
				push(i - 1)
				state = stFieldStart
			case '\n', '\r':
				if c == '\r' && !(i+1 < len(s.buf) && s.buf[i+1] == '\n') {
					return start, s.malformed(start, colName(len(s.spans)), "a character after a closing quote")
				}
				push(i - 1)
				return start, nil
			default:
				return start, s.malformed(start, colName(len(s.spans)), "a character after a closing quote")
			}
		}
	}
}

func colName(i int) string {
	if i < numColumns {
		return Columns[i]
	}
	return ""
}

func (s *scanner) rowFromFields(line int) (*Row, error) {
	f := &s.fields
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
	if r.Line, err = strconv.Atoi(f[0]); err != nil || f[0][0] == '+' {
		return nil, s.malformed(line, "line", "not a whole number")
	}
	if r.Outcome, err = ParseOutcome(f[4]); err != nil {
		return nil, s.malformed(line, "outcome", "unknown outcome")
	}
	if r.HTTPStatus, err = optInt(f[5]); err != nil {
		return nil, s.malformed(line, "http_status", "not a whole number")
	}
	if r.Attempts, err = optInt(f[12]); err != nil {
		return nil, s.malformed(line, "attempts", "not a whole number")
	}
	if r.StartedAt, err = optTime(f[13]); err != nil {
		return nil, s.malformed(line, "started_at", "not a time like "+TimeLayout)
	}
	if r.FinishedAt, err = optTime(f[14]); err != nil {
		return nil, s.malformed(line, "finished_at", "not a time like "+TimeLayout)
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
}

func (s *scanner) nextJSON() (*Row, error) {
	s.buf = s.buf[:0]
	start := s.line + 1
	if _, err := s.readLine(); err != nil {
		return nil, err
	}
	if s.buf[len(s.buf)-1] != '\n' {
		return nil, &LineError{Line: start, Msg: "the line has no line end", Err: ErrTorn}
	}
	line := bytes.TrimSuffix(s.buf[:len(s.buf)-1], []byte{'\r'})
	r, col, msg := parseJSONLine(line)
	if msg != "" {
		return nil, s.malformed(start, col, msg)
	}
	return r, nil
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
