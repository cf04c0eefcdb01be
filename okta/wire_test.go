package okta

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// rawRequest is a request as it crossed the wire.
type rawRequest struct {
	line string   // request line
	head []string // header lines, as sent
	body string
}

func (r rawRequest) header(name string) (string, bool) {
	for _, h := range r.head {
		k, v, ok := strings.Cut(h, ":")
		if ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// rawServer is a TCP server on 127.0.0.1 that reads one request per
// connection, records it byte for byte, and answers with reply (or, when
// reply returns "", closes the connection without answering).
func rawServer(t *testing.T, reply func(rawRequest) string) (base string, got func() []rawRequest) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		reqs []rawRequest
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				br := bufio.NewReader(conn)
				var rr rawRequest
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					line = strings.TrimRight(line, "\r\n")
					if rr.line == "" {
						rr.line = line
						continue
					}
					if line == "" {
						break
					}
					rr.head = append(rr.head, line)
				}
				if cl, ok := rr.header("Content-Length"); ok {
					n, _ := strconv.Atoi(cl)
					b := make([]byte, n)
					if _, err := io.ReadFull(br, b); err != nil {
						return
					}
					rr.body = string(b)
				}
				mu.Lock()
				reqs = append(reqs, rr)
				mu.Unlock()
				if out := reply(rr); out != "" {
					_, _ = io.WriteString(conn, out)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	return "http://" + ln.Addr().String(), func() []rawRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]rawRequest(nil), reqs...)
	}
}

