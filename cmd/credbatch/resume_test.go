package main

import (
	"testing"

	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/report"
)

// report.JSONField finds the claim fields in a payload as report.AppendRow wrote
// it, and is not fooled by the same text inside another value.
func TestJSONFieldOnPayloads(t *testing.T) {
	row := &report.Row{
		Line: 9, User: `x","user_id":"00uFAKE`, UserID: "00uREAL0000000000001", Action: "expire_password",
		Outcome: report.Failed, ErrorCode: "CB_DUPLICATE_USER",
		ErrorSummary: `"error_code":"E1" "action":"reset_password"`, TempPassword: secret.New(`"user_id":"00uX"`),
	}
	p := report.AppendRow(nil, row, report.JSONL)
	for key, want := range map[string]string{"user_id": "00uREAL0000000000001", "action": "expire_password", "error_code": "CB_DUPLICATE_USER"} {
		if got := report.JSONField(p, key); got != want {
			t.Errorf("JSONField(%s) = %q, want %q", key, got, want)
		}
	}
	if got := report.JSONField(p, "user_status"); got != "" {
		t.Errorf("an absent key gave %q", got)
	}
}
