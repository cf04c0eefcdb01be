package okta

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// canned answers one fixed response to every request.
func canned(t *testing.T, status int, hdr http.Header, body string) *Client {
	t.Helper()
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		for k, vs := range hdr {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		if body != "" && w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
	return newClient(t, srv.URL, AuthSSWS, 0)
}

func TestDecodeTempPassword(t *testing.T) {
	tests := []struct {
		name, body, wantStatus string
	}{
		{"documented shape", `{"tempPassword":"F46gy7X4"}`, ""},
		{"user object carrying tempPassword", `{"id":"00u1","status":"PASSWORD_EXPIRED","tempPassword":"F46gy7X4","profile":{"login":"a@b.c"},"unknown":{"x":[1,2]}}`, "PASSWORD_EXPIRED"},
		{"odd field types tolerated", `{"tempPassword":"F46gy7X4","status":"PASSWORD_EXPIRED","_links":[],"credentials":7}`, "PASSWORD_EXPIRED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := canned(t, 200, http.Header{"X-Okta-Request-Id": {"rid-1"}}, tt.body)
			r, err := c.ExpirePasswordWithTempPassword(testCtx(t), "00u1", nil, CallOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if r.TempPassword.Reveal() != "F46gy7X4" || r.UserStatus != tt.wantStatus || r.RequestID != "rid-1" || r.HTTPStatus != 200 {
				t.Errorf("got temp set=%v status %q rid %q http %d", r.TempPassword.Reveal() == "F46gy7X4", r.UserStatus, r.RequestID, r.HTTPStatus)
			}
			if s := fmt.Sprintf("%v %+v %#v", r, r, r); strings.Contains(s, "F46gy7X4") {
				t.Errorf("printing the Response shows the temp password: %s", s)
			}
		})
	}
	// A 2xx without a temp password is no usable answer.
	for _, body := range []string{`{}`, ``, `{"id":"00u1","status":"PASSWORD_EXPIRED"}`, `<html>oops</html>`} {
		t.Run("unusable "+body, func(t *testing.T) {
			c := canned(t, 200, http.Header{"X-Okta-Request-Id": {"rid-2"}}, body)
			r, err := c.ExpirePasswordWithTempPassword(testCtx(t), "00u1", nil, CallOptions{})
			var ne *NetError
			if r != nil || !errors.As(err, &ne) || !ne.MayHaveReached || ne.Timeout || !errors.Is(err, ErrBadResponse) || ne.RequestID != "rid-2" {
				t.Fatalf("got (%v, %v), want a NetError wrapping ErrBadResponse that may have reached", r, err)
			}
		})
	}
}

func TestDecodeResetURL(t *testing.T) {
	const link = "https://acme.okta.com/signin/reset-password/XE6wE17zmphl3KqAPFxO"
	tests := []struct {
		name, body, want string
	}{
		{"link returned", `{"resetPasswordUrl":"` + link + `"}`, link},
		{"link with summary", `{"summary":"Reset password without sending email","resetPasswordUrl":"` + link + `"}`, link},
		{"emailed: {}", `{}`, ""},
		{"emailed: empty body", ``, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := canned(t, 200, nil, tt.body)
			r, err := c.ResetPassword(testCtx(t), "00u1", false, nil, CallOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if r.ResetURL.Reveal() != tt.want {
				t.Errorf("reset_password: got %q want %q", r.ResetURL.Reveal(), tt.want)
			}
			r, err = c.ForgotPassword(testCtx(t), "00u1", nil, CallOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if r.ResetURL.Reveal() != tt.want {
				t.Errorf("forgot_password: got %q want %q", r.ResetURL.Reveal(), tt.want)
			}
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		c := canned(t, 200, nil, `not json at all`)
		_, err := c.ForgotPassword(testCtx(t), "00u1", nil, CallOptions{})
		if !errors.Is(err, ErrBadResponse) {
			t.Fatalf("got %v, want ErrBadResponse", err)
		}
	})
}

func TestDecodeUser(t *testing.T) {
	body := `{"id":"00u2","status":"ACTIVE","profile":{"login":"Jane@Example.com","firstName":"J"},
	  "credentials":{"password":{},"provider":{"type":"OKTA","name":"OKTA"}},
	  "_links":{"self":{"href":"x"},"resetPassword":{"href":"y"},"changePassword":{"href":"z"},"suspend":null}}`
	c := canned(t, 200, nil, body)
	r, err := c.GetUser(testCtx(t), "jane@example.com", CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u := r.User
	if u == nil {
		t.Fatal("no User")
	}
	if u.ID != "00u2" || u.Status != "ACTIVE" || u.Login != "Jane@Example.com" || !u.HasPassword || u.HasRecoveryQuestion || u.ProviderType != "OKTA" {
		t.Errorf("user %+v", u)
	}
	wantLinks := map[string]bool{"self": true, "resetPassword": true, "changePassword": true}
	if len(u.Links) != len(wantLinks) {
		t.Errorf("links %v, want %v", u.Links, wantLinks)
	}
	for k := range wantLinks {
		if !u.Links[k] {
			t.Errorf("link %s missing", k)
		}
	}
	if r.UserStatus != "ACTIVE" {
		t.Errorf("UserStatus %q", r.UserStatus)
	}

	// A federated user: no password credential.
	c = canned(t, 200, nil, `{"id":"00u3","status":"ACTIVE","credentials":{"provider":{"type":"FEDERATION"}},"_links":{}}`)
	r, err = c.GetMe(testCtx(t), CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.User.HasPassword || r.User.ProviderType != "FEDERATION" || len(r.User.Links) != 0 {
		t.Errorf("federated user %+v", r.User)
	}
}

func TestDecode204AndCredentials(t *testing.T) {
	c := canned(t, 204, http.Header{"X-Okta-Request-Id": {"rid-204"}}, "")
	r, err := c.ClearSessions(testCtx(t), "00u1", true, CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.HTTPStatus != 204 || r.RequestID != "rid-204" || r.User != nil || r.UserStatus != "" {
		t.Errorf("204: %+v", r)
	}
	c = canned(t, 200, nil, `{"password":{},"recovery_question":{"question":"Q?"},"provider":{"type":"OKTA","name":"OKTA"}}`)
	r, err = c.ChangePassword(testCtx(t), "00u1", tok("a"), tok("b"), nil, nil, CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.HTTPStatus != 200 || r.User != nil || !r.TempPassword.IsZero() {
		t.Errorf("credentials answer: %+v", r)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		wantMsg  string
		sentinel error
		code     string
		causes   int
	}{
		{"okta error with causes", 403,
			`{"errorCode":"E0000014","errorSummary":"Update of credentials failed","errorLink":"E0000014","errorId":"oae1","errorCauses":[{"errorSummary":"Old Password is not correct"}]}`,
			"okta: HTTP 403 E0000014: Update of credentials failed (Old Password is not correct)", ErrForbidden, "E0000014", 1},
		{"two causes joined", 400,
			`{"errorCode":"E0000001","errorSummary":"Api validation failed: password","errorCauses":[{"errorSummary":"too short"},{"errorSummary":"no digit"}]}`,
			"okta: HTTP 400 E0000001: Api validation failed: password (too short; no digit)", nil, "E0000001", 2},
		{"not found", 404, `{"errorCode":"E0000007","errorSummary":"Not found: Resource not found: x (User)","errorCauses":[]}`,
			"okta: HTTP 404 E0000007: Not found: Resource not found: x (User)", ErrNotFound, "E0000007", 0},
		{"unauthorized", 401, `{"errorCode":"E0000011","errorSummary":"Invalid token provided"}`,
			"okta: HTTP 401 E0000011: Invalid token provided", ErrUnauthorized, "E0000011", 0},
		{"rate limited", 429, `{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}`,
			"okta: HTTP 429 E0000047: API call exceeded rate limit due to too many requests.", ErrRateLimited, "E0000047", 0},
		{"HTML from a proxy", 502, `<html><body>Bad gateway</body></html>`, "okta: HTTP 502: Bad Gateway", nil, "", 0},
		{"empty 4xx", 409, ``, "okta: HTTP 409: Conflict", nil, "", 0},
		{"empty JSON 5xx", 500, `{}`, "okta: HTTP 500: Internal Server Error", nil, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := canned(t, tt.status, http.Header{
				"X-Okta-Request-Id":      {"rid-err"},
				"X-Rate-Limit-Limit":     {"600"},
				"X-Rate-Limit-Remaining": {"0"},
				"X-Rate-Limit-Reset":     {"1700000060"},
			}, tt.body)
			r, err := c.ChangePassword(testCtx(t), "00u1", tok("a"), tok("b"), nil, nil, CallOptions{})
			if r != nil {
				t.Errorf("a Response came with the error")
			}
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("got %T %v, want *APIError", err, err)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("message\n got %q\nwant %q", err.Error(), tt.wantMsg)
			}
			if ae.HTTPStatus != tt.status || ae.Code != tt.code || len(ae.Causes) != tt.causes || ae.RequestID != "rid-err" {
				t.Errorf("fields %+v", ae)
			}
			if !ae.Rate.Present || ae.Rate.Limit != 600 || ae.Rate.Remaining != 0 || ae.Rate.Reset.Unix() != 1700000060 {
				t.Errorf("rate not parsed on the error: %+v", ae.Rate)
			}
			for _, s := range []error{ErrUnauthorized, ErrForbidden, ErrNotFound, ErrRateLimited} {
				if got, want := errors.Is(err, s), s == tt.sentinel; got != want {
					t.Errorf("errors.Is(err, %v) = %v, want %v", s, got, want)
				}
			}
		})
	}
}

func TestRateHeaders(t *testing.T) {
	date := time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC)
	httpDate := date.Format(http.TimeFormat)
	tests := []struct {
		name        string
		hdr         http.Header
		present     bool
		limit, rem  int
		reset       int64
		date        time.Time
		retryAfter  time.Time // zero: none
		retryFromRx time.Duration
	}{
		{"all present", http.Header{
			"X-Rate-Limit-Limit": {"600"}, "X-Rate-Limit-Remaining": {"599"}, "X-Rate-Limit-Reset": {"1772373660"}, "Date": {httpDate},
		}, true, 600, 599, 1772373660, date, time.Time{}, 0},
		{"repeated lines: most conservative", http.Header{
			"X-Rate-Limit-Limit": {"600", "100"}, "X-Rate-Limit-Remaining": {"50", "7", "junk"},
			"X-Rate-Limit-Reset": {"1772373660", "1772373700"}, "Date": {"nonsense", httpDate},
		}, true, 100, 7, 1772373700, date, time.Time{}, 0},
		{"comma-joined repeats", http.Header{
			"X-Rate-Limit-Limit": {"600, 600"}, "X-Rate-Limit-Remaining": {"10, 9"}, "X-Rate-Limit-Reset": {"1772373660, 1772373660"},
		}, true, 600, 9, 1772373660, time.Time{}, time.Time{}, 0},
		{"missing headers", http.Header{"Date": {httpDate}}, false, 0, 0, 0, date, time.Time{}, 0},
		{"partial headers are not present", http.Header{"X-Rate-Limit-Limit": {"600"}, "X-Rate-Limit-Remaining": {"1"}},
			false, 0, 0, 0, time.Time{}, time.Time{}, 0},
		{"retry-after seconds against Date", http.Header{"Date": {httpDate}, "Retry-After": {"30"}},
			false, 0, 0, 0, date, date.Add(30 * time.Second), 0},
		{"retry-after HTTP-date", http.Header{"Date": {httpDate}, "Retry-After": {date.Add(time.Minute).Format(http.TimeFormat)}},
			false, 0, 0, 0, date, date.Add(time.Minute), 0},
		{"repeated retry-after: the latest", http.Header{"Date": {httpDate}, "Retry-After": {"5", "45", "x"}},
			false, 0, 0, 0, date, date.Add(45 * time.Second), 0},
		{"retry-after seconds without Date: against receipt", http.Header{"Retry-After": {"12"}},
			false, 0, 0, 0, time.Time{}, time.Time{}, 12 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// parseRate directly, with a fixed receipt time...
			rx := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			check := func(ri RateInfo, rx time.Time) {
				t.Helper()
				if ri.Present != tt.present || ri.Limit != tt.limit || ri.Remaining != tt.rem {
					t.Errorf("present/limit/remaining = %v/%d/%d", ri.Present, ri.Limit, ri.Remaining)
				}
				if tt.present && ri.Reset.Unix() != tt.reset || !tt.present && !ri.Reset.IsZero() {
					t.Errorf("reset %v want %d", ri.Reset, tt.reset)
				}
				if !ri.Date.Equal(tt.date) {
					t.Errorf("date %v want %v", ri.Date, tt.date)
				}
				want := tt.retryAfter
				if tt.retryFromRx != 0 {
					want = rx.Add(tt.retryFromRx)
				}
				if !ri.RetryAfter.Equal(want) {
					t.Errorf("retry-after %v want %v", ri.RetryAfter, want)
				}
			}
			check(parseRate(tt.hdr, rx), rx)
			// ...and through a real answer (a 429), where the server's own
			// Date header is suppressed unless the case sets one.
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if _, ok := tt.hdr["Date"]; !ok {
					w.Header()["Date"] = nil
				}
				for k, vs := range tt.hdr {
					w.Header()[k] = vs
				}
				w.WriteHeader(429)
			})
			c := newClient(t, srv.URL, AuthSSWS, 0)
			_, err := c.ExpirePassword(testCtx(t), "00u1", CallOptions{})
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("got %v", err)
			}
			if ae.Rate.Received.IsZero() {
				t.Error("Received not set")
			}
			check(ae.Rate, ae.Rate.Received)
		})
	}
}

