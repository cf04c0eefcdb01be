package runner_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

// gatedJournal is a real checkpoint whose Outcomes wait until gate is
// closed: until then nothing becomes durable.
type gatedJournal struct {
	*checkpoint.Journal
	gate    chan struct{}
	durable atomic.Int64 // rows whose outcome is durable
}

func (g *gatedJournal) Outcomes(outs []checkpoint.Outcome) error {
	<-g.gate
	err := g.Journal.Outcomes(outs)
	if err == nil {
		g.durable.Add(int64(len(outs)))
	}
	return err
}

// undurable watches, at every credential request the org receives (a POST,
// or clear_sessions' DELETE), how many rows were sent and are not yet
// durable.
type undurable struct {
	j     *gatedJournal
	mu    sync.Mutex
	posts int64
	most  int64 // the highest posts − durable seen at a POST's arrival
}

func (u *undurable) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v1/users/") {
			u.mu.Lock()
			u.posts++
			u.most = max(u.most, u.posts-u.j.durable.Load())
			u.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

func (u *undurable) sent() int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.posts
}

// slotRun starts a run of 40 rows of action with 4 workers against a
// journal held shut, and returns what watches it, a function that opens the
// journal and waits for the run's end.
func slotRun(t *testing.T, action jobs.Action) (*undurable, func() *runner.Result) {
	t.Helper()
	const workers = 4
	dir := t.TempDir()
	g := &gatedJournal{gate: make(chan struct{})}
	u := &undurable{j: g}
	lb := newLoopbackVia(t, emulator.Config{UserList: activeUsers(41)}, action, dir, u.wrap)
	cp := lb.checkpoint(t, dir, "run.checkpoint")
	g.Journal = cp
	var rep strings.Builder
	r := lb.runner(runner.Options{Workers: workers, MaxShare: 100, MaxRetries: 2}, g, &rep)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	done := runInBackground(ctx, r)
	finish := func() *runner.Result {
		t.Helper()
		close(g.gate)
		e := <-done
		cancel()
		lb.srv.Close()
		if err := cp.Close(); err != nil {
			t.Errorf("closing the checkpoint: %v", err)
		}
		if e.err != nil {
			t.Fatalf("Run: %v", e.err)
		}
		if got := e.res.Counts[report.Succeeded]; got != lb.rows {
			t.Fatalf("%d of %d rows succeeded: %v", got, lb.rows, e.res.Counts)
		}
		if got := strings.Count(rep.String(), "\n"); got != lb.rows {
			t.Errorf("the report has %d rows, want %d", got, lb.rows)
		}
		if got := u.sent(); got != int64(lb.rows) {
			t.Errorf("the org received %d credential requests for %d rows", got, lb.rows)
		}
		return e.res
	}
	return u, finish
}

