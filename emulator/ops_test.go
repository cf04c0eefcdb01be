package emulator

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

func pw(v string) map[string]string { return map[string]string{"value": v} }

// TestOperations runs each action's happy and sad cases; every answer is held
// to the OpenAPI excerpt by env.call, and every request the case calls valid
// must be valid by the excerpt too.
func TestOperations(t *testing.T) {
	type tc struct {
		name   string
		user   int // index of the generated user; -1: a user that does not exist
		method string
		path   string // after /api/v1/users/{id}
		query  string
		body   any
		valid  bool // the request is valid by the excerpt
		status int
		code   string
		check  func(t *testing.T, e *env, before User, r resp)
	}
	statusIs := func(want string) func(*testing.T, *env, User, resp) {
		return func(t *testing.T, e *env, before User, r resp) {
			if got := e.current(before.ID).Status; got != want {
				t.Errorf("status after = %s, want %s", got, want)
			}
		}
	}
	unchanged := func(t *testing.T, e *env, before User, r resp) {
		if after := e.current(before.ID); !reflect.DeepEqual(after, before) {
			t.Errorf("user changed by a refused request: %+v -> %+v", before, after)
		}
		if s := e.org.LastSecret(before.ID); s != "" {
			t.Errorf("a refused request issued a secret")
		}
	}
	cases := []tc{
		// expire_password
		{name: "expire ACTIVE", user: iActive, method: "POST", path: "/lifecycle/expire_password", valid: true, status: 200,
			check: func(t *testing.T, e *env, before User, r resp) {
				statusIs(StatusPasswordExpired)(t, e, before, r)
				m := r.json(t)
				if m["status"] != StatusPasswordExpired || m["id"] != before.ID {
					t.Errorf("answer status/id = %v/%v", m["status"], m["id"])
				}
			}},
		{name: "expire LOCKED_OUT", user: iLockedOut, method: "POST", path: "/lifecycle/expire_password", valid: true, status: 200, check: statusIs(StatusPasswordExpired)},
		{name: "expire STAGED refused", user: iStaged, method: "POST", path: "/lifecycle/expire_password", valid: true, status: 403, code: "E0000038", check: unchanged},
		{name: "expire federated refused", user: iFederated, method: "POST", path: "/lifecycle/expire_password", valid: true, status: 403, code: "E0000038", check: unchanged},
		{name: "expire unknown user", user: -1, method: "POST", path: "/lifecycle/expire_password", valid: true, status: 404, code: "E0000007"},

		// expire_password_with_temp_password
		{name: "expire temp ACTIVE", user: iActive, method: "POST", path: "/lifecycle/expire_password_with_temp_password", query: "revokeSessions=true", valid: true, status: 200,
			check: func(t *testing.T, e *env, before User, r resp) {
				statusIs(StatusPasswordExpired)(t, e, before, r)
				temp, _ := r.json(t)["tempPassword"].(string)
				if len(temp) != 12 || temp != e.current(before.ID).Password || temp != e.org.LastSecret(before.ID) {
					t.Errorf("temp password (len %d) is not the user's new password and last secret", len(temp))
				}
				if e.org.SessionsRevoked(before.ID) != 1 {
					t.Errorf("revokeSessions=true did not revoke sessions")
				}
			}},
		{name: "expire temp SUSPENDED refused", user: iSuspended, method: "POST", path: "/lifecycle/expire_password_with_temp_password", valid: true, status: 403, code: "E0000038", check: unchanged},

		// reset_password
		{name: "reset link", user: iActive, method: "POST", path: "/lifecycle/reset_password", query: "sendEmail=false", valid: true, status: 200,
			check: func(t *testing.T, e *env, before User, r resp) {
				statusIs(StatusRecovery)(t, e, before, r)
				link, _ := r.json(t)["resetPasswordUrl"].(string)
				if !strings.HasPrefix(link, e.srv.URL+"/signin/reset-password/") || !e.org.ResetURLValid(before.ID, link) {
					t.Errorf("reset URL has the wrong form or is not valid")
				}
			}},
		{name: "reset emailed", user: iPasswordExpired, method: "POST", path: "/lifecycle/reset_password", query: "sendEmail=true", valid: true, status: 200,
			check: func(t *testing.T, e *env, before User, r resp) {
				statusIs(StatusRecovery)(t, e, before, r)
				if len(r.json(t)) != 0 {
					t.Errorf("emailed reset answered a non-empty object")
				}
				if e.org.EmailsSent(before.ID) != 1 || e.org.LastSecret(before.ID) == "" {
					t.Errorf("no email recorded")
				}
			}},
		{name: "reset needs sendEmail", user: iActive, method: "POST", path: "/lifecycle/reset_password", valid: false, status: 400, code: "E0000001", check: unchanged},
		{name: "reset PROVISIONED refused", user: iProvisioned, method: "POST", path: "/lifecycle/reset_password", query: "sendEmail=false", valid: true, status: 403, code: "E0000038", check: unchanged},
		{name: "reset federated refused", user: iFederated, method: "POST", path: "/lifecycle/reset_password", query: "sendEmail=false", valid: true, status: 403, code: "E0000038", check: unchanged},

		// forgot_password
		{name: "forgot link keeps status", user: iActive, method: "POST", path: "/credentials/forgot_password", query: "sendEmail=false", valid: true, status: 200,
			check: func(t *testing.T, e *env, before User, r resp) {
				statusIs(StatusActive)(t, e, before, r)
				link, _ := r.json(t)["resetPasswordUrl"].(string)
				if !e.org.ResetURLValid(before.ID, link) {
					t.Errorf("forgot_password link not valid")
				}
			}},
		{name: "forgot emails by default", user: iActive, method: "POST", path: "/credentials/forgot_password", valid: true, status: 200,
			check: func(t *testing.T, e *env, before User, r resp) {
				if len(r.json(t)) != 0 || e.org.EmailsSent(before.ID) != 1 {
					t.Errorf("default sendEmail did not email")
				}
			}},
		{name: "forgot without question refused", user: iNoQuestion, method: "POST", path: "/credentials/forgot_password", query: "sendEmail=false", valid: true, status: 403, code: "E0000038", check: unchanged},
		{name: "forgot RECOVERY refused", user: iRecovery, method: "POST", path: "/credentials/forgot_password", query: "sendEmail=false", valid: true, status: 403, code: "E0000038", check: unchanged},

		// forgot_password_recovery_question
		{name: "forgot set new (answer ignores case)", user: iActive, method: "POST", path: "/credentials/forgot_password_recovery_question",
			body: map[string]any{"password": pw("New-pass-123"), "recovery_question": map[string]string{"answer": "BLUE-1"}}, valid: true, status: 200,
			check: func(t *testing.T, e *env, before User, r resp) {
				if e.current(before.ID).Password != "New-pass-123" {
					t.Errorf("password not set")
				}
				if _, ok := r.json(t)["password"]; !ok {
					t.Errorf("answer lacks the password credential")
				}
			}},
		{name: "forgot set new wrong answer", user: iActive, method: "POST", path: "/credentials/forgot_password_recovery_question",
			body: map[string]any{"password": pw("New-pass-123"), "recovery_question": map[string]string{"answer": "red"}}, valid: true, status: 403, code: "E0000014", check: unchanged},
		{name: "forgot set new missing answer", user: iActive, method: "POST", path: "/credentials/forgot_password_recovery_question",
			body: map[string]any{"password": pw("New-pass-123")}, valid: true, status: 400, code: "E0000001", check: unchanged},
		{name: "forgot set new bad JSON", user: iActive, method: "POST", path: "/credentials/forgot_password_recovery_question",
			body: `{"password":`, valid: false, status: 400, code: "E0000003", check: unchanged},

		// change_password
		{name: "change from RECOVERY", user: iRecovery, method: "POST", path: "/credentials/change_password",
			body: map[string]any{"oldPassword": pw("Pw-user00023-1!"), "newPassword": pw("Brand-new-9"), "revokeSessions": true}, valid: true, status: 200,
			check: func(t *testing.T, e *env, before User, r resp) {
				statusIs(StatusActive)(t, e, before, r)
				if e.current(before.ID).Password != "Brand-new-9" || e.org.SessionsRevoked(before.ID) != 1 {
					t.Errorf("password not changed or sessions not revoked")
				}
			}},
		{name: "change STAGED stays STAGED", user: iStaged, method: "POST", path: "/credentials/change_password",
			body: map[string]any{"oldPassword": pw("Pw-user00007-1!"), "newPassword": pw("Brand-new-9")}, valid: true, status: 200, check: statusIs(StatusStaged)},
		{name: "change wrong old password", user: iActive, method: "POST", path: "/credentials/change_password",
			body: map[string]any{"oldPassword": pw("nope"), "newPassword": pw("Brand-new-9")}, valid: true, status: 403, code: "E0000014",
			check: func(t *testing.T, e *env, before User, r resp) {
				unchanged(t, e, before, r)
				if c := r.causes(t); len(c) != 1 || c[0] != "Old Password is not correct" {
					t.Errorf("causes = %q", c)
				}
			}},
		{name: "change strict same password", user: iActive, method: "POST", path: "/credentials/change_password", query: "strict=true",
			body: map[string]any{"oldPassword": pw("Pw-user00001-1!"), "newPassword": pw("Pw-user00001-1!")}, valid: true, status: 403, code: "E0000014", check: unchanged},
		{name: "change strict short password", user: iActive, method: "POST", path: "/credentials/change_password", query: "strict=true",
			body: map[string]any{"oldPassword": pw("Pw-user00001-1!"), "newPassword": pw("short")}, valid: true, status: 403, code: "E0000014", check: unchanged},
		{name: "change LOCKED_OUT refused", user: iLockedOut, method: "POST", path: "/credentials/change_password",
			body: map[string]any{"oldPassword": pw("Pw-user00029-1!"), "newPassword": pw("Brand-new-9")}, valid: true, status: 403, code: "E0000038", check: unchanged},

		// change_recovery_question
		{name: "change question", user: iActive, method: "POST", path: "/credentials/change_recovery_question",
			body: map[string]any{"password": pw("Pw-user00001-1!"), "recovery_question": map[string]string{"question": "Pet?", "answer": "rex"}}, valid: true, status: 200,
			check: func(t *testing.T, e *env, before User, r resp) {
				after := e.current(before.ID)
				if after.RecoveryQuestion != "Pet?" || after.RecoveryAnswer != "rex" {
					t.Errorf("question not changed")
				}
				if q, _ := r.json(t)["recovery_question"].(map[string]any); q["question"] != "Pet?" || q["answer"] != nil {
					t.Errorf("answer recovery_question = %v", q)
				}
			}},
		{name: "change question wrong password", user: iActive, method: "POST", path: "/credentials/change_recovery_question",
			body: map[string]any{"password": pw("nope"), "recovery_question": map[string]string{"question": "Pet?", "answer": "rex"}}, valid: true, status: 403, code: "E0000014", check: unchanged},
		{name: "change question PASSWORD_EXPIRED refused", user: iPasswordExpired, method: "POST", path: "/credentials/change_recovery_question",
			body: map[string]any{"password": pw("Pw-user00019-1!"), "recovery_question": map[string]string{"question": "Pet?", "answer": "rex"}}, valid: true, status: 403, code: "E0000038", check: unchanged},

		// clear_sessions
		{name: "clear sessions", user: iSuspended, method: "DELETE", path: "/sessions", query: "oauthTokens=true", valid: true, status: 204,
			check: func(t *testing.T, e *env, before User, r resp) {
				if len(r.body) != 0 || r.header.Get("Content-Type") != "" {
					t.Errorf("204 carries a body or a Content-Type")
				}
				if e.org.SessionsRevoked(before.ID) != 1 {
					t.Errorf("sessions not revoked")
				}
			}},
		{name: "clear sessions DEPROVISIONED refused", user: iDeprovisioned, method: "DELETE", path: "/sessions", valid: true, status: 403, code: "E0000038", check: unchanged},
		{name: "clear sessions unknown user", user: -1, method: "DELETE", path: "/sessions", valid: true, status: 404, code: "E0000007"},

		// GET
		{name: "get user", user: iActive, method: "GET", path: "", valid: true, status: 200,
			check: func(t *testing.T, e *env, before User, r resp) {
				m := r.json(t)
				p, _ := m["profile"].(map[string]any)
				if m["id"] != before.ID || p["login"] != before.Login {
					t.Errorf("GET answered %v / %v", m["id"], p["login"])
				}
			}},
		{name: "get unknown", user: -1, method: "GET", path: "", valid: true, status: 404, code: "E0000007",
			check: func(t *testing.T, e *env, before User, r resp) {
				if got := r.json(t)["errorSummary"]; got != "Not found: Resource not found: 00uNOPE0000000000000 (User)" {
					t.Errorf("errorSummary = %v", got)
				}
			}},
		{name: "wrong method", user: iActive, method: "PUT", path: "/lifecycle/expire_password", valid: false, status: 405, code: "E0000022", check: unchanged},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, Config{Users: 60})
			var before User
			id := "00uNOPE0000000000000"
			if c.user >= 0 {
				before = e.user(c.user)
				id = before.ID
			}
			path := "/api/v1/users/" + id + c.path
			if c.query != "" {
				path += "?" + c.query
			}
			r := e.call(c.method, path, c.body)
			if c.valid && r.reqErr != nil {
				t.Errorf("the test's request is invalid by the excerpt: %v", r.reqErr)
			}
			if !c.valid && r.reqErr == nil && c.method != "PUT" {
				t.Errorf("the excerpt accepts a request this case calls invalid")
			}
			if r.status != c.status {
				t.Fatalf("status = %d, want %d (body %s)", r.status, c.status, errorOnly(r))
			}
			if c.code != "" {
				if got := r.errorCode(t); got != c.code {
					t.Errorf("errorCode = %q, want %q", got, c.code)
				}
			}
			if r.header.Get("X-Okta-Request-Id") == "" {
				t.Errorf("no X-Okta-Request-Id")
			}
			if c.check != nil {
				c.check(t, e, before, r)
			}
			log := e.org.Log()
			wantUser := before.ID
			if c.status == 405 {
				wantUser = "" // refused before the user is looked up
			}
			if len(log) != 1 || log[0].Status != c.status || log[0].UserID != wantUser {
				t.Errorf("log = %+v", log)
			}
			if wantApplied := c.status < 300 && c.method != "GET"; log[0].Applied != wantApplied {
				t.Errorf("log Applied = %v, want %v", log[0].Applied, wantApplied)
			}
		})
	}
}

