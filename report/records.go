package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
)

// records splits a CSV report into records for Repair, which checks every
// record of the file at each resume. It is the one hand-written part of the
// CSV reading kept, because it is measured to buy more than encoding/csv:
// Repair over 100,000 rows took 1.8 times as long with encoding/csv (a
// string allocated per record) as with this split (see the commit that
// brought it back). It needs no parser: a line end ends a record when the
// quotes since the record's start are even, since quotes come in pairs
// (RFC 4180). A record holding no quote is a single line whose cells are
// split at commas; any other record, and the last one, is decoded by
// encoding/csv.
type records struct {
	br   *bufio.Reader
	rec  []byte // the record last read, with its line end
	line int    // the report line it starts on
	read int    // lines read
	off  int64  // bytes read: the end of the record last read
	// torn: the record last read runs to the end of the input without a
	// line end, or inside a quoted cell
	torn bool
}

func newRecords(r io.Reader) *records {
	return &records{br: bufio.NewReaderSize(r, 64<<10)}
}

// next reads the next record. It returns io.EOF at the end of the input.
func (s *records) next() error {
	s.rec, s.line, s.torn = s.rec[:0], s.read+1, false
	quotes := 0
	for {
		chunk, err := s.br.ReadSlice('\n')
		s.rec = append(s.rec, chunk...)
		s.off += int64(len(chunk))
		quotes += bytes.Count(chunk, []byte{'"'})
		switch err {
		case nil:
			s.read++
			if quotes%2 == 0 {
				return nil
			}
		case bufio.ErrBufferFull:
		case io.EOF:
			if len(s.rec) == 0 {
				return io.EOF
			}
			s.read++
			s.torn = true
			return nil
		default:
			return fmt.Errorf("report: read: %w", err)
		}
	}
}

// atEOF reports whether nothing follows the record last read.
func (s *records) atEOF() bool {
	_, err := s.br.Peek(1)
	return err == io.EOF
}

// body is the record last read without its line end ("\n" or "\r\n").
func (s *records) body() (body []byte, lineEnd string) {
	body, lineEnd = bytes.TrimSuffix(s.rec, []byte{'\n'}), "\n"
	if b, ok := bytes.CutSuffix(body, []byte{'\r'}); ok {
		body, lineEnd = b, "\r\n"
	}
	return body, lineEnd
}

func (s *records) blank() bool {
	b, _ := s.body()
	return len(b) == 0
}

func (s *records) malformed(col, msg string) *LineError {
	return &LineError{Line: s.line, Column: col, Msg: msg, Err: ErrMalformed}
}

// fields decodes the record last read with encoding/csv.
func (s *records) fields() ([]string, error) {
	cr := csv.NewReader(bytes.NewReader(s.rec))
	cr.FieldsPerRecord = -1
	rec, err := cr.Read()
	if err != nil {
		col := ""
		if _, ok := err.(*csv.ParseError); ok {
			col = colName(len(rec))
		}
		return nil, s.malformed(col, "not a CSV record")
	}
	return rec, nil
}

// quick checks what is cheap to check in the record last read: width
// cells, a line number and a known outcome; without allocating when the
// record holds no quote.
func (s *records) quick(width int) error {
	body, _ := s.body()
	if bytes.IndexByte(body, '"') >= 0 {
		f, err := s.fields()
		if err != nil {
			return err
		}
		if len(f) != width {
			return s.malformed("", fmt.Sprintf("%d cells, want %d", len(f), width))
		}
		return s.checkCells([]byte(f[0]), []byte(f[4]))
	}
	if n := bytes.Count(body, []byte{','}) + 1; n != width {
		return s.malformed("", fmt.Sprintf("%d cells, want %d", n, width))
	}
	var cells [5][]byte
	for i := range cells {
		cells[i], body, _ = bytes.Cut(body, []byte{','})
	}
	return s.checkCells(cells[0], cells[4])
}

func (s *records) checkCells(line, outcome []byte) error {
	if len(line) == 0 {
		return s.malformed("line", "not a line number")
	}
	for _, c := range line {
		if c < '0' || c > '9' {
			return s.malformed("line", "not a line number")
		}
	}
	if !knownOutcome(outcome) {
		return s.malformed("outcome", "unknown outcome")
	}
	return nil
}

func knownOutcome(b []byte) bool {
	switch string(b) {
	case string(Succeeded), string(Failed), string(InDoubt), string(Skipped), string(WouldSucceed), string(WouldFail):
		return true
	}
	return false
}

// row decodes the record last read in full, a file of width cells a row.
func (s *records) row(width int) (*Row, error) {
	f, err := s.fields()
	if err != nil {
		return nil, err
	}
	if len(f) != width {
		return nil, s.malformed("", fmt.Sprintf("%d cells, want %d", len(f), width))
	}
	return rowFromFields(f, s.line)
}
