package okta

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func asNetError(t *testing.T, err error) *NetError {
	t.Helper()
	var ne *NetError
	if !errors.As(err, &ne) {
		t.Fatalf("got %T %v, want *NetError", err, err)
	}
	var ae *APIError
	if errors.As(err, &ae) {
		t.Fatalf("a NetError that is also an APIError: %v", err)
	}
	return ne
}

// TestNetErrorClosedAfterRequest: the server reads the whole request and
// hangs up without a word. The request reached it.
func TestNetErrorClosedAfterRequest(t *testing.T) {
	base, got := rawServer(t, func(rawRequest) string { return "" })
	c := newClient(t, base, AuthSSWS, 0)
	for _, call := range allCalls("00u1") {
		t.Run(call.name, func(t *testing.T) {
			r, err := call.do(testCtx(t), c, CallOptions{})
			if r != nil {
				t.Error("a Response with a NetError")
			}
			ne := asNetError(t, err)
			if !ne.MayHaveReached || ne.Timeout {
				t.Errorf("MayHaveReached %v Timeout %v, want true false", ne.MayHaveReached, ne.Timeout)
			}
			if !strings.HasPrefix(ne.Op, "POST /api/v1/users/00u1/") && !strings.HasPrefix(ne.Op, "GET /api/v1/users/") && !strings.HasPrefix(ne.Op, "DELETE /api/v1/users/00u1/sessions") {
				t.Errorf("Op %q", ne.Op)
			}
			if strings.Contains(ne.Op, "?") || strings.Contains(err.Error(), "127.0.0.1") {
				t.Errorf("the message carries the query or host: %v", err)
			}
		})
	}
	if len(got()) < len(allCalls("x")) {
		t.Errorf("server saw %d requests", len(got()))
	}
}

// TestNetErrorRefusedDial: nothing listens on the port; nothing was sent.
func TestNetErrorRefusedDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	c := newClient(t, "http://"+addr, AuthSSWS, 0)
	for _, call := range allCalls("00u1") {
		t.Run(call.name, func(t *testing.T) {
			_, err := call.do(testCtx(t), c, CallOptions{})
			ne := asNetError(t, err)
			if ne.MayHaveReached || ne.Timeout {
				t.Errorf("MayHaveReached %v Timeout %v, want false false (%v)", ne.MayHaveReached, ne.Timeout, err)
			}
			var oe *net.OpError
			if !errors.As(err, &oe) {
				t.Errorf("cause %v is not a *net.OpError", ne.Err)
			}
		})
	}
}

// blockingServer never answers until the client goes away (or the test ends).
func blockingServer(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	arrived := make(chan struct{}, 100)
	done := make(chan struct{})
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so that the server notices the client leave
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-done:
		}
	})
	t.Cleanup(func() { close(done) }) // runs before srv.Close (LIFO)
	return srv.URL, arrived
}

// TestNetErrorTimeout: the answer does not come within Config.Timeout.
func TestNetErrorTimeout(t *testing.T) {
	base, _ := blockingServer(t)
	c := newClient(t, base, AuthSSWS, 50*time.Millisecond)
	for _, call := range allCalls("00u1") {
		t.Run(call.name, func(t *testing.T) {
			_, err := call.do(testCtx(t), c, CallOptions{})
			ne := asNetError(t, err)
			if !ne.Timeout || !ne.MayHaveReached {
				t.Errorf("Timeout %v MayHaveReached %v, want true true (%v)", ne.Timeout, ne.MayHaveReached, err)
			}
			if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				t.Errorf("%v: want DeadlineExceeded, not Canceled", err)
			}
		})
	}
}

// TestNetErrorCallerCancels: the caller's context ends the attempt.
func TestNetErrorCallerCancels(t *testing.T) {
	base, arrived := blockingServer(t)
	c := newClient(t, base, AuthSSWS, 0)
	ctx, cancel := context.WithCancel(testCtx(t))
	go func() {
		<-arrived
		cancel()
	}()
	_, err := c.ExpirePassword(ctx, "00u1", CallOptions{})
	ne := asNetError(t, err)
	if !errors.Is(err, context.Canceled) || ne.Timeout || !ne.MayHaveReached {
		t.Errorf("got %v (timeout %v, reached %v), want Canceled, no timeout, may have reached", err, ne.Timeout, ne.MayHaveReached)
	}

	// Cancelled before the call: nothing sent.
	ctx2, cancel2 := context.WithCancel(testCtx(t))
	cancel2()
	_, err = c.ExpirePassword(ctx2, "00u1", CallOptions{})
	ne = asNetError(t, err)
	if !errors.Is(err, context.Canceled) || ne.MayHaveReached {
		t.Errorf("pre-cancelled: %v reached %v", err, ne.MayHaveReached)
	}
}

