package report

// RetryClass says which file of `credbatch report --failed-manifest` a row
// belongs to (SPEC.md "Report").
type RetryClass int

// The retry classes.
const (
	ClassNone      RetryClass = iota // succeeded, skipped or would_succeed: in no file
	ClassRetryable                   // 429, 5xx, CB_NETWORK, CB_TIMEOUT, 409 E0000112, in_doubt of a Repeatable action: run it again as it is
	ClassNeedsFix                    // other 4xx, CB_LOGIN_MISMATCH, CB_DUPLICATE_USER, would_fail: fix the row or the user first
	ClassInDoubt                     // in_doubt of a password-checking action: check the user in Okta before running it again
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
// A dry run's would_fail rows need a fix too. An in_doubt row is retryable
// when its action is Repeatable (a rerun issues a new secret, or expires or
// clears again), and in doubt otherwise: the password-checking actions must
// not be sent twice.
func Classify(r *Row) RetryClass {
	switch r.Outcome {
	case InDoubt:
		if Repeatable(r.Action) {
			return ClassRetryable
		}
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
	case r.HTTPStatus == 429 || is5xx(r.HTTPStatus):
		return ClassRetryable
	case r.HTTPStatus == 409 && r.ErrorCode == "E0000112":
		return ClassRetryable
	}
	return ClassNeedsFix
}

func is5xx(status int) bool { return status >= 500 && status <= 599 }

// IssuesSecret reports whether action gives out a secret that Okta issues
// anew each time it is sent: a temporary password
// (expire_password_with_temp_password) or a reset link (reset_password,
// forgot_password; in the answer, or emailed to the user). A new one
// replaces the one before: only the newest works.
func IssuesSecret(action string) bool {
	switch action {
	case "expire_password_with_temp_password", "reset_password", "forgot_password":
		return true
	}
	return false
}

// Repeatable reports whether a row of action that may have applied is safe
// to send again: the secret-issuing actions (a new secret replaces the one
// lost), expire_password and clear_sessions (applied twice, they leave the
// user as once). The password-checking actions (change_password,
// change_recovery_question, forgot_password_set_new_password) are not: a
// second attempt checks an old password that may no longer be the user's.
func Repeatable(action string) bool {
	return IssuesSecret(action) || action == "expire_password" || action == "clear_sessions"
}

// MayHaveApplied reports whether r ended without knowing whether Okta
// applied it: in_doubt, or failed with no answer (CB_NETWORK, CB_TIMEOUT) or
// with a 5xx (an error after the change is possible).
func MayHaveApplied(r *Row) bool {
	switch r.Outcome {
	case InDoubt:
		return true
	case Failed:
		return r.ErrorCode == CodeNetwork || r.ErrorCode == CodeTimeout || is5xx(r.HTTPStatus)
	}
	return false
}

// The reasons Reason gives.
const (
	ReasonSecretLost = "a secret may have been issued and lost: run again to issue a new one"
	ReasonRepeatable = "it may have applied, and applying it again is harmless: run it again"
)

// Reason says why a retryable row that may have applied is safe to run
// again, for the people who read the retryable file's summary:
// ReasonSecretLost for a secret-issuing action (IssuesSecret),
// ReasonRepeatable for expire_password and clear_sessions. It returns ""
// for any other row: a 429 or a 409 E0000112 did not apply, and the
// retryable file's own label says what to do; a password-checking row is
// never said to be harmless to repeat.
func Reason(r *Row) string {
	if Classify(r) != ClassRetryable || !MayHaveApplied(r) || !Repeatable(r.Action) {
		return ""
	}
	if IssuesSecret(r.Action) {
		return ReasonSecretLost
	}
	return ReasonRepeatable
}
