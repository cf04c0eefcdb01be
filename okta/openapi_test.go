package okta

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// specPath is Okta's OpenAPI excerpt, relative to this package's directory.
const specPath = "../testdata/okta/credentials-api.yaml"

// requestSchemas are the request-body schemas made strict for the test: the
// excerpt (like Okta's document) allows additional properties, so without
// this a misspelt field name would pass validation.
var requestSchemas = []string{"ChangePasswordRequest", "UserCredentials", "PasswordCredential", "RecoveryQuestionCredential"}

// specServer is an httptest server that validates every request against the
// excerpt and answers with the operation's documented example.
type specServer struct {
	doc    *openapi3.T
	router routers.Router
	mu     sync.Mutex
	errs   []string // validation failures, one per bad request
	ops    []string // operationIds seen
}

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(specPath)
	if err != nil {
		t.Fatalf("loading %s: %v", specPath, err)
	}
	for _, name := range requestSchemas {
		ref, ok := doc.Components.Schemas[name]
		if !ok || ref.Value == nil {
			t.Fatalf("schema %s missing from the excerpt", name)
		}
		ref.Value.AdditionalProperties = openapi3.AdditionalProperties{Has: openapi3.Ptr(false)}
	}
	return doc
}

func newSpecServer(t *testing.T) (*specServer, string) {
	t.Helper()
	ss := &specServer{doc: loadSpec(t)}
	srv := serve(t, ss.handle)
	// The router matches servers against r.URL, which on the server side
	// has no host: match paths alone.
	ss.doc.Servers = nil
	if err := ss.doc.Validate(context.Background()); err != nil {
		t.Fatalf("excerpt does not validate: %v", err)
	}
	r, err := legacy.NewRouter(ss.doc)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	ss.router = r
	return ss, srv.URL
}

func (ss *specServer) fail(w http.ResponseWriter, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	ss.mu.Lock()
	ss.errs = append(ss.errs, msg)
	ss.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]any{"errorCode": "SPEC", "errorSummary": "request does not match the OpenAPI excerpt"})
}

func (ss *specServer) handle(w http.ResponseWriter, r *http.Request) {
	route, params, err := ss.router.FindRoute(r)
	if err != nil {
		ss.fail(w, "%s %s: no such operation: %v", r.Method, r.URL.Path, err)
		return
	}
	op := route.Operation
	ss.mu.Lock()
	ss.ops = append(ss.ops, op.OperationID)
	ss.mu.Unlock()

	// kin-openapi ignores undeclared query parameters; refuse them here.
	declared := map[string]bool{}
	for _, p := range append(append(openapi3.Parameters{}, route.PathItem.Parameters...), op.Parameters...) {
		if p.Value != nil && p.Value.In == openapi3.ParameterInQuery {
			declared[p.Value.Name] = true
		}
	}
	for name, vals := range r.URL.Query() {
		if !declared[name] {
			ss.fail(w, "%s: undeclared query parameter %q", op.OperationID, name)
			return
		}
		for _, v := range vals {
			if v != "true" && v != "false" {
				ss.fail(w, "%s: query %s=%q is not true/false", op.OperationID, name, v)
				return
			}
		}
	}
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			MultiError:         true,
		},
	}
	if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
		ss.fail(w, "%s: %v", op.OperationID, err)
		return
	}
	if op.RequestBody == nil && len(body) > 0 {
		ss.fail(w, "%s: a body on a body-less operation", op.OperationID)
		return
	}
	// Answer with the documented success example.
	for _, code := range []int{200, 204} {
		resp := op.Responses.Status(code)
		if resp == nil || resp.Value == nil {
			continue
		}
		mt := resp.Value.Content.Get("application/json")
		if mt == nil {
			w.WriteHeader(code)
			return
		}
		var example any
		for _, ex := range mt.Examples {
			example = ex.Value.Value
			break
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Okta-Request-Id", "req-"+op.OperationID)
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(example)
		return
	}
	ss.fail(w, "%s: no documented success answer", op.OperationID)
}

