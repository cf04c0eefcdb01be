package pace

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestShareRule(t *testing.T) {
	for _, tc := range []struct {
		name     string
		share    int
		latency  time.Duration
		offset   time.Duration
		wantMax  int
		want0429 bool
	}{
		{"half the window", 50, 0, 0, 50, true},
		{"half the window with latency", 50, 7 * time.Millisecond, 0, 50, true},
		{"whole window", 100, 0, 0, 100, true},
		{"whole window with latency", 100, 13 * time.Millisecond, 0, 100, true},
		{"half the window, latency near the window", 50, 300 * time.Millisecond, 0, 50, true},
		{"whole window, latency near the window", 100, 400 * time.Millisecond, 0, 100, true},
		{"whole window, server clock ahead", 100, 3 * time.Millisecond, 5 * time.Second, 100, true},
		{"whole window, server clock behind", 100, 3 * time.Millisecond, -2 * time.Second, 100, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				org := newFakeOrg(100, time.Second, tc.offset)
				p := New(Config{Rate: 0, MaxShare: tc.share, Workers: 16})
				const jobs = 600
				if got := runJobs(t, p, org, Post, 16, jobs, tc.latency); got != jobs {
					t.Errorf("completed %d jobs, want %d", got, jobs)
				}
				if m := org.maxPerWindow(); m > tc.wantMax {
					t.Errorf("a window counted %d requests, want at most %d", m, tc.wantMax)
				}
				if tc.want0429 && org.sent429 != 0 {
					t.Errorf("the org sent %d 429s, want none", org.sent429)
				}
			})
		})
	}
}

func TestShareSpentIsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{MaxShare: 50, Workers: 4})
		start := time.Now()
		reset := start.Add(30 * time.Second)
		tk, err := p.Acquire(t.Context(), Get)
		if err != nil {
			t.Fatal(err)
		}
		// Everyone has used 50 of 100: the share is spent.
		tk.Done(Observation{Answered: true, Status: 200, HasRate: true, Limit: 100, Remaining: 50, Reset: reset, Date: start, Received: start})
		got := p.Paused()
		want := []PauseInfo{{Bucket: Get, Until: reset, Reason: ReasonShareSpent, Remaining: 50, Limit: 100}}
		if len(got) != 1 || got[0] != want[0] {
			t.Fatalf("Paused() = %+v, want %+v", got, want)
		}
		// The next Get waits for the window to end; Post is free.
		if _, err := p.Acquire(t.Context(), Post); err != nil {
			t.Fatal(err)
		}
		tk, err = p.Acquire(t.Context(), Get)
		if err != nil {
			t.Fatal(err)
		}
		if now := time.Now(); now.Before(reset) {
			t.Errorf("Get left at %v, before the window's reset %v", now, reset)
		}
		tk.Done(Observation{Answered: false})
	})
}

func TestFirstResponseGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{Workers: 8})
		first, err := p.Acquire(t.Context(), Post)
		if err != nil {
			t.Fatal(err)
		}
		var second atomic.Pointer[Ticket]
		go func() {
			tk, err := p.Acquire(t.Context(), Post)
			if err != nil {
				t.Errorf("second Acquire: %v", err)
				return
			}
			second.Store(tk)
		}()
		synctest.Wait()
		if second.Load() != nil {
			t.Fatal("a second Post left before the bucket's first response")
		}
		// The other bucket is free meanwhile.
		g, err := p.Acquire(t.Context(), Get)
		if err != nil {
			t.Fatal(err)
		}
		g.Done(Observation{Answered: true, Status: 200})
		synctest.Wait()
		if second.Load() != nil {
			t.Fatal("a Get answer opened the Post gate")
		}
		// A failure without an answer keeps the gate closed, but lets the
		// next single request through.
		first.Done(Observation{Answered: false})
		synctest.Wait()
		tk := second.Load()
		if tk == nil {
			t.Fatal("the single waiting Post did not leave after the first ended")
		}
		var third atomic.Bool
		go func() {
			tk, err := p.Acquire(t.Context(), Post)
			if err != nil {
				t.Errorf("third Acquire: %v", err)
				return
			}
			third.Store(true)
			tk.Done(Observation{Answered: true, Status: 200})
		}()
		synctest.Wait()
		if third.Load() {
			t.Fatal("two Posts in flight before any Post answer")
		}
		tk.Done(Observation{Answered: true, Status: 200})
		synctest.Wait()
		if !third.Load() {
			t.Fatal("the gate stayed closed after the first answer")
		}
	})
}

