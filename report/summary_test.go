package report_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/report"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// summaryRows is a run's report with every kind of row.
func summaryRows() []report.Row {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	return []report.Row{
		{Line: 2, User: "a", Action: "expire_password_with_temp_password", Outcome: report.Succeeded, HTTPStatus: 200, TempPassword: secret.New("SECRET-TEMP-1"), UserStatus: "PASSWORD_EXPIRED", Attempts: 1, StartedAt: at(5), FinishedAt: at(6)},
		{Line: 3, User: "b", Action: "expire_password_with_temp_password", Outcome: report.Succeeded, HTTPStatus: 200, TempPassword: secret.New("SECRET-TEMP-2"), UserStatus: "PASSWORD_EXPIRED", Attempts: 3, StartedAt: at(1), FinishedAt: at(9)},
		{Line: 4, User: "c", Action: "reset_password", Outcome: report.Succeeded, HTTPStatus: 200, ResetURL: secret.New("https://x.okta.com/SECRET-LINK"), UserStatus: "RECOVERY", Attempts: 1, StartedAt: at(2), FinishedAt: at(3)},
		{Line: 5, User: "d", Action: "reset_password", Outcome: report.Succeeded, HTTPStatus: 200, UserStatus: "RECOVERY", Attempts: 1, StartedAt: at(2), FinishedAt: at(3)},
		{Line: 6, User: "e", Action: "change_password", Outcome: report.Failed, HTTPStatus: 403, ErrorCode: "E0000006", ErrorSummary: "SECRET-IN-SUMMARY? no: permission", Attempts: 1, StartedAt: at(4), FinishedAt: at(4)},
		{Line: 7, User: "f", Action: "change_password", Outcome: report.InDoubt, ErrorCode: report.CodeTimeout, Attempts: 1, StartedAt: at(7), FinishedAt: at(37)},
		{Line: 8, User: "g", Action: "change_password", Outcome: report.Failed, ErrorCode: report.CodeLoginMismatch},
		{Line: 9, User: "h", Action: "clear_sessions", Outcome: report.Skipped},
	}
}

func summarize(rows []report.Row) *report.Summary {
	var s report.Summary
	for i := range rows {
		s.Add(&rows[i])
	}
	return &s
}

func TestSummaryCounts(t *testing.T) {
	s := summarize(summaryRows())
	checks := []struct {
		name      string
		got, want int
	}{
		{"total", s.Total, 8}, {"requests", s.Requests, 8}, {"secrets", s.SecretsIssued, 3},
		{"succeeded", s.ByOutcome[report.Succeeded], 4}, {"failed", s.ByOutcome[report.Failed], 2},
		{"in_doubt", s.ByOutcome[report.InDoubt], 1}, {"skipped", s.ByOutcome[report.Skipped], 1},
		{"change_password", s.ByAction["change_password"], 3}, {"E0000006", s.ByCode["E0000006"], 1},
		{"codes", len(s.ByCode), 3}, {"RECOVERY", s.ByStatus["RECOVERY"], 2}, {"statuses", len(s.ByStatus), 2},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if !s.First.Equal(t0.Add(time.Second)) || !s.Last.Equal(t0.Add(37*time.Second)) {
		t.Errorf("first %v last %v", s.First, s.Last)
	}
}

func TestSummaryGolden(t *testing.T) {
	s := summarize(summaryRows())
	s.Pending, s.PendingKnown = 2, true // a run with rows still to do
	var text bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	golden(t, "summary.txt", text.Bytes())
	js, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "summary.json", append(js, '\n'))

	// The empty summary is stable too.
	var empty report.Summary
	text.Reset()
	if err := empty.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	js, err = json.Marshal(&empty)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "summary-empty.txt", append(text.Bytes(), append(js, '\n')...))
}

func TestSummarize(t *testing.T) {
	dir := t.TempDir()
	want := summarize(summaryRows())
	wantJSON, _ := json.Marshal(want)
	for _, f := range []report.Format{report.CSV, report.JSONL} {
		path := filepath.Join(dir, "r."+f.String())
		if err := os.WriteFile(path, encode(t, f, summaryRows()), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := report.Summarize(path)
		if err != nil {
			t.Fatal(err)
		}
		if gotJSON, _ := json.Marshal(got); !bytes.Equal(gotJSON, wantJSON) {
			t.Errorf("%v: %s\nwant %s", f, gotJSON, wantJSON)
		}
	}
	if _, err := report.Summarize(filepath.Join(dir, "missing.csv")); err == nil {
		t.Error("Summarize of a missing file: no error")
	}
}

// TestSummaryNeverHoldsSecrets checks every way a summary leaves the process.
func TestSummaryNeverHoldsSecrets(t *testing.T) {
	rows := summaryRows()
	var secrets []string
	for _, r := range rows {
		for _, s := range []secret.String{r.TempPassword, r.ResetURL} {
			if !s.IsZero() {
				secrets = append(secrets, s.Reveal())
			}
		}
	}
	if len(secrets) != 3 {
		t.Fatalf("fixture has %d secrets", len(secrets))
	}
	s := summarize(rows)
	var text bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"text": text.String(), "json": string(js),
		"%v": fmt.Sprintf("%v", s), "%+v": fmt.Sprintf("%+v", *s), "%#v": fmt.Sprintf("%#v", *s),
	}
	for name, out := range outputs {
		if !strings.Contains(out, "PASSWORD_EXPIRED") {
			t.Errorf("%s output lacks the counts: %s", name, out)
		}
		for _, sec := range secrets {
			if strings.Contains(out, sec) || strings.Contains(out, "SECRET-") {
				t.Errorf("%s output holds a secret:\n%s", name, out)
			}
		}
	}
	// The secrets were in the rows the summary counted.
	if s.SecretsIssued != len(secrets) {
		t.Errorf("SecretsIssued = %d, want %d", s.SecretsIssued, len(secrets))
	}
}
