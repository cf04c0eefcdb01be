package runner_test

// Regressions for the findings of a review of the runner against SPEC.md.

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
)

type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (c *cancelOnClose) Close() error { err := c.ReadCloser.Close(); c.cancel(); return err }

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// 2nd Ctrl-C lands just after a change_password 200 was read in full:
// the row is Released and the resume sends change_password again.
func TestSecondInterruptAfterAnswerRecordsIt(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	feed, stopFeed := context.WithCancel(context.Background())
	hard, stopHard := context.WithCancel(context.Background())
	defer stopFeed()
	defer stopHard()
	e.roundTripper = func(next http.RoundTripper) http.RoundTripper {
		return rtFunc(func(r *http.Request) (*http.Response, error) {
			resp, err := next.RoundTrip(r)
			if err == nil && r.Method == "POST" && strings.Contains(r.URL.Path, "change_password") {
				resp.Body = &cancelOnClose{resp.Body, func() { stopFeed(); stopHard() }}
			}
			return resp, err
		})
	}
	users := activeUsers(2)
	f := e.prepare([]mrow{rowFor(jobs.ChangePassword, users[1])})
	r := e.executeCtx(f, baseOptions(), e.token, feed, hard)
	t.Logf("run1 err=%v rows=%d lastAttempt=%v", r.err, len(r.rows), r.state.LastAttempt)
	ctx := context.Background()
	r2 := e.executeCtx(f, baseOptions(), e.token, ctx, ctx)
	for _, row := range r2.rows {
		t.Logf("after resume: %s", describe(row))
	}
	n := 0
	for _, l := range e.org.Log() {
		if l.Op == "changePassword" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("change_password sent %d times, want exactly 1", n)
	}
	if len(r.rows) != 1 {
		t.Fatalf("the interrupted run recorded %d rows, want its answered row", len(r.rows))
	}
	if len(r2.rows) != 1 || r2.rows[0].Outcome != report.Succeeded {
		t.Fatalf("the report after the resume has %d rows (%v), want the one row succeeded", len(r2.rows), r2.rows)
	}
}

// A repeatable action's attempt applied with no answer, then Ctrl-C; the
// resume's repeat gets a 4xx and ends "failed", not in_doubt.
func TestEarlierAttemptAppliedAcrossRuns(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	users := activeUsers(2)
	f := e.prepare([]mrow{rowFor(jobs.ResetPassword, users[1])})
	feed, stopFeed := context.WithCancel(context.Background())
	defer stopFeed()
	e.prx.setPlan(func(ri reqInfo) fault {
		if ri.Action && ri.N == 1 {
			go func() { time.Sleep(200 * time.Millisecond); stopFeed() }()
			return fault{kind: dropAfter}
		}
		if ri.Action {
			return errAnswer(403, "E0000006", "You do not have permission to perform the requested action")
		}
		return fault{}
	})
	opt := baseOptions()
	opt.BackoffMin, opt.BackoffMax = 5*time.Second, 5*time.Second
	r1 := e.executeCtx(f, opt, e.token, feed, context.Background())
	t.Logf("run1 err=%v rows=%d lastAttempt=%v", r1.err, len(r1.rows), r1.state.LastAttempt)
	if len(r1.rows) != 0 {
		t.Fatalf("the first run recorded %d rows, want the row pending", len(r1.rows))
	}
	r2 := e.execute(f, baseOptions())
	if len(r2.rows) != 1 {
		t.Fatalf("resume recorded %d rows, want 1", len(r2.rows))
	}
	row := r2.rows[0]
	if row.Outcome != report.InDoubt || !strings.Contains(row.ErrorSummary, "may have applied") {
		t.Errorf("resume's repeat got a 4xx after an attempt that may have applied: %s, want in_doubt", describe(row))
	}
}

// GET /users/me answers 403 to an SSWS token: the token's own user is expired.
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
