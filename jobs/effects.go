package jobs

// Effects counts what a manifest's rows will make happen to people, for the
// confirmation a run asks and for `check`: emails Okta sends, sessions
// revoked, secrets that land in the report, and the logins to look up.
type Effects struct {
	Logins        int // rows naming the user by login: one GET each before the action
	Emails        int // rows after which Okta emails the user
	Revoked       int // rows that revoke the user's sessions
	TempPasswords int // rows whose temporary password lands in the report
	ResetLinks    int // rows whose reset link lands in the report (no email)
}

// Add counts one valid row.
func (e *Effects) Add(j *Job) {
	on := func(b *bool, okta bool) bool { // the row's value, else Okta's default
		if b == nil {
			return okta
		}
		return *b
	}
	if !j.UserIsID {
		e.Logins++
	}
	switch j.Action {
	case ExpirePasswordWithTempPassword:
		e.TempPasswords++
		if on(j.RevokeSessions, false) {
			e.Revoked++
		}
	case ResetPassword: // send_email has no default: validation requires it
		if on(j.SendEmail, false) {
			e.Emails++
		} else {
			e.ResetLinks++
		}
		if on(j.RevokeSessions, false) {
			e.Revoked++
		}
	case ForgotPassword:
		if on(j.SendEmail, true) {
			e.Emails++
		} else {
			e.ResetLinks++
		}
	case ForgotPasswordSetNewPassword:
		if on(j.SendEmail, true) {
			e.Emails++
		}
	case ChangePassword:
		if on(j.RevokeSessions, false) {
			e.Revoked++
		}
	case ClearSessions:
		e.Revoked++
	}
}
