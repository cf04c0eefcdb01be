package okta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/credbatch/credbatch/internal/secret"
)

// userAnswer is the emulator's expire_password answer (a whole User).
const userAnswer = `{"id":"00u00000000000000001","status":"PASSWORD_EXPIRED","created":"2026-11-26T13:36:53.175Z","activated":"2026-11-26T13:36:53.175Z","statusChanged":"2026-11-27T13:36:53.816Z","lastLogin":null,"lastUpdated":"2026-11-27T13:36:53.816Z","passwordChanged":"2026-11-26T13:36:53.175Z","profile":{"login":"user0000001@example.com","email":"user0000001@example.com","firstName":"U","lastName":"1"},"credentials":{"password":{},"provider":{"type":"OKTA","name":"OKTA"}},"_links":{"changePassword":{"href":"http://127.0.0.1:42905/api/v1/users/00u00000000000000001/credentials/change_password","method":"POST"},"deactivate":{"href":"http://127.0.0.1:42905/api/v1/users/00u00000000000000001/lifecycle/deactivate","method":"POST"},"expirePassword":{"href":"http://127.0.0.1:42905/api/v1/users/00u00000000000000001/lifecycle/expire_password","method":"POST"},"resetPassword":{"href":"http://127.0.0.1:42905/api/v1/users/00u00000000000000001/lifecycle/reset_password","method":"POST"},"self":{"href":"http://127.0.0.1:42905/api/v1/users/00u00000000000000001"}}}`

// answerSeeds are the answers the credential operations give, and bodies
// that sit at the edges of what scanAnswer takes on itself.
var answerSeeds = []string{
	userAnswer,
	`{"tempPassword":"F46gy7X4"}`,
	`{"tempPassword":"F46gy7X4","status":"PASSWORD_EXPIRED","id":"00u1"}`,
	`{"resetPasswordUrl":"https://example.okta.com/reset_password/XE6wE17zmphl3KqAPFxO"}`,
	`{}`, ``, " \n\t", `{"password":{},"recovery_question":{"question":"Q?"},"provider":{"type":"OKTA","name":"OKTA"}}`,
	`{"status":5}`, `{"status":null}`, `{"status":"A","status":"B"}`, `{"Status":"A","STATUS":"B"}`,
	`{"tempPassword":"a\"b"}`, `{"tempPassword":"\u0041"}`, `{"t\u0065mpPassword":"x"}`, `{"ſtatus":"x"}`,
	`{"tempPassword":"x"} x`, `{"tempPassword":"x",}`, `[{"tempPassword":"x"}]`, `"x"`, `{"a":[1,-2.5e+3,true,false,null,{"b":"\n"}]}`,
	`{"a":01}`, `{"a":1.}`, `{"a":"` + "\x01" + `"}`, `{"status":"` + "\xff" + `"}`, `{"a":"` + "\xff" + `"}`,
	`{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, `{"a":tru}`, "\ufeff{}", "\f{}",
}

// FuzzDecodeAnswer: decodeAnswer agrees with decodeSuccess on every body:
// the same error or none, and the same three fields; and scanAnswer only
// takes a body on itself when it is valid JSON (or empty).
func FuzzDecodeAnswer(f *testing.F) {
	for _, s := range answerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var full, fast Response
		errFull := decodeSuccess(body, &full)
		errFast := decodeAnswer(body, &fast)
		if (errFull == nil) != (errFast == nil) {
			t.Fatalf("decodeSuccess: %v, decodeAnswer: %v", errFull, errFast)
		}
		if errFull != nil {
			return
		}
		if fast.TempPassword.Reveal() != full.TempPassword.Reveal() || fast.ResetURL.Reveal() != full.ResetURL.Reveal() || fast.UserStatus != full.UserStatus {
			t.Fatalf("decodeAnswer disagrees: temp %v, reset %v, status %q vs %q",
				fast.TempPassword.Reveal() == full.TempPassword.Reveal(), fast.ResetURL.Reveal() == full.ResetURL.Reveal(), fast.UserStatus, full.UserStatus)
		}
		if fast.User != nil {
			t.Fatal("decodeAnswer set a User")
		}
		if _, ok := scanAnswer(body); ok && strings.TrimSpace(string(body)) != "" && !json.Valid(body) {
			t.Fatal("scanAnswer took an invalid body on itself")
		}
	})
}

// The credential operations' usual answers take the fast path (were they to
// fall back, every job would pay for a whole decode again).
func TestScanAnswerTakesUsualAnswers(t *testing.T) {
	tests := []struct {
		body                string
		temp, reset, status string
	}{
		{userAnswer, "", "", "PASSWORD_EXPIRED"},
		{`{"tempPassword":"F46gy7X4"}`, "F46gy7X4", "", ""},
		{`{"tempPassword":"F46gy7X4","status":"PASSWORD_EXPIRED"}`, "F46gy7X4", "", "PASSWORD_EXPIRED"},
		{`{"resetPasswordUrl":"https://x.okta.com/reset_password/XE6"}`, "", "https://x.okta.com/reset_password/XE6", ""},
		{`{}`, "", "", ""},
		{``, "", "", ""},
		{`{"password":{},"recovery_question":{"question":"Q?"},"provider":{"type":"OKTA","name":"OKTA"}}`, "", "", ""},
	}
	for _, tt := range tests {
		f, ok := scanAnswer([]byte(tt.body))
		if !ok {
			t.Errorf("%.40s…: left to decodeSuccess", tt.body)
			continue
		}
		if f.temp != tt.temp || f.reset != tt.reset || f.status != tt.status {
			t.Errorf("%.40s…: got %+v", tt.body, f)
		}
	}
	// And these are left to decodeSuccess, which decides them.
	for _, body := range []string{`{"tempPassword":"a\"b"}`, `{"ſtatus":"x"}`, `{"a":1} x`, `[]`, `{"status":"` + "\xff" + `"}`} {
		if _, ok := scanAnswer([]byte(body)); ok {
			t.Errorf("%q: taken by the fast path", body)
		}
	}
}

// decodeAnswerJSON is what decodeAnswer would be with encoding/json: a
// struct of the three fields. BenchmarkDecodeAnswer keeps it measured, the
// figure that keeps the scanner (see decodeAnswer).
func decodeAnswerJSON(body []byte, r *Response) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	var a struct {
		TempPassword     string `json:"tempPassword"`
		ResetPasswordURL string `json:"resetPasswordUrl"`
		Status           string `json:"status"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return errors.New("response body is not a JSON object")
		}
	}
	r.TempPassword, r.ResetURL, r.UserStatus = secret.New(a.TempPassword), secret.New(a.ResetPasswordURL), a.Status
	return nil
}