// errorOnly shows an answer's body only when it is an error (no secrets).
func errorOnly(r resp) string {
	if r.status >= 400 {
		return string(r.body)
	}
	return "(success body withheld)"
}

// TestSecretsFreshAndOldInvalid: every call issues a new secret and the
// previous one stops working.
func TestSecretsFreshAndOldInvalid(t *testing.T) {
	e := newEnv(t, Config{Users: 5})
	u := e.user(iActive)
	base := "/api/v1/users/" + u.ID

	r1 := e.call("POST", base+"/lifecycle/expire_password_with_temp_password", nil)
	r2 := e.call("POST", base+"/lifecycle/expire_password_with_temp_password", nil)
	t1, _ := r1.json(t)["tempPassword"].(string)
	t2, _ := r2.json(t)["tempPassword"].(string)
	if t1 == "" || t1 == t2 {
		t.Fatalf("temp passwords not fresh")
	}
	if e.org.LastSecret(u.ID) != t2 {
		t.Errorf("LastSecret is not the newest temp password")
	}
	body := func(old string) map[string]any {
		return map[string]any{"oldPassword": pw(old), "newPassword": pw("Later-pass-77")}
	}
	if r := e.call("POST", base+"/credentials/change_password", body(t1)); r.status != 403 || r.errorCode(t) != "E0000014" {
		t.Errorf("the first temp password still works: %d", r.status)
	}
	if r := e.call("POST", base+"/credentials/change_password", body(t2)); r.status != 200 {
		t.Errorf("the newest temp password does not work: %d", r.status)
	}
	if got := e.current(u.ID).Status; got != StatusActive {
		t.Errorf("change_password from PASSWORD_EXPIRED left %s", got)
	}

	l1, _ := e.call("POST", base+"/lifecycle/reset_password?sendEmail=false", nil).json(t)["resetPasswordUrl"].(string)
	l2, _ := e.call("POST", base+"/lifecycle/reset_password?sendEmail=false", nil).json(t)["resetPasswordUrl"].(string)
	if l1 == "" || l1 == l2 || e.org.ResetURLValid(u.ID, l1) || !e.org.ResetURLValid(u.ID, l2) {
		t.Errorf("reset URLs: not fresh, or the old one still works")
	}
	if e.org.LastSecret(u.ID) != l2 {
		t.Errorf("LastSecret is not the newest reset URL")
	}
	log := e.org.Log()
	secrets := map[string]bool{}
	for _, le := range log {
		if le.Secret != "" {
			if secrets[le.Secret] {
				t.Errorf("a secret was issued twice")
			}
			secrets[le.Secret] = true
		}
	}
	if len(secrets) != 4 {
		t.Errorf("log holds %d secrets, want 4", len(secrets))
	}
}

