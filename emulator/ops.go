package emulator

import (
	"net/http"
	"strings"
	"time"
)

// result is what an operation answers.
type result struct {
	status int
	body   any // nil: no body
	err    *apiError
	links  []string // Link header values (listings)
}

// allowed reports whether op may run for u, by the table in the package
// documentation. The caller holds o.mu.
func allowed(op string, u *userState) bool {
	okta := u.Provider == ProviderOkta
	pw := okta && u.Password != ""
	rq := okta && u.RecoveryQuestion != ""
	in := func(statuses ...string) bool {
		for _, s := range statuses {
			if u.Status == s {
				return true
			}
		}
		return false
	}
	switch op {
	case OpExpirePassword, OpExpirePasswordWithTempPassword:
		return pw && in(StatusActive, StatusPasswordExpired, StatusRecovery, StatusLockedOut)
	case OpResetPassword:
		return okta && in(StatusActive, StatusPasswordExpired, StatusRecovery, StatusLockedOut)
	case OpForgotPassword, OpForgotPasswordSetNewPassword:
		return pw && rq && in(StatusActive)
	case OpChangePassword:
		return pw && in(StatusStaged, StatusActive, StatusPasswordExpired, StatusRecovery)
	case OpChangeRecoveryQuestion:
		return pw && in(StatusStaged, StatusActive, StatusRecovery)
	case OpRevokeUserSessions:
		return u.Status != StatusDeprovisioned
	case OpGetUser, OpGetMe:
		return true
	}
	return false
}

type passwordValue struct {
	Value *string `json:"value"`
}

type recoveryQuestionValue struct {
	Question *string `json:"question"`
	Answer   *string `json:"answer"`
}

type credentialsRequest struct {
	Password         *passwordValue         `json:"password"`
	RecoveryQuestion *recoveryQuestionValue `json:"recovery_question"`
}

type changePasswordRequest struct {
	OldPassword    *passwordValue `json:"oldPassword"`
	NewPassword    *passwordValue `json:"newPassword"`
	RevokeSessions bool           `json:"revokeSessions"`
}

func present(s *string) bool { return s != nil && *s != "" }

// params holds what was read from the query and body before the lock.
type params struct {
	sendEmail, revokeSessions, strict, oauthTokens bool
	creds                                          credentialsRequest
	change                                         changePasswordRequest
}

func (x *exchange) readParams(op string) (params, *apiError) {
	var p params
	var ae *apiError
	q := x.r.URL.Query()
	switch op {
	case OpExpirePasswordWithTempPassword:
		p.revokeSessions, ae = boolParam(q, "revokeSessions", false, false)
	case OpResetPassword:
		if p.sendEmail, ae = boolParam(q, "sendEmail", false, true); ae == nil {
			p.revokeSessions, ae = boolParam(q, "revokeSessions", false, false)
		}
	case OpForgotPassword:
		p.sendEmail, ae = boolParam(q, "sendEmail", true, false)
	case OpForgotPasswordSetNewPassword:
		if p.sendEmail, ae = boolParam(q, "sendEmail", true, false); ae != nil {
			return p, ae
		}
		if ae = readBody(x.r, &p.creds); ae != nil {
			return p, ae
		}
		switch {
		case p.creds.Password == nil || !present(p.creds.Password.Value):
			ae = errValidation("password", "The field cannot be left blank.")
		case p.creds.RecoveryQuestion == nil || !present(p.creds.RecoveryQuestion.Answer):
			ae = errValidation("recovery_question.answer", "The field cannot be left blank.")
		}
	case OpChangePassword:
		if p.strict, ae = boolParam(q, "strict", false, false); ae != nil {
			return p, ae
		}
		if ae = readBody(x.r, &p.change); ae != nil {
			return p, ae
		}
		switch {
		case p.change.OldPassword == nil || !present(p.change.OldPassword.Value):
			ae = errValidation("oldPassword", "The field cannot be left blank.")
		case p.change.NewPassword == nil || !present(p.change.NewPassword.Value):
			ae = errValidation("newPassword", "The field cannot be left blank.")
		}
		p.revokeSessions = p.change.RevokeSessions
	case OpChangeRecoveryQuestion:
		if ae = readBody(x.r, &p.creds); ae != nil {
			return p, ae
		}
		rq := p.creds.RecoveryQuestion
		switch {
		case p.creds.Password == nil || !present(p.creds.Password.Value):
			ae = errValidation("password", "The field cannot be left blank.")
		case rq == nil || !present(rq.Question):
			ae = errValidation("recovery_question.question", "The field cannot be left blank.")
		case !present(rq.Answer):
			ae = errValidation("recovery_question.answer", "The field cannot be left blank.")
		}
	case OpRevokeUserSessions:
		p.oauthTokens, ae = boolParam(q, "oauthTokens", false, false)
	}
	return p, ae
}