// TestRequestsMatchOpenAPI builds every request of the client and validates
// it against Okta's OpenAPI excerpt: path, method, query names and values,
// body field names and types.
func TestRequestsMatchOpenAPI(t *testing.T) {
	ss, base := newSpecServer(t)
	c := newClient(t, base, AuthSSWS, 0)
	ctx := testCtx(t)
	// A login needing escapes exercises url.PathEscape on every path.
	for _, user := range []string{"00ub0oNGTSWTBKOLGLNR", "isaac brock+x@example.com"} {
		for _, call := range allCalls(user) {
			t.Run(call.name+"/"+user, func(t *testing.T) {
				resp, err := call.do(ctx, c, CallOptions{RetryFor: "prev-req", RetryCount: 1})
				if err != nil {
					t.Fatalf("%s: %v", call.name, err)
				}
				switch call.name {
				case "expire_password_with_temp_password":
					if resp.TempPassword.Reveal() != "F46gy7X4" {
						t.Errorf("temp password not decoded from the documented example")
					}
				case "reset_password", "forgot_password":
					if !strings.Contains(resp.ResetURL.Reveal(), "XE6wE17zmphl3KqAPFxO") {
						t.Errorf("reset URL not decoded from the documented example")
					}
				case "expire_password":
					if resp.UserStatus != "PASSWORD_EXPIRED" || resp.User != nil {
						t.Errorf("status %q user %+v; want PASSWORD_EXPIRED and no User", resp.UserStatus, resp.User)
					}
				case "get_user", "get_me":
					u := resp.User
					if u == nil || u.ID != "00ub0oNGTSWTBKOLGLNR" || u.Login != "isaac.brock@example.com" || u.Status != "ACTIVE" ||
						!u.HasPassword || !u.HasRecoveryQuestion || u.ProviderType != "OKTA" || !u.Links["self"] {
						t.Errorf("user not decoded: %+v", u)
					}
				case "clear_sessions":
					if resp.HTTPStatus != http.StatusNoContent {
						t.Errorf("status %d, want 204", resp.HTTPStatus)
					}
				}
			})
		}
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, e := range ss.errs {
		t.Errorf("spec violation: %s", e)
	}
	want := []string{"getUser", "expirePassword", "expirePasswordWithTempPassword", "resetPassword", "forgotPassword",
		"forgotPasswordSetNewPassword", "changePassword", "changeRecoveryQuestion", "revokeUserSessions"}
	seen := map[string]bool{}
	for _, op := range ss.ops {
		seen[op] = true
	}
	for _, op := range want {
		if !seen[op] {
			t.Errorf("operation %s never reached", op)
		}
	}
}

// TestSpecServerRejectsMistakes proves the validator above can fail: each
// request here carries one mistake the client could make.
func TestSpecServerRejectsMistakes(t *testing.T) {
	ss, base := newSpecServer(t)
	const uid = "/api/v1/users/00ub0oNGTSWTBKOLGLNR"
	bad := []struct {
		name, method, path, body string
	}{
		{"wrong path", "POST", uid + "/lifecycle/expire_passwords", ""},
		{"wrong method", "PUT", uid + "/lifecycle/expire_password", ""},
		{"misspelt query name", "POST", uid + "/lifecycle/expire_password_with_temp_password?revoke_sessions=true", ""},
		{"query on the wrong call", "POST", uid + "/lifecycle/expire_password?revokeSessions=true", ""},
		{"bad boolean", "POST", uid + "/lifecycle/reset_password?sendEmail=yes", ""},
		{"required query missing", "POST", uid + "/lifecycle/reset_password", ""},
		{"strict in body, not query", "POST", uid + "/credentials/change_password",
			`{"oldPassword":{"value":"a"},"newPassword":{"value":"b"},"strict":true}`},
		{"misspelt body field", "POST", uid + "/credentials/change_password",
			`{"oldpassword":{"value":"a"},"newPassword":{"value":"b"}}`},
		{"misspelt nested field", "POST", uid + "/credentials/change_recovery_question",
			`{"password":{"value":"a"},"recoveryQuestion":{"question":"q","answer":"a"}}`},
		{"bad value field", "POST", uid + "/credentials/forgot_password_recovery_question",
			`{"password":{"val":"a"},"recovery_question":{"answer":"a"}}`},
		{"revokeSessions as string", "POST", uid + "/credentials/change_password",
			`{"oldPassword":{"value":"a"},"newPassword":{"value":"b"},"revokeSessions":"true"}`},
		{"missing body", "POST", uid + "/credentials/change_recovery_question", ""},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			ss.mu.Lock()
			before := len(ss.errs)
			ss.mu.Unlock()
			var body io.Reader = http.NoBody
			if b.body != "" {
				body = strings.NewReader(b.body)
			}
			u, _ := url.Parse(base + b.path)
			req, _ := http.NewRequestWithContext(testCtx(t), b.method, u.String(), body)
			if b.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			ss.mu.Lock()
			after := len(ss.errs)
			ss.mu.Unlock()
			if after == before || resp.StatusCode != http.StatusBadRequest {
				t.Errorf("validator accepted a request with a %s (HTTP %d)", b.name, resp.StatusCode)
			}
		})
	}
}