func TestLinksFollowStatus(t *testing.T) {
	e := newEnv(t, Config{Users: 50})
	all := []string{"changePassword", "changeRecoveryQuestion", "expirePassword", "forgotPassword", "resetPassword"}
	want := map[int][]string{
		iActive:          all,
		iNoQuestion:      {"changePassword", "changeRecoveryQuestion", "expirePassword", "resetPassword"},
		iFederated:       nil,
		iStaged:          {"changePassword", "changeRecoveryQuestion"},
		iProvisioned:     nil,
		iPasswordExpired: {"changePassword", "expirePassword", "resetPassword"},
		iRecovery:        {"changePassword", "changeRecoveryQuestion", "expirePassword", "resetPassword"},
		iLockedOut:       {"expirePassword", "resetPassword"},
		iSuspended:       nil,
		iDeprovisioned:   nil,
	}
	for i, rels := range want {
		u := e.user(i)
		r := e.call("GET", "/api/v1/users/"+u.ID, nil)
		if r.status != 200 {
			t.Fatalf("GET user %d: %d", i, r.status)
		}
		links, _ := r.json(t)["_links"].(map[string]any)
		var got []string
		for _, rel := range all {
			if l, ok := links[rel].(map[string]any); ok {
				got = append(got, rel)
				if l["method"] != "POST" || !strings.HasPrefix(l["href"].(string), e.srv.URL+"/api/v1/users/"+u.ID+"/") {
					t.Errorf("user %d link %s = %v", i, rel, l)
				}
			}
		}
		sort.Strings(got)
		if !slices.Equal(got, rels) {
			t.Errorf("user %d (%s, %s): links %v, want %v", i, u.Status, u.Provider, got, rels)
		}
		if self, _ := links["self"].(map[string]any); self["href"] != e.srv.URL+"/api/v1/users/"+u.ID {
			t.Errorf("self link = %v", self)
		}
		creds, _ := r.json(t)["credentials"].(map[string]any)
		if _, has := creds["password"]; has != (u.Password != "") {
			t.Errorf("user %d: credentials.password present = %v", i, has)
		}
	}
}

