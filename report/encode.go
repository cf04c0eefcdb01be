package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// AppendHeader appends the CSV header line (Columns joined by commas, then
// '\n') to dst. A JSONL report has no header: dst is returned unchanged. It
// panics on an invalid Format (a programming error).
func AppendHeader(dst []byte, f Format) []byte {
	switch f {
	case CSV:
		return append(dst, csvHeader...)
	case JSONL:
		return dst
	}
	panic("report: AppendHeader: " + f.String())
}

const (
	csvHeaderV1 = "line,user,user_id,action,outcome,http_status,error_code,error_summary,okta_request_id,temp_password,reset_url,user_status,attempts,started_at,finished_at\n"
	csvHeader   = "line,user,user_id,action,outcome,http_status,error_code,error_summary,okta_request_id,temp_password,reset_url,user_status,attempts,started_at,finished_at,login,email,first_name,last_name\n"
)

// AppendRow appends r encoded as one report line in format f, including the
// final '\n', and returns the extended slice. With enough capacity in dst it
// does not allocate. This is where the row's secrets are revealed.
//
// CSV: a cell is quoted when it holds a comma, a double quote, CR or LF, or
// starts with a space or tab; quotes are doubled. http_status and attempts
// are empty when 0, times when zero. No cell is altered (see the package
// comment on spreadsheets).
//
// CSV: the cells of Columns (a Writer of another Layout writes its own).
// JSONL: the keys of Columns in that order, then a hand-out row's source
// and note; line, http_status and attempts
// are numbers; empty strings, zero numbers (but line) and zero times are left
// out; outcome is always present. Invalid UTF-8 is written as U+FFFD.
//
// It panics on an invalid Format (a programming error).
func AppendRow(dst []byte, r *Row, f Format) []byte {
	switch f {
	case CSV:
		return appendCSV(dst, r, numColumns)
	case JSONL:
		return appendJSON(dst, r)
	}
	panic("report: AppendRow: " + f.String())
}

// appendCSV appends the first width of Columns' cells.
func appendCSV(dst []byte, r *Row, width int) []byte {
	dst = strconv.AppendInt(dst, int64(r.Line), 10)
	dst = append(dst, ',')
	dst = appendCSVCell(dst, r.User)
	dst = append(dst, ',')
	dst = appendCSVCell(dst, r.UserID)
	dst = append(dst, ',')
	dst = appendCSVCell(dst, r.Action)
	dst = append(dst, ',')
	dst = appendCSVCell(dst, string(r.Outcome))
	dst = append(dst, ',')
	if r.HTTPStatus != 0 {
		dst = strconv.AppendInt(dst, int64(r.HTTPStatus), 10)
	}
	dst = append(dst, ',')
	dst = appendCSVCell(dst, r.ErrorCode)
	dst = append(dst, ',')
	dst = appendCSVCell(dst, r.ErrorSummary)
	dst = append(dst, ',')
	dst = appendCSVCell(dst, r.OktaRequestID)
	dst = append(dst, ',')
	dst = appendCSVCell(dst, r.TempPassword.Reveal())
	dst = append(dst, ',')
	dst = appendCSVCell(dst, r.ResetURL.Reveal())
	dst = append(dst, ',')
	dst = appendCSVCell(dst, r.UserStatus)
	dst = append(dst, ',')
	if r.Attempts != 0 {
		dst = strconv.AppendInt(dst, int64(r.Attempts), 10)
	}
	dst = append(dst, ',')
	dst = appendTime(dst, r.StartedAt)
	dst = append(dst, ',')
	dst = appendTime(dst, r.FinishedAt)
	if width > widthV1 {
		dst = append(dst, ',')
		dst = appendCSVCell(dst, r.Login)
		dst = append(dst, ',')
		dst = appendCSVCell(dst, r.Email)
		dst = append(dst, ',')
		dst = appendCSVCell(dst, r.FirstName)
		dst = append(dst, ',')
		dst = appendCSVCell(dst, r.LastName)
	}
	if width > numColumns {
		dst = append(dst, ',')
		dst = appendCSVCell(dst, r.Source)
		dst = append(dst, ',')
		dst = appendCSVCell(dst, r.Note)
	}
	return append(dst, '\n')
}

func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return dst
	}
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, TimeLayout)
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	return append(dst,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

func csvNeedsQuotes(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == ' ' || s[0] == '\t' {
		return true
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\r', '\n':
			return true
		}
	}
	return false
}

