package runner_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
)

// dryRunUsers: the token's owner, then one user of every status, a federated
// user and a user without a recovery question.
func dryRunUsers() []emulator.User {
	us := activeUsers(0)
	for i, st := range []string{
		emulator.StatusStaged, emulator.StatusProvisioned, emulator.StatusActive, emulator.StatusPasswordExpired,
		emulator.StatusRecovery, emulator.StatusLockedOut, emulator.StatusSuspended, emulator.StatusDeprovisioned,
	} {
		us = append(us, mkUser(i+1, st))
	}
	fed := mkUser(9, emulator.StatusActive)
	fed.Provider, fed.Password, fed.RecoveryQuestion, fed.RecoveryAnswer = emulator.ProviderFederation, "", "", ""
	noQ := mkUser(10, emulator.StatusActive)
	noQ.RecoveryQuestion, noQ.RecoveryAnswer = "", ""
	return append(us, fed, noQ)
}

// allowed is the emulator's documented table (package emulator, "Which
// statuses each operation accepts"): whether Okta would accept a for u.
func allowed(a jobs.Action, u emulator.User) bool {
	pw := u.Provider != emulator.ProviderFederation && u.Password != ""
	rq := u.RecoveryQuestion != ""
	in := func(sts ...string) bool { return slices.Contains(sts, u.Status) }
	switch a {
	case jobs.ExpirePassword, jobs.ExpirePasswordWithTempPassword:
		return pw && in("ACTIVE", "PASSWORD_EXPIRED", "RECOVERY", "LOCKED_OUT")
	case jobs.ResetPassword:
		return u.Provider != emulator.ProviderFederation && in("ACTIVE", "PASSWORD_EXPIRED", "RECOVERY", "LOCKED_OUT")
	case jobs.ForgotPassword, jobs.ForgotPasswordSetNewPassword:
		return pw && rq && in("ACTIVE")
	case jobs.ChangePassword:
		return pw && in("STAGED", "ACTIVE", "PASSWORD_EXPIRED", "RECOVERY")
	case jobs.ChangeRecoveryQuestion:
		return pw && in("STAGED", "ACTIVE", "RECOVERY")
	case jobs.ClearSessions:
		return u.Status != emulator.StatusDeprovisioned
	}
	panic("unknown action " + a)
}

func TestDryRunEveryActionEveryStatus(t *testing.T) {
	users := dryRunUsers()
	e := newEnv(t, emulator.Config{UserList: users})
	var rows []mrow
	type cell struct {
		a jobs.Action
		u emulator.User
	}
	var cells []cell
	for _, u := range users[1:] {
		for _, a := range allActions {
			row := rowFor(a, u)
			if u.LastName == "3" {
				row.user = loginOf(3) // one user by login: resolved the same way
			}
			rows = append(rows, row)
			cells = append(cells, cell{a, u})
		}
	}
	opt := baseOptions()
	opt.DryRun = true
	r := e.run(rows, opt)
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	if len(r.rows) != len(rows) {
		t.Fatalf("report has %d rows, want %d", len(r.rows), len(rows))
	}
	for k, c := range cells {
		row := r.row(t, k)
		what := fmt.Sprintf("%s for a %s %s user", c.a, c.u.Status, c.u.Provider)
		want := report.WouldFail
		if allowed(c.a, c.u) {
			want = report.WouldSucceed
		}
		if row.Outcome != want {
			t.Errorf("%s: %s, want %s", what, describe(row), want)
			continue
		}
		if (want == report.WouldFail) != (row.ErrorSummary != "") {
			t.Errorf("%s: %s: a would_fail row needs a reason, a would_succeed row none", what, describe(row))
		}
		if row.UserStatus != c.u.Status || row.UserID != c.u.ID {
			t.Errorf("%s: user_status %q user_id %q", what, row.UserStatus, row.UserID)
		}
	}
	reason := func(a jobs.Action, i int) string {
		return r.row(t, (i-1)*len(allActions)+slices.Index(allActions, a)).ErrorSummary
	}
	for _, c := range []struct {
		a    jobs.Action
		user int
		want string
	}{
		{jobs.ExpirePassword, 1, "user is STAGED: activate the user instead"},
		{jobs.ChangePassword, 9, "no Okta password"},
		{jobs.ForgotPassword, 10, "no recovery question"},
		{jobs.ClearSessions, 8, "DEPROVISIONED"},
	} {
		if got := reason(c.a, c.user); !strings.Contains(got, c.want) {
			t.Errorf("%s for user %d: reason %q, want it to say %q", c.a, c.user, got, c.want)
		}
	}
	for _, le := range e.org.Log() {
		if le.Method != "GET" {
			t.Errorf("a dry run sent %s %s", le.Method, le.Path)
		}
	}
	if n := e.prx.actionCount(); n != 0 {
		t.Errorf("a dry run sent %d action requests", n)
	}
}

