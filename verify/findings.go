package verify

import (
	"fmt"
	"strings"

	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/okta"
)

// What each action leaves in Okta (README "After an incident run"):
//
//	action                              user object                          System Log event
//	expire_password                     status PASSWORD_EXPIRED, statusChanged  user.account.expire_password
//	expire_password_with_temp_password  passwordChanged                      user.account.expire_password
//	reset_password                      status RECOVERY, statusChanged       user.account.reset_password
//	forgot_password                     nothing                              none known
//	forgot_password_set_new_password    passwordChanged                      user.account.update_password
//	change_password                     passwordChanged                      user.account.update_password
//	change_recovery_question            the question, lastUpdated            none
//	clear_sessions                      nothing                              user.session.clear

// eventType is the System Log event type an action's request publishes
// ("" when Okta logs none for it).
func eventType(a jobs.Action) string {
	switch a {
	case jobs.ExpirePassword, jobs.ExpirePasswordWithTempPassword:
		return "user.account.expire_password"
	case jobs.ResetPassword:
		return "user.account.reset_password"
	case jobs.ForgotPasswordSetNewPassword, jobs.ChangePassword:
		return "user.account.update_password"
	case jobs.ClearSessions:
		return "user.session.clear"
	}
	return ""
}

// actionPath is the path an action's request is sent to, after
// /api/v1/users/{id} ("" for an unknown action).
func actionPath(a jobs.Action) string {
	switch a {
	case jobs.ExpirePassword:
		return "/lifecycle/expire_password"
	case jobs.ExpirePasswordWithTempPassword:
		return "/lifecycle/expire_password_with_temp_password"
	case jobs.ResetPassword:
		return "/lifecycle/reset_password"
	case jobs.ForgotPassword:
		return "/credentials/forgot_password"
	case jobs.ForgotPasswordSetNewPassword:
		return "/credentials/forgot_password_recovery_question"
	case jobs.ChangePassword:
		return "/credentials/change_password"
	case jobs.ChangeRecoveryQuestion:
		return "/credentials/change_recovery_question"
	case jobs.ClearSessions:
		return "/sessions"
	}
	return ""
}

// Which user fields each action moves when it applies.
func movesPassword(a jobs.Action) bool {
	return a == jobs.ExpirePasswordWithTempPassword || a == jobs.ChangePassword || a == jobs.ForgotPasswordSetNewPassword
}

func movesStatus(a jobs.Action) bool {
	return movesPassword(a) || a == jobs.ExpirePassword || a == jobs.ResetPassword
}

func movesUpdated(a jobs.Action) bool {
	return movesStatus(a) || a == jobs.ChangeRecoveryQuestion
}

// userFinding is what GET /api/v1/users/{id} says of the attempt.
func userFinding(c Case) finding {
	a := c.Target.Action
	if a == jobs.ForgotPassword || a == jobs.ClearSessions {
		return finding{absent, "the user object keeps nothing of " + string(a)}
	}
	if c.User == nil {
		return finding{failed, "GET user: " + c.UserErr}
	}
	switch a {
	case jobs.ExpirePassword:
		return c.statusFinding("PASSWORD_EXPIRED")
	case jobs.ResetPassword:
		return c.statusFinding("RECOVERY")
	case jobs.ChangeRecoveryQuestion:
		return c.questionFinding()
	}
	return c.passwordFinding()
}

// passwordFinding reads passwordChanged.
func (c *Case) passwordFinding() finding {
	pc := c.User.PasswordChanged
	if pc.IsZero() {
		return finding{none, "passwordChanged is null: the user's password never changed"}
	}
	at := "passwordChanged " + stamp(pc)
	switch c.zone(pc) {
	case before:
		return finding{none, at + ", before the attempt: the password has not changed since"}
	case later:
		return finding{masked, at + ", after the attempt's window: a later change hides this one"}
	}
	if o := c.otherRow(pc, movesPassword); o != nil {
		return finding{ambiguous, fmt.Sprintf("%s, but line %d (%s) changed the user's password then too", at, o.Line, o.Action)}
	}
	return finding{shows, at + ", at or after the attempt"}
}

