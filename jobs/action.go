// Package jobs owns the manifest: it reads a CSV (separated by commas,
// semicolons or tabs) or JSONL file, in UTF-8 or UTF-16 (or a copy of
// standard input), validates it whole against SPEC.md's per-action column
// table, and streams it back as Jobs in file order.
//
// The package never holds a manifest's rows in memory, nor a line longer
// than MaxLine: Validate and Each stream the file, and duplicate detection
// keeps one 64-bit hash per (user, action) pair (8 bytes a row), reading the
// file a second time, only when some hashes repeat, to compare those rows'
// exact pairs. It changes no process-wide setting. Every
// password and answer becomes a secret.String as soon as it is read, and no
// error ever carries a cell's value (only column names, line numbers, action
// names, and the kind of character a user cell may not hold).
package jobs

import (
	"errors"
	"fmt"
	"strings"
)

// Action is one of the credential operations a manifest row asks for.
type Action string

// The actions, as written in a manifest's action column.
const (
	ExpirePassword                 Action = "expire_password"
	ExpirePasswordWithTempPassword Action = "expire_password_with_temp_password"
	ResetPassword                  Action = "reset_password"
	ForgotPassword                 Action = "forgot_password"
	ForgotPasswordSetNewPassword   Action = "forgot_password_set_new_password"
	ChangePassword                 Action = "change_password"
	ChangeRecoveryQuestion         Action = "change_recovery_question"
	ClearSessions                  Action = "clear_sessions"
)

// Actions lists every action in SPEC.md's order.
var Actions = []Action{
	ExpirePassword,
	ExpirePasswordWithTempPassword,
	ResetPassword,
	ForgotPassword,
	ForgotPasswordSetNewPassword,
	ChangePassword,
	ChangeRecoveryQuestion,
	ClearSessions,
}

// ErrUnknownAction is returned (wrapped) by ParseAction for a name that is
// not one of Actions.
var ErrUnknownAction = errors.New("unknown action")

// ParseAction returns the action named s, ignoring case and surrounding
// white space. The error wraps ErrUnknownAction and never quotes s.
func ParseAction(s string) (Action, error) {
	s = strings.TrimSpace(s)
	for _, a := range Actions {
		if strings.EqualFold(s, string(a)) {
			return a, nil
		}
	}
	return "", fmt.Errorf("%w (actions: %s)", ErrUnknownAction, actionList())
}

func actionList() string {
	names := make([]string, len(Actions))
	for i, a := range Actions {
		names[i] = string(a)
	}
	return strings.Join(names, ", ")
}

// ChecksPassword reports whether the action verifies a secret the row
// carries (change_password, change_recovery_question,
// forgot_password_set_new_password). Such an action is never repeated after
// an attempt that may have reached Okta.
func (a Action) ChecksPassword() bool {
	switch a {
	case ChangePassword, ChangeRecoveryQuestion, ForgotPasswordSetNewPassword:
		return true
	}
	return false
}

// String returns the action's manifest name.
func (a Action) String() string { return string(a) }

// valid reports whether a is one of Actions.
func (a Action) valid() bool {
	_, ok := takes[a]
	return ok
}

// Requirement says whether an action requires, accepts or refuses a column.
type Requirement int

// Requirements, from SPEC.md's table (R = Required, O = Optional,
// — = Refused).
const (
	Refused Requirement = iota
	Optional
	Required
)

// String returns "refused", "optional" or "required".
func (r Requirement) String() string {
	switch r {
	case Refused:
		return "refused"
	case Optional:
		return "optional"
	case Required:
		return "required"
	}
	return fmt.Sprintf("Requirement(%d)", int(r))
}

// col numbers the manifest's columns.
type col int

const (
	colUser col = iota
	colAction
	colSendEmail
	colRevokeSessions
	colStrict
	colOldPassword
	colNewPassword
	colPassword
	colRecoveryQuestion
	colRecoveryAnswer

	// Informational columns: carried to the Job (and so to the report),
	// they change nothing, and every action accepts them.
	colLogin
	colEmail
	colFirstName
	colLastName
	colStatus
	numCols
)

// numActionCols ends the columns of SPEC.md's per-action table.
const numActionCols = colLogin

// colNames are the canonical column names, indexed by col.
var colNames = [numCols]string{
	"user", "action", "send_email", "revoke_sessions", "strict",
	"old_password", "new_password", "password", "recovery_question", "recovery_answer",
	"login", "email", "first_name", "last_name", "status",
}

// colByName maps a lower-cased, trimmed column name (and the user aliases)
// to its col. "login" names the user column unless a user, user_id or id
// column names the user (see userCol): then it is informational (colLogin).
var colByName = map[string]col{
	"user": colUser, "user_id": colUser, "id": colUser, "login": colUser,
	"action":            colAction,
	"send_email":        colSendEmail,
	"revoke_sessions":   colRevokeSessions,
	"strict":            colStrict,
	"old_password":      colOldPassword,
	"new_password":      colNewPassword,
	"password":          colPassword,
	"recovery_question": colRecoveryQuestion,
	"recovery_answer":   colRecoveryAnswer,
	"email":             colEmail,
	"first_name":        colFirstName,
	"last_name":         colLastName,
	"status":            colStatus,
}

func lookupCol(name string) (col, bool) {
	c, ok := colByName[strings.ToLower(strings.TrimSpace(name))]
	return c, ok
}

