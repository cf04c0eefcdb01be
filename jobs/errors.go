package jobs

import (
	"errors"
	"fmt"
	"strings"
)

// ErrFlagUnused is returned (wrapped, naming the flag) by Validate when a
// row-default flag (--send-email, --revoke-sessions, --strict) was given but
// no row's action takes that column.
var ErrFlagUnused = errors.New("flag applies to no row")

// LineError is one problem in a manifest, at a line (where the row starts)
// and, when it concerns one, a column. It never carries a cell's value.
type LineError struct {
	File   string // the manifest's path
	Line   int    // 1-based line where the row (or the header) starts
	Column string // the column's name as written, or "" for a whole-row problem
	Msg    string
	Hint   string // what to do about it, or ""
}

// Error returns "FILE:LINE: column COL: MSG (hint: HINT)"; the column and
// hint parts are left out when empty.
func (e *LineError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	if e.Column != "" {
		fmt.Fprintf(&b, "column %s: ", e.Column)
	}
	b.WriteString(e.Msg)
	if e.Hint != "" {
		fmt.Fprintf(&b, " (hint: %s)", e.Hint)
	}
	return b.String()
}

// MaxListed is how many LineErrors an Errors keeps.
const MaxListed = 20

// Errors collects a manifest's problems: the first MaxListed in List, and
// the count of all of them in Total.
type Errors struct {
	List  []*LineError
	Total int
}

func (e *Errors) add(le *LineError) {
	e.Total++
	if len(e.List) < MaxListed {
		e.List = append(e.List, le)
	}
}

// Error returns the listed errors, one a line, then "... and N more errors"
// when some were left out.
func (e *Errors) Error() string {
	var b strings.Builder
	for i, le := range e.List {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(le.Error())
	}
	if more := e.Total - len(e.List); more > 0 {
		if more == 1 {
			b.WriteString("\n... and 1 more error")
		} else {
			fmt.Fprintf(&b, "\n... and %d more errors", more)
		}
	}
	return b.String()
}

// Unwrap returns the listed errors.
func (e *Errors) Unwrap() []error {
	out := make([]error, len(e.List))
	for i, le := range e.List {
		out[i] = le
	}
	return out
}
