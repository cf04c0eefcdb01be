package report_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credbatch/credbatch/report"
)

// v1Report is rows as credbatch wrote them before the name columns: the 15
// columns of LayoutV1. The rows' names must be empty.
func v1Report(t *testing.T, rows []report.Row, lineEnd string) []byte {
	t.Helper()
	out := []byte(strings.Join(report.LayoutV1.Columns(), ",") + lineEnd)
	for i := range rows {
		line, ok := bytes.CutSuffix(report.AppendRow(nil, &rows[i], report.CSV), []byte(",,,,\n"))
		if !ok {
			t.Fatalf("row %d has names", i)
		}
		out = append(append(out, line...), lineEnd...)
	}
	return out
}

func withoutNames(rows []report.Row) []report.Row {
	for i := range rows {
		rows[i].Login, rows[i].Email, rows[i].FirstName, rows[i].LastName = "", "", "", ""
	}
	return rows
}

func TestLayoutColumns(t *testing.T) {
	if got := report.LayoutFull.Columns(); !slicesEqual(got, report.Columns) || len(got) != 19 {
		t.Errorf("LayoutFull: %v", got)
	}
	want := "line,user,user_id,action,outcome,http_status,error_code,error_summary,okta_request_id,temp_password,reset_url,user_status,attempts,started_at,finished_at"
	if got := strings.Join(report.LayoutV1.Columns(), ","); got != want {
		t.Errorf("LayoutV1: %s", got)
	}
	if got := strings.Join(report.Columns[15:], ","); got != "login,email,first_name,last_name" {
		t.Errorf("the name columns: %s", got)
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

// A report written before the name columns still reads: its rows have
// empty names.
func TestReadV1(t *testing.T) {
	want := csvReadsAs(withoutNames(trickyRows()))
	got := decode(t, report.CSV, v1Report(t, withoutNames(trickyRows()), "\n"))
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range want {
		if d := diffRow(&got[i], &want[i]); d != "" {
			t.Errorf("row %d: %s", i, d)
		}
	}
	// A file's rows have its header's cells, no more, no fewer.
	h1 := strings.Join(report.LayoutV1.Columns(), ",") + "\n"
	h2 := string(report.AppendHeader(nil, report.CSV))
	for _, tt := range []struct{ in, msg string }{
		{h1 + "2,u,,a,failed,,,,,,,,,,,,,,\n", "line 2: 19 cells, want 15"},
		{h2 + "2,u,,a,failed,,,,,,,,,,\n", "line 2: 15 cells, want 19"},
		{strings.TrimSuffix(h2, "\n") + ",source\n" + "2,u,,a,failed,,,,,,,,,,,,,,,\n", "line 1: the header is not the report's columns"},
	} {
		err := report.Read(strings.NewReader(tt.in), report.CSV, func(*report.Row) error { return nil })
		if !errors.Is(err, report.ErrMalformed) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("err %v, want %q", err, tt.msg)
		}
	}
}

// A resume of a run the older version started: Repair brings its report to
// the name columns, byte for byte but four empty cells a row (and cuts a
// torn tail on the way), so that the rows appended after it match the
// header; the report reads whole before and after.
func TestRepairUpgradesV1(t *testing.T) {
	for _, lineEnd := range []string{"\n", "\r\n"} {
		dir := t.TempDir()
		path := filepath.Join(dir, "old.report.csv")
		rows := withoutNames(trickyRows())
		old := v1Report(t, rows, lineEnd)
		torn := append(append([]byte{}, old...), "8,torn,,expire_password,succ"...)
		if err := os.WriteFile(path, torn, 0o644); err != nil {
			t.Fatal(err)
		}
		n, err := report.Repair(path)
		if err != nil || n != len(rows) {
			t.Fatalf("Repair = %d, %v; want %d rows", n, err, len(rows))
		}
		got, _ := os.ReadFile(path)
		want := strings.ReplaceAll(string(report.AppendHeader(nil, report.CSV)), "\n", lineEnd)
		for _, rec := range recordsOf(t, old)[1:] {
			body := strings.TrimSuffix(rec, lineEnd)
			want += body + ",,,," + lineEnd
		}
		if string(got) != want {
			t.Fatalf("%q: upgraded report\n%q\nwant\n%q", lineEnd, got, want)
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", st.Mode().Perm())
		}
		if _, err := os.Stat(path + ".upgrade"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the upgrade's temporary file is left: %v", err)
		}
		// A row appended in the new layout reads with the others.
		named := trickyRows()[0]
		named.Line = 99
		f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		f.Write(report.AppendRow(nil, &named, report.CSV))
		f.Close()
		back := decode(t, report.CSV, mustRead(t, path))
		wantRows := append(csvReadsAs(rows), named)
		if len(back) != len(wantRows) {
			t.Fatalf("%d rows after the upgrade, want %d", len(back), len(wantRows))
		}
		for i := range wantRows {
			if d := diffRow(&back[i], &wantRows[i]); d != "" {
				t.Errorf("row %d: %s", i, d)
			}
		}
		if again, err := report.Repair(path); err != nil || again != len(rows)+1 {
			t.Errorf("second Repair = %d, %v", again, err)
		}
	}
}

// Damage in the middle of an old report: refused, and left as it was.
func TestRepairV1Refuses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.report.csv")
	rows := withoutNames(trickyRows())
	bad := v1Report(t, rows[:2], "\n")
	bad = append(bad, "3,x,,a,nope,,,,,,,,,,\n"...)
	bad = append(bad, v1Report(t, rows[2:3], "\n")[len(strings.Join(report.LayoutV1.Columns(), ","))+1:]...)
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := report.Repair(path); !errors.Is(err, report.ErrMalformed) {
		t.Fatalf("err %v, want ErrMalformed", err)
	}
	if got := mustRead(t, path); !bytes.Equal(got, bad) {
		t.Errorf("the report changed")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recordsOf splits a CSV file into its records' bytes (quoted line ends
// stay inside a record).
func recordsOf(t *testing.T, data []byte) []string {
	t.Helper()
	var out []string
	start, quoted := 0, false
	for i, c := range data {
		switch {
		case c == '"':
			quoted = !quoted
		case c == '\n' && !quoted:
			out = append(out, string(data[start:i+1]))
			start = i + 1
		}
	}
	if start != len(data) {
		t.Fatalf("data does not end with a record")
	}
	return out
}
