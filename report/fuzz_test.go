package report_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/report"
)

// FuzzRoundTrip: any cell values written are read back exactly (CSV: but
// a CR before a LF), or exactly when valid UTF-8 (JSONL).
func FuzzRoundTrip(f *testing.F) {
	f.Add(2, "alice", "a,\"b\"\r\nc", "Tmp\n", 200, 1)
	f.Add(-1, " ", "\u2028\x00", "", 0, 0)
	f.Fuzz(func(t *testing.T, line int, user, summary, pw string, status, attempts int) {
		if status < 0 || attempts < 0 {
			return
		}
		row := report.Row{Line: line, User: user, Outcome: report.Failed, ErrorSummary: summary,
			TempPassword: secret.New(pw), HTTPStatus: status, Attempts: attempts, StartedAt: t0}
		for _, f := range []report.Format{report.CSV, report.JSONL} {
			if f == report.JSONL && !(utf8.ValidString(user) && utf8.ValidString(summary) && utf8.ValidString(pw)) {
				continue
			}
			data := append(report.AppendHeader(nil, f), report.AppendRow(nil, &row, f)...)
			got := decode(t, f, data)
			if len(got) != 1 {
				t.Fatalf("%v: %d rows", f, len(got))
			}
			want := row
			if f == report.CSV {
				want = csvReadsAs([]report.Row{row})[0]
			}
			if d := diffRow(&got[0], &want); d != "" {
				t.Fatalf("%v: %s", f, d)
			}
		}
	})
}

// FuzzRead: Read never panics, and what it accepts writes back to a report
// that reads the same.
func FuzzRead(f *testing.F) {
	f.Add(encode(f, report.CSV, trickyRows()), true)
	f.Add(encode(f, report.JSONL, trickyRows()), false)
	f.Fuzz(func(t *testing.T, data []byte, csv bool) {
		format := report.JSONL
		if csv {
			format = report.CSV
		}
		var rows []report.Row
		if err := report.Read(bytes.NewReader(data), format, func(r *report.Row) error {
			rows = append(rows, *r)
			return nil
		}); err != nil {
			return
		}
		again := decode(t, format, encode(t, format, rows))
		if len(again) != len(rows) {
			t.Fatalf("%d rows, then %d", len(rows), len(again))
		}
		for i := range rows {
			if d := diffRow(&again[i], &rows[i]); d != "" {
				t.Fatalf("row %d: %s", i, d)
			}
		}
	})
}

// FuzzRepair: Repair never panics; a report it refuses is left as it was;
// after it succeeds the file ends with no torn tail, and when the file reads
// whole (Read: encoding/csv, encoding/json) it has exactly the rows Repair
// counted. This holds Repair's own record split to encoding/csv's reading.
func FuzzRepair(f *testing.F) {
	f.Add(encode(f, report.CSV, trickyRows()), 17, true)
	f.Add(encode(f, report.JSONL, trickyRows()), 40, false)
	f.Add(append(encode(f, report.CSV, trickyRows()[:2]), "\n3,\"x\ny"...), 0, true)
	f.Fuzz(func(t *testing.T, data []byte, cut int, csv bool) {
		ext := ".jsonl"
		if csv {
			ext = ".csv"
		}
		if cut > 0 && cut < len(data) {
			data = data[:len(data)-cut]
		}
		path := filepath.Join(t.TempDir(), "r"+ext)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		n, err := report.Repair(path)
		after, rerr := os.ReadFile(path)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if err != nil {
			if !bytes.Equal(after, data) {
				t.Fatalf("Repair failed (%v) and changed the file", err)
			}
			return
		}
		format, _ := report.FormatOf(path)
		rows := 0
		err = report.Read(bytes.NewReader(after), format, func(*report.Row) error { rows++; return nil })
		if errors.Is(err, report.ErrTorn) {
			t.Fatalf("Repair kept %d rows and left a torn tail: %v", n, err)
		}
		// Repair checks the rows before the last cheaply (shape, line,
		// outcome): damage it does not see there is Read's to find.
		if err == nil && rows != n {
			t.Fatalf("Repair counted %d rows, Read reads %d", n, rows)
		}
	})
}
