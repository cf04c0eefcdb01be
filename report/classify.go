package report

// RetryClass says which file of `credbatch report --failed-manifest` a row
// belongs to (SPEC.md "Report").
type RetryClass int

// The retry classes.
const (
	ClassNone      RetryClass = iota // succeeded, skipped or would_succeed: in no file
	ClassRetryable                   // 429, 5xx, CB_NETWORK, CB_TIMEOUT, 409 E0000112: run it again as it is
	ClassNeedsFix                    // other 4xx, CB_LOGIN_MISMATCH, CB_DUPLICATE_USER, would_fail: fix the row or the user first
	ClassInDoubt                     // in_doubt: check the user in Okta before running it again
)

// String returns the file-name infix of the class: "retryable", "needs-fix",
// "in-doubt", or "" for ClassNone.
func (c RetryClass) String() string {
	switch c {
	case ClassRetryable:
		return "retryable"
	case ClassNeedsFix:
		return "needs-fix"
	case ClassInDoubt:
		return "in-doubt"
	}
	return ""
}

// Classify returns the retry class of r. A failed row is retryable when
// Okta answered 429 or 5xx, or 409 with E0000112, or when no answer came
// (CB_NETWORK, CB_TIMEOUT); any other failed row needs a fix (other 4xx,
// the login and duplicate codes, a failure without an HTTP answer or code).
// A dry run's would_fail rows need a fix too.
func Classify(r *Row) RetryClass {
	switch r.Outcome {
	case InDoubt:
		return ClassInDoubt
	case WouldFail:
		return ClassNeedsFix
	case Failed:
	default:
		return ClassNone
	}
	switch {
	case r.ErrorCode == CodeNetwork || r.ErrorCode == CodeTimeout:
		return ClassRetryable
	case r.ErrorCode == CodeLoginMismatch || r.ErrorCode == CodeDuplicateUser:
		return ClassNeedsFix
	case r.HTTPStatus == 429 || r.HTTPStatus >= 500 && r.HTTPStatus <= 599:
		return ClassRetryable
	case r.HTTPStatus == 409 && r.ErrorCode == "E0000112":
		return ClassRetryable
	}
	return ClassNeedsFix
}