func okReply(body string) string {
	return "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\nX-Okta-Request-Id: rid-wire\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// TestWireHeaders checks every call's headers as they cross the wire.
func TestWireHeaders(t *testing.T) {
	base, got := rawServer(t, func(r rawRequest) string {
		if strings.Contains(r.line, "expire_password_with_temp_password") {
			return okReply(`{"tempPassword":"F46gy7X4"}`)
		}
		return okReply(`{}`)
	})
	old := Version
	Version = "1.2.3-test"
	t.Cleanup(func() { Version = old })

	for _, mode := range []AuthMode{AuthSSWS, AuthBearer} {
		c := newClient(t, base, mode, 0)
		for _, call := range allCalls("jane doe/x@example.com") {
			t.Run(string(mode)+"/"+call.name, func(t *testing.T) {
				n := len(got())
				opts := CallOptions{}
				if call.name == "reset_password" {
					opts = CallOptions{RetryFor: "rid-previous", RetryCount: 2}
				}
				if _, err := call.do(testCtx(t), c, opts); err != nil {
					t.Fatal(err)
				}
				reqs := got()
				if len(reqs) != n+1 {
					t.Fatalf("%d requests on the wire, want 1", len(reqs)-n)
				}
				r := reqs[n]
				method, rest, _ := strings.Cut(r.line, " ")
				target, _, _ := strings.Cut(rest, " ")
				if call.name != "get_me" && !strings.HasPrefix(target, "/api/v1/users/jane%20doe%2Fx@example.com") {
					t.Errorf("request target %q: the login is not path-escaped", target)
				}
				want := map[string]string{
					"Accept":        "application/json",
					"User-Agent":    "credbatch/1.2.3-test",
					"Authorization": string(mode) + " " + testToken,
				}
				hasBody := r.body != ""
				switch method {
				case "POST":
					if !hasBody {
						want["Content-Length"] = "0"
					} else {
						want["Content-Type"] = "application/json"
					}
				}
				for k, v := range want {
					if g, ok := r.header(k); !ok || g != v {
						if k == "Authorization" {
							t.Errorf("Authorization header wrong (scheme %s expected)", mode)
						} else {
							t.Errorf("header %s = %q (present %v), want %q", k, g, ok, v)
						}
					}
				}
				if ct, ok := r.header("Content-Type"); ok && !hasBody {
					t.Errorf("Content-Type %q on a body-less request", ct)
				}
				if hasBody && method != "POST" {
					t.Errorf("a body on a %s", method)
				}
				for _, h := range r.head {
					if strings.Contains(strings.ToLower(h), "idempotency") {
						t.Errorf("idempotency header sent: %s", strings.SplitN(h, ":", 2)[0])
					}
				}
				rf, okF := r.header("X-Okta-Retry-For")
				rc, okC := r.header("X-Okta-Retry-Count")
				if call.name == "reset_password" {
					if rf != "rid-previous" || rc != "2" {
						t.Errorf("retry headers %q %q", rf, rc)
					}
				} else if okF || okC {
					t.Errorf("retry headers on a first attempt")
				}
			})
		}
	}
}

// TestWireBodiesAndQueries pins each call's exact query and body.
func TestWireBodiesAndQueries(t *testing.T) {
	base, got := rawServer(t, func(r rawRequest) string {
		if strings.Contains(r.line, "temp_password") {
			return okReply(`{"tempPassword":"x1y2"}`)
		}
		return okReply(`{}`)
	})
	c := newClient(t, base, AuthSSWS, 0)
	ctx := testCtx(t)
	f, tr := ptr(false), ptr(true)
	steps := []struct {
		name       string
		do         func() error
		line, body string
	}{
		{"expire", func() error { _, err := c.ExpirePassword(ctx, "00u1", CallOptions{}); return err },
			"POST /api/v1/users/00u1/lifecycle/expire_password HTTP/1.1", ""},
		{"temp, revoke nil", func() error { _, err := c.ExpirePasswordWithTempPassword(ctx, "00u1", nil, CallOptions{}); return err },
			"POST /api/v1/users/00u1/lifecycle/expire_password_with_temp_password HTTP/1.1", ""},
		{"temp, revoke false", func() error { _, err := c.ExpirePasswordWithTempPassword(ctx, "00u1", f, CallOptions{}); return err },
			"POST /api/v1/users/00u1/lifecycle/expire_password_with_temp_password?revokeSessions=false HTTP/1.1", ""},
		{"reset, sendEmail only", func() error { _, err := c.ResetPassword(ctx, "00u1", false, nil, CallOptions{}); return err },
			"POST /api/v1/users/00u1/lifecycle/reset_password?sendEmail=false HTTP/1.1", ""},
		{"reset, both", func() error { _, err := c.ResetPassword(ctx, "00u1", true, tr, CallOptions{}); return err },
			"POST /api/v1/users/00u1/lifecycle/reset_password?revokeSessions=true&sendEmail=true HTTP/1.1", ""},
		{"forgot, default", func() error { _, err := c.ForgotPassword(ctx, "00u1", nil, CallOptions{}); return err },
			"POST /api/v1/users/00u1/credentials/forgot_password HTTP/1.1", ""},
		{"forgot, no email", func() error { _, err := c.ForgotPassword(ctx, "00u1", f, CallOptions{}); return err },
			"POST /api/v1/users/00u1/credentials/forgot_password?sendEmail=false HTTP/1.1", ""},
		{"forgot set new", func() error {
			_, err := c.ForgotPasswordSetNewPassword(ctx, "00u1", tok(`N<&"1`), tok("Annie"), nil, CallOptions{})
			return err
		}, "POST /api/v1/users/00u1/credentials/forgot_password_recovery_question HTTP/1.1",
			`{"password":{"value":"N<&\"1"},"recovery_question":{"answer":"Annie"}}`},
		{"change, plain", func() error {
			_, err := c.ChangePassword(ctx, "00u1", tok("old"), tok("new"), nil, nil, CallOptions{})
			return err
		}, "POST /api/v1/users/00u1/credentials/change_password HTTP/1.1",
			`{"oldPassword":{"value":"old"},"newPassword":{"value":"new"}}`},
		{"change, revoke and strict", func() error {
			_, err := c.ChangePassword(ctx, "00u1", tok("old"), tok("new"), f, tr, CallOptions{})
			return err
		}, "POST /api/v1/users/00u1/credentials/change_password?strict=true HTTP/1.1",
			`{"oldPassword":{"value":"old"},"newPassword":{"value":"new"},"revokeSessions":false}`},
		{"change recovery question", func() error {
			_, err := c.ChangeRecoveryQuestion(ctx, "00u1", tok("cur"), "Q?", tok("A"), CallOptions{})
			return err
		}, "POST /api/v1/users/00u1/credentials/change_recovery_question HTTP/1.1",
			`{"password":{"value":"cur"},"recovery_question":{"question":"Q?","answer":"A"}}`},
		{"clear sessions", func() error { _, err := c.ClearSessions(ctx, "00u1", false, CallOptions{}); return err },
			"DELETE /api/v1/users/00u1/sessions?oauthTokens=false HTTP/1.1", ""},
		{"get user", func() error { _, err := c.GetUser(ctx, "00u1", CallOptions{}); return err },
			"GET /api/v1/users/00u1 HTTP/1.1", ""},
		{"get me", func() error { _, err := c.GetMe(ctx, CallOptions{}); return err },
			"GET /api/v1/users/me HTTP/1.1", ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			n := len(got())
			if err := s.do(); err != nil {
				t.Fatal(err)
			}
			r := got()[n]
			if r.line != s.line {
				t.Errorf("request line\n got %q\nwant %q", r.line, s.line)
			}
			if r.body != s.body {
				t.Errorf("body\n got %s\nwant %s", r.body, s.body)
			}
		})
	}
	if _, err := c.ExpirePassword(ctx, "", CallOptions{}); err == nil {
		t.Error("an empty user ID was accepted")
	}
}