// rateLimited returns a 429 observation for a window of limit with the
// server clock at date.
func rateLimited(date, reset, retryAfter, received time.Time) Observation {
	return Observation{Answered: true, Status: 429, HasRate: true, Limit: 600, Remaining: 0,
		Reset: reset, Date: date, RetryAfter: retryAfter, Received: received}
}

func TestRateLimitPause(t *testing.T) {
	for _, tc := range []struct {
		name string
		// server clock offset, and the observation relative to the local
		// clock at the start
		obs       func(now time.Time) Observation
		wantUntil time.Duration // after the start, local clock
	}{
		{"reset", func(now time.Time) Observation {
			return rateLimited(now, now.Add(3*time.Second), time.Time{}, now)
		}, 3 * time.Second},
		{"retry-after later than reset wins", func(now time.Time) Observation {
			return rateLimited(now, now.Add(3*time.Second), now.Add(10*time.Second), now)
		}, 10 * time.Second},
		{"reset later than retry-after wins", func(now time.Time) Observation {
			return rateLimited(now, now.Add(7*time.Second), now.Add(2*time.Second), now)
		}, 7 * time.Second},
		{"missing Date: local clock", func(now time.Time) Observation {
			return rateLimited(time.Time{}, now.Add(4*time.Second), time.Time{}, now)
		}, 4 * time.Second},
		{"server Date 5s ahead", func(now time.Time) Observation {
			d := now.Add(5 * time.Second)
			return rateLimited(d, d.Add(3*time.Second), time.Time{}, now)
		}, 3 * time.Second},
		{"server Date 5s behind", func(now time.Time) Observation {
			d := now.Add(-5 * time.Second)
			return rateLimited(d, d.Add(3*time.Second), time.Time{}, now)
		}, 3 * time.Second},
		{"reset in the past: minimum pause", func(now time.Time) Observation {
			return rateLimited(now, now.Add(-10*time.Second), time.Time{}, now)
		}, MinPause},
		{"no rate headers, retry-after only", func(now time.Time) Observation {
			return Observation{Answered: true, Status: 429, Date: now, RetryAfter: now.Add(6 * time.Second), Received: now}
		}, 6 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := New(Config{Rate: 100, Burst: 1, MaxShare: 100, Workers: 4})
				start := time.Now()
				tk, err := p.Acquire(t.Context(), Post)
				if err != nil {
					t.Fatal(err)
				}
				tk.Done(tc.obs(start))
				until := start.Add(tc.wantUntil)
				got := p.Paused()
				if len(got) != 1 || got[0].Bucket != Post || !got[0].Until.Equal(until) || got[0].Reason != ReasonRateLimit {
					t.Fatalf("Paused() = %+v, want Post until %v (%s)", got, until, ReasonRateLimit)
				}
				// Get is not paused.
				g, err := p.Acquire(t.Context(), Get)
				if err != nil {
					t.Fatal(err)
				}
				if time.Now().After(until) {
					t.Error("Get waited for Post's pause")
				}
				g.Done(Observation{Answered: false})
				var wg sync.WaitGroup
				for range 4 {
					wg.Go(func() {
						tk, err := p.Acquire(t.Context(), Post)
						if err != nil {
							t.Errorf("Acquire: %v", err)
							return
						}
						if now := time.Now(); now.Before(until) {
							t.Errorf("a Post left at %v, before the pause ended at %v", now, until)
						}
						tk.Done(Observation{Answered: false})
					})
				}
				wg.Wait()
				if got := p.Paused(); len(got) != 0 {
					t.Errorf("Paused() after the pause = %+v, want none", got)
				}
			})
		})
	}
}

func TestRateLimitPauseShowsWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{MaxShare: 50, Workers: 2})
		now := time.Now()
		tk, err := p.Acquire(t.Context(), Post)
		if err != nil {
			t.Fatal(err)
		}
		tk.Done(rateLimited(now, now.Add(20*time.Second), time.Time{}, now))
		want := PauseInfo{Bucket: Post, Until: now.Add(20 * time.Second), Reason: ReasonRateLimit, Remaining: 0, Limit: 600}
		if got := p.Paused(); len(got) != 1 || got[0] != want {
			t.Fatalf("Paused() = %+v, want [%+v]", got, want)
		}
	})
}

// TestSpacedAfterPause: requests waiting on a 429 pause leave one by one,
// never two at the same instant, even with no token bucket.
func TestSpacedAfterPause(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers bool // the answers after the pause carry rate headers
	}{
		{"with rate headers", true},
		{"without rate headers", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := New(Config{Rate: 0, MaxShare: 100, Workers: 32})
				start := time.Now()
				tk, err := p.Acquire(t.Context(), Post)
				if err != nil {
					t.Fatal(err)
				}
				tk.Done(Observation{Answered: true, Status: 429, HasRate: true, Limit: 100, Remaining: 0,
					Reset: start.Add(2 * time.Second), Date: start, Received: start})
				var mu sync.Mutex
				var times []time.Time
				org := newFakeOrg(100, time.Minute, 0)
				var wg sync.WaitGroup
				for range 30 {
					wg.Go(func() {
						tk, err := p.Acquire(t.Context(), Post)
						if err != nil {
							t.Errorf("Acquire: %v", err)
							return
						}
						mu.Lock()
						times = append(times, time.Now())
						mu.Unlock()
						o := org.serve()
						if !tc.headers {
							o = Observation{Answered: true, Status: 200, Received: time.Now()}
						}
						tk.Done(o)
					})
				}
				wg.Wait()
				if len(times) != 30 {
					t.Fatalf("%d requests left, want 30", len(times))
				}
				seen := map[time.Time]bool{}
				for _, at := range times {
					if at.Before(start.Add(2 * time.Second)) {
						t.Errorf("a request left at %v, during the pause", at)
					}
					if seen[at] {
						t.Errorf("two requests left at the same instant %v", at)
					}
					seen[at] = true
				}
			})
		})
	}
}

func TestConcurrencyLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const workers = 8
		p := New(Config{MaxShare: 100, Workers: workers})
		if got := p.inFlightLimit(); got != workers {
			t.Fatalf("initial InFlightLimit = %d, want %d", got, workers)
		}
		now := time.Now()
		window := Observation{Answered: true, Status: 200, HasRate: true, Limit: 10000, Remaining: 9000,
			Reset: now.Add(time.Hour), Date: now, Received: now}
		one := func(o Observation) {
			t.Helper()
			tk, err := p.Acquire(t.Context(), Post)
			if err != nil {
				t.Fatal(err)
			}
			o.Received = time.Now()
			tk.Done(o)
		}
		one(window)
		concurrency := Observation{Answered: true, Status: 429, HasRate: true, Limit: 0, Remaining: 0, Date: now}
		prev := workers
		for range 5 {
			one(concurrency)
			got := p.inFlightLimit()
			if got >= prev && prev > 1 || got < 1 {
				t.Fatalf("InFlightLimit after a concurrency 429 = %d (was %d)", got, prev)
			}
			prev = got
		}
		if prev != 1 {
			t.Fatalf("InFlightLimit = %d after 5 halvings of 8, want 1", prev)
		}
		// The window state is untouched: no share or rate-limit pause.
		for _, pi := range p.Paused() {
			if pi.Reason != ReasonConcurrency {
				t.Errorf("Paused() has %+v after concurrency 429s", pi)
			}
		}
		// At limit 1, a second request waits for the first.
		held, err := p.Acquire(t.Context(), Post)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		_, err = p.Acquire(ctx, Get)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("second Acquire at in-flight limit 1 = %v, want it to wait until the deadline", err)
		}
		held.Done(window)
		// Successes raise it again, slowly, never above Workers.
		rose := false
		for range 20 * IncreaseAfter * workers {
			one(window)
			got := p.inFlightLimit()
			if got > workers || got < prev || got > prev+1 {
				t.Fatalf("InFlightLimit went %d -> %d (Workers %d)", prev, got, workers)
			}
			rose = rose || got > 1
			prev = got
		}
		if !rose || prev != workers {
			t.Errorf("InFlightLimit = %d after many successes, want back to %d", prev, workers)
		}
	})
}

