package jobs

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"
)

// columnsHint lists the columns a manifest may have.
const columnsHint = "columns: user (or user_id, id, login), action, send_email, revoke_sessions, strict, old_password, new_password, password, recovery_question, recovery_answer; informational: login (beside user), email, first_name, last_name, status"

// secondUserHint is the hint for two columns (or keys) that name the user.
const secondUserHint = "keep one of user, user_id and id (a login beside it is informational)"

// displayName returns a column name fit for an error message: as written
// when it looks like a name, else a description that does not echo it (a
// header row may be a data row by mistake, holding a password).
func displayName(name string, pos int) string {
	ok := name != "" && len(name) <= 64
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == ' ' || c == '.'
	}
	if ok {
		return name
	}
	return fmt.Sprintf("#%d (its name is not shown)", pos)
}

// header maps a CSV header's fields to columns and reports its problems.
func (s *scanner) header(hdr []string, line int) {
	s.fieldCol = make([]col, len(hdr))
	known := 0
	for _, h := range hdr {
		if _, ok := lookupCol(h); ok {
			known++
		}
	}
	if known == 0 {
		s.fatal = true
		s.onErr(s.lineErr(line, "", "the first line is not a header: it names no known column",
			"start the file with a header line naming its columns; "+columnsHint))
		return
	}
	userNamed := slices.ContainsFunc(hdr, namesUser)
	for i, h := range hdr {
		name := strings.TrimSpace(h)
		c, ok := columnOf(name, userNamed)
		if !ok {
			s.fieldCol[i] = -1
			s.onErr(s.lineErr(line, displayName(name, i+1), "unknown column", columnsHint))
			continue
		}
		if s.hasCol[c] {
			s.fieldCol[i] = -1
			if c == colUser {
				s.onErr(s.lineErr(line, name, fmt.Sprintf("a second user column (the first is %s)", s.names[c]), secondUserHint))
			} else {
				s.onErr(s.lineErr(line, name, "the column appears twice", "keep one of them"))
			}
			continue
		}
		s.hasCol[c] = true
		s.names[c] = name
		s.fieldCol[i] = c
	}
	if !s.hasCol[colUser] {
		s.onErr(s.lineErr(line, "user", "no user column", "name each row's user in a user (or user_id, id, login) column"))
	}
	if !s.hasCol[colAction] && !s.hasDefault {
		s.onErr(s.lineErr(line, "action", "no action column", "add an action column, or pass --action for every row"))
	}
}

// separators are the CSV separators a manifest may use: the comma, and the
// semicolon and tab that Excel writes in many locales.
var separators = [...]byte{',', ';', '\t'}

// sepName names a separator in a message.
func sepName(c byte) string {
	if c == '\t' {
		return "tabs"
	}
	return "'" + string(c) + "'"
}

// separator finds a CSV's separator from its header line, which it peeks
// at without consuming: a separator the line holds and on which it splits
// into at least one known column name. One such separator is the file's;
// none leaves the comma (the header's own errors follow); two or more are
// ambiguous, and refused with a LineError that names them.
func (s *scanner) separator(br *bufio.Reader) (byte, *LineError) {
	buf, _ := br.Peek(br.Size()) // an error leaves what could be read
	line := 1
	for {
		if bytes.HasPrefix(buf, []byte("\n")) {
			buf = buf[1:]
		} else if bytes.HasPrefix(buf, []byte("\r\n")) {
			buf = buf[2:]
		} else {
			break
		}
		line++ // encoding/csv skips blank lines before the header too
	}
	hdr, _, found := bytes.Cut(buf, []byte("\n"))
	if !found && br.Buffered() == br.Size() {
		return ',', nil // a header line longer than the buffer: not guessed at
	}
	hdr = bytes.TrimSuffix(hdr, []byte("\r"))
	var hits []byte
	for _, c := range separators {
		if bytes.IndexByte(hdr, c) >= 0 && knownFields(hdr, c) > 0 {
			hits = append(hits, c)
		}
	}
	switch len(hits) {
	case 0:
		return ',', nil
	case 1:
		return hits[0], nil
	}
	// The first hit that is not the comma is the likelier separator (a
	// comma inside a ;-separated header is a typo, not the other way).
	main := hits[1]
	if hits[0] != ',' {
		main = hits[0]
	}
	var others []string
	for _, c := range hits {
		if c != main {
			others = append(others, sepName(c))
		}
	}
	return 0, s.lineErr(line, "", fmt.Sprintf("this file is separated by %s, but its header also splits into known columns on %s",
		sepName(main), strings.Join(others, " and ")),
		"use one separator throughout (in Excel: Save As, CSV UTF-8, which separates with commas)")
}

// knownFields counts the known column names of a header line split on
// comma, as encoding/csv splits it (0 when it cannot).
func knownFields(hdr []byte, comma byte) int {
	cr := csv.NewReader(bytes.NewReader(hdr))
	cr.Comma = rune(comma)
	cr.FieldsPerRecord = -1
	rec, err := cr.Read()
	if err != nil {
		return 0
	}
	n := 0
	for _, f := range rec {
		if _, ok := lookupCol(f); ok {
			n++
		}
	}
	return n
}

// fieldsHint is the hint for a row whose field count differs from the
// header's: with the separator named when it is not the comma, or when the
// row seems to use another one.
func (s *scanner) fieldsHint(rec []string) string {
	h := "every row needs one field per header column (leave a field empty with nothing between the separators)"
	if s.comma != ',' {
		return h + "; this file is separated by " + sepName(s.comma) + ", as its header is"
	}
	if len(rec) < len(s.fieldCol) {
		for _, c := range separators[1:] {
			for _, f := range rec {
				if strings.IndexByte(f, c) >= 0 {
					return h + "; this row holds " + sepName(c) + " but the header is separated by ','"
				}
			}
		}
	}
	return h
}
