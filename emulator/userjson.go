package emulator

import (
	"net/http"
	"strings"
	"time"
)

// The User object as Okta serves it (GET /api/v1/users/{id}, the answers of
// expire_password and every user listing).

type link struct {
	Href   string `json:"href"`
	Method string `json:"method,omitempty"`
}

type providerJSON struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

type questionJSON struct {
	Question string `json:"question"`
}

type credentialsJSON struct {
	Password         *struct{}     `json:"password,omitempty"`
	RecoveryQuestion *questionJSON `json:"recovery_question,omitempty"`
	Provider         providerJSON  `json:"provider"`
}

type userJSON struct {
	ID              string          `json:"id"`
	Status          string          `json:"status"`
	Created         string          `json:"created"`
	Activated       *string         `json:"activated"`
	StatusChanged   *string         `json:"statusChanged"`
	LastLogin       *string         `json:"lastLogin"`
	LastUpdated     string          `json:"lastUpdated"`
	PasswordChanged *string         `json:"passwordChanged"`
	Profile         map[string]any  `json:"profile"`
	Credentials     credentialsJSON `json:"credentials"`
	Links           map[string]link `json:"_links"`
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func optStamp(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := stamp(t)
	return &s
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func credentialsBody(u *userState) credentialsJSON {
	c := credentialsJSON{Provider: providerJSON{Type: u.Provider, Name: u.Provider}}
	if u.Provider == ProviderOkta && u.Password != "" {
		c.Password = &struct{}{}
	}
	if u.Provider == ProviderOkta && u.RecoveryQuestion != "" {
		c.RecoveryQuestion = &questionJSON{Question: u.RecoveryQuestion}
	}
	return c
}

// linkOps pairs each credential link relation with the operation it names.
var linkOps = []struct{ rel, op, path string }{
	{"expirePassword", OpExpirePassword, "/lifecycle/expire_password"},
	{"resetPassword", OpResetPassword, "/lifecycle/reset_password"},
	{"forgotPassword", OpForgotPassword, "/credentials/forgot_password"},
	{"changePassword", OpChangePassword, "/credentials/change_password"},
	{"changeRecoveryQuestion", OpChangeRecoveryQuestion, "/credentials/change_recovery_question"},
}

var statusLinks = []struct{ rel, path string }{
	{"activate", "/lifecycle/activate"},
	{"reactivate", "/lifecycle/reactivate"},
	{"suspend", "/lifecycle/suspend"},
	{"unsuspend", "/lifecycle/unsuspend"},
	{"unlock", "/lifecycle/unlock"},
	{"deactivate", "/lifecycle/deactivate"},
}

func statusLinkAllowed(rel, status string) bool {
	switch rel {
	case "activate":
		return status == StatusStaged
	case "reactivate":
		return status == StatusProvisioned
	case "suspend":
		return status == StatusActive
	case "unsuspend":
		return status == StatusSuspended
	case "unlock":
		return status == StatusLockedOut
	case "deactivate":
		return status != StatusDeprovisioned
	}
	return false
}

func (x *exchange) userBody(u *userState) userJSON {
	base := x.scheme() + "://" + x.r.Host + "/api/v1/users/" + u.ID
	links := map[string]link{"self": {Href: base}}
	for _, l := range linkOps {
		if allowed(l.op, u) {
			links[l.rel] = link{Href: base + l.path, Method: http.MethodPost}
		}
	}
	for _, l := range statusLinks {
		if statusLinkAllowed(l.rel, u.Status) {
			links[l.rel] = link{Href: base + l.path, Method: http.MethodPost}
		}
	}
	return userJSON{
		ID: u.ID, Status: u.Status,
		Created: stamp(u.created), Activated: optStamp(activatedAt(u)),
		StatusChanged: optStamp(u.statusChanged), LastUpdated: stamp(u.lastUpdated),
		PasswordChanged: optStamp(u.passwordChanged),
		Profile:         profileBody(u),
		Credentials:     credentialsBody(u),
		Links:           links,
	}
}

// activatedAt is when the user was activated (zero: never, for STAGED and
// PROVISIONED users).
func activatedAt(u *userState) time.Time {
	if u.Status == StatusStaged || u.Status == StatusProvisioned {
		return time.Time{}
	}
	return u.created
}

// profileBody is the user's profile: login, email (left out when empty),
// firstName and lastName (null when empty), and the custom attributes.
func profileBody(u *userState) map[string]any {
	p := make(map[string]any, 4+len(u.Profile))
	for k, v := range u.Profile {
		p[k] = v
	}
	p["login"] = u.Login
	if u.Email != "" {
		p["email"] = u.Email
	}
	p["firstName"], p["lastName"] = optString(u.FirstName), optString(u.LastName)
	return p
}

// userAttr gives eval the user's attributes (search and filter).
func userAttr(u *userState) func(string) []any {
	return func(attr string) []any {
		var t time.Time
		switch attr {
		case "id":
			return []any{u.ID}
		case "status":
			return []any{u.Status}
		case "profile.login":
			return []any{u.Login}
		case "profile.email":
			return []any{u.Email}
		case "profile.firstName":
			return []any{u.FirstName}
		case "profile.lastName":
			return []any{u.LastName}
		case "created":
			t = u.created
		case "activated":
			t = activatedAt(u)
		case "statusChanged":
			t = u.statusChanged
		case "lastUpdated":
			t = u.lastUpdated
		default:
			if name, ok := strings.CutPrefix(attr, "profile."); ok {
				return profileValues(u.Profile[name])
			}
			return nil
		}
		if t.IsZero() {
			return nil
		}
		return []any{t}
	}
}
