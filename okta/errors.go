package okta

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors that callers test with errors.Is. An *APIError matches the
// one for its HTTP status.
var (
	ErrUnauthorized = errors.New("okta: unauthorized (401)")
	ErrForbidden    = errors.New("okta: forbidden (403)")
	ErrNotFound     = errors.New("okta: not found (404)")
	ErrRateLimited  = errors.New("okta: rate limited (429)")

	// ErrBadResponse is wrapped in a *NetError (MayHaveReached true) when a
	// 2xx answer arrived but its body could not be read or decoded, or lacked
	// what the call exists to return (the temporary password). The
	// operation may have been applied; its result is unknown.
	ErrBadResponse = errors.New("okta: unusable success response")
)

// APIError is a non-2xx answer. Its message is built only from what Okta
// returned (status, errorCode, errorSummary, errorCauses), never from the
// request; any secret of the request that the answer echoes is redacted.
type APIError struct {
	HTTPStatus int
	Code       string   // errorCode, e.g. E0000014; "" when the body was not an Okta error
	Summary    string   // errorSummary, or the HTTP status text
	Link       string   // errorLink
	ID         string   // errorId
	Causes     []string // errorCauses[].errorSummary
	RequestID  string   // X-Okta-Request-Id
	Rate       RateInfo
}

// Error renders "okta: HTTP 403 E0000014: Update of credentials failed (Old
// Password is not correct)"; causes are joined by "; ".
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "okta: HTTP %d", e.HTTPStatus)
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.Summary != "" {
		b.WriteString(": ")
		b.WriteString(e.Summary)
	}
	if len(e.Causes) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(e.Causes, "; "))
		b.WriteString(")")
	}
	return b.String()
}

// Is matches the sentinel of the error's HTTP status.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.HTTPStatus == 401
	case ErrForbidden:
		return e.HTTPStatus == 403
	case ErrNotFound:
		return e.HTTPStatus == 404
	case ErrRateLimited:
		return e.HTTPStatus == 429
	}
	return false
}

// NetError is an attempt that got no usable answer.
type NetError struct {
	// Op names the request: method and path, e.g.
	// "POST /api/v1/users/00u1/lifecycle/expire_password" (no host, no query).
	Op string
	// MayHaveReached is true when the request was written in full, so Okta
	// may have received and applied it; false when it never left in full
	// (refused dial, TLS failure, cancellation before the write completed).
	MayHaveReached bool
	// Timeout is true when the per-request time limit, the caller's context
	// deadline, or a network timeout ended the attempt (the runner reports
	// CB_TIMEOUT; otherwise CB_NETWORK).
	Timeout bool
	// RequestID is X-Okta-Request-Id when response headers did arrive
	// (a 2xx whose body was cut or unusable); usually empty.
	RequestID string
	// Err is the cause: a network error, context.Canceled,
	// context.DeadlineExceeded, or ErrBadResponse.
	Err error
}

func (e *NetError) Error() string {
	var b strings.Builder
	b.WriteString("okta: ")
	b.WriteString(e.Op)
	switch {
	case e.Timeout:
		b.WriteString(": timed out")
	default:
		b.WriteString(": no answer")
	}
	if e.MayHaveReached {
		b.WriteString(" (the request may have reached Okta)")
	} else {
		b.WriteString(" (the request was not sent in full)")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *NetError) Unwrap() error { return e.Err }
