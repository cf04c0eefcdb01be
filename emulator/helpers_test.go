package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// specPaths are Okta's OpenAPI excerpts the emulator's answers are held to:
// the credential calls (shared with the okta package) and the listings and
// System Log (the emulator's own test data).
var specPaths = []string{"../testdata/okta/credentials-api.yaml", "testdata/listing-api.yaml"}

// Indices into GenerateUsers(seed, n) by the documented rules.
const (
	iActive          = 1
	iNoQuestion      = 4
	iStaged          = 7
	iFederated       = 11
	iProvisioned     = 13
	iPasswordExpired = 19
	iRecovery        = 23
	iLockedOut       = 29
	iSuspended       = 37
	iDeprovisioned   = 43
)

// clock is an injectable, settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var (
	specOnce    sync.Once
	specRouters []routers.Router
	specErr     error
)

// oktaRouters loads the OpenAPI excerpts once. Servers are dropped so that
// routes match the test server's address.
func oktaRouters(t *testing.T) []routers.Router {
	t.Helper()
	specOnce.Do(func() {
		for _, p := range specPaths {
			doc, err := openapi3.NewLoader().LoadFromFile(p)
			if err != nil {
				specErr = fmt.Errorf("load %s: %w", p, err)
				return
			}
			doc.Servers = nil
			// Okta's own examples are not all valid (queryAppAfter's
			// example is a number for a string): schemas are checked,
			// examples are not.
			r, err := legacy.NewRouter(doc, openapi3.DisableExamplesValidation())
			if err != nil {
				specErr = fmt.Errorf("route %s: %w", p, err)
				return
			}
			specRouters = append(specRouters, r)
		}
	})
	if specErr != nil {
		t.Fatal(specErr)
	}
	return specRouters
}

// extraStatuses are answers the excerpt does not describe for any
// operation; they are allowed without validation.
var extraStatuses = map[int]bool{400: true, 401: true, 405: true, 411: true, 500: true, 502: true, 503: true, 504: true}

type env struct {
	t   *testing.T
	org *Org
	srv *httptest.Server
	clk *clock
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 4, 5, 6, 10, 0, time.UTC)}
	if cfg.Now == nil {
		cfg.Now = clk.Now
	}
	if cfg.Seed == 0 {
		cfg.Seed = 42
	}
	org := New(cfg)
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	// Cleanups run last-in first-out: the Org lets go of every held request
	// before srv.Close waits for them, so a failing test cannot hang there.
	t.Cleanup(org.Close)
	return &env{t: t, org: org, srv: srv, clk: clk}
}

type resp struct {
	status int
	header http.Header
	body   []byte
	reqErr error // the request's own disagreement with the excerpt (nil: valid)
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object (%d bytes): %v", r.status, len(r.body), err)
	}
	return m
}

func (r resp) errorCode(t *testing.T) string {
	t.Helper()
	code, _ := r.json(t)["errorCode"].(string)
	return code
}

// causes returns the errorSummary of each errorCause.
func (r resp) causes(t *testing.T) []string {
	t.Helper()
	var b struct {
		ErrorCauses []struct{ ErrorSummary string } `json:"errorCauses"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("decode error body: %v", err)
	}
	var out []string
	for _, c := range b.ErrorCauses {
		out = append(out, c.ErrorSummary)
	}
	return out
}

type reqOpt func(*http.Request)

func withAuth(v string) reqOpt { return func(r *http.Request) { r.Header.Set("Authorization", v) } }

// call sends one request with the org's SSWS token (unless overridden),
// validates request and answer against the OpenAPI excerpt, and returns the
// answer.
func (e *env) call(method, path string, body any, opts ...reqOpt) resp {
	e.t.Helper()
	r, err := e.try(method, path, body, opts...)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (e *env) try(method, path string, body any, opts ...reqOpt) (resp, error) {
	e.t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if s, ok := body.(string); ok {
			raw = []byte(s)
		} else if raw, err = json.Marshal(body); err != nil {
			e.t.Fatalf("marshal body: %v", err)
		}
	}
	build := func() *http.Request {
		var rd io.Reader
		if raw != nil {
			rd = bytes.NewReader(raw)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		e.t.Cleanup(cancel)
		req, err := http.NewRequestWithContext(ctx, method, e.srv.URL+path, rd)
		if err != nil {
			e.t.Fatalf("build request: %v", err)
		}
		req.Header.Set("Accept", "application/json")
		if raw != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "SSWS "+e.org.Token())
		req.Header.Set("User-Agent", "emulator-test/1")
		for _, o := range opts {
			o(req)
		}
		return req
	}
	route, params, reqErr := e.validateRequest(build())
	res, err := e.srv.Client().Do(build())
	if err != nil {
		return resp{}, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return resp{}, err
	}
	out := resp{status: res.StatusCode, header: res.Header, body: data, reqErr: reqErr}
	if route != nil {
		e.validateResponse(build(), route, params, out)
	}
	return out, nil
}

// validateRequest finds the excerpt's route for req and validates req
// against it. A path or method the excerpt lacks gives a nil route.
func (e *env) validateRequest(req *http.Request) (*routers.Route, map[string]string, error) {
	e.t.Helper()
	var route *routers.Route
	var params map[string]string
	err := errors.New("no route")
	for _, r := range oktaRouters(e.t) {
		route, params, err = r.FindRoute(req)
		// The legacy router also matches /api/v1/users to
		// /api/v1/users/{id}: a route must have the path's segments.
		if err == nil && strings.Count(route.Path, "/") != strings.Count(strings.TrimSuffix(req.URL.Path, "/"), "/") {
			err = fmt.Errorf("%s is not %s", req.URL.Path, route.Path)
		}
		if err == nil {
			break
		}
	}
	if err != nil {
		return nil, nil, err
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: func(context.Context, *openapi3filter.AuthenticationInput) error { return nil }}}
	return route, params, openapi3filter.ValidateRequest(context.Background(), in)
}

func (e *env) validateResponse(req *http.Request, route *routers.Route, params map[string]string, r resp) {
	e.t.Helper()
	if extraStatuses[r.status] && route.Operation.Responses.Status(r.status) == nil {
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 r.status,
		Header:                 r.header,
		Body:                   io.NopCloser(bytes.NewReader(r.body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		e.t.Errorf("%s %s answer %d does not match the OpenAPI excerpt: %v", req.Method, req.URL.Path, r.status, err)
	}
}

func (e *env) user(i int) User {
	e.t.Helper()
	us := e.org.Users()
	if i >= len(us) {
		e.t.Fatalf("no user %d", i)
	}
	return us[i]
}

func (e *env) current(id string) User {
	e.t.Helper()
	u, ok := e.org.User(id)
	if !ok {
		e.t.Fatalf("user %s vanished", id)
	}
	return u
}

// heldRequest sends GET /api/v1/users/me on its own goroutine, for a test
// whose org holds it (Latency), and returns the function that cancels it
// and the channel its end arrives on: the client's error, or "answered N"
// when it was answered. It ends on every path: cancel also runs at cleanup
// (before newEnv's org.Close and srv.Close, cleanups being last-in
// first-out), and a 20 s deadline bounds it even if nothing else does.
func (e *env) heldRequest(t *testing.T) (context.CancelFunc, <-chan error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/v1/users/me", nil)
		req.Header.Set("Authorization", "SSWS "+e.org.Token())
		res, err := e.srv.Client().Do(req)
		if err == nil {
			res.Body.Close()
			err = fmt.Errorf("answered %d", res.StatusCode)
		}
		done <- err
	}()
	return cancel, done
}
