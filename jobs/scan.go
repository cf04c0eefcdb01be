package jobs

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
)

// Why encoding/csv and not github.com/gocarina/gocsv: gocsv configures its
// header normalizer and CSV reader through package-global setters
// (SetHeaderNormalizer, SetCSVReader), which would change how every other
// package in the process decodes CSV; it skips unknown columns silently
// instead of reporting them; and it hides the csv.Reader, whose FieldPos and
// InputOffset give each row's starting line and byte range (needed for error
// lines and CopyRows). Mapping ten columns by hand is
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
	fatal      bool             // reading stopped at a problem that covers the rest (no header, a line too long)
	lastLine   int              // the last line read (for "no rows")
	enc        Encoding         // the file's text encoding
	dec        *decoder         // a UTF-16 file's decoder (its marks), else nil

	// CSV header
	names     [numCols]string
	hasCol    [numCols]bool
	fieldCol  []col // field index -> column, -1 for an unknown one
	headerEnd int64 // offset just past the header line (BOM included)
	comma     byte  // the separator: ',', ';' or '\t'
}

func newScanner(m *Manifest, hasDefaultAction bool, onErr func(*LineError)) *scanner {
	return &scanner{m: m, hasDefault: hasDefaultAction, onErr: onErr}
}

// scan reads r (the file from its first byte) and calls fn for each row, in
// file order. fn must not keep the row: it is reused. scan returns an I/O
// error or fn's first error.
func (s *scanner) scan(r io.Reader, fn func(*rawRow) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(4)
	sn := sniff(head)
	if sn.refusal != "" {
		s.fatal = true
		s.onErr(s.lineErr(1, "", sn.refusal, encodingHint))
		return nil
	}
	s.enc = sn.enc
	_, _ = br.Discard(sn.bomLen)
	text := br
	var bomLen int64 // text offsets that are file offsets count the BOM
	if sn.enc == UTF8 {
		bomLen = int64(sn.bomLen)
	} else {
		s.dec = newDecoder(br, sn.enc, int64(sn.bomLen), 0, true)
		text = bufio.NewReaderSize(s.dec, 64<<10)
	}
	if s.m.Format == JSONL {
		return s.scanJSONL(text, bomLen, fn)
	}
	return s.scanCSV(text, bomLen, fn)
}

func (s *scanner) lineErr(line int, c string, msg, hint string) *LineError {
	return &LineError{File: s.m.Path, Line: line, Column: c, Msg: msg, Hint: hint}
}

func newCSVReader(r io.Reader, comma byte) *csv.Reader {
	cr := csv.NewReader(r)
	cr.Comma = rune(comma)
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

// quoteHint is the hint for a quoting error; it names the separator.
func quoteHint(comma byte) string {
	return `quote a field that holds a ", a line break or the separator (` + sepName(comma) + `) with "...", and double each " inside it`
}

// tooLong reports a line over MaxLine, after which nothing more is read.
func (s *scanner) tooLong(err error) bool {
	if err == nil {
		return false // every row but one: no allocation for errors.As's target
	}
	var tl *lineTooLong
	if !errors.As(err, &tl) {
		return false
	}
	s.fatal = true
	s.onErr(s.lineErr(tl.line, "", tl.msg(), tl.hint()))
	return true
}

func (s *scanner) scanCSV(br *bufio.Reader, bomLen int64, fn func(*rawRow) error) error {
	comma, le := s.separator(br)
	if le != nil {
		s.fatal = true
		s.onErr(le)
		return nil
	}
	s.comma = comma
	cr := newCSVReader(bufio.NewReaderSize(newRowLimiter(br, comma), 64<<10), comma)
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
		s.onErr(s.lineErr(pe.StartLine, "", "header: "+csvParseMsg(pe), quoteHint(comma)))
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
	// One row, updated in place: each row sets every column the header has
	// (the others stay empty), so nothing is cleared or copied per row.
	row := rawRow{names: s.names}
	for c := range numCols {
		row.headerLacks[c] = !s.hasCol[c]
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if s.tooLong(err) {
			return nil
		}
		end := bomLen + cr.InputOffset()
		row.start, row.end = prev, end
		row.errs = row.errs[:0]
		row.broken = false
		switch {
		case errors.As(err, &pe):
			row.line = pe.StartLine
			row.broken = true
			row.errs = append(row.errs, s.lineErr(pe.StartLine, "", csvParseMsg(pe), quoteHint(comma)))
			s.lastLine = pe.Line
		case err != nil:
			return fmt.Errorf("read %s: %w", s.m.Path, err)
		default:
			row.line, _ = cr.FieldPos(0)
			s.lastLine, _ = cr.FieldPos(len(rec) - 1)
			if len(rec) != len(s.fieldCol) {
				row.broken = true
				row.errs = append(row.errs, s.lineErr(row.line, "",
					fmt.Sprintf("the row has %d fields; the header has %d", len(rec), len(s.fieldCol)), s.fieldsHint(rec)))
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