// TestInFlightCeiling: no more than Workers requests are ever in flight.
func TestInFlightCeiling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const workers = 3
		p := New(Config{Workers: workers})
		var inflight, peak atomic.Int64
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				b := Bucket(i % 2)
				tk, err := p.Acquire(t.Context(), b)
				if err != nil {
					t.Errorf("Acquire: %v", err)
					return
				}
				n := inflight.Add(1)
				for {
					m := peak.Load()
					if n <= m || peak.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(10 * time.Millisecond)
				inflight.Add(-1)
				tk.Done(Observation{Answered: true, Status: 200})
			})
		}
		wg.Wait()
		if m := peak.Load(); m > workers || m < 2 {
			t.Errorf("peak in flight = %d, want 2..%d", m, workers)
		}
	})
}

func TestTokenBucket(t *testing.T) {
	t.Run("rate 0 is no cap", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := New(Config{Rate: 0, Burst: 1, Workers: 4})
			start := time.Now()
			for range 1000 {
				tk, err := p.Acquire(t.Context(), Get)
				if err != nil {
					t.Fatal(err)
				}
				tk.Done(Observation{Answered: true, Status: 200})
			}
			if !time.Now().Equal(start) {
				t.Errorf("1000 requests with no cap and no rate headers waited on the clock")
			}
			if got := p.inFlight(); got != 0 {
				t.Errorf("%d requests still in flight after 1000 were completed", got)
			}
		})
	})
	for _, r := range []float64{2, 10, 50} {
		t.Run("rate R burst 1", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := New(Config{Rate: r, Burst: 1, Workers: 8})
				gap := time.Duration(float64(time.Second) / r)
				var last time.Time
				for i := range 50 {
					b := Bucket(i % 2) // both buckets share the one token bucket
					tk, err := p.Acquire(t.Context(), b)
					if err != nil {
						t.Fatal(err)
					}
					now := time.Now()
					if i > 0 && now.Sub(last) < gap-time.Microsecond {
						t.Fatalf("request %d left %v after the previous one, rate %v allows no less than %v", i, now.Sub(last), r, gap)
					}
					last = now
					tk.Done(Observation{Answered: true, Status: 200})
				}
			})
		})
	}
}

