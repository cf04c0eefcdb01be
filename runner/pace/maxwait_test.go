package pace

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// answer is an answer of the credential bucket's window (limit, remaining,
// reset), with the server clock on the local one.
func answer(status, limit, remaining int, reset, retryAfter time.Time) Observation {
	n := time.Now()
	return Observation{Answered: true, Status: status, HasRate: true, Limit: limit, Remaining: remaining,
		Reset: reset, RetryAfter: retryAfter, Date: n, Received: n}
}

// wantTooLong checks that err is a *WaitTooLongError for Post until until
// for reason.
func wantTooLong(t *testing.T, err error, until time.Time, reason string, maxWait time.Duration) {
	t.Helper()
	var wt *WaitTooLongError
	if !errors.Is(err, ErrWaitTooLong) || !errors.As(err, &wt) {
		t.Fatalf("Acquire = %v, want a *WaitTooLongError", err)
	}
	if wt.Bucket != Post || !wt.Until.Equal(until) || wt.Reason != reason || wt.MaxWait != maxWait {
		t.Errorf("WaitTooLongError %+v, want Post until %v (%s), max %v", *wt, until, reason, maxWait)
	}
	if msg := err.Error(); !strings.Contains(msg, until.Format("2006-01-02 15:04:05")) || !strings.Contains(msg, reason) {
		t.Errorf("message %q does not name the date and time %v and the reason %q", msg, until, reason)
	}
}

// TestMaxWait: a pause longer than MaxWait (a 429's Reset or Retry-After, a
// share spent until a distant Reset, the share spread until it) makes
// Acquire return a WaitTooLongError at once, holding nothing; a pause of
// MaxWait or less is waited out; a negative MaxWait waits for anything.
func TestMaxWait(t *testing.T) {
	for _, tc := range []struct {
		name    string
		maxWait time.Duration // Config.MaxWait
		limit   time.Duration // the effective limit
		// answers, in order, to the requests before the one that is
		// checked; they return until (zero: the last request must wait)
		answers func(start time.Time) ([]Observation, time.Time)
		reason  string
	}{
		{"429, Retry-After 20 min", 0, DefaultMaxWait, func(s time.Time) ([]Observation, time.Time) {
			return []Observation{answer(429, 600, 0, s.Add(time.Minute), s.Add(20*time.Minute))}, s.Add(20 * time.Minute)
		}, ReasonRateLimit},
		{"429, Reset in a day", 0, DefaultMaxWait, func(s time.Time) ([]Observation, time.Time) {
			return []Observation{answer(429, 600, 0, s.Add(24*time.Hour), time.Time{})}, s.Add(24 * time.Hour)
		}, ReasonRateLimit},
		{"429, Retry-After of exactly MaxWait", 0, DefaultMaxWait, func(s time.Time) ([]Observation, time.Time) {
			return []Observation{answer(429, 600, 0, s.Add(time.Minute), s.Add(DefaultMaxWait))}, time.Time{}
		}, ""},
		{"429, 14 min", 0, DefaultMaxWait, func(s time.Time) ([]Observation, time.Time) {
			return []Observation{answer(429, 600, 0, s.Add(14*time.Minute), time.Time{})}, time.Time{}
		}, ""},
		{"share spent until a Reset in an hour", 0, DefaultMaxWait, func(s time.Time) ([]Observation, time.Time) {
			return []Observation{answer(200, 100, 0, s.Add(time.Hour), time.Time{})}, s.Add(time.Hour)
		}, ReasonShareSpent},
		{"share spread until a Reset in ten days", 0, DefaultMaxWait, func(s time.Time) ([]Observation, time.Time) {
			// 9 left of 10: the second request leaves at once, the next
			// is due a tenth of ten days later.
			return []Observation{answer(200, 10, 9, s.Add(240*time.Hour), time.Time{}), {}}, s.Add(24 * time.Hour)
		}, ReasonSpacing},
		{"MaxWait 30 s, 429 for a minute", 30 * time.Second, 30 * time.Second, func(s time.Time) ([]Observation, time.Time) {
			return []Observation{answer(429, 600, 0, s.Add(time.Minute), time.Time{})}, s.Add(time.Minute)
		}, ReasonRateLimit},
		{"no limit, 429 for a day", -1, 0, func(s time.Time) ([]Observation, time.Time) {
			return []Observation{answer(429, 600, 0, s.Add(24*time.Hour), time.Time{})}, time.Time{}
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := New(Config{MaxShare: 100, Workers: 4, MaxWait: tc.maxWait})
				start := time.Now()
				obs, until := tc.answers(start)
				for _, o := range obs {
					tk, err := acquireWithin(t, p, Post, time.Second)
					if err != nil {
						t.Fatalf("a request before the checked one: %v", err)
					}
					tk.Done(o)
				}
				_, err := acquireWithin(t, p, Post, time.Second)
				if until.IsZero() {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Fatalf("Acquire = %v, want it to wait out the pause", err)
					}
					return
				}
				wantTooLong(t, err, until, tc.reason, tc.limit)
				if n := p.inFlight(); n != 0 {
					t.Errorf("%d requests in flight after the refusal, want 0", n)
				}
				// Again: the state has not changed, nor has the answer.
				_, err = acquireWithin(t, p, Post, time.Second)
				wantTooLong(t, err, until, tc.reason, tc.limit)
				// The other bucket is not held back.
				if tk, err := acquireWithin(t, p, Get, time.Second); err != nil {
					t.Errorf("Get after Post's refusal: %v", err)
				} else {
					tk.Done(Observation{})
				}
			})
		})
	}
}

// TestMaxWaitWakesWaiters: requests already waiting when a long pause
// arrives return the WaitTooLongError promptly.
func TestMaxWaitWakesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{MaxShare: 100, Workers: 4})
		start := time.Now()
		first, err := p.Acquire(t.Context(), Post)
		if err != nil {
			t.Fatal(err)
		}
		var errs [3]atomic.Pointer[error]
		for i := range errs {
			go func() {
				_, err := p.Acquire(t.Context(), Post) // held by the first-response gate
				errs[i].Store(&err)
			}()
		}
		synctest.Wait()
		first.Done(answer(429, 600, 0, start.Add(time.Minute), start.Add(48*time.Hour)))
		synctest.Wait()
		for i := range errs {
			e := errs[i].Load()
			if e == nil {
				t.Fatalf("waiter %d still waits after a 48-hour pause", i)
			}
			wantTooLong(t, *e, start.Add(48*time.Hour), ReasonRateLimit, DefaultMaxWait)
		}
	})
}