func TestUserResolution(t *testing.T) {
	users := []User{
		{ID: "00uAAAAAAAAAAAAAAAAA", Login: "Owner@Example.com", Status: "ACTIVE"},
		{ID: "00uBBBBBBBBBBBBBBBBB", Login: "sam@one.example", Status: "ACTIVE"},
		{ID: "00uCCCCCCCCCCCCCCCCC", Login: "sam@two.example", Status: "ACTIVE"},
		{ID: "00uDDDDDDDDDDDDDDDDD", Login: "kim@one.example", Status: "ACTIVE"},
	}
	e := newEnv(t, Config{UserList: users, Token: "tok-123"})
	if e.org.Token() != "tok-123" {
		t.Fatalf("Token() ignores Config.Token")
	}
	cases := []struct {
		ref    string
		wantID string // "" = 404
	}{
		{"00uBBBBBBBBBBBBBBBBB", "00uBBBBBBBBBBBBBBBBB"}, // ID
		{"00ubbbbbbbbbbbbbbbbb", ""},                     // IDs are case-sensitive
		{"SAM@TWO.EXAMPLE", "00uCCCCCCCCCCCCCCCCC"},      // login, any case
		{"sam%40two.example", "00uCCCCCCCCCCCCCCCCC"},    // URL-encoded login
		{"KIM", "00uDDDDDDDDDDDDDDDDD"},                  // unique short name, any case
		{"sam", ""},                                      // ambiguous short name
		{"nobody@one.example", ""},
		{"me", "00uAAAAAAAAAAAAAAAAA"}, // the token's owner
	}
	for _, c := range cases {
		r := e.call("GET", "/api/v1/users/"+c.ref, nil)
		if c.wantID == "" {
			if r.status != 404 || r.errorCode(t) != "E0000007" {
				t.Errorf("GET %s: %d, want 404 E0000007", c.ref, r.status)
			}
			continue
		}
		if r.status != 200 || r.json(t)["id"] != c.wantID {
			t.Errorf("GET %s: %d %v, want %s", c.ref, r.status, r.json(t)["id"], c.wantID)
		}
	}
	// POSTs accept logins too.
	if r := e.call("POST", "/api/v1/users/kim@ONE.example/lifecycle/reset_password?sendEmail=true", nil); r.status != 200 {
		t.Errorf("POST by login: %d", r.status)
	}
	if u, _ := e.org.User("kim"); u.Status != StatusRecovery {
		t.Errorf("POST by login did not apply")
	}
	if got := e.org.Log()[len(cases)].Op; got != OpResetPassword {
		t.Errorf("op = %q", got)
	}
	if e.org.Log()[len(cases)-1].Op != OpGetMe {
		t.Errorf("GET me not logged as getMe")
	}
}
