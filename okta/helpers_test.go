package okta

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/credbatch/credbatch/internal/secret"
)

func tok(s string) secret.String { return secret.New(s) }

func ptr[T any](v T) *T { return &v }

// testToken is the token every test client sends.
const testToken = "tok-SSWS-0123456789abcdef"

// newClient returns a client for base (an httptest URL) with a short,
// test-bounding timeout unless timeout is given.
func newClient(t *testing.T, base string, mode AuthMode, timeout time.Duration) *Client {
	t.Helper()
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	c, err := New(Config{OrgURL: base, Token: tok(testToken), AuthMode: mode, Timeout: timeout})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// testCtx is bounded so that no test can hang.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// serve starts an httptest server on 127.0.0.1 closed at the end of the test.
func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// callFn makes one call of the client; every call of the package has one.
type callFn struct {
	name string
	do   func(ctx context.Context, c *Client, o CallOptions) (*Response, error)
}

// Secret values the calls send; distinctive so leaks can be searched for.
var (
	secOld    = "OldPass-9fX2kq"
	secNew    = "NewPass-7hQ4zw"
	secCur    = "CurPass-3mV8rt"
	secAnswer = "Answer-Oakley-5pL1"
)

// allCalls lists the ten calls with representative arguments, all optional
// booleans set so that every query parameter and body field is on the wire.
func allCalls(userID string) []callFn {
	return allCallsWith(userID, secOld, secNew, secCur, secAnswer)
}

// allCallsWith is allCalls with these secrets in the bodies.
func allCallsWith(userID, secOld, secNew, secCur, secAnswer string) []callFn {
	return []callFn{
		{"get_user", func(ctx context.Context, c *Client, o CallOptions) (*Response, error) {
			return c.GetUser(ctx, userID, o)
		}},
		{"get_me", func(ctx context.Context, c *Client, o CallOptions) (*Response, error) {
			return c.GetMe(ctx, o)
		}},
		{"expire_password", func(ctx context.Context, c *Client, o CallOptions) (*Response, error) {
			return c.ExpirePassword(ctx, userID, o)
		}},
		{"expire_password_with_temp_password", func(ctx context.Context, c *Client, o CallOptions) (*Response, error) {
			return c.ExpirePasswordWithTempPassword(ctx, userID, ptr(true), o)
		}},
		{"reset_password", func(ctx context.Context, c *Client, o CallOptions) (*Response, error) {
			return c.ResetPassword(ctx, userID, false, ptr(true), o)
		}},
		{"forgot_password", func(ctx context.Context, c *Client, o CallOptions) (*Response, error) {
			return c.ForgotPassword(ctx, userID, ptr(false), o)
		}},
		{"forgot_password_set_new_password", func(ctx context.Context, c *Client, o CallOptions) (*Response, error) {
			return c.ForgotPasswordSetNewPassword(ctx, userID, tok(secNew), tok(secAnswer), ptr(false), o)
		}},
		{"change_password", func(ctx context.Context, c *Client, o CallOptions) (*Response, error) {
			return c.ChangePassword(ctx, userID, tok(secOld), tok(secNew), ptr(true), ptr(true), o)
		}},
		{"change_recovery_question", func(ctx context.Context, c *Client, o CallOptions) (*Response, error) {
			return c.ChangeRecoveryQuestion(ctx, userID, tok(secCur), "How many roads?", tok(secAnswer), o)
		}},
		{"clear_sessions", func(ctx context.Context, c *Client, o CallOptions) (*Response, error) {
			return c.ClearSessions(ctx, userID, true, o)
		}},
	}
}