func TestSuccessCarriesRate(t *testing.T) {
	c := canned(t, 200, http.Header{"X-Rate-Limit-Limit": {"100"}, "X-Rate-Limit-Remaining": {"42"}, "X-Rate-Limit-Reset": {"1772373660"}}, `{"id":"00u1","status":"PASSWORD_EXPIRED"}`)
	r, err := c.ExpirePassword(testCtx(t), "00u1", CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Rate.Present || r.Rate.Remaining != 42 || r.Rate.Limit != 100 || r.UserStatus != "PASSWORD_EXPIRED" {
		t.Errorf("rate %+v status %q", r.Rate, r.UserStatus)
	}
}

func TestBodyLimit(t *testing.T) {
	big := `{"tempPassword":"x","pad":"` + strings.Repeat("a", maxBody) + `"}`
	c := canned(t, 200, nil, big)
	_, err := c.ExpirePasswordWithTempPassword(testCtx(t), "00u1", nil, CallOptions{})
	if !errors.Is(err, ErrBadResponse) {
		t.Fatalf("a body over 1 MiB: got %v, want ErrBadResponse", err)
	}
}

// TestBodyAtLimit: an answer of exactly maxBody bytes is read whole.
func TestBodyAtLimit(t *testing.T) {
	head, tail := `{"tempPassword":"x","pad":"`, `"}`
	body := head + strings.Repeat("a", maxBody-len(head)-len(tail)) + tail
	c := canned(t, 200, nil, body)
	r, err := c.ExpirePasswordWithTempPassword(testCtx(t), "00u1", nil, CallOptions{})
	if err != nil || r.TempPassword.Reveal() != "x" {
		t.Fatalf("a body of %d bytes: %v", len(body), err)
	}
}

// TestBodyBufferZeroed: a pooled answer buffer is zeroed when it is given
// back: an answer's temporary password does not linger in the pool.
func TestBodyBufferZeroed(t *testing.T) {
	buf := bodyBuffers.Get().(*bytes.Buffer)
	buf.WriteString(`{"tempPassword":"F46gy7X4-kept?"}`)
	held := buf.Bytes()
	putBodyBuffer(buf)
	if strings.Contains(string(held), "F46gy7X4") || buf.Len() != 0 {
		t.Error("the buffer given back still holds the answer")
	}
}
