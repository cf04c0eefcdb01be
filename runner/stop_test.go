package runner_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
)

func wantStopped(t *testing.T, err error) {
	t.Helper()
	var se *runner.StopError
	if !errors.Is(err, runner.ErrStopped) || !errors.As(err, &se) {
		t.Fatalf("Run returned %v, want a *StopError wrapping ErrStopped", err)
	}
	if se.Reason == "" || se.Hint == "" {
		t.Errorf("StopError without reason or hint: %+v", se)
	}
}

// afterN returns a plan answering f to every request once n action requests
// have been answered normally.
func afterN(n int, f fault) func(ri reqInfo) fault {
	seen := 0
	tripped := false
	return func(ri reqInfo) fault {
		if tripped {
			return f
		}
		if ri.Action {
			seen++
			if seen > n {
				tripped = true
				return f
			}
		}
		return fault{}
	}
}

var unauthorized = errAnswer(401, "E0000011", "Invalid token provided")

func TestWrongTokenStopsBeforeAnything(t *testing.T) {
	e := newEnv(t, emulator.Config{UserList: activeUsers(5)})
	f := e.prepare(expireRows(jobs.ExpirePassword, 5))
	r := e.executeToken(f, baseOptions(), "not-the-token-at-all")
	wantStopped(t, r.err)
	if len(r.rows) != 0 {
		t.Errorf("report has %d rows, want none", len(r.rows))
	}
	if n := e.prx.actionCount(); n != 0 {
		t.Errorf("%d action requests sent with a rejected token", n)
	}
	if r.res.Pending != 5 {
		t.Errorf("Pending %d, want 5", r.res.Pending)
	}
}

// The token stops working mid-run: the rows recorded before stay, the row
// that got the 401 and the unsent ones stay pending.
func TestUnauthorizedMidRunStops(t *testing.T) {
	e := newEnv(t, emulator.Config{UserList: activeUsers(6)})
	e.prx.setPlan(afterN(3, unauthorized))
	opt := baseOptions()
	opt.Workers = 1
	r := e.run(expireRows(jobs.ExpirePassword, 6), opt)
	wantStopped(t, r.err)
	if len(r.rows) != 3 || r.count(report.Succeeded) != 3 {
		t.Fatalf("report has %d rows (%d succeeded), want the 3 sent before the 401", len(r.rows), r.count(report.Succeeded))
	}
	for k := range 3 {
		r.row(t, k)
	}
	if n := e.prx.actionCount(); n != 4 {
		t.Errorf("%d action requests, want 4 (3, then the one answered 401; nothing after)", n)
	}
	if r.res.Pending != 3 {
		t.Errorf("Pending %d, want 3", r.res.Pending)
	}
	if r.state.Done.Count() != 3 {
		t.Errorf("checkpoint holds %d outcomes, want 3", r.state.Done.Count())
	}
}

// A password-checking row answered 401 did not apply: it is released (a
// resume sends it again, not in_doubt), and the resume finishes the run.
func TestUnauthorizedPasswordCheckIsReleasedAndResumes(t *testing.T) {
	e := newEnv(t, emulator.Config{UserList: activeUsers(5)})
	e.prx.setPlan(afterN(2, unauthorized))
	opt := baseOptions()
	opt.Workers = 1
	f := e.prepare(expireRows(jobs.ChangePassword, 5))
	r := e.execute(f, opt)
	wantStopped(t, r.err)
	if len(r.rows) != 2 || r.count(report.Succeeded) != 2 {
		t.Fatalf("report has %d rows (%d succeeded), want 2 succeeded", len(r.rows), r.count(report.Succeeded))
	}
	tripped := lineOf(2)
	if _, open := r.state.LastAttempt[tripped]; open {
		t.Fatalf("line %d: its 401 attempt is still open in the checkpoint; a resume would settle it in_doubt", tripped)
	}
	if r.state.Attempts[tripped] != 1 {
		t.Errorf("line %d: %d attempt records, want 1 (written before the POST)", tripped, r.state.Attempts[tripped])
	}
	if r.state.Done.Has(tripped) {
		t.Errorf("line %d has an outcome; want pending", tripped)
	}

	// The token is fixed; the same command resumes.
	e.prx.setPlan(nil)
	r2 := e.execute(f, opt)
	if r2.err != nil {
		t.Fatalf("resume: %v", r2.err)
	}
	if len(r2.rows) != 5 || r2.count(report.Succeeded) != 5 {
		for _, row := range r2.rows {
			t.Logf("%s", describe(row))
		}
		t.Fatalf("after the resume the report has %d rows (%d succeeded), want 5 succeeded", len(r2.rows), r2.count(report.Succeeded))
	}
	if row := r2.byLine[tripped]; row.Attempts != 2 {
		t.Errorf("%s: want attempts 2 across both runs", describe(row))
	}
	for k := range 2 {
		if n := len(e.prx.actions(uid(k + 1))); n != 1 {
			t.Errorf("%s: %d requests over both runs, want 1 (finished rows are not sent again)", uid(k+1), n)
		}
	}
}

