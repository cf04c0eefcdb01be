package pace

import (
	"context"
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"
)

// feed adds samples of a neighbour whose count at t (from t0) is count(t),
// one sample every gap from from to to; it returns the estimator's rate
// after each sample, by the sample's offset from t0.
func feed(e *othersRate, t0 time.Time, from, to, gap time.Duration, count func(time.Duration) int) map[time.Duration]float64 {
	rates := map[time.Duration]float64{}
	for d := from; d <= to; d += gap {
		e.add(t0.Add(d), count(d))
		rates[d] = e.rate
	}
	return rates
}

func newEstimate(windowLen time.Duration) *othersRate {
	e := &othersRate{}
	e.newWindow(windowLen)
	return e
}

// TestOthersRateReacts: a steady neighbour is measured closely; a stop and a
// surge show in the estimate within a second of credbatch's answers (one
// horizon and one gap between samples).
func TestOthersRateReacts(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	const gap = 250 * time.Millisecond
	t.Run("steady, then stops", func(t *testing.T) {
		e := newEstimate(time.Minute)
		rates := feed(e, t0, 0, 10*time.Second, gap, steady(6))
		if r := rates[10*time.Second]; math.Abs(r-6) > 0.3 {
			t.Fatalf("steady 6/s measured as %.2f/s", r)
		}
		stop := func(d time.Duration) int { return steady(6)(min(d, 10*time.Second)) }
		rates = feed(e, t0, 10*time.Second+gap, 13*time.Second, gap, stop)
		for d := 11 * time.Second; d <= 13*time.Second; d += gap {
			if rates[d] != 0 {
				t.Errorf("%v after the stop: rate %.2f/s, want 0", d-10*time.Second, rates[d])
			}
		}
	})
	t.Run("surges", func(t *testing.T) {
		e := newEstimate(time.Minute)
		feed(e, t0, 0, 10*time.Second, gap, steady(2))
		surge := func(d time.Duration) int {
			if d <= 10*time.Second {
				return steady(2)(d)
			}
			return steady(2)(10*time.Second) + steady(9)(d-10*time.Second)
		}
		rates := feed(e, t0, 10*time.Second+gap, 13*time.Second, gap, surge)
		for d := 11 * time.Second; d <= 13*time.Second; d += gap {
			if rates[d] < 8 {
				t.Errorf("%v after a surge from 2 to 9/s: rate %.2f/s, want at least 8", d-10*time.Second, rates[d])
			}
		}
	})
	t.Run("a burst passes", func(t *testing.T) {
		e := newEstimate(time.Minute)
		feed(e, t0, 0, 5*time.Second, gap, steady(2))
		burst := func(d time.Duration) int { return steady(2)(d) + 30 }
		rates := feed(e, t0, 5*time.Second+gap, 8*time.Second, gap, burst)
		if r := rates[5*time.Second+gap]; r < 20 {
			t.Errorf("just after a burst of 30: rate %.2f/s, want it to show", r)
		}
		if r := rates[8*time.Second]; math.Abs(r-2) > 0.5 {
			t.Errorf("3 s after a burst of 30 beside a steady 2/s: rate %.2f/s, want about 2", r)
		}
	})
}

// TestOthersRateYoung: with one or two answers the estimate is
// conservative: the rate of the windows before is its floor, and with
// nothing before it, a few others' requests between two close answers read
// as the rate they show over a quarter second, not over the whole second.
func TestOthersRateYoung(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	e := newEstimate(time.Minute)
	feed(e, t0, 0, 20*time.Second, 500*time.Millisecond, steady(6))
	// A new window: two answers 100 ms apart show nobody else.
	e.newWindow(time.Minute)
	e.add(t0.Add(time.Minute), 0)
	e.add(t0.Add(time.Minute+100*time.Millisecond), 0)
	if e.rate < 5.5 {
		t.Errorf("a young window after a steady 6/s: rate %.2f/s, want the earlier rate", e.rate)
	}
	// The run's first window: two answers 100 ms apart, 3 requests of others.
	e = newEstimate(time.Minute)
	e.add(t0, 5)
	e.add(t0.Add(100*time.Millisecond), 8)
	if e.rate < 10 {
		t.Errorf("the first window, 3 others' requests in 100 ms: rate %.2f/s, want at least 10/s", e.rate)
	}
	// Nobody else seen: nothing to reserve.
	e = newEstimate(time.Minute)
	e.add(t0, 0)
	e.add(t0.Add(100*time.Millisecond), 0)
	if e.rate != 0 {
		t.Errorf("the first window, no others: rate %.2f/s, want 0", e.rate)
	}
}

