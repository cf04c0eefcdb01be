package okta

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/internal/secret"
)

// emuOrg starts the real emulator on 127.0.0.1.
func emuOrg(t *testing.T, cfg emulator.Config) (*emulator.Org, string) {
	t.Helper()
	if cfg.Seed == 0 {
		cfg.Seed = 42
	}
	org := emulator.New(cfg)
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	return org, srv.URL
}

func emuClient(t *testing.T, org *emulator.Org, base string, mode AuthMode) *Client {
	t.Helper()
	c, err := New(Config{OrgURL: base, Token: secret.New(org.Token()), AuthMode: mode, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantAPIError checks err is an APIError with this status and code.
func wantAPIError(t *testing.T, err error, status int, code string) *APIError {
	t.Helper()
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %T %v, want an APIError %d %s", err, err, status, code)
	}
	if ae.HTTPStatus != status || ae.Code != code {
		t.Fatalf("got %v, want HTTP %d %s", err, status, code)
	}
	if ae.RequestID == "" || !ae.Rate.Present {
		t.Errorf("error lacks request ID or rate: %+v", ae)
	}
	return ae
}

// TestEmulatorCalls runs each call's success and its main failure against
// the real emulator, and checks what the emulator recorded.
func TestEmulatorCalls(t *testing.T) {
	org, base := emuOrg(t, emulator.Config{Users: 60})
	users := org.Users()
	// Users by generation rule (see the emulator's package doc).
	u := func(i int) emulator.User { return users[i] }
	pw := func(i int) secret.String { return secret.New(emulator.GeneratedPassword(users[i].Login)) }
	const (
		active1, active2, active3, active5, active6, active8, active9, active10, active12 = 1, 2, 3, 5, 6, 8, 9, 10, 12
		noQuestion                                                                        = 4
		federated                                                                         = 11
		deprovisioned                                                                     = 43
	)
	if u(federated).Provider != emulator.ProviderFederation || u(deprovisioned).Status != emulator.StatusDeprovisioned {
		t.Fatalf("the emulator's generation rules changed: %+v %+v", u(federated), u(deprovisioned))
	}
	for _, mode := range []AuthMode{AuthSSWS, AuthBearer} {
		c := emuClient(t, org, base, mode)
		ctx := testCtx(t)
		t.Run(string(mode), func(t *testing.T) {
			t.Run("get_user", func(t *testing.T) {
				r, err := c.GetUser(ctx, strings.ToUpper(u(active1).Login), CallOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if r.User == nil || r.User.ID != u(active1).ID || !strings.EqualFold(r.User.Login, u(active1).Login) ||
					r.User.Status != "ACTIVE" || !r.User.HasPassword || !r.User.HasRecoveryQuestion || r.User.ProviderType != "OKTA" ||
					!r.User.Links["expirePassword"] || !r.User.Links["changePassword"] || r.RequestID == "" || !r.Rate.Present {
					t.Errorf("user %+v rid %q rate %+v", r.User, r.RequestID, r.Rate)
				}
				r, err = c.GetUser(ctx, u(federated).ID, CallOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if r.User.HasPassword || r.User.ProviderType != "FEDERATION" || r.User.Links["changePassword"] {
					t.Errorf("federated user %+v", r.User)
				}
				_, err = c.GetUser(ctx, "nobody@example.com", CallOptions{})
				wantAPIError(t, err, 404, "E0000007")
				if !errors.Is(err, ErrNotFound) {
					t.Error("404 is not ErrNotFound")
				}
			})
			t.Run("get_me", func(t *testing.T) {
				r, err := c.GetMe(ctx, CallOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if r.User == nil || r.User.ID != u(0).ID || r.User.Login != "admin@example.com" {
					t.Errorf("me = %+v", r.User)
				}
				bad, err := New(Config{OrgURL: base, Token: secret.New("not-the-token"), AuthMode: mode})
				if err != nil {
					t.Fatal(err)
				}
				_, err = bad.GetMe(ctx, CallOptions{})
				wantAPIError(t, err, 401, "E0000011")
				if !errors.Is(err, ErrUnauthorized) {
					t.Error("401 is not ErrUnauthorized")
				}
			})
		})
	}

	c := emuClient(t, org, base, AuthSSWS)
	ctx := testCtx(t)
	t.Run("expire_password", func(t *testing.T) {
		r, err := c.ExpirePassword(ctx, u(active1).ID, CallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r.UserStatus != "PASSWORD_EXPIRED" || r.User != nil {
			t.Errorf("status %q user %+v; want PASSWORD_EXPIRED and no User (only GetUser and GetMe decode one)", r.UserStatus, r.User)
		}
		_, err = c.ExpirePassword(ctx, u(federated).ID, CallOptions{})
		wantAPIError(t, err, 403, "E0000038")
		if !errors.Is(err, ErrForbidden) {
			t.Error("403 is not ErrForbidden")
		}
	})
	t.Run("expire_password_with_temp_password", func(t *testing.T) {
		r, err := c.ExpirePasswordWithTempPassword(ctx, u(active2).ID, ptr(true), CallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r.TempPassword.IsZero() || r.TempPassword.Reveal() != org.LastSecret(u(active2).ID) {
			t.Error("temp password is not the one the emulator issued")
		}
		if got, _ := org.User(u(active2).ID); got.Status != "PASSWORD_EXPIRED" || got.Password != r.TempPassword.Reveal() {
			t.Errorf("emulator state after: %s", got.Status)
		}
		if org.SessionsRevoked(u(active2).ID) != 1 {
			t.Error("revokeSessions=true did not reach the emulator")
		}
		_, err = c.ExpirePasswordWithTempPassword(ctx, "00uDoesNotExist000000", nil, CallOptions{})
		wantAPIError(t, err, 404, "E0000007")
	})
	t.Run("reset_password", func(t *testing.T) {
		r, err := c.ResetPassword(ctx, u(active3).ID, false, nil, CallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !org.ResetURLValid(u(active3).ID, r.ResetURL.Reveal()) || !strings.HasPrefix(r.ResetURL.Reveal(), base) {
			t.Error("reset URL is not the emulator's current one")
		}
		r, err = c.ResetPassword(ctx, u(active3).ID, true, nil, CallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !r.ResetURL.IsZero() || org.EmailsSent(u(active3).ID) != 1 {
			t.Errorf("sendEmail=true: url set %v, emails %d", !r.ResetURL.IsZero(), org.EmailsSent(u(active3).ID))
		}
		_, err = c.ResetPassword(ctx, u(deprovisioned).ID, false, nil, CallOptions{})
		wantAPIError(t, err, 403, "E0000038")
	})
	t.Run("forgot_password", func(t *testing.T) {
		r, err := c.ForgotPassword(ctx, u(active5).ID, ptr(false), CallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !org.ResetURLValid(u(active5).ID, r.ResetURL.Reveal()) {
			t.Error("reset URL is not the emulator's current one")
		}
		r, err = c.ForgotPassword(ctx, u(active5).ID, nil, CallOptions{}) // Okta's default: email
		if err != nil {
			t.Fatal(err)
		}
		if !r.ResetURL.IsZero() || org.EmailsSent(u(active5).ID) != 1 {
			t.Error("default sendEmail did not email")
		}
		_, err = c.ForgotPassword(ctx, u(noQuestion).ID, ptr(false), CallOptions{})
		wantAPIError(t, err, 403, "E0000038")
	})
	t.Run("forgot_password_set_new_password", func(t *testing.T) {
		newPw := secret.New("Fresh-Pass-77!")
		_, err := c.ForgotPasswordSetNewPassword(ctx, u(active6).ID, newPw, secret.New("wrong answer"), nil, CallOptions{})
		ae := wantAPIError(t, err, 403, "E0000014")
		if len(ae.Causes) == 0 {
			t.Error("no errorCauses decoded")
		}
		r, err := c.ForgotPasswordSetNewPassword(ctx, u(active6).ID, newPw, secret.New("BLUE-6"), ptr(false), CallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r.HTTPStatus != 200 {
			t.Errorf("status %d", r.HTTPStatus)
		}
		if got, _ := org.User(u(active6).ID); got.Password != newPw.Reveal() {
			t.Error("the new password did not reach the emulator")
		}
	})
	t.Run("change_password", func(t *testing.T) {
		_, err := c.ChangePassword(ctx, u(active8).ID, secret.New("not-my-password"), secret.New("Brand-New-9!"), nil, nil, CallOptions{})
		ae := wantAPIError(t, err, 403, "E0000014")
		if !strings.Contains(err.Error(), "Update of credentials failed (Old Password is not correct)") || len(ae.Causes) != 1 {
			t.Errorf("message %q", err)
		}
		_, err = c.ChangePassword(ctx, u(active8).ID, pw(active8), pw(active8), nil, ptr(true), CallOptions{})
		wantAPIError(t, err, 403, "E0000014") // strict: same password refused
		_, err = c.ChangePassword(ctx, u(active8).ID, pw(active8), secret.New("Brand-New-9!"), ptr(true), ptr(true), CallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := org.User(u(active8).ID); got.Password != "Brand-New-9!" {
			t.Error("the new password did not reach the emulator")
		}
		if org.SessionsRevoked(u(active8).ID) != 1 {
			t.Error("revokeSessions in the body did not reach the emulator")
		}
	})
	t.Run("change_recovery_question", func(t *testing.T) {
		_, err := c.ChangeRecoveryQuestion(ctx, u(active9).ID, secret.New("nope"), "Q?", secret.New("a"), CallOptions{})
		wantAPIError(t, err, 403, "E0000014")
		_, err = c.ChangeRecoveryQuestion(ctx, u(active9).ID, pw(active9), "First pet?", secret.New("Rex"), CallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := org.User(u(active9).ID); got.RecoveryQuestion != "First pet?" || got.RecoveryAnswer != "Rex" {
			t.Errorf("question not changed: %q", got.RecoveryQuestion)
		}
	})
	t.Run("clear_sessions", func(t *testing.T) {
		r, err := c.ClearSessions(ctx, u(active10).ID, true, CallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r.HTTPStatus != 204 || org.SessionsRevoked(u(active10).ID) != 1 {
			t.Errorf("status %d revoked %d", r.HTTPStatus, org.SessionsRevoked(u(active10).ID))
		}
		_, err = c.ClearSessions(ctx, u(deprovisioned).ID, true, CallOptions{})
		wantAPIError(t, err, 403, "E0000038")
	})
	t.Run("retry headers", func(t *testing.T) {
		if _, err := c.ExpirePassword(ctx, u(active12).ID, CallOptions{RetryFor: "rid-earlier", RetryCount: 3}); err != nil {
			t.Fatal(err)
		}
	})

	// What the emulator saw: every request authenticated, named credbatch,
	// no idempotency header, retry headers only where set, no 400/411.
	sawRetry := false
	for _, e := range org.Log() {
		if e.UserAgent != "credbatch/"+Version || e.IdempotencyKey {
			t.Errorf("log %s %s: user agent %q idempotency %v", e.Method, e.Path, e.UserAgent, e.IdempotencyKey)
		}
		if e.Status == 400 || e.Status == 411 || e.Status == 405 {
			t.Errorf("log %s %s: HTTP %d %s (the client sent a malformed request)", e.Method, e.Path, e.Status, e.ErrorCode)
		}
		if e.Status != 401 && e.AuthScheme != "SSWS" && e.AuthScheme != "Bearer" {
			t.Errorf("log %s %s: auth scheme %q", e.Method, e.Path, e.AuthScheme)
		}
		if e.RetryFor != "" || e.RetryCount != "" {
			if e.RetryFor != "rid-earlier" || e.RetryCount != "3" {
				t.Errorf("log %s %s: retry headers %q %q", e.Method, e.Path, e.RetryFor, e.RetryCount)
			}
			sawRetry = true
		}
	}
	if !sawRetry {
		t.Error("retry headers never reached the emulator")
	}
}

// TestEmulatorFaults: a dropped connection after the change applied, and a
// 429 with repeated rate headers, no Date and Retry-After.
func TestEmulatorFaults(t *testing.T) {
	t.Run("drop", func(t *testing.T) {
		org, base := emuOrg(t, emulator.Config{Users: 5, DropRate: 1})
		c := emuClient(t, org, base, AuthSSWS)
		id := org.Users()[1].ID
		_, err := c.ExpirePasswordWithTempPassword(testCtx(t), id, nil, CallOptions{})
		ne := asNetError(t, err)
		if !ne.MayHaveReached || ne.Timeout {
			t.Errorf("drop: reached %v timeout %v", ne.MayHaveReached, ne.Timeout)
		}
		log := org.Log()
		if len(log) != 1 || !log[0].Dropped || !log[0].Applied {
			t.Errorf("emulator log %+v", log)
		}
	})
	for _, httpDate := range []bool{false, true} {
		name := "429 retry-after seconds, no Date, repeated headers"
		if httpDate {
			name = "429 retry-after HTTP-date"
		}
		t.Run(name, func(t *testing.T) {
			org, base := emuOrg(t, emulator.Config{Users: 5, PostLimit: 1, RetryAfter: !httpDate, RetryAfterHTTPDate: httpDate,
				RepeatRateHeaders: !httpDate, OmitDate: !httpDate})
			c := emuClient(t, org, base, AuthSSWS)
			id := org.Users()[1].ID
			r, err := c.ExpirePassword(testCtx(t), id, CallOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !r.Rate.Present || r.Rate.Limit != 1 || r.Rate.Remaining != 0 || r.Rate.Reset.IsZero() {
				t.Errorf("rate %+v", r.Rate)
			}
			_, err = c.ExpirePassword(testCtx(t), id, CallOptions{})
			ae := wantAPIError(t, err, 429, "E0000047")
			if !errors.Is(err, ErrRateLimited) {
				t.Error("429 is not ErrRateLimited")
			}
			if ae.Rate.RetryAfter.IsZero() || ae.Rate.Remaining != 0 {
				t.Errorf("rate on the 429: %+v", ae.Rate)
			}
			if !httpDate && !ae.Rate.Date.IsZero() {
				t.Errorf("OmitDate, yet Date %v", ae.Rate.Date)
			}
			if !httpDate && ae.Rate.RetryAfter.Before(ae.Rate.Received) {
				t.Errorf("Retry-After seconds not resolved against the receipt time: %v < %v", ae.Rate.RetryAfter, ae.Rate.Received)
			}
		})
	}
	t.Run("timeout against latency", func(t *testing.T) {
		org, base := emuOrg(t, emulator.Config{Users: 5, Latency: 5 * time.Second})
		c, err := New(Config{OrgURL: base, Token: secret.New(org.Token()), Timeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ExpirePassword(testCtx(t), org.Users()[1].ID, CallOptions{})
		ne := asNetError(t, err)
		if !ne.Timeout || !ne.MayHaveReached || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v", err)
		}
	})
}
