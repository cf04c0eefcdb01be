package runner_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
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