// waitSent waits, for at most 10 s, until the org has received n credential
// POSTs, and reports whether it did.
func waitSent(u *undurable, n int64) bool {
	deadline := time.Now().Add(10 * time.Second)
	for u.sent() < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// A row of any action but expire_password and clear_sessions holds a slot
// until its outcome is durable: with the journal held shut, the org never has
// more than --workers such rows that are sent and not durable. (A crash would
// send a secret-issuing row again, and leave a password-checking one
// in_doubt: at most --workers of either.)
func TestSlotRowsWaitForDurability(t *testing.T) {
	for _, a := range []jobs.Action{jobs.ExpirePasswordWithTempPassword, jobs.ResetPassword, jobs.ForgotPassword,
		jobs.ChangePassword, jobs.ChangeRecoveryQuestion, jobs.ForgotPasswordSetNewPassword} {
		t.Run(string(a), func(t *testing.T) {
			u, finish := slotRun(t, a)
			if !waitSent(u, 4) {
				t.Errorf("only %d POSTs reached the org; want the first 4 (one per worker)", u.sent())
			}
			// Leave time for a fifth POST, which must not come.
			time.Sleep(50 * time.Millisecond)
			if got := u.sent(); got != 4 {
				t.Errorf("%d POSTs with nothing durable; want 4 (--workers)", got)
			}
			finish()
			if u.most > 4 {
				t.Errorf("at some POST, %d rows were sent and not durable; want at most 4 (--workers)", u.most)
			}
		})
	}
}

// expire_password and clear_sessions only set again what is already set:
// their rows do not wait for the fsync of their outcomes, so the org sees
// more rows than --workers while the journal is held shut, and all of them
// end durable and reported.
func TestRepeatableRowsDoNotWaitForDurability(t *testing.T) {
	for _, a := range []jobs.Action{jobs.ExpirePassword, jobs.ClearSessions} {
		t.Run(string(a), func(t *testing.T) {
			u, finish := slotRun(t, a)
			if !waitSent(u, 40) {
				t.Errorf("%d of 40 requests reached the org while nothing was durable; %s rows must not wait for the fsync", u.sent(), a)
			}
			finish()
		})
	}
}

// With every slot held, the workers wait on the recorder's fsync, which then
// begins at once however recent the last one was: even with a SyncGap of an
// hour, 40 temporary-password rows on 4 workers finish (they would stall
// for an hour per batch otherwise).
func TestHeldSlotsEndTheSyncGap(t *testing.T) {
	dir := t.TempDir()
	lb := newLoopback(t, emulator.Config{UserList: activeUsers(40), Window: time.Second}, jobs.ExpirePasswordWithTempPassword, dir)
	defer lb.srv.Close()
	cp := lb.checkpoint(t, dir, "run.checkpoint")
	defer cp.Close()
	r := lb.runner(runner.Options{Workers: 4, MaxShare: 100, MaxRetries: 2, SyncGap: time.Hour}, cp, io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := r.Run(ctx, ctx)
	if ctx.Err() != nil {
		t.Fatal("the run stalled in the recorder's wait although every worker waited on its fsync")
	}
	if err != nil || res.Counts[report.Succeeded] != lb.rows {
		t.Fatalf("Run: %v, %v", err, res.Counts)
	}
}

// countingJournal is a real checkpoint that counts its Outcomes batches.
type countingJournal struct {
	*checkpoint.Journal
	batches atomic.Int64
}

func (c *countingJournal) Outcomes(outs []checkpoint.Outcome) error {
	c.batches.Add(1)
	return c.Journal.Outcomes(outs)
}

// The recorder begins at most one fsync per 5 ms (Options.SyncGap) while no
// worker waits on it: a run of 2,000 expire_password rows makes at most
// elapsed/5ms + 2 batches, however fast or slow the machine.
func TestRecorderSpacesFsyncs(t *testing.T) {
	dir := t.TempDir()
	lb := newLoopback(t, emulator.Config{UserList: activeUsers(2001), Window: time.Second}, jobs.ExpirePassword, dir)
	defer lb.srv.Close()
	cp := lb.checkpoint(t, dir, "run.checkpoint")
	j := &countingJournal{Journal: cp}
	r := lb.runner(runner.Options{Workers: 32, MaxShare: 100, MaxRetries: 2}, j, io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	res, err := r.Run(ctx, ctx)
	elapsed := time.Since(start)
	if err := cp.Close(); err != nil {
		t.Error(err)
	}
	if err != nil || res.Counts[report.Succeeded] != lb.rows {
		t.Fatalf("Run: %v, %v", err, res.Counts)
	}
	// One per 5 ms since the start, and the last, which may begin early
	// because the queue closed.
	most := int64(elapsed/(5*time.Millisecond)) + 2
	if got := j.batches.Load(); got > most {
		t.Errorf("%d batches (fsyncs) in %v; want at most %d (one per 5 ms)", got, elapsed, most)
	}
	t.Logf("%d rows, %d batches in %v", lb.rows, j.batches.Load(), elapsed)
}
