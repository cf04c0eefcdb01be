package main

import (
	"testing"

	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
)

// report.JSONField and resume's jsonString find the claim fields in a
// payload as report.AppendRow wrote it, and are not fooled by the same text
// inside another value.
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
		if got := jsonString(p, []byte(`"`+key+`":"`)); string(got) != want {
			t.Errorf("jsonString(%s) = %q, want %q", key, got, want)
		}
	}
	if got := report.JSONField(p, "user_status"); got != "" {
		t.Errorf("an absent key gave %q", got)
	}
}

// TestClaimOf: a finished row's payload claims its (user ID, action) pair,
// under the key the runner's sequencer uses, unless it has no user ID or
// failed before claiming (a login resolved to someone else, a duplicate);
// reading it allocates nothing.
func TestClaimOf(t *testing.T) {
	type payload struct {
		o report.Outcome
		p []byte
	}
	row := func(userID, action string, o report.Outcome, code string) payload {
		return payload{o, report.AppendRow(nil, &report.Row{Line: 7, User: "someone@example.com", UserID: userID, Action: action,
			Outcome: o, ErrorCode: code, ErrorSummary: `"user_id":"00uNOTTHIS"`}, report.JSONL)}
	}
	for _, c := range []struct {
		name    string
		payload payload
		claims  bool
	}{
		{"succeeded", row("00uAAAAAAAAAAAAAAAAA", "expire_password", report.Succeeded, ""), true},
		{"failed after sending", row("00uAAAAAAAAAAAAAAAAA", "reset_password", report.Failed, "E0000001"), true},
		{"in doubt", row("00uAAAAAAAAAAAAAAAAA", "change_password", report.InDoubt, ""), true},
		{"would succeed", row("00uAAAAAAAAAAAAAAAAA", "change_password", report.WouldSucceed, ""), true},
		{"skipped", row("00uAAAAAAAAAAAAAAAAA", "expire_password", report.Skipped, ""), false},
		{"login mismatch", row("00uAAAAAAAAAAAAAAAAA", "expire_password", report.Failed, report.CodeLoginMismatch), false},
		{"duplicate", row("00uAAAAAAAAAAAAAAAAA", "expire_password", report.Failed, report.CodeDuplicateUser), false},
		{"duplicate in a dry run", row("00uAAAAAAAAAAAAAAAAA", "expire_password", report.WouldFail, report.CodeDuplicateUser), false},
		{"not resolved", row("", "expire_password", report.Failed, "E0000007"), false},
	} {
		key, ok := claimOf(c.payload.o, c.payload.p)
		if ok != c.claims {
			t.Errorf("%s: claims %v, want %v", c.name, ok, c.claims)
			continue
		}
		if want := runner.ClaimKey(report.JSONField(c.payload.p, "user_id"), report.JSONField(c.payload.p, "action")); ok && key != want {
			t.Errorf("%s: key %#x, want the runner's %#x", c.name, key, want)
		}
	}
	p := row("00uAAAAAAAAAAAAAAAAA", "expire_password", report.Failed, "E0000001")
	if n := testing.AllocsPerRun(100, func() { claimOf(p.o, p.p) }); n != 0 {
		t.Errorf("claimOf allocates %v times a payload", n)
	}
}
