package jobs

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/credbatch/credbatch/internal/secret"
)

// Why encoding/csv and not github.com/gocarina/gocsv: gocsv configures its
// header normalizer and CSV reader through package-global setters
// (SetHeaderNormalizer, SetCSVReader), which would change how every other
// package in the process decodes CSV; it skips unknown columns silently
// instead of reporting them; and it hides the csv.Reader, whose FieldPos and
// InputOffset give each row's starting line and byte range (needed for error
// lines, duplicate rereads and CopyRows). Mapping ten columns by hand is
// simpler than working around all three.

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// rawRow is one manifest row before validation. Values are as read (CSV
// cells, or JSON strings and booleans as "true"/"false"); "" is empty.
type rawRow struct {
	line       int   // line on which the row starts
	start, end int64 // the row's bytes in the file: [start, end)
	vals       [numCols]string
	names      [numCols]string // the column names as written, where known
	// headerLacks marks columns a CSV header does not have; the header
	// error covers them, so rows do not report them missing again.
	headerLacks [numCols]bool
	errs        []*LineError // problems found while reading the row
	broken      bool         // the row could not be mapped to columns at all
}

func (r *rawRow) colName(c col) string {
	if r.names[c] != "" {
		return r.names[c]
	}
	return colNames[c]
}

// scanner reads a manifest's rows, one at a time.
type scanner struct {
	m          *Manifest
	hasDefault bool             // --action was given
	onErr      func(*LineError) // receives header problems
	fatal      bool             // the header could not be read; no row was scanned
	lastLine   int              // the last line read (for "no rows")

	// CSV header
	names     [numCols]string
	hasCol    [numCols]bool
	fieldCol  []col // field index -> column, -1 for an unknown one
	headerEnd int64 // offset just past the header line (BOM included)
}

func newScanner(m *Manifest, hasDefaultAction bool, onErr func(*LineError)) *scanner {
	return &scanner{m: m, hasDefault: hasDefaultAction, onErr: onErr}
}

// scan reads r (the file from its first byte) and calls fn for each row, in
// file order. fn must not keep the row: it is reused. scan returns an I/O
// error or fn's first error.
func (s *scanner) scan(r io.Reader, fn func(*rawRow) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var bomLen int64
	if b, _ := br.Peek(3); bytes.Equal(b, utf8BOM) {
		_, _ = br.Discard(3)
		bomLen = 3
	}
	if s.m.Format == JSONL {
		return s.scanJSONL(br, bomLen, fn)
	}
	return s.scanCSV(br, bomLen, fn)
}

func (s *scanner) lineErr(line int, c string, msg, hint string) *LineError {
	return &LineError{File: s.m.Path, Line: line, Column: c, Msg: msg, Hint: hint}
}

func newCSVReader(r io.Reader) *csv.Reader {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // field counts are checked here, per row
	cr.ReuseRecord = true
	return cr
}

func csvParseMsg(pe *csv.ParseError) string {
	switch {
	case errors.Is(pe.Err, csv.ErrQuote):
		return fmt.Sprintf("unterminated or misplaced quote (line %d, character %d)", pe.Line, pe.Column)
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return fmt.Sprintf(`bare " in an unquoted field (line %d, character %d)`, pe.Line, pe.Column)
	}
	return fmt.Sprintf("malformed CSV (line %d, character %d)", pe.Line, pe.Column)
}

const quoteHint = `quote a field that holds a " or a comma with "...", and double each " inside it`

// tooLong reports a line over MaxLine, after which nothing more is read.
func (s *scanner) tooLong(err error) bool {
	var tl *lineTooLong
	if !errors.As(err, &tl) {
		return false
	}
	s.fatal = true
	s.onErr(s.lineErr(tl.line, "", tl.msg(), tl.hint()))
	return true
}

func (s *scanner) scanCSV(br *bufio.Reader, bomLen int64, fn func(*rawRow) error) error {
	cr := newCSVReader(bufio.NewReaderSize(newRowLimiter(br, ','), 64<<10))
	hdr, err := cr.Read()
	if err == io.EOF {
		s.fatal = true
		s.onErr(s.lineErr(1, "", "the manifest is empty: no header and no rows",
			"the first line names the columns (user, action, ...); then one row per user and action"))
		return nil
	}
	if s.tooLong(err) {
		return nil
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		s.fatal = true
		s.onErr(s.lineErr(pe.StartLine, "", "header: "+csvParseMsg(pe), quoteHint))
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", s.m.Path, err)
	}
	hdrLine, _ := cr.FieldPos(0)
	s.header(hdr, hdrLine)
	if s.fatal {
		return nil
	}
	s.headerEnd = bomLen + cr.InputOffset()
	s.lastLine = hdrLine
	prev := s.headerEnd
	var row rawRow
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if s.tooLong(err) {
			return nil
		}
		end := bomLen + cr.InputOffset()
		row = rawRow{start: prev, end: end, names: s.names}
		for c := range numCols {
			row.headerLacks[c] = !s.hasCol[c]
		}
		switch {
		case errors.As(err, &pe):
			row.line = pe.StartLine
			row.broken = true
			row.errs = append(row.errs, s.lineErr(pe.StartLine, "", csvParseMsg(pe), quoteHint))
			s.lastLine = pe.Line
		case err != nil:
			return fmt.Errorf("read %s: %w", s.m.Path, err)
		default:
			row.line, _ = cr.FieldPos(0)
			s.lastLine, _ = cr.FieldPos(len(rec) - 1)
			if len(rec) != len(s.fieldCol) {
				row.broken = true
				row.errs = append(row.errs, s.lineErr(row.line, "",
					fmt.Sprintf("the row has %d fields; the header has %d", len(rec), len(s.fieldCol)),
					"every row needs one field per header column (leave a field empty with nothing between the commas)"))
			} else {
				for i, v := range rec {
					if c := s.fieldCol[i]; c >= 0 {
						row.vals[c] = v
					}
				}
			}
		}
		if err := fn(&row); err != nil {
			return err
		}
		if end <= prev { // no progress: never loop on a reader error
			return fmt.Errorf("read %s: no progress at byte %d", s.m.Path, end)
		}
		prev = end
	}
}

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

