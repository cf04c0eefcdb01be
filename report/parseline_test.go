package report_test

import (
	"errors"
	"testing"
	"time"

	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/report"
)

// ParseJSONLine reads back exactly what AppendRow wrote for one row.
func TestParseJSONLine(t *testing.T) {
	row := &report.Row{Line: 7, User: "a@example.com", UserID: "00u1", Action: "reset_password", Outcome: report.Succeeded,
		HTTPStatus: 200, ResetURL: secret.New("https://x/r/\"q\""), Attempts: 2,
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)}
	line := report.AppendRow(nil, row, report.JSONL)
	got, err := report.ParseJSONLine(line[:len(line)-1])
	if err != nil {
		t.Fatal(err)
	}
	if again := report.AppendRow(nil, got, report.JSONL); string(again) != string(line) {
		t.Fatalf("round trip changed the row:\n%s\n%s", line, again)
	}
	if _, err := report.ParseJSONLine([]byte(`{"line":1,"outcome":"nope"}`)); !errors.Is(err, report.ErrMalformed) {
		t.Fatalf("bad outcome: err = %v", err)
	}
}
