package verify

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/report"
)

func writeReport(t *testing.T, path string, rows []*report.Row) {
	t.Helper()
	f, err := report.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	format, _ := report.FormatOf(path)
	w := report.NewWriter(f, format)
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// OUT is the report, row for row in its order, with verdict and evidence
// added to the decided rows (and empty, or left out in JSONL, elsewhere);
// a new file of mode 0600, refused when it exists; CSV or JSONL by its
// own extension, whatever the report's.
func TestWriteOut(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 7, 8, 9, 10, 11, 123_000_000, time.UTC)
	rows := []*report.Row{
		{Line: 3, User: "a@example.com", UserID: "00uwrite000000000001", Action: "change_password", Outcome: report.InDoubt, ErrorCode: report.CodeTimeout, Attempts: 1, StartedAt: at, FinishedAt: at.Add(time.Second)},
		{Line: 2, User: "b@example.com", UserID: "00uwrite000000000002", Action: "expire_password_with_temp_password", Outcome: report.Succeeded, HTTPStatus: 200, TempPassword: secret.New("Tmp-Secret-9x!"), Attempts: 1, StartedAt: at, FinishedAt: at},
		{Line: 4, User: "c@example.com", UserID: "00uwrite000000000003", Action: "clear_sessions", Outcome: report.Failed, ErrorCode: report.CodeNetwork, Attempts: 6, StartedAt: at, FinishedAt: at},
	}
	ds := []Decision{
		{Line: 3, Verdict: Applied, Evidence: `passwordChanged 2026-07-08T09:10:11.500Z, at or after the attempt; "quoted", and more`},
		{Line: 4, Verdict: NotApplied, Evidence: "no System Log event", Rerun: true, RerunReason: "not applied"},
	}
	for _, rep := range []string{"run.report.csv", "run.report.jsonl"} {
		rp := filepath.Join(dir, rep)
		writeReport(t, rp, rows)
		for _, outName := range []string{"out-" + rep + ".csv", "out-" + rep + ".jsonl"} {
			out := filepath.Join(dir, outName)
			n, err := WriteOut(out, rp, ds)
			if err != nil || n != 3 {
				t.Fatalf("%s: %d rows, %v", outName, n, err)
			}
			st, _ := os.Stat(out)
			if st.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %04o", outName, st.Mode().Perm())
			}
			data, _ := os.ReadFile(out)
			if !bytes.Contains(data, []byte("Tmp-Secret-9x!")) {
				t.Errorf("%s: the report's temp password was not copied", outName)
			}
			if strings.HasSuffix(outName, ".csv") {
				recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				want := append(append([]string{}, report.Columns...), "verdict", "evidence")
				if strings.Join(recs[0], ",") != strings.Join(want, ",") || len(recs) != 4 {
					t.Fatalf("%s: header %v, %d records", outName, recs[0], len(recs))
				}
				last := len(want) - 1
				for i, wantLine := range []string{"3", "2", "4"} {
					if recs[i+1][0] != wantLine {
						t.Errorf("%s: row %d is line %s, want %s (the report's order)", outName, i+1, recs[i+1][0], wantLine)
					}
				}
				if recs[1][last-1] != "applied" || recs[1][last] != ds[0].Evidence || recs[2][last-1] != "" || recs[2][last] != "" || recs[3][last-1] != "not_applied" {
					t.Errorf("%s: verdict columns %q", outName, recs)
				}
			} else {
				lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
				if len(lines) != 3 {
					t.Fatalf("%s: %d lines", outName, len(lines))
				}
				var first, second map[string]any
				if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
					t.Fatal(err)
				}
				_ = json.Unmarshal([]byte(lines[1]), &second)
				if first["verdict"] != "applied" || first["evidence"] != ds[0].Evidence || first["line"] != float64(3) {
					t.Errorf("%s: %v", outName, first)
				}
				if _, ok := second["verdict"]; ok {
					t.Errorf("%s: an undecided row has a verdict: %v", outName, second)
				}
			}
			// Never overwritten.
			before, _ := os.ReadFile(out)
			if _, err := WriteOut(out, rp, nil); !errors.Is(err, fs.ErrExist) {
				t.Errorf("%s: writing again: %v, want fs.ErrExist", outName, err)
			}
			if after, _ := os.ReadFile(out); !bytes.Equal(before, after) {
				t.Errorf("%s changed", outName)
			}
		}
	}
	// A report that does not read leaves no OUT behind.
	bad := filepath.Join(dir, "bad.report.csv")
	_ = os.WriteFile(bad, []byte("not,a,report\n"), 0o600)
	if _, err := WriteOut(filepath.Join(dir, "bad.verified.csv"), bad, nil); err == nil {
		t.Error("a bad report gave no error")
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.verified.csv")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OUT of a bad report was left: %v", err)
	}
	if got := RerunLines(ds); got.Count() != 1 || !got.Has(4) {
		t.Errorf("RerunLines: %d lines", got.Count())
	}
	if got := DefaultOutPath("/x/run.report.jsonl"); got != "/x/run.report.verified.csv" {
		t.Errorf("DefaultOutPath = %s", got)
	}
}
