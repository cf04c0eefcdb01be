package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// countingReader is what a csvReader reads through: it counts the bytes and
// the double quotes handed to encoding/csv, and remembers the last byte and
// whether the input ended. encoding/csv reads ahead, so these describe the
// input read so far, not the record last returned; at the end of the input
// they describe the whole input.
type countingReader struct {
	r      io.Reader
	n      int64
	quotes int64
	last   byte
	eof    bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		c.quotes += int64(bytes.Count(p[:n], []byte{'"'}))
		c.last = p[n-1]
	}
	if err == io.EOF {
		c.eof = true
	}
	return n, err
}

// csvReader reads a CSV report one record at a time with encoding/csv,
// for Read, adding what a report needs beyond it: the report line each
// record starts on (FieldPos), a blank line as an error (encoding/csv skips
// them: found by line accounting and by InputOffset at the end), and a torn
// last record told apart from a damaged one. Repair splits records itself
// (records.go).
type csvReader struct {
	in  *countingReader
	cr  *csv.Reader
	rec []string
	// the layout the header names, and its width
	layout Layout
	width  int
	line   int   // the report line the record last read starts on
	next   int   // the report line the next record must start on
	end    int64 // the byte offset just after the last record read whole (InputOffset)
}

// newCSVReader reads a CSV report from r.
func newCSVReader(r io.Reader) *csvReader {
	in := &countingReader{r: r}
	return &csvReader{in: in, cr: newCSV(in), next: 1}
}

func newCSV(r io.Reader) *csv.Reader {
	// encoding/csv reads through its own bufio.Reader, of 4 KiB unless it
	// is handed one already: 64 KiB takes a sixteenth of the reads.
	cr := csv.NewReader(bufio.NewReaderSize(r, 64<<10))
	cr.FieldsPerRecord = -1 // the cell count is checked here, with the report's words
	cr.ReuseRecord = true
	return cr
}

// atEnd reports whether the record last read (or the error) reached the end
// of the input. From a stream it is known only once encoding/csv has met
// the end: always so for a last record without its line end or with an
// open quote, the cases read tells apart.
func (c *csvReader) atEnd() bool {
	return c.in.eof && c.cr.InputOffset() == c.in.n
}

// read reads the next record into c.rec. It returns io.EOF at the end of the
// input, or a *LineError: ErrTorn for a last record without its line end or
// whose quoted cell is never closed (what an interrupted write leaves),
// ErrMalformed for anything else encoding/csv refuses and for a blank line.
// A CR before a line end inside a quoted cell is read as the line end alone
// (encoding/csv's rule; see the package comment).
func (c *csvReader) read() error {
	rec, err := c.cr.Read()
	c.rec = rec
	if err == io.EOF {
		if c.cr.InputOffset() > c.end {
			// encoding/csv skipped blank lines after the last record
			return &LineError{Line: c.next, Msg: "a blank line", Err: ErrMalformed}
		}
		return io.EOF
	}
	if err != nil {
		var pe *csv.ParseError
		if !errors.As(err, &pe) {
			return fmt.Errorf("report: read: %w", err)
		}
		c.line = pe.StartLine
		if c.atEnd() && (c.in.last != '\n' || errors.Is(pe.Err, csv.ErrQuote) && c.in.quotes%2 == 1) {
			// Every record before this one parsed, so it holds an even
			// number of quotes: an odd count in the whole input is a quoted
			// cell of this record that the input ends inside.
			return &LineError{Line: pe.StartLine, Msg: "the record has no line end", Err: ErrTorn}
		}
		msg := "a quote inside an unquoted cell"
		if errors.Is(pe.Err, csv.ErrQuote) {
			msg = "a character after a closing quote"
		}
		// rec holds the cells before the one at fault
		return &LineError{Line: pe.StartLine, Column: colName(len(rec)), Msg: msg, Err: ErrMalformed}
	}
	c.line, _ = c.cr.FieldPos(0)
	if c.line > c.next {
		return &LineError{Line: c.next, Msg: "a blank line", Err: ErrMalformed}
	}
	if c.atEnd() && c.in.last != '\n' {
		return &LineError{Line: c.line, Msg: "the record has no line end", Err: ErrTorn}
	}
	// The record ends on the line its last cell starts on, plus one for
	// each line end inside that cell (one '\n' each).
	last, _ := c.cr.FieldPos(len(rec) - 1)
	c.next = last + 1 + strings.Count(rec[len(rec)-1], "\n")
	c.end = c.cr.InputOffset()
	return nil
}

// header reads the header record and learns the file's layout from it. It
// returns io.EOF for an empty input.
func (c *csvReader) header() error {
	if err := c.read(); err != nil {
		return err
	}
	for _, l := range []Layout{LayoutFull, LayoutV1, LayoutHandout} {
		if slices.Equal(c.rec, l.Columns()) {
			c.layout, c.width = l, len(c.rec)
			return nil
		}
	}
	return c.malformed("", "the header is not the report's columns")
}

func (c *csvReader) malformed(col, msg string) *LineError {
	return &LineError{Line: c.line, Column: col, Msg: msg, Err: ErrMalformed}
}

// row decodes the record last read.
func (c *csvReader) row() (*Row, error) {
	if len(c.rec) != c.width {
		return nil, c.malformed("", fmt.Sprintf("%d cells, want %d", len(c.rec), c.width))
	}
	return rowFromFields(c.rec, c.line)
}

func colName(i int) string {
	if i < len(allColumns) {
		return allColumns[i]
	}
	return ""
}
