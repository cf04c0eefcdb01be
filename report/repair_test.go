package report_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/report"
)

// smallReport has a multi-line quoted cell in its last row, so a cut after
// one of that cell's newlines ends the file with '\n' inside a quote.
func smallReport() []report.Row {
	return []report.Row{
		{Line: 2, User: "alice", Action: "reset_password", Outcome: report.Succeeded, HTTPStatus: 200, ResetURL: secret.New("https://x.okta.com/r/abc"), Attempts: 1, StartedAt: t0, FinishedAt: t1},
		{Line: 3, User: "bob", Action: "expire_password", Outcome: report.Failed, HTTPStatus: 404, ErrorCode: "E0000007", ErrorSummary: "Not found: bob", Attempts: 1, StartedAt: t0, FinishedAt: t1},
		{Line: 4, User: "carol", Action: "change_password", Outcome: report.InDoubt, ErrorCode: report.CodeNetwork, ErrorSummary: "reset,\n\"by peer\"\nan earlier attempt may have applied", Attempts: 2, StartedAt: t0, FinishedAt: t1},
	}
}

// TestRepairEveryCut cuts a small report at every byte and checks Repair
// leaves exactly the longest prefix of whole rows (and the CSV header).
func TestRepairEveryCut(t *testing.T) {
	for _, f := range []report.Format{report.CSV, report.JSONL} {
		t.Run(f.String(), func(t *testing.T) {
			rows := smallReport()
			header := report.AppendHeader(nil, f)
			full := encode(t, f, rows)
			// ends[i] is the length of the header and the first i rows.
			ends := []int{len(header)}
			for i := range rows {
				ends = append(ends, ends[i]+len(report.AppendRow(nil, &rows[i], f)))
			}
			if ends[len(rows)] != len(full) {
				t.Fatalf("encoding lengths disagree")
			}
			dir := t.TempDir()
			for cut := 0; cut <= len(full); cut++ {
				path := filepath.Join(dir, "r."+f.String())
				if err := os.WriteFile(path, full[:cut], 0o600); err != nil {
					t.Fatal(err)
				}
				kept, err := report.Repair(path)
				if err != nil {
					t.Fatalf("cut %d: Repair: %v", cut, err)
				}
				whole := 0
				for whole < len(rows) && ends[whole+1] <= cut {
					whole++
				}
				if kept != whole {
					t.Errorf("cut %d: kept %d rows, want %d", cut, kept, whole)
				}
				got, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if want := full[:ends[whole]]; !bytes.Equal(got, want) {
					t.Fatalf("cut %d: file is\n%q\nwant\n%q", cut, got, want)
				}
				// The repaired file reads, and takes more rows.
				back := decode(t, f, got)
				for i := range back {
					if d := diffRow(&back[i], &rows[i]); d != "" {
						t.Errorf("cut %d row %d: %s", cut, i, d)
					}
				}
				if again, err := report.Repair(path); err != nil || again != whole {
					t.Errorf("cut %d: second Repair = %d, %v", cut, again, err)
				}
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestRepairCutsUnparsableLastLine(t *testing.T) {
	dir := t.TempDir()
	rows := smallReport()
	tests := []struct {
		f    report.Format
		tail string
	}{
		{report.CSV, "5,dave,,a,failed,,,\n"},                         // too few cells, ends with '\n'
		{report.CSV, "\x00\x00\x00\x00\n"},                            // zeroed block after a power loss
		{report.JSONL, "{\"line\":5,\"outcome\":\"fai\x00\x00\x00\n"}, // zeroed tail
		{report.JSONL, "\n"},
	}
	for i, tt := range tests {
		path := filepath.Join(dir, "r"+string(rune('a'+i))+"."+tt.f.String())
		good := encode(t, tt.f, rows)
		if err := os.WriteFile(path, append(append([]byte{}, good...), tt.tail...), 0o600); err != nil {
			t.Fatal(err)
		}
		n, err := report.Repair(path)
		if err != nil || n != len(rows) {
			t.Errorf("%d: Repair = %d, %v", i, n, err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, good) {
			t.Errorf("%d: file not cut back to the whole rows:\n%q", i, got)
		}
	}
}

func TestRepairRefuses(t *testing.T) {
	dir := t.TempDir()
	rows := smallReport()
	csvGood := encode(t, report.CSV, rows[:1])
	jsonGood := encode(t, report.JSONL, rows[:1])
	tests := []struct {
		name, file string
		content    []byte
	}{
		// a malformed line followed by more lines is damage, not a torn tail
		{"middle.csv", "middle.csv", append(append(append([]byte{}, csvGood...), "3,bob,,a,nope,,,,,,,,,,\n"...), report.AppendRow(nil, &rows[1], report.CSV)...)},
		{"middle.jsonl", "middle.jsonl", append(append(append([]byte{}, jsonGood...), "{}\n"...), report.AppendRow(nil, &rows[1], report.JSONL)...)},
		// a row of the wrong width, with and without a quoted cell
		{"narrow.csv", "narrow.csv", append(append(append([]byte{}, csvGood...), "3,bob,,a,failed,,,,,,,,,,,,,\n"...), report.AppendRow(nil, &rows[1], report.CSV)...)},
		{"wide quoted.csv", "wide.csv", append(append(append([]byte{}, csvGood...), "3,\"bob\",,a,failed,,,\"x\ny\",,,,,,,,,,,,,\n"...), report.AppendRow(nil, &rows[1], report.CSV)...)},
		// a blank line before the last row is damage too (encoding/csv would skip it)
		{"blank.csv", "blank.csv", append(append(append([]byte{}, csvGood...), "\n"...), report.AppendRow(nil, &rows[1], report.CSV)...)},
		{"middle key order.jsonl", "order.jsonl", append(append(append([]byte{}, jsonGood...), `{"outcome":"nope","line":3}`+"\n"...), report.AppendRow(nil, &rows[1], report.JSONL)...)},
		// not a report
		{"header", "other.csv", []byte("name,email\nx,y\n")},
		{"torn foreign header", "torn.csv", []byte("name,em")},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, tt.file)
		if err := os.WriteFile(path, tt.content, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := report.Repair(path)
		if !errors.Is(err, report.ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", tt.name, err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, tt.content) {
			t.Errorf("%s: file changed", tt.name)
		}
	}
	if _, err := report.Repair(filepath.Join(dir, "missing.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	if _, err := report.Repair(filepath.Join(dir, "x.txt")); !errors.Is(err, report.ErrFormat) {
		t.Errorf("txt: %v", err)
	}
}
