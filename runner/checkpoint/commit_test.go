package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestConcurrentOutcomesShareFsyncs(t *testing.T) {
	const workers, each = 32, 200
	path := filepath.Join(t.TempDir(), "run.checkpoint")
	j := mustCreate(t, path, testHeader())
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				line := 2 + w*each + i
				name := "succeeded"
				if line%7 == 0 {
					name = "failed"
				}
				if err := j.Outcome(Outcome{Line: line, Outcome: name, Payload: payload(line)}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Outcome: %v", err)
	}
	s := j.Stats()
	if s.Records != workers*each {
		t.Errorf("Stats().Records = %d, want %d", s.Records, workers*each)
	}
	if s.Syncs >= s.Records {
		t.Errorf("%d fsyncs for %d records: no group commit happened", s.Syncs, s.Records)
	}
	t.Logf("%d records, %d fsyncs", s.Records, s.Syncs)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	j2, st := mustOpen(t, path)
	defer j2.Close()
	if st.Done.Count() != workers*each || st.Records != workers*each || st.TruncatedBytes != 0 {
		t.Fatalf("reopened: Done %d, Records %d, Truncated %d; want %d, %d, 0",
			st.Done.Count(), st.Records, st.TruncatedBytes, workers*each, workers*each)
	}
	wantFailed := 0
	for line := 2; line < 2+workers*each; line++ {
		if !st.Done.Has(line) {
			t.Fatalf("line %d missing after reopen", line)
		}
		if line%7 == 0 {
			wantFailed++
		}
	}
	if st.Counts["failed"] != wantFailed || st.Counts["succeeded"] != workers*each-wantFailed {
		t.Errorf("Counts = %v, want failed %d", st.Counts, wantFailed)
	}
	seen := NewBitset(0)
	err := j2.Replay(func(o Outcome) error {
		if string(o.Payload) != string(payload(o.Line)) {
			return fmt.Errorf("payload of line %d differs", o.Line)
		}
		if seen.Has(o.Line) {
			return fmt.Errorf("line %d replayed twice", o.Line)
		}
		seen.Set(o.Line)
		return nil
	})
	if err != nil || seen.Count() != workers*each {
		t.Errorf("Replay: err %v, %d outcomes, want %d", err, seen.Count(), workers*each)
	}
}

// TestGroupCommitIsShared holds the first fsync until every other caller has
// queued its record, then checks that one write and one fsync covered them all.
func TestGroupCommitIsShared(t *testing.T) {
	const callers = 32
	path := filepath.Join(t.TempDir(), "run.checkpoint")
	synctest.Test(t, func(t *testing.T) {
		j := mustCreate(t, path, testHeader())
		gate := make(chan struct{})
		g := &gatedWriter{f: j.f, gate: gate}
		j.w = g
		errs := make(chan error, callers)
		for i := range callers {
			go func() { errs <- j.Outcome(Outcome{Line: 2 + i, Outcome: "succeeded", Payload: payload(2 + i)}) }()
		}
		synctest.Wait() // one leader waits in Sync; the others wait on the cond
		j.mu.Lock()
		queued, durable := j.seq, j.durable
		j.mu.Unlock()
		if queued != callers || durable != 0 {
			t.Fatalf("before release: %d queued, %d durable; want %d, 0", queued, durable, callers)
		}
		close(gate)
		for range callers {
			if err := <-errs; err != nil {
				t.Fatalf("Outcome: %v", err)
			}
		}
		if s := j.Stats(); s.Syncs != 2 || s.Records != callers || g.writes != 2 {
			t.Errorf("Stats = %+v, writes %d; want 2 fsyncs and 2 writes for %d records", s, g.writes, callers)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	})
	j, st := mustOpen(t, path)
	defer j.Close()
	if st.Done.Count() != callers {
		t.Errorf("after reopen %d lines done, want %d", st.Done.Count(), callers)
	}
}

func TestPoisonedJournal(t *testing.T) {
	for _, mode := range []string{"write", "fsync"} {
		t.Run(mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "run.checkpoint")
			const callers = 8
			synctest.Test(t, func(t *testing.T) {
				j := mustCreate(t, path, testHeader())
				if err := j.Outcome(Outcome{Line: 2, Outcome: "succeeded", Payload: payload(2)}); err != nil {
					t.Fatal(err)
				}
				gate := make(chan struct{})
				g := &gatedWriter{f: j.f, gate: gate}
				cause := errors.New("no space left on device (injected)")
				if mode == "write" {
					g.failW = cause
				} else {
					g.failSync = cause
				}
				// With a failing write the gate is never reached (WriteAt
				// fails first), so only gate fsyncs.
				if mode == "write" {
					g.gate = nil
				}
				j.w = g
				errs := make(chan error, callers)
				for i := range callers {
					go func() {
						errs <- j.Outcome(Outcome{Line: 10 + i, Outcome: "succeeded", Payload: payload(10 + i)})
					}()
				}
				synctest.Wait()
				close(gate)
				for range callers {
					err := <-errs
					if !errors.Is(err, ErrJournal) || !errors.Is(err, cause) {
						t.Errorf("Outcome on a failing journal: err = %v, want ErrJournal wrapping the cause", err)
					}
					if err != nil && strings.Contains(err.Error(), "s3cr3t") {
						t.Errorf("error message holds the payload")
					}
				}
				// Poisoned: later calls fail at once, nothing more is written.
				g.mu.Lock()
				g.failW, g.failSync = nil, nil
				before := g.writes
				g.mu.Unlock()
				if err := j.Attempt(Attempt{Line: 30, N: 1}); !errors.Is(err, ErrJournal) {
					t.Errorf("Attempt after a failure: err = %v, want ErrJournal", err)
				}
				if err := j.Outcome(Outcome{Line: 31, Outcome: "failed"}); !errors.Is(err, ErrJournal) {
					t.Errorf("Outcome after a failure: err = %v, want ErrJournal", err)
				}
				if g.writes != before {
					t.Errorf("a poisoned journal wrote again")
				}
				if err := j.Close(); err != nil {
					t.Fatal(err)
				}
			})
			// The record that was durable before the failure survives. A torn
			// write is cut. When only the fsync failed, the leader's one record
			// reached the page cache and reads back (a crash could have lost
			// it; either way no caller was told it was durable).
			j, st := mustOpen(t, path)
			defer j.Close()
			want := map[string]int{"write": 1, "fsync": 2}[mode]
			if st.Done.Count() != want || !st.Done.Has(2) {
				t.Errorf("after reopen: %d done (line 2: %v), want %d including line 2", st.Done.Count(), st.Done.Has(2), want)
			}
			if mode == "write" && st.TruncatedBytes == 0 {
				t.Errorf("the torn half-record was not cut")
			}
		})
	}
}

