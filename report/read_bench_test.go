package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/report"
)

// benchRows are n rows shaped like a real run's: mostly succeeded
// expire_password rows, every tenth a temp password, every fiftieth a
// failure with a summary that needs quoting.
func benchRows(n int) []report.Row {
	rows := make([]report.Row, n)
	for i := range rows {
		r := report.Row{Line: i + 2, User: "user.number@example.com", UserID: "00u1a2b3c4d5e6f7g8h9",
			Action: "expire_password", Outcome: report.Succeeded, HTTPStatus: 200, OktaRequestID: "aBcDeFgHiJkLmNoPqRsT",
			UserStatus: "PASSWORD_EXPIRED", Attempts: 1, StartedAt: t0, FinishedAt: t1}
		switch {
		case i%50 == 0:
			r.Outcome, r.HTTPStatus, r.ErrorCode = report.Failed, 403, "E0000006"
			r.ErrorSummary = "You do not have permission, \"really\"; to perform the requested action"
		case i%10 == 0:
			r.Action = "expire_password_with_temp_password"
			r.TempPassword = secret.New("Lute-Pink-42")
		}
		rows[i] = r
	}
	return rows
}

// BenchmarkRead reads a 10,000-row report (what `credbatch report` and
// the run's closing summary do).
func BenchmarkRead(b *testing.B) {
	rows := benchRows(10_000)
	for _, f := range []report.Format{report.CSV, report.JSONL} {
		data := encode(b, f, rows)
		b.Run(f.String(), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				if err := report.Read(bytes.NewReader(data), f, func(*report.Row) error { n++; return nil }); err != nil || n != len(rows) {
					b.Fatalf("%d rows, %v", n, err)
				}
			}
		})
	}
}

// BenchmarkRepair checks a whole 10,000-row report file (what every resume
// does before it appends).
func BenchmarkRepair(b *testing.B) {
	rows := benchRows(10_000)
	dir := b.TempDir()
	for _, f := range []report.Format{report.CSV, report.JSONL} {
		data := encode(b, f, rows)
		path := filepath.Join(dir, "r."+f.String())
		if err := os.WriteFile(path, data, 0o600); err != nil {
			b.Fatal(err)
		}
		b.Run(f.String(), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if n, err := report.Repair(path); err != nil || n != len(rows) {
					b.Fatalf("%d rows, %v", n, err)
				}
			}
		})
	}
}