// TestNetErrorBodyCut: a 200 whose body stops short. The change applied,
// its answer is lost: a NetError that may have reached Okta, not a success.
func TestNetErrorBodyCut(t *testing.T) {
	base, _ := rawServer(t, func(rawRequest) string {
		return "HTTP/1.1 200 OK\r\nX-Okta-Request-Id: rid-cut\r\nContent-Length: 100\r\n\r\n{\"tempPassword\":\"ab"
	})
	c := newClient(t, base, AuthSSWS, 0)
	_, err := c.ExpirePasswordWithTempPassword(testCtx(t), "00u1", nil, CallOptions{})
	ne := asNetError(t, err)
	if !ne.MayHaveReached || !errors.Is(err, ErrBadResponse) || ne.RequestID != "rid-cut" {
		t.Errorf("got %v reached %v rid %q", err, ne.MayHaveReached, ne.RequestID)
	}
}

// TestRedirects: the default client refuses to follow a redirect to another
// host (another port, another scheme; at the first hop or a later one) or one
// that would turn the POST into a GET; the 3xx is an APIError, and the other
// host never sees a request (nor the Authorization header).
func TestRedirects(t *testing.T) {
	var hits atomic.Int32
	other := serve(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1); w.WriteHeader(200) })
	const path = "/api/v1/users/00u1/lifecycle/expire_password"
	for _, tc := range []struct {
		name   string
		status int
		target string
	}{
		{"other host, 307", http.StatusTemporaryRedirect, other.URL + path},
		{"other host, 308 at the second hop", http.StatusPermanentRedirect, "/hop?next=" + other.URL + path},
		{"same host and port, https", http.StatusTemporaryRedirect, "https://SELF" + path},
		{"same host, 302 (would become GET)", http.StatusFound, path},
		{"same host, 303 (would become GET)", http.StatusSeeOther, path},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost {
					t.Errorf("redirect followed with %s", r.Method)
				}
				if next := r.URL.Query().Get("next"); next != "" {
					http.Redirect(w, r, next, tc.status)
					return
				}
				http.Redirect(w, r, strings.Replace(tc.target, "SELF", r.Host, 1), tc.status)
			})
			c := newClient(t, srv.URL, AuthSSWS, 0)
			_, err := c.ExpirePassword(testCtx(t), "00u1", CallOptions{})
			var ae *APIError
			if !errors.As(err, &ae) || ae.HTTPStatus != tc.status {
				t.Fatalf("got %v, want an APIError %d", err, tc.status)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the other host was reached %d times", n)
	}
}