// rowAt reads the row starting at byte off of f (for duplicate
// confirmation). It returns nil when no row starts there.
func (s *scanner) rowAt(f io.ReaderAt, off int64) (*rawRow, error) {
	// A row that validated is at most MaxLine bytes and its line end.
	sr := io.LimitReader(io.NewSectionReader(f, off, 1<<62), MaxLine+2)
	row := &rawRow{start: off}
	if s.m.Format == JSONL {
		br := bufio.NewReader(sr)
		b, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return nil, err
		}
		content := bytes.TrimSpace(b)
		if len(content) == 0 {
			return nil, nil
		}
		s.parseJSON(content, row)
		return row, nil
	}
	cr := newCSVReader(sr)
	rec, err := cr.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, nil
		}
		return nil, err
	}
	if len(rec) != len(s.fieldCol) {
		return nil, nil
	}
	row.names = s.names
	for i, v := range rec {
		if c := s.fieldCol[i]; c >= 0 {
			row.vals[c] = v
		}
	}
	return row, nil
}

// build validates a row and returns its Job, reporting each problem to add.
// It returns nil for a row that could not be mapped to columns.
func build(file string, r *rawRow, d Defaults, add func(*LineError)) *Job {
	for _, e := range r.errs {
		add(e)
	}
	if r.broken {
		return nil
	}
	fail := func(c col, msg, hint string) {
		add(&LineError{File: file, Line: r.line, Column: r.colName(c), Msg: msg, Hint: hint})
	}
	j := &Job{Line: r.line}
	j.User = strings.TrimSpace(r.vals[colUser])
	j.UserIsID = isUserID(j.User)
	if j.User == "" && !r.headerLacks[colUser] {
		fail(colUser, "missing user", "name the user by Okta ID (00u...) or by login")
	} else if !j.UserIsID && j.User != "" {
		if msg, hint, ok := checkUser(j.User); !ok {
			fail(colUser, msg, hint)
		}
	}

	if text := strings.TrimSpace(r.vals[colAction]); text == "" {
		if d.Action != "" {
			j.Action = d.Action
		} else if !r.headerLacks[colAction] {
			fail(colAction, "missing action", "fill the action column, or pass --action for rows that leave it empty")
		}
	} else if a, err := ParseAction(text); err != nil {
		// The cell is never quoted: in a manifest whose columns are out of
		// order it may be a password. The nearest action name is safe.
		hint := "actions: " + actionList()
		if near, ok := nearestAction(text); ok {
			hint = fmt.Sprintf("did you mean %s? actions: %s", near, actionList())
		}
		fail(colAction, "unknown action", hint)
	} else {
		j.Action = a
	}

	var bools [numCols]*bool
	for _, c := range []col{colSendEmail, colRevokeSessions, colStrict} {
		v := strings.TrimSpace(r.vals[c])
		switch {
		case v == "":
		case strings.EqualFold(v, "true"):
			t := true
			bools[c] = &t
		case strings.EqualFold(v, "false"):
			f := false
			bools[c] = &f
		default:
			fail(c, "not a boolean", "write true or false")
		}
	}

	j.RecoveryQuestion = strings.TrimSpace(r.vals[colRecoveryQuestion])
	j.Login = strings.TrimSpace(r.vals[colLogin])
	j.Email = strings.TrimSpace(r.vals[colEmail])
	j.FirstName = strings.TrimSpace(r.vals[colFirstName])
	j.LastName = strings.TrimSpace(r.vals[colLastName])
	j.Status = strings.TrimSpace(r.vals[colStatus])
	j.OldPassword = secret.New(r.vals[colOldPassword])
	j.NewPassword = secret.New(r.vals[colNewPassword])
	j.Password = secret.New(r.vals[colPassword])
	j.RecoveryAnswer = secret.New(r.vals[colRecoveryAnswer])

	if !j.Action.valid() {
		return j
	}
	for c := colSendEmail; c < numActionCols; c++ {
		present := r.vals[c] != ""
		if !c.isSecret() {
			present = strings.TrimSpace(r.vals[c]) != ""
		}
		req := j.Action.takes(c)
		switch {
		case present && req == Refused:
			fail(c, fmt.Sprintf("%s does not take %s: leave it empty", j.Action, colNames[c]), refusedHint(j.Action, c))
		case !present && req == Required && !(c.isBool() && d.flag(c) != nil):
			fail(c, fmt.Sprintf("%s requires %s", j.Action, colNames[c]), requiredHint(j.Action, c))
		}
		if c.isBool() && req != Refused {
			v := bools[c]
			if v == nil && d.flag(c) != nil {
				x := *d.flag(c)
				v = &x
			}
			switch c {
			case colSendEmail:
				j.SendEmail = v
			case colRevokeSessions:
				j.RevokeSessions = v
			case colStrict:
				j.Strict = v
			}
		}
	}
	return j
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

// nearestAction returns the action name within a small edit distance of s,
// ignoring case: a hint that reveals nothing of the cell.
func nearestAction(s string) (Action, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	best, bestD := Action(""), 4
	for _, a := range Actions {
		if d := editDistance(s, string(a)); d < bestD {
			best, bestD = a, d
		}
	}
	return best, best != ""
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
