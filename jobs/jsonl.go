package jobs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

func (s *scanner) scanJSONL(br *bufio.Reader, bomLen int64, fn func(*rawRow) error) error {
	off := bomLen
	line := 0
	var buf []byte
	var row rawRow
	for {
		buf = buf[:0]
		var err error
		n := 0 // the line's length; past MaxLine its bytes are not kept
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			n += len(chunk)
			if n <= MaxLine+1 {
				buf = append(buf, chunk...)
			}
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("read %s: %w", s.m.Path, err)
		}
		if n == 0 && err == io.EOF {
			return nil
		}
		line++
		s.lastLine = line
		start := off
		off += int64(n)
		if err == nil {
			n-- // the line end
		}
		if n > MaxLine {
			tl := &lineTooLong{line: line}
			row = rawRow{line: line, start: start, end: off, broken: true,
				errs: []*LineError{s.lineErr(line, "", tl.msg(), tl.hint())}}
			if ferr := fn(&row); ferr != nil {
				return ferr
			}
			continue
		}
		content := bytes.TrimSpace(buf)
		if len(content) > 0 {
			row = rawRow{line: line, start: start, end: off}
			s.parseJSON(content, &row)
			if ferr := fn(&row); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// parseJSON fills row from one JSONL object.
func (s *scanner) parseJSON(content []byte, row *rawRow) {
	bad := func(msg string) {
		row.broken = true
		row.errs = append(row.errs, s.lineErr(row.line, "", msg,
			`write one JSON object a line: {"user":"...","action":"..."}`))
	}
	if content[0] != '{' {
		bad("the line is not a JSON object")
		return
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(content, &obj); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			bad(fmt.Sprintf("malformed JSON line (at byte %d of the line)", se.Offset))
		} else {
			bad("malformed JSON line")
		}
		return
	}
	// A map keeps only the last of two identical keys: a row naming two
	// users must be refused, not run on the second one.
	if dup, ok := exactDuplicateKey(content); ok {
		row.errs = append(row.errs, s.lineErr(row.line, displayName(dup, 0), "the key appears twice", "keep one of them"))
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	seen := [numCols]bool{}
	userNamed := slices.ContainsFunc(keys, namesUser)
	for _, k := range keys {
		name := strings.TrimSpace(k)
		c, ok := columnOf(name, userNamed)
		if !ok {
			row.errs = append(row.errs, s.lineErr(row.line, displayName(name, 0), "unknown column", columnsHint))
			continue
		}
		if seen[c] {
			if c == colUser {
				row.errs = append(row.errs, s.lineErr(row.line, name,
					fmt.Sprintf("a second user key (the other is %s)", row.names[c]), secondUserHint))
			} else {
				row.errs = append(row.errs, s.lineErr(row.line, name, "the key appears twice", "keep one of them"))
			}
			continue
		}
		seen[c] = true
		row.names[c] = name
		v := bytes.TrimSpace(obj[k])
		switch {
		case len(v) == 0 || string(v) == "null":
			// empty
		case v[0] == '"':
			var str string
			if err := json.Unmarshal(v, &str); err != nil {
				row.errs = append(row.errs, s.lineErr(row.line, name, "malformed JSON string", ""))
				continue
			}
			row.vals[c] = str
		case c.isBool() && (string(v) == "true" || string(v) == "false"):
			row.vals[c] = string(v)
		case c.isBool():
			row.errs = append(row.errs, s.lineErr(row.line, name, "not a boolean: write true or false", ""))
		default:
			row.errs = append(row.errs, s.lineErr(row.line, name, "not a string: write the value in double quotes", ""))
		}
	}
}

// exactDuplicateKey returns a top-level key that appears twice, spelled the
// same, in one JSONL object (differently cased names are caught later).
func exactDuplicateKey(content []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(content))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", false
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", false
		}
		k, _ := t.(string)
		if seen[k] {
			return k, true
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", false
		}
	}
	return "", false
}