var noPermission = errAnswer(403, "E0000006", "You do not have permission to perform the requested action")

func TestSystemicForbiddenStops(t *testing.T) {
	e := newEnv(t, emulator.Config{UserList: activeUsers(10)})
	e.prx.setPlan(func(ri reqInfo) fault {
		if ri.Action {
			return noPermission
		}
		return fault{}
	})
	opt := baseOptions()
	opt.Workers = 1
	r := e.run(expireRows(jobs.ExpirePassword, 10), opt)
	wantStopped(t, r.err)
	if n := e.prx.actionCount(); n != 5 {
		t.Errorf("%d action requests, want 5", n)
	}
	if len(r.rows) != 4 {
		t.Fatalf("report has %d rows, want 4 (the 5th tripped the stop and stays pending)", len(r.rows))
	}
	for k := range 4 {
		if row := r.row(t, k); row.Outcome != report.Failed || row.ErrorCode != "E0000006" {
			t.Errorf("%s: want failed E0000006", describe(row))
		}
	}
	if _, ok := r.byLine[lineOf(4)]; ok {
		t.Errorf("the 5th row was recorded")
	}
	if r.res.Pending != 6 {
		t.Errorf("Pending %d, want 6", r.res.Pending)
	}
}

// Five 403s that are not all E0000006 are ordinary failures: no stop.
func TestMixedForbiddenDoesNotStop(t *testing.T) {
	e := newEnv(t, emulator.Config{UserList: activeUsers(8)})
	e.prx.setPlan(actionsPlan(func(ri reqInfo) bool { return ri.UserSeg == uid(3) },
		errAnswer(403, "E0000038", "This operation is not allowed in the user's current status."), noPermission))
	opt := baseOptions()
	opt.Workers = 1
	r := e.run(expireRows(jobs.ExpirePassword, 8), opt)
	if r.err != nil {
		t.Fatalf("Run: %v (want no stop)", r.err)
	}
	if len(r.rows) != 8 || r.count(report.Failed) != 8 {
		t.Fatalf("report has %d rows (%d failed), want 8 failed", len(r.rows), r.count(report.Failed))
	}
}

