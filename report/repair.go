package report

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Repair makes the report at path whole again after a crash, in place: a
// last line without '\n', or a last line (record) that does not parse, is cut
// and the cut is fsynced. It returns the number of complete rows kept. An
// empty CSV file gets its header; a CSV file holding only a torn header (a
// prefix of it) is cut and given the whole header. A malformed line that is
// not the last one is not a torn tail: Repair changes nothing and returns its
// *LineError (wrapping ErrMalformed), as it does for a CSV header that is not
// Columns.
//
// A CSV report written before the name columns (LayoutV1) is brought to
// Columns first, so that the rows a resume appends match its header: its
// whole rows are copied byte for byte, each with four empty cells added, to
// PATH.upgrade (mode 0600), which is fsynced and renamed over PATH. A crash
// on the way leaves PATH as it was.
//
// Every record gets the cheap checks (its shape, a line number, a known
// outcome); only the last, the one a crash can leave torn, is decoded in
// full. A million-row report repairs in a fraction of a second.
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
	var (
		keep        int64 // bytes to keep
		writeHeader bool
		layout      = LayoutFull
	)
	if format == CSV {
		rows, keep, layout, writeHeader, err = scanCSV(file)
	} else {
		rows, keep, err = scanJSONL(file)
	}
	if err == nil && layout == LayoutV1 {
		err = upgradeV1(file, path, keep)
		if err == nil {
			return rows, nil
		}
	}
	if err != nil {
		return 0, fmt.Errorf("report: repair %s: %w", path, err)
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

// scanCSV finds the whole rows of a CSV report: how many, the byte offset
// where they end, and the layout its header names. writeHeader says the
// file holds no whole header (it is empty, or a prefix of the header) and
// is to be cut to nothing and given one.
func scanCSV(file *os.File) (rows int, keep int64, layout Layout, writeHeader bool, err error) {
	head := make([]byte, len(csvHeader))
	n, err := file.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return 0, 0, 0, false, err
	}
	if n < len(csvHeader) && strings.HasPrefix(csvHeader, string(head[:n])) {
		return 0, 0, LayoutFull, true, nil
	}
	s := newRecords(file)
	if err := s.next(); err != nil {
		return 0, 0, 0, false, err
	}
	layout, err = s.header()
	if err != nil {
		return 0, 0, 0, false, err
	}
	width := layout.width()
	keep = s.off
	blankAt := 0 // the first of the blank lines read since the last record
	for {
		err := s.next()
		if err == io.EOF {
			return rows, keep, layout, false, nil // blank lines after the rows are cut
		}
		if err != nil {
			return 0, 0, 0, false, err
		}
		if s.blank() && !s.torn {
			if blankAt == 0 {
				blankAt = s.line
			}
			continue
		}
		if blankAt != 0 {
			return 0, 0, 0, false, &LineError{Line: blankAt, Msg: "a blank line", Err: ErrMalformed}
		}
		if s.torn {
			return rows, keep, layout, false, nil // the torn tail: cut from keep
		}
		if s.atEOF() {
			// the one record a crash can leave torn: decoded in full
			if _, err := s.row(width); err != nil {
				return rows, keep, layout, false, nil
			}
		} else if err := s.quick(width); err != nil {
			return 0, 0, 0, false, err
		}
		rows++
		keep = s.off
	}
}

// header reads the layout from the header record last read.
func (s *records) header() (Layout, error) {
	if !s.torn {
		if f, err := s.fields(); err == nil {
			for _, l := range []Layout{LayoutFull, LayoutV1} {
				if slices.Equal(f, l.Columns()) {
					return l, nil
				}
			}
		}
	}
	return 0, s.malformed("", "the header is not the report's columns")
}