func TestCancellation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, p *Pacer) // makes the next Post Acquire wait
	}{
		{"waiting on a pause", func(t *testing.T, p *Pacer) {
			now := time.Now()
			tk, _ := p.Acquire(t.Context(), Post)
			tk.Done(rateLimited(now, now.Add(time.Hour), time.Time{}, now))
		}},
		{"waiting on the first-response gate", func(t *testing.T, p *Pacer) {
			if _, err := p.Acquire(t.Context(), Post); err != nil {
				t.Fatal(err)
			}
		}},
		{"waiting on the token bucket", func(t *testing.T, p *Pacer) {
			p.lim.SetLimit(1.0 / 3600)
			tk, _ := p.Acquire(t.Context(), Post)
			tk.Done(Observation{Answered: true, Status: 200})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := New(Config{Rate: 1000, Burst: 1, Workers: 1, MaxWait: 2 * time.Hour})
				tc.setup(t, p)
				before := p.inFlight()
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error)
				go func() {
					_, err := p.Acquire(ctx, Post)
					done <- err
				}()
				synctest.Wait()
				select {
				case err := <-done:
					t.Fatalf("Acquire returned %v before the cancel", err)
				default:
				}
				cancel()
				synctest.Wait()
				select {
				case err := <-done:
					if !errors.Is(err, context.Canceled) {
						t.Fatalf("Acquire after cancel = %v, want context.Canceled", err)
					}
				default:
					t.Fatal("Acquire did not return promptly after the cancel")
				}
				if got := p.inFlight(); got != before {
					t.Errorf("a cancelled Acquire holds an in-flight slot: %d in flight, want %d", got, before)
				}
				// An already cancelled context returns at once.
				if _, err := p.Acquire(ctx, Get); !errors.Is(err, context.Canceled) {
					t.Errorf("Acquire with a cancelled ctx = %v", err)
				}
			})
		})
	}
}

// TestCancelledTokenWaitFreesSlot: a cancelled wait on the token bucket gives
// its in-flight slot back.
func TestCancelledTokenWaitFreesSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{Rate: 1, Burst: 1, Workers: 1})
		tk, err := p.Acquire(t.Context(), Get)
		if err != nil {
			t.Fatal(err)
		}
		tk.Done(Observation{Answered: true, Status: 200})
		ctx, cancel := context.WithCancel(t.Context())
		go func() { time.Sleep(100 * time.Millisecond); cancel() }()
		if _, err := p.Acquire(ctx, Get); !errors.Is(err, context.Canceled) {
			t.Fatalf("Acquire = %v, want context.Canceled", err)
		}
		// The slot is free again: Workers is 1, so this would block forever
		// (and synctest would report a deadlock) if it were not.
		tk, err = p.Acquire(t.Context(), Get)
		if err != nil {
			t.Fatal(err)
		}
		tk.Done(Observation{Answered: false})
	})
}

// TestInconsistentHeaders: Reset in the past, Remaining > Limit, Limit 0 and
// stale windows never wedge the pacer.
func TestInconsistentHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{MaxShare: 50, Workers: 4})
		now := time.Now()
		obs := []Observation{
			{Answered: true, Status: 200, HasRate: true, Limit: 100, Remaining: 500, Reset: now.Add(time.Minute), Date: now},
			{Answered: true, Status: 200, HasRate: true, Limit: 100, Remaining: 90, Reset: now.Add(-time.Minute), Date: now},
			{Answered: true, Status: 200, HasRate: true, Limit: 0, Remaining: 5, Reset: now.Add(time.Minute), Date: now},
			{Answered: true, Status: 200, HasRate: true, Limit: 100, Remaining: -3, Reset: time.Time{}, Date: now},
			{Answered: true, Status: 200, HasRate: true, Limit: 100, Remaining: 99, Reset: now.Add(2 * time.Minute), Date: now},
			{Answered: true, Status: 200, HasRate: true, Limit: 100, Remaining: 0, Reset: now.Add(time.Minute), Date: now}, // stale
		}
		for i := range 200 {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
			tk, err := p.Acquire(ctx, Post)
			cancel()
			if err != nil {
				t.Fatalf("request %d: Acquire = %v", i, err)
			}
			o := obs[i%len(obs)]
			o.Received = time.Now()
			tk.Done(o)
			tk.Done(Observation{Answered: true, Status: 429, HasRate: true, Limit: 0}) // a second Done is ignored
		}
		// The ignored second Done (a concurrency 429) did not halve the
		// in-flight limit, and every slot was given back.
		if got, n := p.inFlightLimit(), p.inFlight(); got != 4 || n != 0 {
			t.Errorf("in-flight limit %d (want 4), %d in flight (want 0)", got, n)
		}
	})
}

