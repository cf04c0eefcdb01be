// Regressions: bugs found by the loopback tests, fixed in runner.go.

package runner_test

import (
	"testing"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
)

// SPEC.md "Rate limits and faults": "A 401 that persists — and any 401 with a
// static SSWS or Bearer token — stops the run (exit 3)." Here the only row's
// first attempt is dropped after applying, and its repeat gets 401.
func TestUnauthorizedAfterPossiblyAppliedAttemptStops(t *testing.T) {
	e := newEnv(t, emulator.Config{UserList: activeUsers(1)})
	e.prx.setPlan(func(ri reqInfo) fault {
		switch {
		case !ri.Action:
			return fault{}
		case ri.N == 1:
			return fault{kind: dropAfter}
		default:
			return unauthorized
		}
	})
	r := e.run([]mrow{rowFor(jobs.ExpirePassword, mkUser(1, emulator.StatusActive))}, baseOptions())
	if row, ok := r.byLine[lineOf(0)]; ok {
		t.Logf("recorded: %s", describe(row))
	}
	wantStopped(t, r.err)
}

// SPEC.md: systemic 403 is "the first 5 finished jobs all 403 E0000006". A
// 503 answered to a retried attempt does not finish a job, yet it counts.
func TestSystemicForbiddenAfterARetry(t *testing.T) {
	e := newEnv(t, emulator.Config{UserList: activeUsers(10)})
	e.prx.setPlan(func(ri reqInfo) fault {
		switch {
		case !ri.Action:
			return fault{}
		case ri.UserSeg == uid(1) && ri.N == 1:
			return errAnswer(503, "E0000009", "Service Unavailable")
		default:
			return noPermission
		}
	})
	opt := baseOptions()
	opt.Workers = 1
	r := e.run(expireRows(jobs.ExpirePassword, 10), opt)
	if len(r.rows) != 4 || r.count(report.Failed) != 4 {
		t.Errorf("report has %d rows (%d failed), want 4 failed: the 5th finished job trips the stop", len(r.rows), r.count(report.Failed))
	}
	wantStopped(t, r.err)
}

// SPEC.md "Users": users on --exclude "are never touched". When an excluded
// login cannot be resolved (here every GET of it answers 503 until the
// retries run out), the runner goes on without knowing its ID, and a row
// naming that user by ID is sent.
func TestUnresolvedExcludeTouchesUser(t *testing.T) {
	e := newEnv(t, emulator.Config{UserList: activeUsers(3)})
	e.prx.setPlan(func(ri reqInfo) fault {
		if ri.Method == "GET" && ri.UserSeg == loginOf(3) {
			return errAnswer(503, "E0000009", "Service Unavailable")
		}
		return fault{}
	})
	opt := baseOptions()
	opt.MaxRetries = 1
	opt.Exclude = []string{loginOf(3)}
	r := e.run(expireRows(jobs.ExpirePassword, 3), opt)
	if n := len(e.prx.actions(uid(3))); n != 0 {
		t.Errorf("the excluded user got %d action requests (run error %v)", n, r.err)
	}
	if row, ok := r.byLine[lineOf(2)]; ok && row.Outcome != report.Skipped {
		t.Errorf("%s: want skipped, or the run refused", describe(row))
	}
}
