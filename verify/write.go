package verify

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

// OutColumns are the columns OUT adds after the report's own.
var OutColumns = []string{"verdict", "evidence"}

// DefaultOutPath is OUT's default: REPORT-stem.verified.csv beside the
// report.
func DefaultOutPath(reportPath string) string {
	return strings.TrimSuffix(reportPath, filepath.Ext(reportPath)) + ".verified.csv"
}

// WriteOut creates out — a new file (an existing one is refused with an
// error wrapping fs.ErrExist), mode 0600 (a umask can only narrow it) — and writes
// into it every row of the report at reportPath, in the report's order,
// in out's format (.csv or .jsonl), with the columns of OutColumns added:
// a decided row's verdict and evidence, empty for the others (left out in
// JSONL). The report's columns are encoded as the report package encodes
// them (report.AppendRow), secrets included: OUT is a copy of the report.
// On any error out is removed. It returns the number of rows written.
func WriteOut(out, reportPath string, decisions []Decision) (rows int, err error) {
	format, err := report.FormatOf(out)
	if err != nil {
		return 0, err
	}
	byLine := make(map[int]*Decision, len(decisions))
	for i := range decisions {
		byLine[decisions[i].Line] = &decisions[i]
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(out)
		}
	}()
	w := bufio.NewWriterSize(f, 64<<10)
	var buf []byte
	if format == report.CSV {
		buf = report.AppendHeader(buf, report.CSV)
		buf = appendCSVCells(buf[:len(buf)-1], OutColumns...)
	}
	err = report.ReadFile(reportPath, func(r *report.Row) error {
		buf = report.AppendRow(buf, r, format)
		var v, e string
		if d := byLine[r.Line]; d != nil {
			v, e = string(d.Verdict), d.Evidence
		}
		if format == report.CSV {
			buf = appendCSVCells(buf[:len(buf)-1], v, e)
		} else {
			buf = appendJSONFields(buf[:len(buf)-2], v, e)
		}
		rows++
		_, err := w.Write(buf)
		clear(buf) // the row may hold a secret
		buf = buf[:0]
		return err
	})
	if err != nil {
		return rows, fmt.Errorf("reading the report %s: %w", reportPath, err)
	}
	if _, err := w.Write(buf); err != nil {
		return rows, err
	}
	if err := w.Flush(); err != nil {
		return rows, err
	}
	return rows, f.Sync()
}

// appendCSVCells appends ",cell,cell\n" (quoted as encoding/csv quotes).
func appendCSVCells(dst []byte, cells ...string) []byte {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	_ = cw.Write(cells) // a bytes.Buffer does not fail
	cw.Flush()
	dst = append(dst, ',')
	return append(dst, b.Bytes()...)
}

// appendJSONFields appends the verdict and evidence keys (when set) and
// closes the object.
func appendJSONFields(dst []byte, verdict, evidence string) []byte {
	for i, v := range []string{verdict, evidence} {
		if v == "" {
			continue
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v) // a string always encodes
		dst = append(dst, `,"`+OutColumns[i]+`":`...)
		dst = append(dst, bytes.TrimRight(b.Bytes(), "\n")...)
	}
	return append(dst, "}\n"...)
}

// RerunLines are the manifest lines --rerun-manifest copies: the rows
// proven not_applied and the secret-issuing rows whose secret nobody holds.
func RerunLines(decisions []Decision) *checkpoint.Bitset {
	b := checkpoint.NewBitset(0)
	for _, d := range decisions {
		if d.Rerun {
			b.Set(d.Line)
		}
	}
	return b
}