func TestBucketString(t *testing.T) {
	if Post.String() != "credential" || Get.String() != "user-read" || Groups.String() != "groups" || Apps.String() != "apps" {
		t.Errorf("bucket names %q, %q, %q, %q", Post, Get, Groups, Apps)
	}
}

// TestListingBucketsApart: the listings' buckets (Groups, Apps) are paced
// apart from each other and from the credential bucket: a 429 in one
// pauses it alone.
func TestListingBucketsApart(t *testing.T) {
	for _, paused := range []Bucket{Post, Groups, Apps} {
		t.Run(paused.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := New(Config{MaxShare: 50, Workers: 1})
				now := time.Now()
				tk, err := p.Acquire(t.Context(), paused)
				if err != nil {
					t.Fatal(err)
				}
				tk.Done(rateLimited(now, now.Add(30*time.Second), time.Time{}, now))
				if got := p.Paused(); len(got) != 1 || got[0].Bucket != paused {
					t.Fatalf("Paused() = %+v, want %s alone", got, paused)
				}
				for _, b := range []Bucket{Post, Get, Groups, Apps} {
					if b == paused {
						continue
					}
					tk, err := p.Acquire(t.Context(), b)
					if err != nil {
						t.Fatal(err)
					}
					if time.Since(now) > 0 {
						t.Errorf("%s waited for %s's pause", b, paused)
					}
					tk.Done(Observation{})
				}
				tk, err = p.Acquire(t.Context(), paused)
				if err != nil {
					t.Fatal(err)
				}
				if got := time.Since(now); got < 30*time.Second {
					t.Errorf("%s left %v after its 429, before its Reset", paused, got)
				}
				tk.Done(Observation{})
			})
		})
	}
}

// TestNewWindowProbe: when a window whose share was spent ends, exactly one
// request probes the new window; the rest wait for its answer.
func TestNewWindowProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{MaxShare: 50, Workers: 8})
		start := time.Now()
		reset := start.Add(10 * time.Second)
		tk, err := p.Acquire(t.Context(), Post)
		if err != nil {
			t.Fatal(err)
		}
		tk.Done(Observation{Answered: true, Status: 200, HasRate: true, Limit: 100, Remaining: 50, Reset: reset, Date: start, Received: start})
		var left atomic.Int64
		tickets := make(chan *Ticket, 5)
		for range 5 {
			go func() {
				tk, err := p.Acquire(t.Context(), Post)
				if err != nil {
					t.Errorf("Acquire: %v", err)
					return
				}
				left.Add(1)
				tickets <- tk
			}()
		}
		time.Sleep(reset.Sub(start))
		synctest.Wait()
		if n := left.Load(); n != 1 {
			t.Fatalf("%d requests left at the start of an unknown window, want 1 probe", n)
		}
		probe := <-tickets
		if time.Now().Before(reset) {
			t.Fatalf("the probe left before the window's reset")
		}
		now := time.Now()
		probe.Done(Observation{Answered: true, Status: 200, HasRate: true, Limit: 100, Remaining: 99,
			Reset: now.Add(60 * time.Second), Date: now, Received: now})
		for range 4 {
			(<-tickets).Done(Observation{Answered: false})
		}
		if n := left.Load(); n != 5 {
			t.Fatalf("%d requests left, want 5", n)
		}
	})
}

