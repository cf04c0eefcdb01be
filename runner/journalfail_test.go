package runner_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/runner"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

// failingJournal makes its batches durable until the nth, which fails as a
// full disk would.
type failingJournal struct {
	mu      sync.Mutex
	batches int
	n       int
	lines   int
}

var errDiskFull = errors.New("no space left on device")

func (f *failingJournal) Attempt(checkpoint.Attempt) error { return nil }
func (f *failingJournal) Note(checkpoint.Attempt) error    { return nil }
func (f *failingJournal) Release(int) error                { return nil }
func (f *failingJournal) Outcomes(outs []checkpoint.Outcome) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches++
	if f.batches >= f.n {
		return fmt.Errorf("%w: %w", checkpoint.ErrJournal, errDiskFull)
	}
	f.lines += len(outs)
	return nil
}

// A failed journal write stops the run with an error wrapping ErrLocal
// (exit 4): it returns promptly, every row the report holds was durable, and
// no goroutine is left behind.
func TestJournalFailureStopsTheRun(t *testing.T) {
	base := runtime.NumGoroutine()
	lb := newLoopback(t, emulator.Config{UserList: activeUsers(200), Latency: time.Millisecond}, jobs.ExpirePasswordWithTempPassword, t.TempDir())
	org, srv := lb.org, lb.srv
	var rep strings.Builder
	j := &failingJournal{n: 3}
	r := lb.runner(runner.Options{Workers: 8, MaxShare: 100, MaxRetries: 2}, j, &rep)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := r.Run(ctx, ctx)
	if !errors.Is(err, runner.ErrLocal) || !errors.Is(err, errDiskFull) {
		t.Fatalf("Run = %v, want an error wrapping ErrLocal and the write's cause", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run only returned at its deadline")
	}
	if strings.Contains(err.Error(), org.Token()) {
		t.Error("the error names the token")
	}
	reported := strings.Count(rep.String(), "\n")
	if reported != j.lines || res.Pending == 0 {
		t.Errorf("report rows %d, durable rows %d, pending %d: the report must hold exactly the durable rows, and the rest stay pending", reported, j.lines, res.Pending)
	}
	srv.Close()
	checkGoroutines(t, base)
}

// heldJournal fails its first batch, as a full disk would, once held is
// closed: a request is then on the wire.
type heldJournal struct{ held <-chan struct{} }

func (heldJournal) Attempt(checkpoint.Attempt) error { return nil }
func (heldJournal) Note(checkpoint.Attempt) error    { return nil }
func (heldJournal) Release(int) error                { return nil }
func (h heldJournal) Outcomes([]checkpoint.Outcome) error {
	<-h.held
	return fmt.Errorf("%w: %w", checkpoint.ErrJournal, errDiskFull)
}

// A failed journal write abandons the requests on the wire (SPEC.md): Run
// returns without waiting for their answers, which could not be recorded.
// Here the second action request is held by the org until Run returns (or,
// if Run waits for it, until the test gives up on it), and the journal fails
// the first row's outcome while that request is on the wire. (The second:
// the pacer lets a bucket's first request alone until it is answered.)
func TestJournalFailureAbandonsTheWire(t *testing.T) {
	base := runtime.NumGoroutine()
	held, release := make(chan struct{}), make(chan struct{})
	var posts atomic.Int64
	hold := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && posts.Add(1) == 2 {
				close(held)
				select {
				case <-release:
				case <-r.Context().Done():
					return // the client left: no answer
				}
			}
			next.ServeHTTP(w, r)
		})
	}
	lb := newLoopbackVia(t, emulator.Config{UserList: activeUsers(2)}, jobs.ExpirePassword, t.TempDir(), hold)
	var releaseOnce sync.Once
	defer releaseOnce.Do(func() { close(release) })
	r := lb.runner(runner.Options{Workers: 2, MaxShare: 100}, heldJournal{held: held}, io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	done := runInBackground(ctx, r)
	var out ran
	select {
	case out = <-done:
	case <-time.After(10 * time.Second):
		t.Error("Run still waits for a request on the wire after the journal failed")
		releaseOnce.Do(func() { close(release) })
		out = <-done
	}
	if !errors.Is(out.err, runner.ErrLocal) || !errors.Is(out.err, errDiskFull) {
		t.Errorf("Run = %v, want an error wrapping ErrLocal and the write's cause", out.err)
	}
	if out.res == nil || out.res.Pending != 2 {
		t.Errorf("Result %+v: want both rows pending (nothing was durable)", out.res)
	}
	releaseOnce.Do(func() { close(release) })
	lb.srv.Close()
	checkGoroutines(t, base)
}
