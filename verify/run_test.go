package verify

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner/pace"
)

// testClock is this host's clock in a test: the real one, moved forward
// by shift (the test's way to let time pass).
type testClock struct{ shift atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.shift.Load())) }
func (c *testClock) advance(d time.Duration) { c.shift.Add(int64(d)) }
func (c *testClock) okta(skew time.Duration) func() time.Time {
	return func() time.Time { return c.now().Add(skew) }
}

// attempted is one request the test sent as a run would, and what the
// emulator did with it.
type attempted struct {
	row     *report.Row
	userID  string
	op      string
	applied bool
}

// sendAs sends one request of action for u, as the runner would (one
// attempt, its start and end on this host's clock), and returns the
// report row it would write.
func sendAs(ctx context.Context, t *testing.T, c *okta.Client, clk *testClock, line int, a jobs.Action, u emulator.User) *report.Row {
	t.Helper()
	no := false
	r := &report.Row{Line: line, User: u.Login, UserID: u.ID, Action: string(a), Attempts: 1,
		StartedAt: clk.now().Truncate(time.Millisecond)} // the report keeps milliseconds
	var err error
	switch a {
	case jobs.ExpirePassword:
		_, err = c.ExpirePassword(ctx, u.ID, okta.CallOptions{})
	case jobs.ExpirePasswordWithTempPassword:
		_, err = c.ExpirePasswordWithTempPassword(ctx, u.ID, nil, okta.CallOptions{})
	case jobs.ResetPassword:
		_, err = c.ResetPassword(ctx, u.ID, false, nil, okta.CallOptions{})
	case jobs.ForgotPassword:
		_, err = c.ForgotPassword(ctx, u.ID, &no, okta.CallOptions{})
	case jobs.ForgotPasswordSetNewPassword:
		_, err = c.ForgotPasswordSetNewPassword(ctx, u.ID, secret.New("Fp-New-Pw-1!"+u.ID[10:]), secret.New(u.RecoveryAnswer), nil, okta.CallOptions{})
	case jobs.ChangePassword:
		_, err = c.ChangePassword(ctx, u.ID, secret.New(u.Password), secret.New("Cp-New-Pw-1!"+u.ID[10:]), nil, nil, okta.CallOptions{})
	case jobs.ChangeRecoveryQuestion:
		_, err = c.ChangeRecoveryQuestion(ctx, u.ID, secret.New(u.Password), "Which street did you grow up on?", secret.New("elm-"+u.ID[10:]), okta.CallOptions{})
	case jobs.ClearSessions:
		_, err = c.ClearSessions(ctx, u.ID, true, okta.CallOptions{})
	}
	r.FinishedAt = clk.now().Truncate(time.Millisecond)
	var ae *okta.APIError
	var ne *okta.NetError
	switch {
	case err == nil:
		r.Outcome, r.HTTPStatus = report.Succeeded, 200
	case errors.As(err, &ae):
		r.Outcome, r.HTTPStatus, r.ErrorCode = report.Failed, ae.HTTPStatus, ae.Code
		if ae.HTTPStatus != 503 && !a.ChecksPassword() {
			break
		}
		if ae.HTTPStatus != 503 {
			r.Outcome = report.InDoubt
		}
	case errors.As(err, &ne):
		r.Outcome, r.ErrorCode = report.InDoubt, report.CodeNetwork
	default:
		t.Fatalf("line %d: %v", line, err)
	}
	return r
}

var allActions = []jobs.Action{jobs.ChangePassword, jobs.ChangeRecoveryQuestion, jobs.ForgotPasswordSetNewPassword,
	jobs.ExpirePassword, jobs.ChangePassword, jobs.ExpirePasswordWithTempPassword, jobs.ChangeRecoveryQuestion,
	jobs.ResetPassword, jobs.ForgotPasswordSetNewPassword, jobs.ForgotPassword, jobs.ClearSessions}

