package emulator

import (
	"regexp"
	"testing"
	"time"
)

var stampPattern = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// served returns the timestamps and recovery question the User object
// serves for id ("" for null).
func (e *env) served(id string) (pw, status, updated, question string) {
	e.t.Helper()
	r := e.call("GET", "/api/v1/users/"+id, nil)
	m := r.json(e.t)
	str := func(v any) string {
		s, _ := v.(string)
		if s != "" && !stampPattern.MatchString(s) && v != m["status"] {
			e.t.Errorf("timestamp %q is not RFC 3339 with milliseconds", s)
		}
		return s
	}
	creds, _ := m["credentials"].(map[string]any)
	rq, _ := creds["recovery_question"].(map[string]any)
	question, _ = rq["question"].(string)
	return str(m["passwordChanged"]), str(m["statusChanged"]), str(m["lastUpdated"]), question
}

// TestEvidenceTimestamps: every change sets passwordChanged,
// statusChanged and lastUpdated as Okta does (milliseconds, the org's
// clock); what does not change the user leaves them alone.
func TestEvidenceTimestamps(t *testing.T) {
	e := newEnv(t, Config{Users: 30})
	const (
		pw      = 1 << iota // passwordChanged moves
		status              // statusChanged moves
		updated             // lastUpdated moves
	)
	body := func(b any) any { return b }
	cases := []struct {
		name  string
		user  int
		path  string
		body  any
		moves int
	}{
		{"expire", iActive, "/lifecycle/expire_password", nil, status | updated},
		{"expire again (already PASSWORD_EXPIRED)", iActive, "/lifecycle/expire_password", nil, updated},
		{"expire with temp password", 2, "/lifecycle/expire_password_with_temp_password", nil, pw | status | updated},
		{"reset", 3, "/lifecycle/reset_password?sendEmail=false", nil, status | updated},
		{"forgot password", 5, "/credentials/forgot_password?sendEmail=false", nil, 0},
		{"set new password (ACTIVE stays ACTIVE)", 6, "/credentials/forgot_password_recovery_question",
			body(map[string]any{"password": map[string]string{"value": "New-Pass-6!"}, "recovery_question": map[string]string{"answer": "blue-6"}}), pw | updated},
		{"change password RECOVERY -> ACTIVE", iRecovery, "/credentials/change_password",
			body(map[string]any{"oldPassword": map[string]string{"value": "Pw-user00023-1!"}, "newPassword": map[string]string{"value": "New-Pass-23!"}}), pw | status | updated},
		{"change password refused", 8, "/credentials/change_password",
			body(map[string]any{"oldPassword": map[string]string{"value": "wrong"}, "newPassword": map[string]string{"value": "New-Pass-8!"}}), 0},
		{"change recovery question", 9, "/credentials/change_recovery_question",
			body(map[string]any{"password": map[string]string{"value": "Pw-user00009-1!"}, "recovery_question": map[string]string{"question": "Which city?", "answer": "Oslo"}}), updated},
		{"clear sessions", 10, "/sessions", nil, 0},
	}
	for i, c := range cases {
		u := e.user(c.user)
		pw0, st0, up0, _ := e.served(u.ID)
		// A clock with sub-millisecond digits, one step per case.
		at := time.Date(2026, 3, 4, 6, 0, i, 123456789, time.UTC)
		e.clk.Set(at)
		method := "POST"
		if c.path == "/sessions" {
			method = "DELETE"
		}
		e.call(method, "/api/v1/users/"+u.ID+c.path, c.body)
		pw1, st1, up1, q := e.served(u.ID)
		want := at.Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
		for _, f := range []struct {
			name        string
			bit         int
			before, now string
		}{{"passwordChanged", pw, pw0, pw1}, {"statusChanged", status, st0, st1}, {"lastUpdated", updated, up0, up1}} {
			if c.moves&f.bit != 0 && f.now != want {
				t.Errorf("%s: %s = %q, want %q", c.name, f.name, f.now, want)
			}
			if c.moves&f.bit == 0 && f.now != f.before {
				t.Errorf("%s: %s moved from %q to %q", c.name, f.name, f.before, f.now)
			}
		}
		if c.name == "change recovery question" && q != "Which city?" {
			t.Errorf("credentials.recovery_question.question = %q after the change", q)
		}
		// A search with the served value finds what it says: the stored
		// time is the served one (milliseconds), not a finer one.
		r := e.call("GET", "/api/v1/users?"+query("filter", `lastUpdated gt "`+up1+`" and id eq "`+u.ID+`"`), nil)
		if n := len(itemsOf(t, r)); n != 0 {
			t.Errorf("%s: lastUpdated gt its own served value finds the user", c.name)
		}
		times, _ := e.org.Times(u.ID)
		if got := stamp(times.LastUpdated); got != up1 {
			t.Errorf("%s: Times().LastUpdated %s, served %s", c.name, got, up1)
		}
	}
	// A user without a password is served passwordChanged null.
	if pw, _, _, q := e.served(e.user(iFederated).ID); pw != "" || q != "" {
		t.Errorf("federated user: passwordChanged %q, question %q", pw, q)
	}
}

// TestEvidenceQuestionServed: credentials.recovery_question.question is
// served for a user with a question, absent for one without.
func TestEvidenceQuestionServed(t *testing.T) {
	e := newEnv(t, Config{Users: 10})
	if _, _, _, q := e.served(e.user(iActive).ID); q != GeneratedQuestion {
		t.Errorf("question %q", q)
	}
	if _, _, _, q := e.served(e.user(iNoQuestion).ID); q != "" {
		t.Errorf("a user without a question is served %q", q)
	}
}
