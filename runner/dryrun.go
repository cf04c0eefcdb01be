package runner

import (
	"fmt"
	"slices"

	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/okta"
)

// linkFor is the _links relation Okta publishes on a user when its policies
// allow the action for that user (SPEC.md "Dry run").
func linkFor(a jobs.Action) string {
	switch a {
	case jobs.ExpirePassword, jobs.ExpirePasswordWithTempPassword:
		return "expirePassword"
	case jobs.ResetPassword:
		return "resetPassword"
	case jobs.ForgotPassword, jobs.ForgotPasswordSetNewPassword:
		return "forgotPassword"
	case jobs.ChangePassword:
		return "changePassword"
	case jobs.ChangeRecoveryQuestion:
		return "changeRecoveryQuestion"
	}
	return ""
}

// statusesFor lists the statuses Okta documents for an action; nil means the
// documentation sets no rule beyond the published link.
func statusesFor(a jobs.Action) []string {
	switch a {
	case jobs.ForgotPassword, jobs.ForgotPasswordSetNewPassword:
		return []string{"ACTIVE"}
	case jobs.ChangePassword:
		return []string{"STAGED", "ACTIVE", "PASSWORD_EXPIRED", "RECOVERY"}
	case jobs.ChangeRecoveryQuestion:
		return []string{"STAGED", "ACTIVE", "RECOVERY"}
	}
	return nil
}

// statusAdvice says, in an administrator's words, why a status blocks an action.
func statusAdvice(a jobs.Action, status string) string {
	switch status {
	case "STAGED":
		return "user is STAGED: activate the user instead"
	case "PROVISIONED":
		return "user is PROVISIONED: the user has not completed activation; resend the activation email instead"
	case "DEPROVISIONED":
		return "user is DEPROVISIONED: reactivate the user first"
	case "SUSPENDED":
		if a == jobs.ExpirePassword || a == jobs.ExpirePasswordWithTempPassword {
			return "user is SUSPENDED: expiring will not take effect until unsuspended; unsuspend the user first"
		}
		return "user is SUSPENDED: unsuspend the user first"
	case "LOCKED_OUT":
		return "user is LOCKED_OUT: unlock the user first, or use reset_password"
	case "PASSWORD_EXPIRED":
		return "user is PASSWORD_EXPIRED: the password is already expired; use reset_password or expire_password_with_temp_password"
	case "RECOVERY":
		return "user is RECOVERY: a password reset is already under way"
	}
	return fmt.Sprintf("user is %s: Okta does not allow %s in this status", status, a)
}

// dryRunVerdict decides whether the action would succeed for the user, from
// what GET /api/v1/users/{id} returned. The reason is empty when it would.
func dryRunVerdict(a jobs.Action, u *okta.User) (ok bool, reason string) {
	if a == jobs.ClearSessions {
		if u.Status == "DEPROVISIONED" {
			return false, statusAdvice(a, u.Status)
		}
		return true, ""
	}
	if want := statusesFor(a); want != nil && !slices.Contains(want, u.Status) {
		return false, statusAdvice(a, u.Status)
	}
	if !u.HasPassword {
		prov := u.ProviderType
		if prov == "" {
			prov = "another provider"
		}
		return false, fmt.Sprintf("user has no Okta password (credentials come from %s): manage the password at that identity provider", prov)
	}
	if (a == jobs.ForgotPassword || a == jobs.ForgotPasswordSetNewPassword) && !u.HasRecoveryQuestion {
		return false, "user has no recovery question: use reset_password instead"
	}
	if link := linkFor(a); link != "" && !u.Links[link] {
		if u.Status != "ACTIVE" {
			return false, statusAdvice(a, u.Status)
		}
		return false, fmt.Sprintf("Okta does not offer %s for this user: the org's policies do not allow it", link)
	}
	return true, ""
}