// statusFinding reads status and statusChanged for an action that moves
// the user to want.
func (c *Case) statusFinding(want string) finding {
	st, sc := c.User.Status, c.User.StatusChanged
	if sc.IsZero() {
		if st == want {
			return finding{masked, "status " + st + " and statusChanged null: the user object cannot tell when it became " + want}
		}
		return finding{none, "status " + st + ", never changed"}
	}
	at := fmt.Sprintf("status %s since %s", st, stamp(sc))
	switch c.zone(sc) {
	case before:
		if st == want {
			return finding{masked, at + ", before the attempt: already " + want + ", the user object cannot tell"}
		}
		return finding{none, at + ", before the attempt: the status has not changed since"}
	case later:
		return finding{masked, at + ", after the attempt's window: a later change hides this one"}
	}
	if st != want {
		return finding{masked, at + ", at or after the attempt, but not " + want + ": the user object cannot tell"}
	}
	if o := c.otherRow(sc, movesStatus); o != nil {
		return finding{ambiguous, fmt.Sprintf("%s, but line %d (%s) changed the user's status then too", at, o.Line, o.Action)}
	}
	return finding{shows, at + ", at or after the attempt"}
}

// questionFinding reads the recovery question and lastUpdated.
func (c *Case) questionFinding() finding {
	lu := c.User.LastUpdated
	same := c.Target.Question != "" && strings.TrimSpace(c.User.RecoveryQuestion) == strings.TrimSpace(c.Target.Question)
	q := "the recovery question is not the row's"
	if same {
		q = "the recovery question is the row's"
	}
	if lu.IsZero() {
		return finding{masked, q + ", and lastUpdated is null: cannot tell"}
	}
	at := fmt.Sprintf("%s; lastUpdated %s", q, stamp(lu))
	switch c.zone(lu) {
	case before:
		return finding{none, at + ", before the attempt: the user has not changed since"}
	case later:
		return finding{masked, at + ", after the attempt's window: a later change hides this one"}
	}
	if !same {
		return finding{masked, at + ", at or after the attempt: something else changed the user"}
	}
	if o := c.otherRow(lu, movesUpdated); o != nil {
		return finding{ambiguous, fmt.Sprintf("%s, but line %d (%s) changed the user then too", at, o.Line, o.Action)}
	}
	return finding{shows, at + ", at or after the attempt"}
}

// logFinding is what the System Log says of the attempt: the events of
// the action's type about the user in the attempt's window. An event is
// this row's request when its request URI is the action's path for the
// user and its user agent is credbatch's (each when Okta gives it); a
// request of another path is another action's; the same path from
// another client leaves it ambiguous.
func logFinding(c Case) finding {
	t := c.Target
	et := eventType(t.Action)
	switch {
	case et == "" && t.Action == jobs.ChangeRecoveryQuestion:
		return finding{absent, "Okta logs no System Log event for change_recovery_question"}
	case et == "":
		return finding{absent, "no System Log event is known for " + string(t.Action)}
	case c.LogErr != "":
		return finding{failed, "System Log: " + c.LogErr}
	case !c.LogConsulted:
		return finding{skipped, ""}
	}
	from, to := c.window()
	path := "/api/v1/users/" + t.UserID + actionPath(t.Action)
	var found, refused, unsure []string
	for _, e := range c.Events {
		if e.EventType != et || !targets(e, t.UserID) || c.zone(e.Published) != within {
			continue
		}
		uri, _, _ := strings.Cut(e.RequestURI, "?")
		if uri != "" && uri != path {
			continue // another action's request
		}
		at := fmt.Sprintf("System Log %s at %s (transaction %s)", et, stamp(e.Published), e.TransactionID)
		switch {
		case e.UserAgent != "" && !strings.HasPrefix(e.UserAgent, "credbatch/"):
			unsure = append(unsure, at+" from another client")
		case uri == "" && c.otherRow(e.Published, func(a jobs.Action) bool { return eventType(a) == et }) != nil:
			unsure = append(unsure, at+" without a request URI, while another row of this run could have caused it")
		case e.Result == "SUCCESS":
			found = append(found, at)
		default:
			refused = append(refused, fmt.Sprintf("%s: outcome %s: Okta refused it", at, orUnknown(e.Result)))
		}
	}
	switch {
	case len(found) > 0:
		return finding{shows, strings.Join(found, ", ")}
	case len(unsure) > 0:
		return finding{ambiguous, strings.Join(unsure, ", ")}
	case len(refused) > 0:
		return finding{none, strings.Join(refused, ", ")}
	}
	return finding{none, fmt.Sprintf("no System Log %s event of this request for the user between %s and %s", et, stamp(from), stamp(to))}
}

func targets(e okta.LogEvent, userID string) bool {
	for _, t := range e.Targets {
		if t.ID == userID {
			return true
		}
	}
	return false
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