// upgradeV1 replaces the LayoutV1 report at path (file) by the same rows
// in LayoutFull: the header of Columns, then the bytes of each record of the
// first keep bytes with ",,,," before its line end.
func upgradeV1(file *os.File, path string, keep int64) (err error) {
	tmp := path + ".upgrade"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("upgrading to the name columns: %w", err)
	}
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("upgrading to the name columns: %w", err)
	}
	defer func() {
		if out != nil {
			_ = out.Close()
		}
		if err != nil {
			_ = os.Remove(tmp)
			err = fmt.Errorf("upgrading to the name columns: %w", err)
		}
	}()
	if err := out.Chmod(0o600); err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, 64<<10)
	s := newRecords(io.NewSectionReader(file, 0, keep))
	for first := true; ; first = false {
		if err := s.next(); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		body, lineEnd := s.body()
		if first {
			body = []byte(strings.TrimSuffix(csvHeader, "\n"))
		} else {
			body = append(body, ",,,,"...)
		}
		w.Write(body)
		w.WriteString(lineEnd)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := out.Sync(); err != nil {
		return err
	}
	err = out.Close()
	out = nil
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// scanJSONL finds the whole rows of a JSONL report: how many, and the byte
// offset where they end.
func scanJSONL(file *os.File) (rows int, keep int64, err error) {
	l := newLineReader(file)
	for {
		line, err := l.next()
		if err == nil {
			if l.atEOF() {
				_, err = l.row(line)
			} else {
				err = l.quick(line)
			}
		}
		if err == io.EOF {
			return rows, keep, nil
		}
		if err != nil {
			if errors.Is(err, ErrTorn) || l.atEOF() {
				return rows, keep, nil // the torn tail: cut from keep
			}
			return 0, 0, err
		}
		rows++
		keep = l.off
	}
}

// quick checks what is cheap to check in a JSONL line: an object on one
// line with a whole "line" and a known "outcome", keys in any order. It is
// no JSON parser (Read is): encoding/json takes about ten times as long a
// line, and Repair runs over every line of the report at each resume.
func (l *lineReader) quick(line []byte) error {
	malformed := func(col, msg string) error {
		return &LineError{Line: l.line, Column: col, Msg: msg, Err: ErrMalformed}
	}
	obj := bytes.TrimSpace(line)
	if len(obj) < 2 || obj[0] != '{' || obj[len(obj)-1] != '}' {
		return malformed("", "not a JSON object")
	}
	if v, ok := jsonValue(obj, `"line"`); !ok {
		return malformed("line", "missing")
	} else if _, err := atoiLine(string(v)); err != nil {
		return malformed("line", "not a line number")
	}
	if v, ok := jsonValue(obj, `"outcome"`); !ok {
		return malformed("outcome", "missing")
	} else if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return malformed("outcome", "unknown outcome")
	} else if _, err := ParseOutcome(string(v[1 : len(v)-1])); err != nil {
		return malformed("outcome", "unknown outcome")
	}
	return nil
}

// jsonValue returns the raw value of a key (given with its quotes, e.g.
// `"line"`) in a one-line JSON object: a string with its quotes (only up to
// the next quote: enough for the values that never hold an escape), or
// anything else up to the next ',' or '}'. The key is found where it is
// followed by a colon, spaces allowed: in JSON a quote inside a string is
// escaped, so that is the key itself.
func jsonValue(obj []byte, quotedKey string) ([]byte, bool) {
	for rest := obj; ; {
		i := bytes.Index(rest, []byte(quotedKey))
		if i < 0 {
			return nil, false
		}
		rest = skipSpace(rest[i+len(quotedKey):])
		if len(rest) == 0 || rest[0] != ':' {
			continue
		}
		v := skipSpace(rest[1:])
		if len(v) > 0 && v[0] == '"' {
			end := bytes.IndexByte(v[1:], '"')
			if end < 0 {
				return nil, false
			}
			return v[:end+2], true
		}
		for end, c := range v {
			if c == ',' || c == '}' || c == ' ' || c == '\t' {
				return v[:end], true
			}
		}
		return nil, false
	}
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// JSONField returns the value of the string field name in a JSONL row that
// AppendRow wrote, without decoding the rest: the fast path for the fields
// whose values never hold an escape (line-free IDs, action names, outcomes,
// error codes). Inside any JSON string a quote is escaped, so the first
// unescaped `"name":"` is the field itself, wherever it stands. It returns ""
// when the field is absent or its value holds an escape.
func JSONField(line []byte, name string) string {
	key := `"` + name + `":"`
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
