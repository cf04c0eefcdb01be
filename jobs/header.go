package jobs

import (
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