// TestClockOffsetEstimate: the offset is the largest Date − Received sample,
// so one well-timed answer corrects for Date's 1-second truncation, and the
// converted Reset is never before the true one.
func TestClockOffsetEstimate(t *testing.T) {
	for _, offset := range []time.Duration{5500 * time.Millisecond, -2700 * time.Millisecond, 300 * time.Millisecond} {
		t.Run(offset.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := New(Config{MaxShare: 100, Workers: 1})
				start := time.Now()
				// Answers at local times that put the server clock at
				// several fractions of a second, one exactly on a second.
				exact := start.Add(offset).Truncate(time.Second).Add(time.Second).Sub(start.Add(offset))
				for _, at := range []time.Duration{0, exact, exact + 400*time.Millisecond} {
					time.Sleep(at - time.Since(start))
					tk, err := p.Acquire(t.Context(), Post)
					if err != nil {
						t.Fatal(err)
					}
					now := time.Now()
					tk.Done(Observation{Answered: true, Status: 200, Date: now.Add(offset).Truncate(time.Second), Received: now})
				}
				tk, err := p.Acquire(t.Context(), Post)
				if err != nil {
					t.Fatal(err)
				}
				now := time.Now()
				server := now.Add(offset)
				reset := server.Truncate(time.Second).Add(3 * time.Second)
				tk.Done(rateLimited(server.Truncate(time.Second), reset, time.Time{}, now))
				trueLocal := reset.Add(-offset)
				got := p.Paused()
				if len(got) != 1 || !got[0].Until.Equal(trueLocal) {
					t.Fatalf("Paused() = %+v, want until %v (the true local reset)", got, trueLocal)
				}
			})
		})
	}
}

// acquireWithin acquires b, giving up after d of (fake) time.
func acquireWithin(t *testing.T, p *Pacer, b Bucket, d time.Duration) (*Ticket, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	return p.Acquire(ctx, b)
}

// TestShareCountsInFlight: requests in flight count against the share before
// their answers arrive, and answers arriving out of order never lower the
// use already seen in a window.
func TestShareCountsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{MaxShare: 50, Workers: 8, MaxWait: 2 * time.Hour})
		now := time.Now()
		reset := now.Add(time.Hour) // 4 requests left: spaced 12 minutes apart
		win := func(remaining int) Observation {
			n := time.Now()
			return Observation{Answered: true, Status: 200, HasRate: true, Limit: 10, Remaining: remaining, Reset: reset, Date: n, Received: n}
		}
		tk, err := p.Acquire(t.Context(), Post)
		if err != nil {
			t.Fatal(err)
		}
		tk.Done(win(9)) // used 1 of an allowed 5
		var held []*Ticket
		for i := range 4 {
			tk, err := acquireWithin(t, p, Post, 20*time.Minute)
			if err != nil {
				t.Fatalf("request %d of the share: %v", i+2, err)
			}
			held = append(held, tk)
		}
		// 1 used + 4 in flight = the allowed 5: the sixth waits for the reset.
		if _, err := acquireWithin(t, p, Post, 10*time.Minute); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a sixth request with 5 of 5 used or in flight: %v, want it to wait", err)
		}
		// Answers out of order: the latest says 5 used, an older one 2.
		held[0].Done(win(5))
		held[1].Done(win(8))
		held[2].Done(Observation{Answered: false})
		held[3].Done(Observation{Answered: false})
		got := p.Paused()
		want := PauseInfo{Bucket: Post, Until: reset, Reason: ReasonShareSpent, Remaining: 5, Limit: 10}
		if len(got) != 1 || got[0] != want {
			t.Fatalf("Paused() = %+v, want [%+v]", got, want)
		}
		if time.Now().After(reset) {
			t.Fatal("test setup took longer than the window")
		}
		tk, err = p.Acquire(t.Context(), Post)
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().Before(reset) {
			t.Errorf("a request left at %v with the share spent until %v", time.Now(), reset)
		}
		tk.Done(Observation{Answered: false})
	})
}

