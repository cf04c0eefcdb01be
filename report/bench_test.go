package report_test

import (
	"testing"
	"time"

	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/report"
)

func BenchmarkAppendRow(b *testing.B) {
	row := report.Row{
		Line: 123456, User: "alice.example@example.com", UserID: "00u1a2b3c4d5e6f7g8h9",
		Action: "expire_password_with_temp_password", Outcome: report.Failed, HTTPStatus: 429,
		ErrorCode: "E0000047", ErrorSummary: "API call exceeded rate limit due to too many requests, \"retry\"",
		OktaRequestID: "aBcDeFgHiJkLmNoPqRsT", TempPassword: secret.New("Lute-Pink-42"),
		UserStatus: "PASSWORD_EXPIRED", Attempts: 3, StartedAt: t0, FinishedAt: t1,
		Login: "alice.example@example.com", Email: "alice@example.com", FirstName: "Alice", LastName: "Example-Smith",
	}
	for _, f := range []report.Format{report.CSV, report.JSONL} {
		b.Run(f.String(), func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			for b.Loop() {
				buf = report.AppendRow(buf[:0], &row, f)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

func TestAppendRowDoesNotAllocate(t *testing.T) {
	rows := trickyRows()
	buf := make([]byte, 0, 4096)
	for _, f := range []report.Format{report.CSV, report.JSONL} {
		allocs := testing.AllocsPerRun(100, func() {
			for i := range rows {
				buf = report.AppendRow(buf[:0], &rows[i], f)
			}
		})
		if allocs != 0 {
			t.Errorf("%v: %v allocs per run, want 0", f, allocs)
		}
	}
}

// TestTimeEncoding checks the hand-written time encoding against the layout.
func TestTimeEncoding(t *testing.T) {
	times := []time.Time{
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), // not zero: one nanosecond
		time.Date(999, 2, 3, 4, 5, 6, 7_999_999, time.UTC),
		time.Date(2025, 12, 31, 23, 59, 59, 999_999_999, time.FixedZone("E", 3600)),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(1_700_000_000, 123_456_789),
	}
	for _, tm := range times {
		row := report.Row{Outcome: report.Skipped, StartedAt: tm}
		got := string(report.AppendRow(nil, &row, report.CSV))
		want := "0,,,,skipped,,,,,,,,," + tm.UTC().Format(report.TimeLayout) + ",,,,,\n"
		if got != want {
			t.Errorf("%v: got %q, want %q", tm, got, want)
		}
	}
}