// --halt-on: feeding stops once N jobs (or P% of at least 20) ended failed or
// in_doubt; SPEC.md "Exit status": the row that tripped the stop stays
// pending (a password-checking one is released), rows on the wire finish and
// are recorded.
func TestHaltOn(t *testing.T) {
	const n = 40
	staged := activeUsers(0)
	for i := 1; i <= n; i++ {
		staged = append(staged, mkUser(i, emulator.StatusStaged))
	}
	expire := expireRows(jobs.ExpirePassword, n)
	var wrongOld []mrow // change_password with a wrong old password: 403 E0000014
	for i := 1; i <= n; i++ {
		row := rowFor(jobs.ChangePassword, mkUser(i, emulator.StatusActive))
		row.oldPassword = "Wrong-old-password-1!"
		wrongOld = append(wrongOld, row)
	}
	cases := []struct {
		name     string
		users    []emulator.User
		rows     []mrow
		code     string
		set      func(o *runner.Options)
		min, max int // failed rows recorded
	}{
		{"count 3", staged, expire, "E0000038", func(o *runner.Options) { o.HaltOn = 3 }, 2, 6},
		{"50% of at least 20", staged, expire, "E0000038", func(o *runner.Options) { o.HaltOnPct = 50 }, 19, 25},
		{"count 3, password checks", activeUsers(n), wrongOld, "E0000014", func(o *runner.Options) { o.HaltOn = 3 }, 2, 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, emulator.Config{UserList: c.users})
			opt := baseOptions()
			opt.Workers = 2
			c.set(&opt)
			r := e.run(c.rows, opt)
			wantStopped(t, r.err)
			failed := r.count(report.Failed)
			if failed < c.min || failed > c.max || len(r.rows) != failed {
				t.Fatalf("%d rows recorded (%d failed), want %d to %d, all failed", len(r.rows), failed, c.min, c.max)
			}
			for _, row := range r.rows {
				if row.ErrorCode != c.code {
					t.Errorf("%s: want %s", describe(row), c.code)
				}
			}
			if r.res.Pending != n-len(r.rows) {
				t.Errorf("Pending %d, want %d", r.res.Pending, n-len(r.rows))
			}
			// Every row sent was recorded but the one that tripped the stop.
			if sent := e.prx.actionCount(); sent != len(r.rows)+1 {
				t.Errorf("%d action requests, %d rows recorded: want exactly one sent row (the tripping one) pending", sent, len(r.rows))
			}
			if len(r.state.LastAttempt) != 0 {
				t.Errorf("open attempts after the stop: %v (the tripping row must be released)", r.state.LastAttempt)
			}
		})
	}
}

// A stop only stops feeding: requests on the wire finish and are recorded,
// so no secret the org issued is lost.
func TestStopRecordsRequestsOnTheWire(t *testing.T) {
	const n = 24
	e := newEnv(t, emulator.Config{UserList: activeUsers(n)})
	e.prx.latency = 30 * time.Millisecond
	e.prx.setPlan(func(ri reqInfo) fault {
		if ri.Action && ri.UserSeg == uid(9) {
			return unauthorized
		}
		return fault{}
	})
	opt := baseOptions()
	opt.Workers = 6
	r := e.run(expireRows(jobs.ExpirePasswordWithTempPassword, n), opt)
	wantStopped(t, r.err)
	if len(r.rows) == n {
		t.Fatalf("every row was recorded: the stop did not stop")
	}
	issued := 0
	for _, le := range e.org.Log() {
		if !le.Applied {
			continue
		}
		issued++
		var row *report.Row
		for _, x := range r.rows {
			if x.UserID == le.UserID {
				row = x
			}
		}
		if row == nil || row.Outcome != report.Succeeded || secretOf(row) != le.Secret {
			t.Errorf("%s: the org issued a temp password that the report does not hold", le.UserID)
		}
	}
	if issued < 2 || issued != len(r.rows) {
		t.Errorf("%d temp passwords issued, %d rows recorded: want them equal (and the stop to find requests on the wire)", issued, len(r.rows))
	}
	if _, ok := r.byLine[lineOf(8)]; ok {
		t.Errorf("the row answered 401 was recorded; it stays pending")
	}
}

// GET /users/me answers 403 to an SSWS token, which always has a user: not
// knowing whom to keep safe, the run stops before sending anything.
func TestUnknownTokenOwnerStopsSSWSRun(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	users := activeUsers(2)
	e.prx.setPlan(func(ri reqInfo) fault {
		if ri.Method == "GET" && strings.HasSuffix(ri.Path, "/users/me") {
			return errAnswer(403, "E0000006", "You do not have permission to perform the requested action")
		}
		return fault{}
	})
	r := e.run([]mrow{rowFor(jobs.ExpirePassword, users[0]), rowFor(jobs.ExpirePassword, users[1])}, baseOptions())
	wantStopped(t, r.err)
	if len(r.rows) != 0 || e.prx.actionCount() != 0 {
		t.Errorf("%d rows recorded, %d actions sent; want the run stopped before anything", len(r.rows), e.prx.actionCount())
	}
}