// Requests with dropped-after-apply and 5xx faults, then verify twice:
// before the System Log shows the events and --settle-after passed, and
// after. No verdict ever contradicts what the emulator applied; once the
// delay has passed at least 90% of the password-check rows are settled;
// verify sends only GETs, paced on the System Log's small bucket.
func TestRunAgainstEmulator(t *testing.T) {
	clk := &testClock{}
	const skew = -2700 * time.Millisecond // Okta's clock is behind this host's
	var users []emulator.User
	for _, u := range emulator.GenerateUsers(9, 400) {
		if u.Status == emulator.StatusActive && u.Provider == emulator.ProviderOkta && u.RecoveryQuestion != "" && u.Login != "admin@example.com" {
			users = append(users, u)
		}
	}
	users = users[:220]
	org := emulator.New(emulator.Config{Seed: 9, UserList: append([]emulator.User{emulator.GenerateUsers(9, 1)[0]}, users...),
		Now: clk.okta(skew), DropRate: 0.3, Fail5xxRate: 0.3, LogDelay: 3 * time.Minute, LogLimit: 4, Window: time.Second})
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	t.Cleanup(org.Close)
	c, err := okta.New(okta.Config{OrgURL: srv.URL, Token: secret.New(org.Token()), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var sent []attempted
	p := NewPlan()
	for i, u := range users {
		a := allActions[i%len(allActions)]
		r := sendAs(ctx, t, c, clk, i+2, a, u)
		sent = append(sent, attempted{row: r, userID: u.ID, op: string(a)})
		p.AddTarget(r)
		var sendEmail *bool
		if a == jobs.ResetPassword || a == jobs.ForgotPassword {
			sendEmail = new(bool)
		}
		p.SetManifestRow(r.Line, sendEmail, "Which street did you grow up on?")
	}
	for _, a := range sent {
		p.AddOther(a.row)
	}
	runEnd := len(org.Log())
	applied := map[string]bool{} // user ID: a credential request applied
	for _, e := range org.Log() {
		if e.Applied {
			applied[e.UserID] = true
		}
	}
	targets := p.Targets()
	if len(targets) < 60 {
		t.Fatalf("only %d rows need a verdict: the faults did not bite", len(targets))
	}

	verifyOnce := func(name string) *Result {
		res, err := Run(ctx, Options{Client: c, Pacer: pace.New(pace.Config{Rate: 0, MaxShare: 50, Workers: 1}),
			Now: clk.now, SettleAfter: DefaultSettleAfter}, p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(res.Decisions) != len(targets) {
			t.Fatalf("%s: %d decisions for %d targets", name, len(res.Decisions), len(targets))
		}
		for i, d := range res.Decisions {
			tg := targets[i]
			switch {
			case d.Verdict == Applied && !applied[tg.UserID]:
				t.Errorf("%s: line %d (%s) applied, but the emulator applied nothing for %s: %s", name, d.Line, tg.Action, tg.UserID, d.Evidence)
			case d.Verdict == NotApplied && applied[tg.UserID]:
				t.Errorf("%s: line %d (%s) not_applied, but the emulator applied it: %s", name, d.Line, tg.Action, d.Evidence)
			}
		}
		return res
	}
	settledShare := func(res *Result) (settled, all int) {
		for i, d := range res.Decisions {
			if targets[i].Action.ChecksPassword() {
				all++
				if d.Verdict != Unproven {
					settled++
				}
			}
		}
		return settled, all
	}

	// At once: the System Log shows nothing yet and --settle-after has not
	// passed. What is not proven applied is unproven, saying when to retry.
	res := verifyOnce("at once")
	for _, d := range res.Decisions {
		if d.Verdict == NotApplied {
			t.Errorf("line %d not_applied before --settle-after: %s", d.Line, d.Evidence)
		}
	}
	early := countVerdicts(res)
	if !res.Offset.Known() || res.Offset.Lo > skew || res.Offset.Hi <= skew {
		t.Errorf("offset %+v does not hold the emulator's %v", res.Offset, skew)
	}

	// Eleven minutes later the log has caught up.
	clk.advance(11 * time.Minute)
	res = verifyOnce("after the delay")
	late := countVerdicts(res)
	t.Logf("verdicts at once %v, after the delay %v", early, late)
	if late[Applied] < 10 || late[NotApplied] < 10 || early[Unproven] < late[NotApplied] {
		t.Errorf("verdicts at once %v, after the delay %v: want both verdicts, and every not_applied unproven at first", early, late)
	}
	s, all := settledShare(res)
	t.Logf("password-check rows settled: %d of %d; targets %d; %d GETs in %d log queries; %s", s, all, len(targets), res.Requests, res.Queries, res.Offset)
	if all == 0 || s*10 < all*9 {
		t.Errorf("settled %d of %d password-check rows, want at least 90%%", s, all)
	}
	for i, d := range res.Decisions {
		if targets[i].Action != jobs.ForgotPassword && d.Verdict == Unproven {
			t.Logf("unproven line %d (%s): %s", d.Line, targets[i].Action, d.Evidence)
		}
	}

	// Only GETs since the run; the System Log's 429s were waited out.
	for _, e := range org.Log()[runEnd:] {
		if e.Method != http.MethodGet {
			t.Errorf("verify sent %s %s", e.Method, e.Path)
		}
	}
	if st := org.Stats(); st.MaxShare[emulator.BucketLogs] > 0.5 {
		t.Errorf("the System Log's windows reached %.0f%% of their limit, want at most half", 100*st.MaxShare[emulator.BucketLogs])
	}
}

func countVerdicts(res *Result) map[Verdict]int {
	n := map[Verdict]int{}
	for _, d := range res.Decisions {
		n[d.Verdict]++
	}
	return n
}
