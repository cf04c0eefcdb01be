package main

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
	"github.com/credbatch/credbatch/runner/checkpoint"
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

// TestCollectClaimsLikeOnePass: the claims collectClaims makes while
// checkpoint.OpenEach reads a journal (on another goroutine, in batches)
// are those one pass in order makes: a pair claimed again later (a settled
// in_doubt row claims whatever came before) keeps the later line, within a
// batch and across batches; the last, partial batch counts; rows that claim
// nothing stay out.
func TestCollectClaimsLikeOnePass(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.checkpoint")
	const n = 10_003 // two whole batches of 4,096 and a partial one
	j, err := checkpoint.Create(path, checkpoint.Header{OrgURL: "https://example.okta.com", Rows: n})
	if err != nil {
		t.Fatal(err)
	}
	user := func(i int) string { return fmt.Sprintf("00u%017d", i) }
	again := map[int]int{7: 4, 4100: 4090, 4101: 5, n - 2: 9000} // row -> the earlier row whose pair it claims again
	var batch []checkpoint.Outcome
	for i := range n {
		row := &report.Row{Line: i + 2, User: user(i), UserID: user(i), Action: "expire_password", Outcome: report.Succeeded}
		switch {
		case again[i] > 0 || i == n-1: // i == n-1: the first row's pair, from the far end
			row.User, row.UserID, row.Outcome = user(again[i]), user(again[i]), report.InDoubt
		case i%10 == 5:
			row.Outcome, row.ErrorCode = report.Failed, report.CodeDuplicateUser
		case i%10 == 8:
			row.Outcome = report.Skipped
		}
		batch = append(batch, checkpoint.Outcome{Line: row.Line, Outcome: string(row.Outcome), Payload: report.AppendRow(nil, row, report.JSONL)})
	}
	if err := j.Outcomes(batch); err != nil {
		t.Fatal(err)
	}
	want := runner.NewClaims(n)
	if err := j.Replay(func(o checkpoint.Outcome) error {
		if key, ok := claimOf(report.Outcome(o.Outcome), o.Payload); ok {
			want.Claim(key, o.Line)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	j.Close()

	f := &runFiles{}
	j2, _, err := checkpoint.OpenEach(path, f.collectClaims)
	if err != nil {
		t.Fatal(err)
	}
	j2.Close()
	got := f.claims
	if got == nil {
		t.Fatal("no claims collected")
	}
	if got.Len() != want.Len() || want.Len() == 0 {
		t.Fatalf("%d claims, want %d", got.Len(), want.Len())
	}
	for i := range n {
		key := runner.ClaimKey(user(i), "expire_password")
		w, wok := want.Line(key)
		if g, gok := got.Line(key); g != w || gok != wok {
			t.Errorf("%s: line %d (%v), want %d (%v)", user(i), g, gok, w, wok)
		}
	}
	if line, _ := got.Line(runner.ClaimKey(user(0), "expire_password")); line != n+1 {
		t.Errorf("the first pair, claimed again by the last row, is line %d's, want %d", line, n+1)
	}
}
