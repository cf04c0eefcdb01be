package runner

import (
	"context"
	"fmt"

	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/okta"
)

// repeatable reports whether an action may be sent again after an attempt
// that may have reached Okta (SPEC.md "Rate limits and faults"): the
// secret-issuing and expiring actions are, the password-checking ones are not.
func repeatable(a jobs.Action) bool { return !a.ChecksPassword() }

// holdsSlot reports whether a row of the action holds one of --workers
// slots from before its first attempt until its outcome is durable, so that
// a crash leaves at most --workers such rows answered but unrecorded: a
// secret-issuing action would then be sent again (a new temporary password
// or reset link, maybe an email), and a password-checking one, never sent
// again, would end in_doubt for a human to check. expire_password and
// clear_sessions only set again what is already set, so theirs do not wait
// for the fsync of their outcomes.
func holdsSlot(a jobs.Action) bool {
	return a != jobs.ExpirePassword && a != jobs.ClearSessions
}

// documentedStatus is the user status an action documents when Okta's answer
// carries none (SPEC.md "Report": user_status).
func documentedStatus(a jobs.Action) string {
	switch a {
	case jobs.ExpirePassword, jobs.ExpirePasswordWithTempPassword:
		return "PASSWORD_EXPIRED"
	case jobs.ResetPassword:
		return "RECOVERY"
	}
	return ""
}

// callAction sends one attempt of the job's action for userID.
func callAction(ctx context.Context, c *okta.Client, j *jobs.Job, userID string, o okta.CallOptions) (*okta.Response, error) {
	switch j.Action {
	case jobs.ExpirePassword:
		return c.ExpirePassword(ctx, userID, o)
	case jobs.ExpirePasswordWithTempPassword:
		return c.ExpirePasswordWithTempPassword(ctx, userID, j.RevokeSessions, o)
	case jobs.ResetPassword:
		sendEmail := false
		if j.SendEmail != nil {
			sendEmail = *j.SendEmail
		}
		return c.ResetPassword(ctx, userID, sendEmail, j.RevokeSessions, o)
	case jobs.ForgotPassword:
		return c.ForgotPassword(ctx, userID, j.SendEmail, o)
	case jobs.ForgotPasswordSetNewPassword:
		return c.ForgotPasswordSetNewPassword(ctx, userID, j.NewPassword, j.RecoveryAnswer, j.SendEmail, o)
	case jobs.ChangePassword:
		return c.ChangePassword(ctx, userID, j.OldPassword, j.NewPassword, j.RevokeSessions, j.Strict, o)
	case jobs.ChangeRecoveryQuestion:
		return c.ChangeRecoveryQuestion(ctx, userID, j.Password, j.RecoveryQuestion, j.RecoveryAnswer, o)
	case jobs.ClearSessions:
		return c.ClearSessions(ctx, userID, true, o)
	}
	return nil, fmt.Errorf("line %d: %w: %q", j.Line, jobs.ErrUnknownAction, j.Action)
}
