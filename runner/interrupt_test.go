package runner_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
)

// The first Ctrl-C ends the feeding: requests on the wire finish and are
// recorded, the rest stay pending, and Run returns the feed's cause.
func TestFeedStopRecordsWhatWasSent(t *testing.T) {
	const n = 24
	e := newEnv(t, emulator.Config{UserList: activeUsers(n)})
	e.prx.latency = 20 * time.Millisecond
	base, cancelBase := context.WithTimeout(context.Background(), runTimeout)
	defer cancelBase()
	feed, ctrlC := context.WithCancel(base)
	defer ctrlC()
	seen := 0
	e.prx.setPlan(func(ri reqInfo) fault {
		if ri.Action {
			if seen++; seen == 6 {
				ctrlC()
			}
		}
		return fault{}
	})
	opt := baseOptions()
	opt.Workers = 4
	f := e.prepare(expireRows(jobs.ExpirePasswordWithTempPassword, n))
	r := e.executeCtx(f, opt, e.token, feed, base)
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Run returned %v, want the feed's cause (context.Canceled)", r.err)
	}
	applied := 0
	for _, le := range e.org.Log() {
		if !le.Applied {
			continue
		}
		applied++
		row := findUser(r.rows, le.UserID)
		if row == nil || row.Outcome != report.Succeeded || secretOf(row) != le.Secret {
			t.Errorf("%s: the org issued a temp password the report does not hold", le.UserID)
		}
	}
	if applied != len(r.rows) || applied < 6 || applied == n {
		t.Errorf("%d applied, %d recorded, of %d rows: want every sent row recorded and some left pending", applied, len(r.rows), n)
	}
	if r.res.Pending != n-len(r.rows) {
		t.Errorf("Pending %d, want %d", r.res.Pending, n-len(r.rows))
	}
}

func findUser(rows []*report.Row, userID string) *report.Row {
	for _, r := range rows {
		if r.UserID == userID {
			return r
		}
	}
	return nil
}

// The second Ctrl-C abandons the requests on the wire: their password-checking
// rows keep an open attempt in the checkpoint, and the resume settles them
// in_doubt without sending them again.
func TestHardStopThenResumeSettlesInDoubt(t *testing.T) {
	const n = 8
	e := newEnv(t, emulator.Config{UserList: activeUsers(n)})
	base, cancelBase := context.WithTimeout(context.Background(), runTimeout)
	defer cancelBase()
	hard, second := context.WithCancel(base)
	defer second()
	feed, first := context.WithCancel(hard)
	defer first()
	// Users 2 and 3 answer only after a long while; when the second of them
	// arrives, both Ctrl-Cs come, and whatever is on the wire then is
	// abandoned.
	slowSeen := 0
	abandoned := map[string]bool{}
	e.prx.setPlan(func(ri reqInfo) fault {
		if ri.Action && (ri.UserSeg == uid(2) || ri.UserSeg == uid(3)) && ri.N == 1 {
			if slowSeen++; slowSeen == 2 {
				for seg, k := range e.prx.inflight { // plan runs under the proxy's lock
					if k > 0 {
						abandoned[seg] = true
					}
				}
				first()
				second()
			}
			return fault{kind: slow, delay: 300 * time.Millisecond}
		}
		return fault{}
	})
	opt := baseOptions()
	opt.Workers = 2
	f := e.prepare(expireRows(jobs.ChangePassword, n))
	r := e.executeCtx(f, opt, e.token, feed, hard)
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Run returned %v, want the hard context's cause", r.err)
	}
	if len(abandoned) == 0 {
		t.Fatalf("nothing was on the wire at the second Ctrl-C")
	}
	for k := range n {
		row, recorded := r.byLine[lineOf(k)]
		_, open := r.state.LastAttempt[lineOf(k)]
		if abandoned[uid(k+1)] {
			if recorded {
				t.Errorf("abandoned row recorded: %s", describe(row))
			}
			if !open {
				t.Errorf("line %d: no open attempt in the checkpoint after abandoning it on the wire", lineOf(k))
			}
		} else if open && recorded {
			t.Errorf("line %d: recorded, yet its attempt is still open", lineOf(k))
		}
	}

	e.prx.setPlan(nil)
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	r2 := e.executeCtx(f, opt, e.token, ctx, ctx)
	if r2.err != nil {
		t.Fatalf("resume: %v", r2.err)
	}
	if len(r2.rows) != n {
		for _, row := range r2.rows {
			t.Logf("%s", describe(row))
		}
		t.Logf("first run: %d rows, pending %d, state %+v; resume: pending %d, counts %v", len(r.rows), r.res.Pending, r.state.LastAttempt, r2.res.Pending, r2.res.Counts)
		t.Fatalf("after the resume the report has %d rows, want %d", len(r2.rows), n)
	}
	for k := range n {
		row := r2.row(t, k)
		want := report.Succeeded
		if _, open := r.state.LastAttempt[lineOf(k)]; open {
			want = report.InDoubt
		}
		if row.Outcome != want {
			t.Errorf("%s: want %s", describe(row), want)
		}
		// A row abandoned before its request left may have sent nothing.
		if got := len(e.prx.actions(uid(k + 1))); got != 1 && (got != 0 || want != report.InDoubt) {
			t.Errorf("%s: %d requests over both runs, want 1", uid(k+1), got)
		}
	}
}

// cancelOnClose calls cancel once the body it wraps is closed: the answer
// has been read in full.
type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (c *cancelOnClose) Close() error { err := c.ReadCloser.Close(); c.cancel(); return err }

// rtFunc is a RoundTripper written as a function.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The 2nd Ctrl-C lands just after a change_password 200 was read in full:
// an answer that arrived is decided and recorded, and the resume does not
// send change_password again.
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