// TestRedirectsFollowed: a same-host 307 keeps the POST, its body and its
// headers; a same-host 302 of a GET is followed; a chain of redirects ends
// after four, with the fifth 3xx as the answer.
func TestRedirectsFollowed(t *testing.T) {
	var hits atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch {
		case strings.HasPrefix(r.URL.Path, "/loop"):
			http.Redirect(w, r, r.URL.Path+"x", http.StatusTemporaryRedirect)
		case strings.HasPrefix(r.URL.Path, "/moved/"):
			body, _ := io.ReadAll(r.Body)
			if r.Method == http.MethodPost && (!strings.Contains(string(body), `"newPassword"`) || r.Header.Get("Authorization") == "") {
				t.Errorf("the redirected POST lost its body or its Authorization: %q", body)
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"00u1","status":"ACTIVE","profile":{"login":"a@example.com"}}`)
		case r.Method == http.MethodGet:
			http.Redirect(w, r, "/moved"+r.URL.Path, http.StatusFound)
		default:
			http.Redirect(w, r, "/moved"+r.URL.Path, http.StatusTemporaryRedirect)
		}
	})
	c := newClient(t, srv.URL, AuthSSWS, 0)
	if r, err := c.ChangePassword(testCtx(t), "00u1", tok("old-Passw0rd"), tok("new-Passw0rd"), nil, nil, CallOptions{}); err != nil || r.UserStatus != "ACTIVE" {
		t.Fatalf("307 of a POST: %v, %+v", err, r)
	}
	if r, err := c.GetUser(testCtx(t), "00u1", CallOptions{}); err != nil || r.User == nil || r.User.ID != "00u1" {
		t.Fatalf("302 of a GET: %v, %+v", err, r)
	}
	if n := hits.Load(); n != 4 {
		t.Errorf("%d requests for two calls redirected once each, want 4", n)
	}
	hits.Store(0)
	loop, err := New(Config{OrgURL: srv.URL, Token: tok(testToken), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = loop.do(testCtx(t), call{method: http.MethodPost, path: "/loop"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != http.StatusTemporaryRedirect {
		t.Fatalf("a redirect loop: got %v, want an APIError 307", err)
	}
	if n := hits.Load(); n != 1+maxRedirects {
		t.Errorf("a redirect loop: %d requests, want %d", n, 1+maxRedirects)
	}
}

// TestTLSVerified: the default client verifies certificates; a self-signed
// one fails before anything is sent.
func TestTLSVerified(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failure is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, AuthSSWS, 0)
	_, err := c.ExpirePassword(testCtx(t), "00u1", CallOptions{})
	ne := asNetError(t, err)
	if ne.MayHaveReached || ne.Timeout {
		t.Errorf("reached %v timeout %v: %v", ne.MayHaveReached, ne.Timeout, err)
	}
	var ce *tls.CertificateVerificationError
	if !errors.As(err, &ce) {
		t.Errorf("cause is not a certificate error: %v", err)
	}
	if hits.Load() != 0 {
		t.Error("the request reached the handler")
	}
}

// TestRedirectSpentBody: a 307 for a request whose body cannot be read again
// (no GetBody) is the answer, as http.Client has it; nothing is re-sent.
func TestRedirectSpentBody(t *testing.T) {
	var hits atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/b", http.StatusTemporaryRedirect)
	})
	c := newClient(t, srv.URL, AuthSSWS, 0)
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/a", io.MultiReader(strings.NewReader(`{"x":1}`)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 7
	resp, err := c.hc.Do(req) // the default client, as send uses it
	if err != nil {
		t.Fatalf("Do: %v, want the 307", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || hits.Load() != 1 {
		t.Errorf("status %d after %d requests, want 307 after 1", resp.StatusCode, hits.Load())
	}
}

// TestCallerClientKept: a client given in Config.HTTPClient is used with its
// own settings (here a CheckRedirect that refuses every redirect).
func TestCallerClientKept(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "expire_password") {
			http.Redirect(w, r, r.URL.Path+"2", http.StatusTemporaryRedirect)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"PASSWORD_EXPIRED"}`)
	})
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	c, err := New(Config{OrgURL: srv.URL, Token: tok(testToken), HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ExpirePassword(testCtx(t), "00u1", CallOptions{})
	var ae *APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != http.StatusTemporaryRedirect {
		t.Errorf("the caller's CheckRedirect (refuse all) was not applied: %v", err)
	}
}

// nilBody is a transport that answers without a Body (http.Client fills in
// an empty one).
type nilBody struct{}

func (nilBody) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusNoContent, Header: http.Header{}, Request: r}, nil
}

// TestNilBodyAnswer: an answer without a Body is an empty answer, on the
// default client's path and on a caller's client.
func TestNilBodyAnswer(t *testing.T) {
	c, err := New(Config{OrgURL: "http://127.0.0.1:1", Token: tok(testToken), HTTPClient: &http.Client{Transport: nilBody{}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ClearSessions(testCtx(t), "00u1", true, CallOptions{}); err != nil {
		t.Errorf("caller's client: %v", err)
	}
	if c, err = New(Config{OrgURL: "http://127.0.0.1:1", Token: tok(testToken)}); err != nil {
		t.Fatal(err)
	}
	c.hc.Transport = nilBody{} // the default client, its redirect policy and all
	if _, err := c.ClearSessions(testCtx(t), "00u1", true, CallOptions{}); err != nil {
		t.Errorf("the default client: %v", err)
	}
}
