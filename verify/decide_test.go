package verify

import (
	"strings"
	"testing"
	"time"

	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/okta"
)

const uid = "00udecide00000000001"

var (
	t0 = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC) // the attempt's start, this host's clock
	// Okta's clock is 2.6 s to 3.5 s behind this host's.
	off = Offset{Lo: -3500 * time.Millisecond, Hi: -2600 * time.Millisecond, N: 7}
	// The earliest Okta time the attempt can have started at.
	from = t0.Add(off.Lo)
	// The last Okta time its change can lie at (last attempt t0+100ms).
	to       = t0.Add(100 * time.Millisecond).Add(RequestLife).Add(off.Hi)
	settled  = t0.Add(11 * time.Minute)
	settleAt = t0.Add(100 * ms).Add(10 * time.Minute) // the last attempt plus --settle-after
	tooEarly = t0.Add(9 * time.Minute)
	ms       = time.Millisecond
)

func bptr(b bool) *bool { return &b }

// dcase builds a case for action with sensible defaults: the user's
// fields all before the attempt, the log consulted and empty, settled.
func dcase(a jobs.Action) Case {
	return Case{
		Target: &Target{Line: 5, User: "ann@example.com", UserID: uid, Action: a, First: t0, Last: t0.Add(100 * ms),
			FromCheckpoint: true, Question: "Which street?"},
		Offset:       off,
		User:         &okta.UserEvidence{ID: uid, Status: "ACTIVE", StatusChanged: from.Add(-time.Hour), PasswordChanged: from.Add(-time.Hour), LastUpdated: from.Add(-time.Hour), RecoveryQuestion: "What is your favorite color?"},
		LogConsulted: true,
		Others:       []Other{{Line: 5, Action: a, Started: t0, Finished: t0.Add(200 * ms)}},
		Now:          settled,
		SettleAfter:  10 * time.Minute,
	}
}

func ev(typ string, at time.Time, path, result string) okta.LogEvent {
	return okta.LogEvent{UUID: "u-1", Published: at, EventType: typ, Result: result, TransactionID: "req-1",
		Targets: []okta.LogTarget{{ID: uid, Type: "User"}}, RequestURI: "/api/v1/users/" + uid + path, UserAgent: "credbatch/1.2.3"}
}