func appendCSVCell(dst []byte, s string) []byte {
	if !csvNeedsQuotes(s) {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			dst = append(dst, s[start:i+1]...)
			dst = append(dst, '"')
			start = i + 1
		}
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendJSON(dst []byte, r *Row) []byte {
	dst = append(dst, `{"line":`...)
	dst = strconv.AppendInt(dst, int64(r.Line), 10)
	dst = appendJSONField(dst, `,"user":`, r.User)
	dst = appendJSONField(dst, `,"user_id":`, r.UserID)
	dst = appendJSONField(dst, `,"action":`, r.Action)
	dst = append(dst, `,"outcome":`...)
	dst = appendJSONString(dst, string(r.Outcome))
	if r.HTTPStatus != 0 {
		dst = append(dst, `,"http_status":`...)
		dst = strconv.AppendInt(dst, int64(r.HTTPStatus), 10)
	}
	dst = appendJSONField(dst, `,"error_code":`, r.ErrorCode)
	dst = appendJSONField(dst, `,"error_summary":`, r.ErrorSummary)
	dst = appendJSONField(dst, `,"okta_request_id":`, r.OktaRequestID)
	dst = appendJSONField(dst, `,"temp_password":`, r.TempPassword.Reveal())
	dst = appendJSONField(dst, `,"reset_url":`, r.ResetURL.Reveal())
	dst = appendJSONField(dst, `,"user_status":`, r.UserStatus)
	if r.Attempts != 0 {
		dst = append(dst, `,"attempts":`...)
		dst = strconv.AppendInt(dst, int64(r.Attempts), 10)
	}
	if !r.StartedAt.IsZero() {
		dst = append(dst, `,"started_at":"`...)
		dst = appendTime(dst, r.StartedAt)
		dst = append(dst, '"')
	}
	if !r.FinishedAt.IsZero() {
		dst = append(dst, `,"finished_at":"`...)
		dst = appendTime(dst, r.FinishedAt)
		dst = append(dst, '"')
	}
	dst = appendJSONField(dst, `,"login":`, r.Login)
	dst = appendJSONField(dst, `,"email":`, r.Email)
	dst = appendJSONField(dst, `,"first_name":`, r.FirstName)
	dst = appendJSONField(dst, `,"last_name":`, r.LastName)
	dst = appendJSONField(dst, `,"source":`, r.Source)
	dst = appendJSONField(dst, `,"note":`, r.Note)
	return append(dst, "}\n"...)
}

func appendJSONField(dst []byte, key, s string) []byte {
	if s == "" {
		return dst
	}
	dst = append(dst, key...)
	return appendJSONString(dst, s)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: '"' and '\\' escaped, control
// characters escaped, U+2028 and U+2029 escaped (for JavaScript readers),
// invalid UTF-8 replaced by U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// flushAt is the buffered size at which Writer.Write flushes by itself.
const flushAt = 64 << 10

// Writer appends report rows to an io.Writer through a buffer. Rows reach the
// underlying writer when the buffer fills and on Flush; the caller fsyncs the
// file when it needs durability. After a write error every call returns it.
// A Writer is not safe for concurrent use.
type Writer struct {
	w     io.Writer
	f     Format
	width int // the CSV cells a row has: its Layout's
	buf   []byte
	err   error
}

// NewWriter returns a Writer that writes rows in format f to w, in
// LayoutFull.
func NewWriter(w io.Writer, f Format) *Writer {
	return NewLayoutWriter(w, f, LayoutFull)
}

// NewLayoutWriter returns a Writer that writes rows in format f to w, with
// the CSV header and cells of layout l (a JSONL row names its keys: every
// field that is not empty). It panics on an invalid Layout (a programming
// error).
func NewLayoutWriter(w io.Writer, f Format, l Layout) *Writer {
	if !l.valid() {
		panic(fmt.Sprintf("report: NewLayoutWriter: Layout(%d)", int(l)))
	}
	return &Writer{w: w, f: f, width: l.width(), buf: make([]byte, 0, 4096)}
}

// WriteHeader buffers the CSV header line; for JSONL it does nothing.
func (w *Writer) WriteHeader() error {
	if w.err != nil {
		return w.err
	}
	if !w.f.valid() {
		return fmt.Errorf("report: write header: %w", ErrFormat)
	}
	if w.f == CSV {
		w.buf = append(w.buf, strings.Join(allColumns[:w.width], ",")...)
		w.buf = append(w.buf, '\n')
	}
	return nil
}

// Write buffers one row, flushing when the buffer is full.
func (w *Writer) Write(r *Row) error {
	if w.err != nil {
		return w.err
	}
	if !w.f.valid() {
		return fmt.Errorf("report: write row: %w", ErrFormat)
	}
	if w.f == CSV {
		w.buf = appendCSV(w.buf, r, w.width)
	} else {
		w.buf = AppendRow(w.buf, r, w.f)
	}
	if len(w.buf) >= flushAt {
		return w.Flush()
	}
	return nil
}

// Flush writes the buffered lines to the underlying writer. The written part
// of the buffer is zeroed, so revealed secrets do not linger in it.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	n, err := w.w.Write(w.buf)
	if n < 0 || n > len(w.buf) {
		n = 0
		if err == nil {
			err = fmt.Errorf("invalid write count")
		}
	}
	if err == nil && n < len(w.buf) {
		err = io.ErrShortWrite
	}
	clear(w.buf[:n])
	if err != nil {
		rest := copy(w.buf, w.buf[n:])
		clear(w.buf[rest:])
		w.buf = w.buf[:rest]
		w.err = fmt.Errorf("report: write: %w", err)
		return w.err
	}
	w.buf = w.buf[:0]
	return nil
}
