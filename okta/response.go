package okta

import (
	"encoding/json"
	"errors"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/credbatch/credbatch/internal/secret"
)

// Response is a 2xx answer, decoded loosely: unknown fields are ignored and
// every field below is left zero when the body does not carry it.
type Response struct {
	HTTPStatus int
	RequestID  string // X-Okta-Request-Id
	Rate       RateInfo
	// TempPassword is "tempPassword" of the top-level object: both the
	// documented {"tempPassword"} and a User object carrying tempPassword.
	TempPassword secret.String
	// ResetURL is "resetPasswordUrl"; empty for {} (Okta emailed the link).
	ResetURL secret.String
	// UserStatus is "status" of whatever object arrived, if any.
	UserStatus string
	// User is set by GetUser and GetMe (the body is a User object: it has
	// an "id"). The credential operations leave it nil.
	User *User
}

// User is what credbatch needs of an Okta User object.
type User struct {
	ID, Status, Login string // Login is profile.login
	// Email, FirstName, LastName are profile.email, .firstName, .lastName:
	// who the user is, for the report's hand-out columns.
	Email, FirstName, LastName string
	// Links holds the link relation names present in _links (self,
	// expirePassword, resetPassword, forgotPassword, changePassword,
	// changeRecoveryQuestion, ...), each true.
	Links map[string]bool
	// HasPassword / HasRecoveryQuestion: credentials.password /
	// credentials.recovery_question are present (Okta sends password as {}).
	HasPassword, HasRecoveryQuestion bool
	ProviderType                     string // credentials.provider.type (OKTA, FEDERATION, ...)
}

// RateInfo is what an answer said about rate limits.
//
// Repeated header lines (or comma-joined values) are tolerated by taking the
// most conservative parseable value of each header: the smallest Limit, the
// smallest Remaining, the latest Reset, the latest Retry-After. Date takes
// the first parseable line.
type RateInfo struct {
	// Present is true when X-Rate-Limit-Limit, -Remaining and -Reset all
	// parsed; when it is false the three fields below are zero.
	Present   bool
	Limit     int
	Remaining int
	Reset     time.Time // X-Rate-Limit-Reset (absolute epoch seconds)
	// Date is the Date header; zero when missing or unparseable.
	Date time.Time
	// RetryAfter is absolute; zero when absent. The seconds form is resolved
	// against Date, or against Received when Date is missing; the HTTP-date
	// form is taken as is.
	RetryAfter time.Time
	// Received is the local clock when the response headers arrived.
	Received time.Time
}

// headerValues yields every comma-separated value of every line of a
// numeric header, trimmed, so that repeated lines and comma-joined repeats
// are read alike. It allocates nothing (it runs for every answer).
func headerValues(h http.Header, key string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, line := range h.Values(key) {
			for line != "" {
				var v string
				v, line, _ = strings.Cut(line, ",")
				if v = strings.TrimSpace(v); v != "" && !yield(v) {
					return
				}
			}
		}
	}
}

func minInt(h http.Header, key string) (int, bool) {
	best, ok := 0, false
	for v := range headerValues(h, key) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			continue
		}
		if !ok || n < best {
			best, ok = n, true
		}
	}
	return best, ok
}

// parseRate reads the rate-limit, Date and Retry-After headers.
func parseRate(h http.Header, received time.Time) RateInfo {
	ri := RateInfo{Received: received}
	limit, okL := minInt(h, "X-Rate-Limit-Limit")
	remaining, okR := minInt(h, "X-Rate-Limit-Remaining")
	var reset int64
	okS := false
	for v := range headerValues(h, "X-Rate-Limit-Reset") {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			continue
		}
		if !okS || n > reset {
			reset, okS = n, true
		}
	}
	if okL && okR && okS {
		ri.Present = true
		ri.Limit, ri.Remaining = limit, remaining
		ri.Reset = time.Unix(reset, 0).UTC()
	}
	for _, v := range h.Values("Date") {
		if t, err := http.ParseTime(strings.TrimSpace(v)); err == nil {
			ri.Date = t.UTC()
			break
		}
	}
	base := ri.Date
	if base.IsZero() {
		base = received
	}
	for _, line := range h.Values("Retry-After") {
		line = strings.TrimSpace(line)
		var t time.Time
		if t2, err := http.ParseTime(line); err == nil {
			t = t2.UTC()
		} else {
			// seconds form, possibly comma-joined repeats
			for _, v := range strings.Split(line, ",") {
				n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				if err != nil || n < 0 || n > 1<<31 {
					continue
				}
				if c := base.Add(time.Duration(n) * time.Second); c.After(t) {
					t = c
				}
			}
		}
		if !t.IsZero() && t.After(ri.RetryAfter) {
			ri.RetryAfter = t
		}
	}
	return ri
}