// SPEC.md "Rate limits and faults": "A 401 that persists — and any 401 with a
// static SSWS or Bearer token — stops the run (exit 3)." Here the only row's
// first attempt is dropped after applying, and its repeat gets 401.
func TestUnauthorizedAfterPossiblyAppliedAttemptStops(t *testing.T) {
	e := newEnv(t, emulator.Config{UserList: activeUsers(1)})
	e.prx.setPlan(actionsPlan(firstAttempt, fault{kind: dropAfter}, unauthorized))
	r := e.run([]mrow{rowFor(jobs.ExpirePassword, mkUser(1, emulator.StatusActive))}, baseOptions())
	if row, ok := r.byLine[lineOf(0)]; ok {
		t.Logf("recorded: %s", describe(row))
	}
	wantStopped(t, r.err)
}

// SPEC.md: systemic 403 is "the first 5 finished jobs all 403 E0000006". A
// 503 answered to an attempt that is retried does not finish its job and
// does not count: the stop comes with the 5th finished job, 4 rows failed.
func TestSystemicForbiddenAfterARetry(t *testing.T) {
	e := newEnv(t, emulator.Config{UserList: activeUsers(10)})
	e.prx.setPlan(actionsPlan(func(ri reqInfo) bool { return ri.UserSeg == uid(1) && ri.N == 1 },
		errAnswer(503, "E0000009", "Service Unavailable"), noPermission))
	opt := baseOptions()
	opt.Workers = 1
	r := e.run(expireRows(jobs.ExpirePassword, 10), opt)
	if len(r.rows) != 4 || r.count(report.Failed) != 4 {
		t.Errorf("report has %d rows (%d failed), want 4 failed: the 5th finished job trips the stop", len(r.rows), r.count(report.Failed))
	}
	wantStopped(t, r.err)
}

// Okta asks for a pause longer than --max-wait (a 429 with Retry-After two
// hours away): the run stops with exit 3's error naming the date and time,
// the rows sent before stay recorded, the rest stay pending, and the same
// run resumes later. Within --max-wait the same pause is waited out.
func TestMaxWaitStops(t *testing.T) {
	e := newEnv(t, emulator.Config{UserList: activeUsers(6)})
	e.prx.setPlan(afterN(2, fault{kind: answer, status: 429, code: "E0000047", summary: "API call exceeded rate limit due to too many requests.", retryAfter: 2 * time.Hour}))
	opt := baseOptions()
	opt.Workers = 1
	r := e.run(expireRows(jobs.ExpirePassword, 6), opt)
	wantStopped(t, r.err)
	var se *runner.StopError
	if !errors.As(r.err, &se) || !strings.Contains(se.Reason, "longer than --max-wait 15m0s") {
		t.Fatalf("stop %v, want one naming --max-wait", r.err)
	}
	until := time.Now().Add(2 * time.Hour).Local().Format("2006-01-02 15:04")
	if !strings.Contains(se.Reason, "until "+until[:13]) { // the date and the hour: the minute may turn
		t.Errorf("stop reason %q does not name the date and time Okta asked for (~%s)", se.Reason, until)
	}
	if r.count(report.Succeeded) != 2 || r.res.Pending != 4 {
		t.Errorf("%d succeeded, %d pending; want the 2 sent before the 429, 4 pending", r.count(report.Succeeded), r.res.Pending)
	}
	if n := e.prx.actionCount(); n != 3 {
		t.Errorf("%d action requests, want 3 (2, then the one answered 429; nothing after)", n)
	}
}

// A pause shorter than --max-wait is waited out: the same 429 with a
// Retry-After of 1 s and a --max-wait of 1 minute finishes the run.
func TestMaxWaitAllowsShortPauses(t *testing.T) {
	e := newEnv(t, emulator.Config{UserList: activeUsers(3)})
	e.prx.setPlan(actionsPlan(func(ri reqInfo) bool { return ri.Seq == 2 }, fault{kind: answer, status: 429, code: "E0000047", retryAfter: time.Second}, fault{}))
	opt := baseOptions()
	opt.Workers = 1
	opt.MaxWait = time.Minute
	r := e.run(expireRows(jobs.ExpirePassword, 3), opt)
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	if r.count(report.Succeeded) != 3 {
		t.Errorf("%d succeeded, want 3", r.count(report.Succeeded))
	}
}