// What the dry run predicts is what a real run does: one action at a time,
// on a fresh org, over users of every status.
func TestDryRunAgreesWithRealRun(t *testing.T) {
	users := dryRunUsers()
	for _, a := range allActions {
		t.Run(string(a), func(t *testing.T) {
			var rows []mrow
			for _, u := range users[1:] {
				rows = append(rows, rowFor(a, u))
			}
			dry := newEnv(t, emulator.Config{UserList: users})
			opt := baseOptions()
			opt.DryRun = true
			dr := dry.run(rows, opt)
			real := newEnv(t, emulator.Config{UserList: users})
			rr := real.run(rows, baseOptions())
			if dr.err != nil || rr.err != nil {
				t.Fatalf("dry run: %v; real run: %v", dr.err, rr.err)
			}
			for k := range rows {
				d, x := dr.row(t, k), rr.row(t, k)
				if (d.Outcome == report.WouldSucceed) != (x.Outcome == report.Succeeded) {
					t.Errorf("user %s (%s): dry run %s (%q), real run %s", users[k+1].ID, users[k+1].Status, d.Outcome, d.ErrorSummary, describe(x))
				}
			}
		})
	}
}

// A dry run writes would_succeed, would_fail or skipped for every row
// (SPEC.md "Report"), also when its lookup fails: Okta answers 404, answers
// 200 without a user, or answers for an ID that differs from the manifest's
// in case (IDs are case-sensitive); and a duplicate after resolution. A real
// run writes failed for the same rows (it looks up logins, and IDs that the
// manifest gives no login for).
func TestDryRunWritesOnlyDryRunOutcomes(t *testing.T) {
	rows := []mrow{
		0: {user: loginOf(1), action: string(jobs.ExpirePassword)},           // 200 without a user
		1: {user: uid(2), action: string(jobs.ExpirePassword)},               // 200 for uid(2) in lower case
		2: {user: "nobody@example.com", action: string(jobs.ExpirePassword)}, // 404
		3: {user: uid(3), action: string(jobs.ExpirePassword)},
		4: {user: loginOf(3), action: string(jobs.ExpirePassword)}, // the same user and action as row 3
	}
	rewrite := func(ri reqInfo, body map[string]any) {
		switch ri.UserSeg {
		case loginOf(1):
			delete(body, "id")
		case uid(2):
			body["id"] = strings.ToLower(uid(2))
		}
	}
	type want struct {
		outcome report.Outcome
		code    string
	}
	for _, c := range []struct {
		dry  bool
		want []want
	}{
		{true, []want{
			{report.WouldFail, ""}, {report.WouldFail, report.CodeLoginMismatch}, {report.WouldFail, "E0000007"},
			{report.WouldSucceed, ""}, {report.WouldFail, report.CodeDuplicateUser},
		}},
		{false, []want{
			{report.Failed, ""}, {report.Failed, report.CodeLoginMismatch}, {report.Failed, "E0000007"},
			{report.Succeeded, ""}, {report.Failed, report.CodeDuplicateUser},
		}},
	} {
		t.Run(fmt.Sprintf("dry=%v", c.dry), func(t *testing.T) {
			e := newEnv(t, emulator.Config{UserList: activeUsers(3)})
			e.prx.rewrite = rewrite
			opt := baseOptions()
			opt.DryRun = c.dry
			r := e.run(rows, opt)
			if r.err != nil {
				t.Fatalf("Run: %v", r.err)
			}
			for k, w := range c.want {
				if row := r.row(t, k); row.Outcome != w.outcome || row.ErrorCode != w.code {
					t.Errorf("row %d: %s; want %s %q", k, describe(row), w.outcome, w.code)
				}
			}
		})
	}
}

// A real run's failed row carries what the dry run would have said: the
// user's status, and Okta's refusal explained in an administrator's words.
func TestRealRunFailureCarriesTheReason(t *testing.T) {
	users := activeUsers(2)
	users[1].Status = emulator.StatusStaged
	e := newEnv(t, emulator.Config{UserList: users})
	rows := []mrow{
		{user: loginOf(1), action: string(jobs.ExpirePassword)}, // by login: looked up
		{user: uid(2), action: string(jobs.ExpirePassword)},     // active: succeeds
	}
	r := e.run(rows, baseOptions())
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	row := r.row(t, 0)
	if row.Outcome != report.Failed || row.UserStatus != emulator.StatusStaged ||
		!strings.HasPrefix(row.ErrorSummary, "user is STAGED: activate the user instead (Okta: ") {
		t.Errorf("row 0: %s user_status %q; want failed, STAGED, the dry run's reason first", describe(row), row.UserStatus)
	}
	if row := r.row(t, 1); row.Outcome != report.Succeeded {
		t.Errorf("row 1: %s", describe(row))
	}
}
