package jobs

import (
	"bytes"
	"fmt"
	"io"
)

// MaxLine is the longest manifest line, in bytes, its line end left out
// (1 MiB). A CSV row that spans lines (a quoted cell holding line breaks)
// is held to the same length as a whole. A longer line is refused with its
// line number, and it is never read whole into memory: a manifest row is a
// user, an action and a few short cells, so such a line is a damaged file,
// a quote left open, or an attempt to exhaust memory.
const MaxLine = 1 << 20

// lineTooLong is the error a rowLimiter returns once a row passes MaxLine.
type lineTooLong struct {
	line      int  // the line on which the row starts
	multiline bool // the row spans lines (inside a quoted cell)
}

func (e *lineTooLong) Error() string { return e.msg() }

func (e *lineTooLong) msg() string {
	if e.multiline {
		return fmt.Sprintf("the row starting on line %d is longer than 1 MiB (%d bytes)", e.line, MaxLine)
	}
	return fmt.Sprintf("line %d is longer than 1 MiB (%d bytes)", e.line, MaxLine)
}

func (e *lineTooLong) hint() string {
	if e.multiline {
		return `a quoted cell runs over many lines: is a closing " missing?`
	}
	return "a manifest row is a user, an action and a few short cells: check that this is the right file"
}

// CSV quoting states of a rowLimiter, as encoding/csv reads them.
const (
	csvFieldStart  = iota // at the start of a field: a " opens a quoted one
	csvUnquoted           // inside an unquoted field
	csvQuoted             // inside a quoted field
	csvQuotedQuote        // just after a " inside a quoted field
)

// rowLimiter passes a CSV stream through and fails, with a *lineTooLong,
// as soon as one row (from its first byte to its line end, quoted line
// breaks included, the final line end left out) is longer than MaxLine. It
// sits under the buffered reader that encoding/csv reads lines from, which
// would otherwise grow a buffer to the length of the longest line (and of
// the longest quoted cell). It follows quoting as encoding/csv does for a
// well-formed file; after a quoting error, which encoding/csv reports for
// that row, both start again at the next line.
type rowLimiter struct {
	r     io.Reader
	sep   byte
	max   int // MaxLine (tests set less)
	state int
	line  int   // the line being read (1-based)
	start int   // the line on which the current row started
	n     int   // bytes of the current row so far
	err   error // sticky: every Read after the limit returns it
}

func newRowLimiter(r io.Reader, sep byte) *rowLimiter {
	return &rowLimiter{r: r, sep: sep, max: MaxLine, line: 1, start: 1}
}

// Read reads from the underlying reader. Once a row passes MaxLine it
// returns the bytes up to that point and the error, then only the error.
func (l *rowLimiter) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	if k, ok := l.track(p[:n]); !ok {
		l.err = &lineTooLong{line: l.start, multiline: l.line != l.start}
		return k, l.err
	}
	return n, err
}

// track follows p's rows. It returns false, and how many bytes of p are
// within the limit, when a row passes MaxLine.
func (l *rowLimiter) track(p []byte) (int, bool) {
	q := -1 // the next quote at or after i (len(p): none); found again once passed
	for i := 0; i < len(p); {
		if l.state == csvFieldStart || l.state == csvUnquoted {
			// Fast path: up to the next quote only line ends matter (and
			// whether the last byte before the quote is a separator).
			if q < i {
				if q = bytes.IndexByte(p[i:], '"'); q < 0 {
					q = len(p)
				} else {
					q += i
				}
			}
			seg := p[i:q]
			nl := bytes.IndexByte(seg, '\n')
			if nl >= 0 {
				seg = seg[:nl]
			}
			if l.n+len(seg) > l.max {
				return i + l.max - l.n, false
			}
			if nl >= 0 {
				i += nl + 1
				l.endRow()
				continue
			}
			if len(seg) > 0 {
				l.n += len(seg)
				l.state = csvUnquoted
				if seg[len(seg)-1] == l.sep {
					l.state = csvFieldStart
				}
				i = q
				continue
			}
			// at a quote: take it below
		}
		c := p[i]
		if c == '\n' && l.state != csvQuoted {
			i++
			l.endRow()
			continue
		}
		switch l.state {
		case csvFieldStart:
			if c == '"' {
				l.state = csvQuoted
			} else if c != l.sep {
				l.state = csvUnquoted
			}
		case csvUnquoted:
			if c == l.sep {
				l.state = csvFieldStart
			}
		case csvQuoted:
			switch c {
			case '"':
				l.state = csvQuotedQuote
			case '\n':
				l.line++ // a line break inside a quoted cell: the row goes on
			}
		case csvQuotedQuote:
			switch c {
			case '"':
				l.state = csvQuoted // a doubled quote
			case l.sep:
				l.state = csvFieldStart
			case '\r': // before the line end
			default:
				l.state = csvUnquoted // encoding/csv's ErrQuote: it resumes at the next line
			}
		}
		if l.n++; l.n > l.max {
			return i, false
		}
		i++
	}
	return len(p), true
}

func (l *rowLimiter) endRow() {
	l.line++
	l.start = l.line
	l.n = 0
	l.state = csvFieldStart
}