// wireBody is the union of every object a call may answer with. Field types
// are loose (json.RawMessage where Okta's shape varies) so that one odd
// field does not spoil the rest.
type wireBody struct {
	ID               string          `json:"id"`
	Status           json.RawMessage `json:"status"`
	TempPassword     json.RawMessage `json:"tempPassword"`
	ResetPasswordURL json.RawMessage `json:"resetPasswordUrl"`
	Profile          *struct {
		Login     json.RawMessage `json:"login"`
		Email     json.RawMessage `json:"email"`
		FirstName json.RawMessage `json:"firstName"`
		LastName  json.RawMessage `json:"lastName"`
	} `json:"profile"`
	Credentials *struct {
		Password         json.RawMessage `json:"password"`
		RecoveryQuestion json.RawMessage `json:"recovery_question"`
		Provider         *struct {
			Type json.RawMessage `json:"type"`
		} `json:"provider"`
	} `json:"credentials"`
	Links map[string]json.RawMessage `json:"_links"`
}

// jsonString returns the raw message as a string when it is a JSON string.
func jsonString(m json.RawMessage) string {
	var s string
	if len(m) == 0 || json.Unmarshal(m, &s) != nil {
		return ""
	}
	return s
}

// present reports whether a JSON member exists and is not null.
func present(m json.RawMessage) bool {
	return len(m) > 0 && string(m) != "null"
}

// decodeSuccess fills r from a 2xx body. An empty body (204, or a 200 with
// nothing) is fine; a body that is not a JSON object is an error.
func decodeSuccess(body []byte, r *Response) error {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	var w wireBody
	if err := json.Unmarshal(body, &w); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return errors.New("response body is not a JSON object")
		}
		// A field of an unexpected type: keep what did decode.
	}
	r.TempPassword = secret.New(jsonString(w.TempPassword))
	r.ResetURL = secret.New(jsonString(w.ResetPasswordURL))
	r.UserStatus = jsonString(w.Status)
	if w.ID != "" {
		u := &User{ID: w.ID, Status: r.UserStatus, Links: map[string]bool{}}
		if w.Profile != nil {
			u.Login = jsonString(w.Profile.Login)
			u.Email = jsonString(w.Profile.Email)
			u.FirstName = jsonString(w.Profile.FirstName)
			u.LastName = jsonString(w.Profile.LastName)
		}
		if c := w.Credentials; c != nil {
			u.HasPassword = present(c.Password)
			u.HasRecoveryQuestion = present(c.RecoveryQuestion)
			if c.Provider != nil {
				u.ProviderType = jsonString(c.Provider.Type)
			}
		}
		for name, v := range w.Links {
			if present(v) {
				u.Links[name] = true
			}
		}
		r.User = u
	}
	return nil
}

// wireError is Okta's error body.
type wireError struct {
	ErrorCode    string `json:"errorCode"`
	ErrorSummary string `json:"errorSummary"`
	ErrorLink    string `json:"errorLink"`
	ErrorID      string `json:"errorId"`
	ErrorCauses  []struct {
		ErrorSummary string `json:"errorSummary"`
	} `json:"errorCauses"`
}

// decodeError builds the APIError of a non-2xx answer. A body that is not an
// Okta error gives Code "" and the status text as Summary.
func decodeError(status int, body []byte, requestID string, rate RateInfo) *APIError {
	e := &APIError{HTTPStatus: status, RequestID: requestID, Rate: rate}
	var w wireError
	if json.Unmarshal(body, &w) == nil {
		e.Code, e.Summary, e.Link, e.ID = w.ErrorCode, w.ErrorSummary, w.ErrorLink, w.ErrorID
		for _, c := range w.ErrorCauses {
			if c.ErrorSummary != "" {
				e.Causes = append(e.Causes, c.ErrorSummary)
			}
		}
	}
	if e.Summary == "" {
		e.Summary = http.StatusText(status)
		if e.Summary == "" {
			e.Summary = "unexpected HTTP status"
		}
	}
	return e
}

// redact replaces every secret of the request in the text Okta sent back
// (see secret.Redact): the error is built from the answer alone, and an
// answer may echo the request. (RequestID is redacted as it is read.)
func (e *APIError) redact(secrets []secret.String) {
	for _, f := range []*string{&e.Code, &e.Summary, &e.Link, &e.ID} {
		*f = secret.Redact(*f, secrets...)
	}
	for i := range e.Causes {
		e.Causes[i] = secret.Redact(e.Causes[i], secrets...)
	}
}

// redact does the same for the text of a success that credbatch shows or
// stores; the secrets it issued count among the request's.
func (r *Response) redact(secrets []secret.String) {
	if !r.TempPassword.IsZero() || !r.ResetURL.IsZero() {
		secrets = append(secrets[:len(secrets):len(secrets)], r.TempPassword, r.ResetURL)
	}
	r.UserStatus = secret.Redact(r.UserStatus, secrets...)
	if u := r.User; u != nil {
		u.Status = secret.Redact(u.Status, secrets...)
		u.Login = secret.Redact(u.Login, secrets...)
		u.Email = secret.Redact(u.Email, secrets...)
		u.FirstName = secret.Redact(u.FirstName, secrets...)
		u.LastName = secret.Redact(u.LastName, secrets...)
		u.ProviderType = secret.Redact(u.ProviderType, secrets...)
	}
}