// handle runs an admitted request's operation.
func (x *exchange) handle(rt route) result {
	switch rt.op {
	case OpListUsers:
		return x.listUsers()
	case OpListGroups:
		return x.listGroups()
	case OpGetGroup:
		return x.getGroup(rt.ref)
	case OpListGroupUsers:
		return x.listGroupUsers(rt.ref)
	case OpListApplicationUsers:
		return x.listAppUsers(rt.ref)
	case OpListLogEvents:
		return x.listLogEvents()
	}
	p, ae := x.readParams(rt.op)
	o := x.o
	o.mu.Lock()
	defer o.mu.Unlock()
	if ae != nil {
		if u := o.resolve(rt.ref); u != nil {
			x.e.UserID = u.ID // logged, though the request is refused before the lookup
		}
		return result{err: ae}
	}
	var u *userState
	if rt.op == OpGetMe {
		if len(o.users) > 0 && !x.oauth {
			u = o.users[0]
		}
	} else {
		u = o.resolve(rt.ref)
	}
	if u == nil {
		ref := rt.ref
		if rt.op == OpGetMe {
			ref = "me"
		}
		return result{err: errNotFound(ref)}
	}
	x.e.UserID = u.ID
	if !allowed(rt.op, u) {
		return result{err: errStatus()}
	}
	now := x.now.UTC().Truncate(time.Millisecond) // Okta's timestamps carry milliseconds
	setStatus := func(s string) {
		if u.Status != s {
			u.Status = s
			u.statusChanged = now
		}
	}
	setPassword := func(pw string) {
		u.Password = pw
		u.passwordChanged = now
		u.resetToken = ""
	}
	applied := func() {
		x.e.Applied = true
		if rt.op != OpForgotPassword && rt.op != OpRevokeUserSessions {
			u.lastUpdated = now // the user object changed (status or credentials)
		}
		if p.revokeSessions {
			u.sessionsRevoked++
			x.e.RevokedSessions = true
		}
		if et := eventTypes[rt.op]; et != "" {
			x.publish(et, "SUCCESS", "", u)
		}
	}
	// refused: a credential check failed; the operations that publish an
	// event publish it with outcome FAILURE.
	refused := func(cause string) result {
		if et := eventTypes[rt.op]; et != "" {
			x.publish(et, "FAILURE", cause, u)
		}
		return result{err: errCredentials(cause)}
	}
	issueLink := func() result {
		token := randomString(o.secrets, 20, alnum)
		link := x.scheme() + "://" + x.r.Host + "/signin/reset-password/" + token
		u.resetToken = token
		u.lastSecret = link
		if p.sendEmail {
			u.emails++
			x.e.Emailed = true
			return result{status: http.StatusOK, body: struct{}{}}
		}
		x.e.Secret = link
		return result{status: http.StatusOK, body: map[string]string{"resetPasswordUrl": link}}
	}

	switch rt.op {
	case OpGetUser, OpGetMe:
		return result{status: http.StatusOK, body: x.userBody(u)}
	case OpExpirePassword:
		setStatus(StatusPasswordExpired)
		applied()
		return result{status: http.StatusOK, body: x.userBody(u)}
	case OpExpirePasswordWithTempPassword:
		temp := newTempPassword(o)
		setPassword(temp)
		setStatus(StatusPasswordExpired)
		u.lastSecret = temp
		x.e.Secret = temp
		applied()
		return result{status: http.StatusOK, body: map[string]string{"tempPassword": temp}}
	case OpResetPassword:
		setStatus(StatusRecovery)
		applied()
		return issueLink()
	case OpForgotPassword:
		applied()
		return issueLink()
	case OpForgotPasswordSetNewPassword:
		if !strings.EqualFold(strings.TrimSpace(*p.creds.RecoveryQuestion.Answer), u.RecoveryAnswer) {
			return refused("The recovery question answer did not match our records.")
		}
		setPassword(*p.creds.Password.Value)
		setStatus(StatusActive)
		applied()
		return result{status: http.StatusOK, body: credentialsBody(u)}
	case OpChangePassword:
		oldPw, newPw := *p.change.OldPassword.Value, *p.change.NewPassword.Value
		if oldPw != u.Password {
			return refused("Old Password is not correct")
		}
		if p.strict {
			if newPw == oldPw {
				return refused("Password has been used too recently")
			}
			if len(newPw) < 8 {
				return refused("Password requirements were not met. Password requirements: at least 8 characters.")
			}
		}
		setPassword(newPw)
		if u.Status == StatusRecovery || u.Status == StatusPasswordExpired {
			setStatus(StatusActive)
		}
		applied()
		return result{status: http.StatusOK, body: credentialsBody(u)}
	case OpChangeRecoveryQuestion:
		if *p.creds.Password.Value != u.Password {
			return refused("Password is not correct")
		}
		u.RecoveryQuestion = *p.creds.RecoveryQuestion.Question
		u.RecoveryAnswer = *p.creds.RecoveryQuestion.Answer
		applied()
		return result{status: http.StatusOK, body: credentialsBody(u)}
	case OpRevokeUserSessions:
		p.revokeSessions = true
		applied()
		return result{status: http.StatusNoContent}
	}
	return result{err: errNotFound(rt.ref)}
}

// newTempPassword draws a 12-character password: letters, digits, one symbol.
// The caller holds o.mu.
func newTempPassword(o *Org) string {
	b := []byte(randomString(o.secrets, 9, letters) + randomString(o.secrets, 2, digits) + randomString(o.secrets, 1, symbols))
	o.secrets.Shuffle(len(b), func(i, j int) { b[i], b[j] = b[j], b[i] })
	return string(b)
}

func (x *exchange) scheme() string {
	if x.r.TLS != nil {
		return "https"
	}
	return "http"
}
