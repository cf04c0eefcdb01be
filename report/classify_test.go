package report_test

import (
	"testing"

	"github.com/credbatch/credbatch/report"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		outcome report.Outcome
		status  int
		code    string
		want    report.RetryClass
	}{
		// not failures
		{report.Succeeded, 200, "", report.ClassNone},
		{report.Skipped, 0, "", report.ClassNone},
		{report.WouldSucceed, 200, "", report.ClassNone},
		// retryable
		{report.Failed, 429, "E0000047", report.ClassRetryable},
		{report.Failed, 500, "E0000009", report.ClassRetryable},
		{report.Failed, 503, "", report.ClassRetryable},
		{report.Failed, 0, report.CodeNetwork, report.ClassRetryable},
		{report.Failed, 0, report.CodeTimeout, report.ClassRetryable},
		{report.Failed, 409, "E0000112", report.ClassRetryable},
		// needs a fix
		{report.Failed, 409, "E0000001", report.ClassNeedsFix},
		{report.Failed, 403, "E0000006", report.ClassNeedsFix},
		{report.Failed, 404, "E0000007", report.ClassNeedsFix},
		{report.Failed, 400, "E0000001", report.ClassNeedsFix},
		{report.Failed, 200, report.CodeLoginMismatch, report.ClassNeedsFix},
		{report.Failed, 0, report.CodeDuplicateUser, report.ClassNeedsFix},
		{report.Failed, 0, "", report.ClassNeedsFix},
		{report.WouldFail, 200, "", report.ClassNeedsFix},
		// in doubt, whatever the status (a password-checking action)
		{report.InDoubt, 502, "", report.ClassInDoubt},
		{report.InDoubt, 0, report.CodeTimeout, report.ClassInDoubt},
	}
	for _, tt := range tests {
		r := report.Row{Action: "change_password", Outcome: tt.outcome, HTTPStatus: tt.status, ErrorCode: tt.code}
		if got := report.Classify(&r); got != tt.want {
			t.Errorf("Classify(%s %d %s) = %q, want %q", tt.outcome, tt.status, tt.code, got, tt.want)
		}
	}
	names := map[report.RetryClass]string{report.ClassNone: "", report.ClassRetryable: "retryable", report.ClassNeedsFix: "needs-fix", report.ClassInDoubt: "in-doubt"}
	for c, want := range names {
		if c.String() != want {
			t.Errorf("%d.String() = %q, want %q", c, c.String(), want)
		}
	}
}

// SPEC.md "Report": the in-doubt file is for the password-checking actions;
// a row of the other actions that may have applied is safe to repeat, and
// goes to the retryable file with its reason.
func TestClassifyByAction(t *testing.T) {
	lost := report.ReasonSecretLost
	again := report.ReasonRepeatable
	tests := []struct {
		action  string
		outcome report.Outcome
		status  int
		code    string
		class   report.RetryClass
		reason  string
	}{
		{"expire_password_with_temp_password", report.InDoubt, 0, report.CodeTimeout, report.ClassRetryable, lost},
		{"reset_password", report.InDoubt, 0, report.CodeNetwork, report.ClassRetryable, lost},
		{"forgot_password", report.InDoubt, 0, "", report.ClassRetryable, lost},
		{"reset_password", report.Failed, 0, report.CodeNetwork, report.ClassRetryable, lost},
		{"forgot_password", report.Failed, 0, report.CodeTimeout, report.ClassRetryable, lost},
		{"expire_password_with_temp_password", report.Failed, 503, "E0000009", report.ClassRetryable, lost},
		{"expire_password", report.InDoubt, 0, report.CodeTimeout, report.ClassRetryable, again},
		{"expire_password", report.Failed, 500, "", report.ClassRetryable, again},
		{"clear_sessions", report.InDoubt, 0, report.CodeNetwork, report.ClassRetryable, again},
		// no reason: it did not apply (429, 409 E0000112), or it succeeded
		{"reset_password", report.Failed, 429, "E0000047", report.ClassRetryable, ""},
		{"expire_password_with_temp_password", report.Failed, 409, "E0000112", report.ClassRetryable, ""},
		{"reset_password", report.Succeeded, 200, "", report.ClassNone, ""},
		{"reset_password", report.Failed, 403, "E0000006", report.ClassNeedsFix, ""},
		// the password-checking actions stay in doubt, and are never called harmless
		{"change_password", report.InDoubt, 0, report.CodeTimeout, report.ClassInDoubt, ""},
		{"change_recovery_question", report.InDoubt, 0, report.CodeNetwork, report.ClassInDoubt, ""},
		{"forgot_password_set_new_password", report.InDoubt, 0, "", report.ClassInDoubt, ""},
		{"change_password", report.Failed, 502, "", report.ClassRetryable, ""},
	}
	for _, tt := range tests {
		r := report.Row{Action: tt.action, Outcome: tt.outcome, HTTPStatus: tt.status, ErrorCode: tt.code}
		if got := report.Classify(&r); got != tt.class {
			t.Errorf("Classify(%s %s %d %s) = %q, want %q", tt.action, tt.outcome, tt.status, tt.code, got, tt.class)
		}
		if got := report.Reason(&r); got != tt.reason {
			t.Errorf("Reason(%s %s %d %s) = %q, want %q", tt.action, tt.outcome, tt.status, tt.code, got, tt.reason)
		}
	}
	for _, a := range []string{"expire_password_with_temp_password", "reset_password", "forgot_password"} {
		if !report.IssuesSecret(a) || !report.Repeatable(a) {
			t.Errorf("%s: IssuesSecret %v, Repeatable %v", a, report.IssuesSecret(a), report.Repeatable(a))
		}
	}
	for _, a := range []string{"expire_password", "clear_sessions", "change_password", "change_recovery_question", "forgot_password_set_new_password", ""} {
		if report.IssuesSecret(a) {
			t.Errorf("%s issues no secret", a)
		}
	}
}