// BenchmarkDecodeAnswer compares the credential answers' scanner with
// encoding/json into the three fields it fills, and with the whole decode,
// on an expire_password answer.
func BenchmarkDecodeAnswer(b *testing.B) {
	body := []byte(userAnswer)
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var r Response
			if err := decodeAnswer(body, &r); err != nil || r.UserStatus == "" {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json-3-fields", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var r Response
			if err := decodeAnswerJSON(body, &r); err != nil || r.UserStatus == "" {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json-whole-user", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var r Response
			if err := decodeSuccess(body, &r); err != nil || r.UserStatus == "" {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkParseRate reads an answer's rate-limit headers (every answer).
func BenchmarkParseRate(b *testing.B) {
	h := http.Header{}
	h.Set("X-Rate-Limit-Limit", "600")
	h.Set("X-Rate-Limit-Remaining", "599")
	h.Set("X-Rate-Limit-Reset", "1772373660")
	h.Set("Date", "Sun, 01 Mar 2026 14:00:00 GMT")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if ri := parseRate(h, now); !ri.Present {
			b.Fatal("no rate info")
		}
	}
}

// BenchmarkExpirePassword is one whole call of the client, request to
// decoded answer, against a loopback server that answers an expire_password
// with a whole User (the server's own work is in the figures too).
func BenchmarkExpirePassword(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, userAnswer)
	}))
	defer srv.Close()
	c, err := New(Config{OrgURL: srv.URL, Token: tok(testToken)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r, err := c.ExpirePassword(ctx, "00u1", CallOptions{}); err != nil || r.UserStatus == "" {
			b.Fatal(err)
		}
	}
}

// cannedTransport answers every request with an expire_password User, in
// memory: BenchmarkClientOverhead measures the client's own work per call.
type cannedTransport struct{}

func (cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(userAnswer)), ContentLength: int64(len(userAnswer)), Request: r}, nil
}

// BenchmarkClientOverhead: one expire_password call, request built, sent to
// an in-memory transport, answer read and decoded.
func BenchmarkClientOverhead(b *testing.B) {
	c, err := New(Config{OrgURL: "https://acme.okta.com", Token: tok(testToken)})
	if err != nil {
		b.Fatal(err)
	}
	c.hc.Transport = cannedTransport{}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r, err := c.ExpirePassword(ctx, "00u1", CallOptions{}); err != nil || r.UserStatus == "" {
			b.Fatal(err)
		}
	}
}