// TestOthersRateOrder: samples keyed by departure give the same estimate
// whatever order the answers arrive in.
func TestOthersRateOrder(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	inOrder, shuffled := newEstimate(time.Minute), newEstimate(time.Minute)
	const n = 40
	at := func(i int) time.Duration { return time.Duration(i) * 100 * time.Millisecond }
	for i := range n {
		inOrder.add(t0.Add(at(i)), steady(7)(at(i)))
	}
	for i := range n {
		j := (i*17 + 5) % n // a permutation of 0..n-1
		shuffled.add(t0.Add(at(j)), steady(7)(at(j)))
	}
	if math.Abs(inOrder.rate-7) > 0.5 || math.Abs(shuffled.rate-inOrder.rate) > 0.01 {
		t.Errorf("rate in order %.3f/s, shuffled %.3f/s, want both about 7", inOrder.rate, shuffled.rate)
	}
}

// TestOwnRequestsAreNotOthers: credbatch's own requests in flight, answered
// out of order, are not taken for a neighbour.
func TestOwnRequestsAreNotOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{MaxShare: 100, Workers: 32})
		start := time.Now()
		reset := start.Add(time.Minute)
		used := 0
		answer := func() Observation {
			used++ // Okta counts each request as it arrives
			n := time.Now()
			return Observation{Answered: true, Status: 200, HasRate: true, Limit: 1000, Remaining: 1000 - used, Reset: reset, Date: n, Received: n}
		}
		tk, err := p.Acquire(t.Context(), Post)
		if err != nil {
			t.Fatal(err)
		}
		tk.Done(answer())
		for round := range 10 {
			var held []*Ticket
			var obs []Observation
			for range 16 {
				tk, err := acquireWithin(t, p, Post, time.Second)
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				held = append(held, tk)
				obs = append(obs, answer()) // counted on arrival, in departure order
			}
			time.Sleep(100 * time.Millisecond)
			for i := len(held) - 1; i >= 0; i-- { // answered in reverse
				held[i].Done(obs[i])
			}
		}
		p.mu.Lock()
		rate, left := p.buckets[Post].others.rate, p.shareLeft(&p.buckets[Post])
		p.mu.Unlock()
		if rate != 0 || left != 1000-used {
			t.Errorf("no neighbour: others' rate %.2f/s, %d of the share left; want 0 and %d", rate, left, 1000-used)
		}
	})
}

// TestReserveHoldsBack: what the others are expected to send until Reset is
// kept free: with 5 others' requests a second, a window of 100 at share 50,
// 7 used after a second, nothing more leaves before Reset (7 + 5 × 9 > 50).
func TestReserveHoldsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{MaxShare: 50, Workers: 8})
		start := time.Now()
		reset := start.Add(10 * time.Second)
		win := func(used int) Observation {
			n := time.Now()
			return Observation{Answered: true, Status: 200, HasRate: true, Limit: 100, Remaining: 100 - used, Reset: reset, Date: n, Received: n}
		}
		tk, err := p.Acquire(t.Context(), Post)
		if err != nil {
			t.Fatal(err)
		}
		tk.Done(win(1))
		time.Sleep(time.Second)
		tk, err = p.Acquire(t.Context(), Post)
		if err != nil {
			t.Fatal(err)
		}
		tk.Done(win(7)) // 2 of credbatch's, 5 of the others'
		got := p.Paused()
		want := PauseInfo{Bucket: Post, Until: reset, Reason: ReasonShareSpent, Remaining: 93, Limit: 100}
		if len(got) != 1 || got[0] != want {
			t.Fatalf("Paused() = %+v, want [%+v]", got, want)
		}
		if _, err := acquireWithin(t, p, Post, 7*time.Second); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a request left with the others' expected use filling the share: %v", err)
		}
		// At 8 s, nothing new was heard: the others are still expected to
		// have sent 5 a second since the last answer, so a new Acquire
		// waits too.
		if _, err := acquireWithin(t, p, Post, time.Second); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a request left at %v with the others' expected use filling the share: %v", time.Since(start), err)
		}
	})
}

// TestReserveRoundsUp: the others' expected requests are rounded up (the
// next of a steady neighbour's may come just before Reset).
func TestReserveRoundsUp(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	e := newEstimate(time.Minute)
	feed(e, t0, 0, 10*time.Second, 250*time.Millisecond, steady(9))
	since := t0.Add(10 * time.Second)
	if got := e.reserve(since, since.Add(2050*time.Millisecond)); got != 19 {
		t.Errorf("reserve for 9/s over 2.05 s = %d (rate %.3f/s), want 19", got, e.rate)
	}
}