// TestLockAcrossProcesses runs the test binary again as a second process
// that tries to open the checkpoint while this one holds it.
func TestLockAcrossProcesses(t *testing.T) {
	if path := os.Getenv("CHECKPOINT_TEST_OPEN"); path != "" {
		// Child: report the result through the exit status.
		j, _, err := Open(path)
		switch {
		case errors.Is(err, ErrLocked):
			os.Exit(3)
		case err != nil:
			os.Exit(4)
		}
		_ = j.Close()
		os.Exit(0)
	}
	path := filepath.Join(t.TempDir(), "run.checkpoint")
	j := mustCreate(t, path, testHeader())
	child := func() int {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestLockAcrossProcesses$", "-test.count=1")
		cmd.Env = append(os.Environ(), "CHECKPOINT_TEST_OPEN="+path)
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("run child: %v", err)
		}
		return 0
	}
	if code := child(); code != 3 {
		t.Errorf("child Open while held: exit %d, want 3 (ErrLocked)", code)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if code := child(); code != 0 {
		t.Errorf("child Open after Close: exit %d, want 0", code)
	}
}

// TestCloseWaitsForQueuedRecords: Close during a flush lets the records
// already queued become durable; calls after it get ErrClosed.
func TestCloseWaitsForQueuedRecords(t *testing.T) {
	const callers = 8
	path := filepath.Join(t.TempDir(), "run.checkpoint")
	synctest.Test(t, func(t *testing.T) {
		j := mustCreate(t, path, testHeader())
		gate := make(chan struct{})
		j.w = &gatedWriter{f: j.f, gate: gate}
		errs := make(chan error, callers)
		for i := range callers {
			go func() { errs <- j.Outcome(Outcome{Line: 2 + i, Outcome: "succeeded"}) }()
		}
		synctest.Wait()
		closed := make(chan error, 1)
		go func() { closed <- j.Close() }()
		synctest.Wait() // Close waits on the flush in progress
		if err := j.Outcome(Outcome{Line: 99, Outcome: "failed"}); !errors.Is(err, ErrClosed) {
			t.Errorf("Outcome while closing: err = %v, want ErrClosed", err)
		}
		close(gate)
		for range callers {
			if err := <-errs; err != nil {
				t.Errorf("queued Outcome: %v", err)
			}
		}
		if err := <-closed; err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
	j, st := mustOpen(t, path)
	defer j.Close()
	if st.Done.Count() != callers || st.Done.Has(99) {
		t.Errorf("after reopen: %d done (line 99: %v), want %d queued records only", st.Done.Count(), st.Done.Has(99), callers)
	}
}

// TestReplayWhileAppending: Replay streams the records durable when it
// began, undisturbed by appends made during it.
func TestReplayWhileAppending(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.checkpoint")
	j := mustCreate(t, path, testHeader())
	defer j.Close()
	for line := 2; line < 12; line++ {
		if err := j.Outcome(Outcome{Line: line, Outcome: "succeeded", Payload: payload(line)}); err != nil {
			t.Fatal(err)
		}
	}
	var lines []int
	err := j.Replay(func(o Outcome) error {
		lines = append(lines, o.Line)
		if string(o.Payload) != string(payload(o.Line)) {
			return fmt.Errorf("payload of line %d differs", o.Line)
		}
		// Append while replaying.
		return j.Outcome(Outcome{Line: 100 + o.Line, Outcome: "failed", Payload: payload(100 + o.Line)})
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	if len(lines) != 10 || lines[0] != 2 || lines[9] != 11 {
		t.Errorf("Replay saw lines %v, want 2..11", lines)
	}
	stop := errors.New("stop")
	n := 0
	if err := j.Replay(func(Outcome) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("Replay with a failing fn: err %v after %d calls, want stop after 1", err, n)
	}
}
