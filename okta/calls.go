package okta

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/credbatch/credbatch/internal/secret"
)

// Request bodies, with Okta's field names. The secrets are revealed into
// these only while the body is being built.
type passwordValue struct {
	Value string `json:"value"`
}

type recoveryQuestion struct {
	Question string `json:"question,omitempty"`
	Answer   string `json:"answer,omitempty"`
}

type credentialsBody struct {
	Password         *passwordValue    `json:"password,omitempty"`
	RecoveryQuestion *recoveryQuestion `json:"recovery_question,omitempty"`
}

type changePasswordBody struct {
	OldPassword    passwordValue `json:"oldPassword"`
	NewPassword    passwordValue `json:"newPassword"`
	RevokeSessions *bool         `json:"revokeSessions,omitempty"`
}

// marshalBody encodes without HTML escaping (a password holding < or & must
// reach Okta as typed; JSON decoders would accept either form anyway).
func marshalBody(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func setBool(q url.Values, name string, b *bool) {
	if b != nil {
		q.Set(name, boolStr(*b))
	}
}

// GetUser fetches GET /api/v1/users/{idOrLogin} (the login path-escaped).
// Response.User and Response.UserStatus are set.
func (c *Client) GetUser(ctx context.Context, idOrLogin string, o CallOptions) (*Response, error) {
	p, err := userPath(idOrLogin, "")
	if err != nil {
		return nil, err
	}
	return c.do(ctx, call{method: http.MethodGet, path: p, opts: o, wantUser: true})
}

// GetMe fetches GET /api/v1/users/me: the user the API token belongs to.
func (c *Client) GetMe(ctx context.Context, o CallOptions) (*Response, error) {
	return c.do(ctx, call{method: http.MethodGet, path: "/api/v1/users/me", opts: o, wantUser: true})
}

// ExpirePassword: POST /api/v1/users/{userID}/lifecycle/expire_password, no
// body, no query. The answer is the User; Response.UserStatus is its status.
func (c *Client) ExpirePassword(ctx context.Context, userID string, o CallOptions) (*Response, error) {
	p, err := userPath(userID, "/lifecycle/expire_password")
	if err != nil {
		return nil, err
	}
	return c.do(ctx, call{method: http.MethodPost, path: p, opts: o})
}

// ExpirePasswordWithTempPassword: POST
// /api/v1/users/{userID}/lifecycle/expire_password_with_temp_password, no
// body, ?revokeSessions= when revokeSessions is non-nil. Response.TempPassword
// is set (a 2xx without one is a *NetError wrapping ErrBadResponse), and
// UserStatus when the answer carries a status.
func (c *Client) ExpirePasswordWithTempPassword(ctx context.Context, userID string, revokeSessions *bool, o CallOptions) (*Response, error) {
	p, err := userPath(userID, "/lifecycle/expire_password_with_temp_password")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	setBool(q, "revokeSessions", revokeSessions)
	return c.do(ctx, call{method: http.MethodPost, path: p, query: q, opts: o, needTemp: true})
}

// ResetPassword: POST /api/v1/users/{userID}/lifecycle/reset_password, no
// body, ?sendEmail= always, ?revokeSessions= when non-nil. Response.ResetURL
// is the link (empty when Okta emailed it).
func (c *Client) ResetPassword(ctx context.Context, userID string, sendEmail bool, revokeSessions *bool, o CallOptions) (*Response, error) {
	p, err := userPath(userID, "/lifecycle/reset_password")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("sendEmail", boolStr(sendEmail))
	setBool(q, "revokeSessions", revokeSessions)
	return c.do(ctx, call{method: http.MethodPost, path: p, query: q, opts: o})
}

// ForgotPassword: POST /api/v1/users/{userID}/credentials/forgot_password, no
// body, ?sendEmail= when non-nil (Okta's default is true). Response.ResetURL
// is the link (empty when Okta emailed it).
func (c *Client) ForgotPassword(ctx context.Context, userID string, sendEmail *bool, o CallOptions) (*Response, error) {
	p, err := userPath(userID, "/credentials/forgot_password")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	setBool(q, "sendEmail", sendEmail)
	return c.do(ctx, call{method: http.MethodPost, path: p, query: q, opts: o})
}

// ForgotPasswordSetNewPassword: POST
// /api/v1/users/{userID}/credentials/forgot_password_recovery_question with
// {"password":{"value":NEW},"recovery_question":{"answer":A}} and
// ?sendEmail= when non-nil. The answer is UserCredentials.
func (c *Client) ForgotPasswordSetNewPassword(ctx context.Context, userID string, newPassword, answer secret.String, sendEmail *bool, o CallOptions) (*Response, error) {
	p, err := userPath(userID, "/credentials/forgot_password_recovery_question")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	setBool(q, "sendEmail", sendEmail)
	body := credentialsBody{
		Password:         &passwordValue{Value: newPassword.Reveal()},
		RecoveryQuestion: &recoveryQuestion{Answer: answer.Reveal()},
	}
	return c.do(ctx, call{method: http.MethodPost, path: p, query: q, body: body, opts: o,
		secrets: []secret.String{newPassword, answer}})
}

// ChangePassword: POST /api/v1/users/{userID}/credentials/change_password with
// {"oldPassword":{"value":OLD},"newPassword":{"value":NEW},"revokeSessions":B}
// (revokeSessions left out when nil) and ?strict= when non-nil. The answer is
// UserCredentials.
func (c *Client) ChangePassword(ctx context.Context, userID string, oldPassword, newPassword secret.String, revokeSessions, strict *bool, o CallOptions) (*Response, error) {
	p, err := userPath(userID, "/credentials/change_password")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	setBool(q, "strict", strict)
	body := changePasswordBody{
		OldPassword:    passwordValue{Value: oldPassword.Reveal()},
		NewPassword:    passwordValue{Value: newPassword.Reveal()},
		RevokeSessions: revokeSessions,
	}
	return c.do(ctx, call{method: http.MethodPost, path: p, query: q, body: body, opts: o,
		secrets: []secret.String{oldPassword, newPassword}})
}

// ChangeRecoveryQuestion: POST
// /api/v1/users/{userID}/credentials/change_recovery_question with
// {"password":{"value":CUR},"recovery_question":{"question":Q,"answer":A}}.
// The answer is UserCredentials.
func (c *Client) ChangeRecoveryQuestion(ctx context.Context, userID string, password secret.String, question string, answer secret.String, o CallOptions) (*Response, error) {
	p, err := userPath(userID, "/credentials/change_recovery_question")
	if err != nil {
		return nil, err
	}
	body := credentialsBody{
		Password:         &passwordValue{Value: password.Reveal()},
		RecoveryQuestion: &recoveryQuestion{Question: question, Answer: answer.Reveal()},
	}
	return c.do(ctx, call{method: http.MethodPost, path: p, body: body, opts: o,
		secrets: []secret.String{password, answer}})
}

// ClearSessions: DELETE /api/v1/users/{userID}/sessions?oauthTokens=B (always
// sent). Success is 204 with no body.
func (c *Client) ClearSessions(ctx context.Context, userID string, oauthTokens bool, o CallOptions) (*Response, error) {
	p, err := userPath(userID, "/sessions")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("oauthTokens", boolStr(oauthTokens))
	return c.do(ctx, call{method: http.MethodDelete, path: p, query: q, opts: o})
}