// namesUser reports whether a column name is user, user_id or id (any
// case): a column that names the user, beside which login is informational.
func namesUser(name string) bool {
	c, ok := lookupCol(name)
	return ok && c == colUser && !strings.EqualFold(strings.TrimSpace(name), "login")
}

// columnOf maps a column name of a header (or keys of a JSONL object) to its
// col. userNamed says whether the header (or object) has a user, user_id or
// id column: then login is the informational colLogin, else the user.
func columnOf(name string, userNamed bool) (col, bool) {
	c, ok := lookupCol(name)
	if ok && c == colUser && userNamed && !namesUser(name) {
		return colLogin, true
	}
	return c, ok
}

func (c col) isBool() bool { return c == colSendEmail || c == colRevokeSessions || c == colStrict }

func (c col) isSecret() bool {
	return c == colOldPassword || c == colNewPassword || c == colPassword || c == colRecoveryAnswer
}

// Short names for the table below; the zero value is Refused.
const (
	rq = Required
	op = Optional
)

// takes is SPEC.md's per-action column table, for the columns after action.
var takes = map[Action][numActionCols]Requirement{
	// columns: user action send_email revoke_sessions strict old_password new_password password recovery_question recovery_answer
	ExpirePassword:                 {rq, rq},
	ExpirePasswordWithTempPassword: {rq, rq, 0, op},
	ResetPassword:                  {rq, rq, rq, op},
	ForgotPassword:                 {rq, rq, op},
	ForgotPasswordSetNewPassword:   {rq, rq, op, 0, 0, 0, rq, 0, 0, rq},
	ChangePassword:                 {rq, rq, 0, op, op, rq, rq},
	ChangeRecoveryQuestion:         {rq, rq, 0, 0, 0, 0, 0, rq, rq, rq},
	ClearSessions:                  {rq, rq},
}

// Takes reports whether the action requires, accepts or refuses the named
// column (case-insensitive; user aliases included). user and action are
// Required for every action, the informational columns (email, first_name,
// last_name, status) Optional; an unknown column or action is Refused.
func (a Action) Takes(column string) Requirement {
	c, ok := lookupCol(column)
	if !ok {
		return Refused
	}
	return a.takes(c)
}

func (a Action) takes(c col) Requirement {
	t, ok := takes[a]
	switch {
	case !ok:
		return Refused
	case c >= numActionCols:
		return Optional // informational
	}
	return t[c]
}

// refusedHint explains, for a value in a column the action refuses, what to
// do instead.
func refusedHint(a Action, c col) string {
	if a == ClearSessions {
		if c == colRevokeSessions {
			return "clear_sessions always revokes sessions: leave revoke_sessions empty"
		}
		return "clear_sessions takes no column but user and action"
	}
	switch c {
	case colSendEmail:
		return fmt.Sprintf("%s sends no email: send_email applies to reset_password, forgot_password and forgot_password_set_new_password", a)
	case colRevokeSessions:
		if a == ExpirePassword {
			return "expire_password does not revoke sessions: use expire_password_with_temp_password --revoke-sessions=true"
		}
		return fmt.Sprintf("%s does not revoke sessions: add a clear_sessions row for the user", a)
	case colStrict:
		return "strict (password policy check) applies only to change_password"
	case colOldPassword:
		switch a {
		case ChangeRecoveryQuestion:
			return "change_recovery_question takes the current password in the password column"
		case ForgotPasswordSetNewPassword:
			return "forgot_password_set_new_password checks the recovery answer, not the old password: leave old_password empty"
		}
		return "old_password is only for change_password"
	case colNewPassword:
		if a == ChangeRecoveryQuestion {
			return "change_recovery_question does not change the password: use change_password to set one"
		}
		return fmt.Sprintf("%s lets Okta or the user choose the password: use change_password (old_password, new_password) or forgot_password_set_new_password (new_password, recovery_answer) to set one", a)
	case colPassword:
		switch a {
		case ChangePassword:
			return "change_password takes old_password and new_password, not password"
		case ForgotPasswordSetNewPassword:
			return "forgot_password_set_new_password takes the new password in new_password"
		}
		return "password (the current password) is only for change_recovery_question"
	case colRecoveryQuestion:
		if a == ForgotPasswordSetNewPassword {
			return "forgot_password_set_new_password checks the answer only: leave recovery_question empty"
		}
		return "recovery_question is only for change_recovery_question"
	case colRecoveryAnswer:
		return "recovery_answer is only for forgot_password_set_new_password and change_recovery_question"
	}
	return ""
}

// requiredHint explains how to supply a column the action requires.
func requiredHint(a Action, c col) string {
	switch c {
	case colSendEmail:
		return "reset_password has no default for send_email: set true (Okta emails the link) or false (the link goes to the report), or pass --send-email"
	case colOldPassword:
		return "change_password needs the user's current password in old_password"
	case colNewPassword:
		return fmt.Sprintf("%s needs the password to set in new_password", a)
	case colPassword:
		return "change_recovery_question needs the user's current password in password"
	case colRecoveryQuestion:
		return "change_recovery_question needs the new question in recovery_question"
	case colRecoveryAnswer:
		return fmt.Sprintf("%s needs the recovery answer in recovery_answer", a)
	}
	return ""
}