func TestDecide(t *testing.T) {
	const (
		upd    = "user.account.update_password"
		expire = "user.account.expire_password"
		reset  = "user.account.reset_password"
		clear  = "user.session.clear"
		cp     = "/credentials/change_password"
	)
	type tc struct {
		name    string
		action  jobs.Action
		edit    func(*Case)
		want    Verdict
		words   []string // each must appear in the evidence
		retryAt time.Time
		rerun   string // a substring of RerunReason; "" = not rerun
	}
	cases := []tc{
		// change_password: passwordChanged, then update_password events.
		{name: "passwordChanged at the attempt's earliest start", action: jobs.ChangePassword,
			edit: func(c *Case) { c.User.PasswordChanged = from }, want: Applied,
			words: []string{"passwordChanged " + stamp(from) + ", at or after the attempt", "-3.500s to -2.600s (from 7 Date headers)"}},
		{name: "passwordChanged a millisecond before it", action: jobs.ChangePassword,
			edit: func(c *Case) { c.User.PasswordChanged = from.Add(-ms) }, want: NotApplied,
			words: []string{"before the attempt", "no System Log " + upd}, rerun: "not applied"},
		{name: "nothing found before --settle-after", action: jobs.ChangePassword,
			edit: func(c *Case) { c.Now = tooEarly }, want: Unproven, retryAt: settleAt,
			words: []string{"run verify again after " + stamp(t0.Add(100*ms).Add(10*time.Minute))}},
		{name: "nothing found exactly at --settle-after", action: jobs.ChangePassword,
			edit: func(c *Case) { c.Now = t0.Add(100 * ms).Add(10 * time.Minute) }, want: NotApplied, rerun: "not applied"},
		{name: "passwordChanged null", action: jobs.ChangePassword,
			edit: func(c *Case) { c.User.PasswordChanged = time.Time{} }, want: NotApplied, words: []string{"null"}},
		{name: "passwordChanged at the window's end", action: jobs.ChangePassword,
			edit: func(c *Case) { c.User.PasswordChanged = to }, want: Applied},
		{name: "passwordChanged after the window, log silent", action: jobs.ChangePassword,
			edit: func(c *Case) { c.User.PasswordChanged = to.Add(ms) }, want: NotApplied, words: []string{"a later change hides"}},
		{name: "passwordChanged while another row changed the password", action: jobs.ChangePassword,
			edit: func(c *Case) {
				c.User.PasswordChanged = t0.Add(-3200 * ms) // the other row's change ended by t0-0.5s-2.6s
				c.Others = append(c.Others, Other{Line: 9, Action: jobs.ExpirePasswordWithTempPassword, Started: t0.Add(-2 * time.Second), Finished: t0.Add(-500 * ms), Answered: true})
			}, want: Unproven, words: []string{"line 9 (expire_password_with_temp_password) changed the user's password then too"}},
		{name: "another row that moves no password", action: jobs.ChangePassword,
			edit: func(c *Case) {
				c.User.PasswordChanged = t0.Add(-3200 * ms)
				c.Others = append(c.Others, Other{Line: 9, Action: jobs.ClearSessions, Started: t0.Add(-2 * time.Second), Finished: t0.Add(-500 * ms), Answered: true})
			}, want: Applied},
		{name: "update_password event of this request", action: jobs.ChangePassword,
			edit: func(c *Case) { c.Events = []okta.LogEvent{ev(upd, from, cp, "SUCCESS")} }, want: Applied,
			words: []string{"System Log " + upd + " at " + stamp(from) + " (transaction req-1)"}},
		{name: "update_password event before the attempt", action: jobs.ChangePassword,
			edit: func(c *Case) { c.Events = []okta.LogEvent{ev(upd, from.Add(-ms), cp, "SUCCESS")} }, want: NotApplied},
		{name: "update_password event after the window", action: jobs.ChangePassword,
			edit: func(c *Case) { c.Events = []okta.LogEvent{ev(upd, to.Add(ms), cp, "SUCCESS")} }, want: NotApplied},
		{name: "update_password event of another action's request", action: jobs.ChangePassword,
			edit: func(c *Case) {
				c.Events = []okta.LogEvent{ev(upd, from.Add(time.Second), "/credentials/forgot_password_recovery_question", "SUCCESS")}
			}, want: NotApplied},
		{name: "update_password event about another user", action: jobs.ChangePassword,
			edit: func(c *Case) {
				e := ev(upd, from.Add(time.Second), cp, "SUCCESS")
				e.Targets = []okta.LogTarget{{ID: "00uother0000000000000"}}
				c.Events = []okta.LogEvent{e}
			}, want: NotApplied},
		{name: "the same request from another client", action: jobs.ChangePassword,
			edit: func(c *Case) {
				e := ev(upd, from.Add(time.Second), cp, "SUCCESS")
				e.UserAgent = "okta-sdk-python/2.9"
				c.Events = []okta.LogEvent{e}
			}, want: Unproven, words: []string{"from another client", "cannot tell"}},
		{name: "an event without request URI or user agent", action: jobs.ChangePassword,
			edit: func(c *Case) {
				e := ev(upd, from.Add(time.Second), cp, "SUCCESS")
				e.RequestURI, e.UserAgent = "", ""
				c.Events = []okta.LogEvent{e}
			}, want: Applied},
		{name: "an event without request URI while another row of its type ran", action: jobs.ChangePassword,
			edit: func(c *Case) {
				e := ev(upd, from.Add(time.Second), "", "SUCCESS")
				e.RequestURI = ""
				c.Events = []okta.LogEvent{e}
				c.Others = append(c.Others, Other{Line: 9, Action: jobs.ForgotPasswordSetNewPassword, Started: t0.Add(-time.Second), Finished: t0})
			}, want: Unproven, words: []string{"without a request URI"}},
		{name: "Okta refused the request", action: jobs.ChangePassword,
			edit: func(c *Case) { c.Events = []okta.LogEvent{ev(upd, from.Add(time.Second), cp, "FAILURE")} }, want: NotApplied,
			words: []string{"outcome FAILURE: Okta refused it"}},
		{name: "a refusal and a success", action: jobs.ChangePassword,
			edit: func(c *Case) {
				c.Events = []okta.LogEvent{ev(upd, from.Add(time.Second), cp, "FAILURE"), ev(upd, from.Add(2*time.Second), cp, "SUCCESS")}
			}, want: Applied},
		{name: "the System Log failed", action: jobs.ChangePassword,
			edit: func(c *Case) { c.LogErr = "HTTP 500" }, want: Unproven, retryAt: settled, words: []string{"System Log: HTTP 500"}},
		{name: "the System Log not consulted", action: jobs.ChangePassword,
			edit: func(c *Case) { c.LogConsulted = false }, want: Unproven, words: []string{"cannot tell"}},
		{name: "GET user failed", action: jobs.ChangePassword,
			edit: func(c *Case) { c.User, c.UserErr = nil, "HTTP 404 E0000007" }, want: Unproven, retryAt: settled,
			words: []string{"GET user: HTTP 404 E0000007"}},
		{name: "GET user failed but the log shows it", action: jobs.ChangePassword,
			edit: func(c *Case) {
				c.User, c.UserErr = nil, "timeout"
				c.Events = []okta.LogEvent{ev(upd, from, cp, "SUCCESS")}
			}, want: Applied},
		{name: "no Date header", action: jobs.ChangePassword,
			edit: func(c *Case) {
				c.Offset = Offset{Reason: "Okta's answers carried no Date header"}
				c.User.PasswordChanged = t0.Add(time.Minute)
			}, want: Unproven, words: []string{"no Date header"}},
		{name: "no user ID", action: jobs.ChangePassword,
			edit: func(c *Case) { c.Target.UserID = "" }, want: Unproven, words: []string{"no user ID"}},
		{name: "no attempt time", action: jobs.ChangePassword,
			edit: func(c *Case) { c.Target.First = time.Time{} }, want: Unproven, words: []string{"no attempt time"}},

		// forgot_password_set_new_password: the same, with its own request path.
		{name: "forgot_password_set_new_password: passwordChanged", action: jobs.ForgotPasswordSetNewPassword,
			edit: func(c *Case) { c.User.PasswordChanged = t0 }, want: Applied},
		{name: "forgot_password_set_new_password: its event", action: jobs.ForgotPasswordSetNewPassword,
			edit: func(c *Case) {
				c.Events = []okta.LogEvent{ev(upd, t0, "/credentials/forgot_password_recovery_question", "SUCCESS")}
			}, want: Applied},
		{name: "forgot_password_set_new_password: change_password's event", action: jobs.ForgotPasswordSetNewPassword,
			edit: func(c *Case) { c.Events = []okta.LogEvent{ev(upd, t0, cp, "SUCCESS")} }, want: NotApplied},

		// change_recovery_question: the question and lastUpdated; no event.
		{name: "the row's question, updated in the window", action: jobs.ChangeRecoveryQuestion,
			edit: func(c *Case) { c.User.RecoveryQuestion, c.User.LastUpdated = "Which street?", from }, want: Applied,
			words: []string{"the recovery question is the row's; lastUpdated", "Okta logs no System Log event for change_recovery_question"}},
		{name: "the row's question, not updated since before", action: jobs.ChangeRecoveryQuestion,
			edit: func(c *Case) { c.User.RecoveryQuestion = "Which street?" }, want: NotApplied, rerun: "not applied"},
		{name: "question not updated, before --settle-after", action: jobs.ChangeRecoveryQuestion,
			edit: func(c *Case) { c.Now = tooEarly }, want: Unproven, retryAt: settleAt},
		{name: "another question, updated in the window", action: jobs.ChangeRecoveryQuestion,
			edit: func(c *Case) { c.User.LastUpdated = t0 }, want: Unproven, words: []string{"something else changed the user"}},
		{name: "the row's question, updated after the window", action: jobs.ChangeRecoveryQuestion,
			edit: func(c *Case) { c.User.RecoveryQuestion, c.User.LastUpdated = "Which street?", to.Add(ms) }, want: Unproven},
		{name: "the row's question while another row changed the user", action: jobs.ChangeRecoveryQuestion,
			edit: func(c *Case) {
				c.User.RecoveryQuestion, c.User.LastUpdated = "Which street?", t0
				c.Others = append(c.Others, Other{Line: 3, Action: jobs.ExpirePassword, Started: t0.Add(-time.Second), Finished: t0.Add(2 * time.Second)})
			}, want: Unproven, words: []string{"line 3 (expire_password)"}},

		// expire_password: status and statusChanged, then expire events.
		{name: "expired in the window", action: jobs.ExpirePassword,
			edit: func(c *Case) { c.User.Status, c.User.StatusChanged = "PASSWORD_EXPIRED", t0 }, want: Applied},
		{name: "expired before the attempt, log silent", action: jobs.ExpirePassword,
			edit: func(c *Case) { c.User.Status = "PASSWORD_EXPIRED" }, want: NotApplied, words: []string{"already PASSWORD_EXPIRED"}},
		{name: "expired before, its event in the window", action: jobs.ExpirePassword,
			edit: func(c *Case) {
				c.User.Status = "PASSWORD_EXPIRED"
				c.Events = []okta.LogEvent{ev(expire, t0, "/lifecycle/expire_password", "SUCCESS")}
			}, want: Applied},
		{name: "the temp-password variant's event is another request", action: jobs.ExpirePassword,
			edit: func(c *Case) {
				c.Events = []okta.LogEvent{ev(expire, t0, "/lifecycle/expire_password_with_temp_password", "SUCCESS")}
			}, want: NotApplied},
		{name: "changed to ACTIVE in the window, log silent", action: jobs.ExpirePassword,
			edit: func(c *Case) { c.User.StatusChanged = t0 }, want: NotApplied, words: []string{"not PASSWORD_EXPIRED: the user object cannot tell"}},
		{name: "changed to ACTIVE in the window, log not read", action: jobs.ExpirePassword,
			edit: func(c *Case) { c.User.StatusChanged, c.LogConsulted = t0, false }, want: Unproven},
		{name: "status never changed", action: jobs.ExpirePassword,
			edit: func(c *Case) { c.User.StatusChanged = time.Time{} }, want: NotApplied},
		{name: "expired, statusChanged null", action: jobs.ExpirePassword,
			edit: func(c *Case) { c.User.Status, c.User.StatusChanged = "PASSWORD_EXPIRED", time.Time{} }, want: NotApplied},

		// expire_password_with_temp_password: a lost temp password is rerun whatever the verdict.
		{name: "temp password applied", action: jobs.ExpirePasswordWithTempPassword,
			edit: func(c *Case) { c.User.PasswordChanged = t0 }, want: Applied, rerun: "nobody holds its temp password"},
		{name: "temp password not applied", action: jobs.ExpirePasswordWithTempPassword,
			want: NotApplied, rerun: "not applied"},
		{name: "temp password unproven", action: jobs.ExpirePasswordWithTempPassword,
			edit: func(c *Case) { c.Now = tooEarly }, want: Unproven, retryAt: settleAt, rerun: "applied or not, nobody holds a temp password"},

		// reset_password: RECOVERY; a lost link only without email.
		{name: "reset without email, applied", action: jobs.ResetPassword,
			edit: func(c *Case) {
				c.Target.SendEmail = bptr(false)
				c.User.Status, c.User.StatusChanged = "RECOVERY", t0
			}, want: Applied, rerun: "nobody holds its reset link"},
		{name: "reset with email, applied: the user has the link", action: jobs.ResetPassword,
			edit: func(c *Case) {
				c.Target.SendEmail = bptr(true)
				c.User.Status, c.User.StatusChanged = "RECOVERY", t0
			}, want: Applied},
		{name: "reset with email, its event", action: jobs.ResetPassword,
			edit: func(c *Case) {
				c.Target.SendEmail = bptr(true)
				c.Events = []okta.LogEvent{ev(reset, t0, "/lifecycle/reset_password", "SUCCESS")}
			}, want: Applied},
		{name: "reset with email, not applied", action: jobs.ResetPassword,
			edit: func(c *Case) { c.Target.SendEmail = bptr(true) }, want: NotApplied, rerun: "not applied"},
		{name: "reset with email, unproven", action: jobs.ResetPassword,
			edit: func(c *Case) { c.Target.SendEmail, c.Now = bptr(true), tooEarly }, want: Unproven, retryAt: settleAt},

		// forgot_password: Okta keeps nothing.
		{name: "forgot_password, emailed", action: jobs.ForgotPassword,
			want: Unproven, words: []string{"the user object keeps nothing of forgot_password", "no System Log event is known for forgot_password"}},
		{name: "forgot_password without email", action: jobs.ForgotPassword,
			edit: func(c *Case) { c.Target.SendEmail = bptr(false) }, want: Unproven, rerun: "nobody holds a reset link"},

		// clear_sessions: only the System Log.
		{name: "sessions cleared", action: jobs.ClearSessions,
			edit: func(c *Case) { c.Events = []okta.LogEvent{ev(clear, t0, "/sessions", "SUCCESS")} }, want: Applied},
		{name: "no session.clear event", action: jobs.ClearSessions, want: NotApplied},
		{name: "no session.clear event yet", action: jobs.ClearSessions,
			edit: func(c *Case) { c.Now = tooEarly }, want: Unproven, retryAt: settleAt},
		{name: "clear_sessions, the System Log failed", action: jobs.ClearSessions,
			edit: func(c *Case) { c.LogErr = "HTTP 403 E0000006" }, want: Unproven, retryAt: settled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dcase(tc.action)
			if tc.edit != nil {
				tc.edit(&c)
			}
			d := Decide(c)
			if d.Verdict != tc.want {
				t.Errorf("verdict %s, want %s; evidence: %s", d.Verdict, tc.want, d.Evidence)
			}
			for _, w := range tc.words {
				if !strings.Contains(d.Evidence, w) {
					t.Errorf("evidence lacks %q: %s", w, d.Evidence)
				}
			}
			if !d.RetryAt.Equal(tc.retryAt) {
				t.Errorf("RetryAt %v, want %v", d.RetryAt, tc.retryAt)
			}
			if tc.want == NotApplied && tc.rerun == "" {
				tc.rerun = "not applied" // every not_applied row is rerun
			}
			if d.Rerun != (tc.rerun != "") || !strings.Contains(d.RerunReason, tc.rerun) {
				t.Errorf("rerun %v %q, want %q", d.Rerun, d.RerunReason, tc.rerun)
			}
			if d.Line != 5 {
				t.Errorf("line %d", d.Line)
			}
		})
	}
}
