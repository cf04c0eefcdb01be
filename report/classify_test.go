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
		// in doubt, whatever the status
		{report.InDoubt, 502, "", report.ClassInDoubt},
		{report.InDoubt, 0, report.CodeTimeout, report.ClassInDoubt},
	}
	for _, tt := range tests {
		r := report.Row{Outcome: tt.outcome, HTTPStatus: tt.status, ErrorCode: tt.code}
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