// TestStaleWindowIgnored: an answer naming an older window than the one
// known does not bring the older window back.
func TestStaleWindowIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{MaxShare: 100, Workers: 8})
		start := time.Now()
		r1 := start.Add(10 * time.Second)
		obs := func(reset time.Time, remaining int) Observation {
			n := time.Now()
			return Observation{Answered: true, Status: 200, HasRate: true, Limit: 100, Remaining: remaining, Reset: reset, Date: n, Received: n}
		}
		tk, err := p.Acquire(t.Context(), Post)
		if err != nil {
			t.Fatal(err)
		}
		tk.Done(obs(r1, 99))
		late, err := p.Acquire(t.Context(), Post) // answered only in the next window
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(r1.Sub(time.Now()))
		probe, err := p.Acquire(t.Context(), Post)
		if err != nil {
			t.Fatal(err)
		}
		r2 := r1.Add(60 * time.Second)
		probe.Done(obs(r2, 90))
		stale := obs(r1, 0) // the old window, spent, answered before its reset
		stale.Date = r1.Add(-time.Second)
		late.Done(stale)
		if got := p.Paused(); len(got) != 0 {
			t.Fatalf("Paused() = %+v after a stale answer, want none", got)
		}
		// The new window is known: requests flow (spaced), no probing.
		for i := range 3 {
			tk, err := acquireWithin(t, p, Post, 10*time.Second)
			if err != nil {
				t.Fatalf("request %d in the known window: %v", i, err)
			}
			defer tk.Done(Observation{Answered: false})
		}
	})
}

// TestProbeAfterHeaderlessPause: after a 429 without rate headers (a proxy),
// one request probes before the others leave.
func TestProbeAfterHeaderlessPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{MaxShare: 100, Workers: 8})
		now := time.Now()
		tk, err := p.Acquire(t.Context(), Post)
		if err != nil {
			t.Fatal(err)
		}
		tk.Done(Observation{Answered: true, Status: 429, Date: now, RetryAfter: now.Add(2 * time.Second), Received: now})
		probe, err := p.Acquire(t.Context(), Post)
		if err != nil {
			t.Fatal(err)
		}
		var second atomic.Pointer[Ticket]
		go func() {
			tk, err := p.Acquire(t.Context(), Post)
			if err != nil {
				t.Errorf("Acquire: %v", err)
				return
			}
			second.Store(tk)
		}()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if second.Load() != nil {
			t.Fatal("a second request left before the probe after the pause answered")
		}
		probe.Done(Observation{Answered: true, Status: 200, Received: time.Now()})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		tk = second.Load()
		if tk == nil {
			t.Fatal("the second request did not leave after the probe answered")
		}
		tk.Done(Observation{Answered: false})
	})
}

// TestForgetUndescribedWindow: once a window is over, only a probe's answer
// without usable rate headers makes the pacer stop probing; a late answer of
// an older request does not.
func TestForgetUndescribedWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{MaxShare: 100, Workers: 8})
		now := time.Now()
		r1 := now.Add(5 * time.Second)
		tk, err := p.Acquire(t.Context(), Post)
		if err != nil {
			t.Fatal(err)
		}
		tk.Done(Observation{Answered: true, Status: 200, HasRate: true, Limit: 100, Remaining: 99, Reset: r1, Date: now, Received: now})
		old, err := p.Acquire(t.Context(), Post)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(r1))
		probe, err := p.Acquire(t.Context(), Post)
		if err != nil {
			t.Fatal(err)
		}
		old.Done(Observation{Answered: true, Status: 200, Received: time.Now()}) // no headers, not the probe
		if _, err := acquireWithin(t, p, Post, time.Minute); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a second request left while the probe was out: %v", err)
		}
		probe.Done(Observation{Answered: true, Status: 200, Received: time.Now()}) // the probe: no headers either
		for i := range 3 {
			tk, err := acquireWithin(t, p, Post, time.Minute)
			if err != nil {
				t.Fatalf("request %d after the server stopped describing windows: %v", i, err)
			}
			defer tk.Done(Observation{Answered: false})
		}
	})
}

// TestTinyLimitStillProgresses: a share that rounds down to nothing still lets
// one request through per window.
func TestTinyLimitStillProgresses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		org := newFakeOrg(1, time.Second, 0)
		p := New(Config{MaxShare: 50, Workers: 4})
		if got := runJobs(t, p, org, Get, 4, 10, time.Millisecond); got != 10 {
			t.Errorf("completed %d jobs, want 10", got)
		}
		if m := org.maxPerWindow(); m > 1 {
			t.Errorf("a window counted %d requests, limit 1", m)
		}
	})
}
