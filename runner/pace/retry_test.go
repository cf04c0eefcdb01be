package pace

import (
	"fmt"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	const budget = 5
	type want struct {
		v       Verdict
		applied bool
	}
	// Each case runs for both kinds of action unless a want is given only
	// for one: rep is the Repeatable action's expected result, once the
	// non-Repeatable one's.
	cases := []struct {
		name      string
		a         Attempt // Repeatable is set per run
		rep, once want
	}{
		// Happy paths.
		{"2xx", Attempt{Answered: true, Status: 200}, want{Success, false}, want{Success, false}},
		{"204", Attempt{Answered: true, Status: 204}, want{Success, false}, want{Success, false}},
		{"2xx after a possibly applied attempt", Attempt{Answered: true, Status: 200, EarlierMayHaveApplied: true, Retries: 1}, want{Success, false}, want{Success, false}},

		// 4xx: failed, unless an earlier attempt may have applied.
		{"400", Attempt{Answered: true, Status: 400}, want{Fail, false}, want{Fail, false}},
		{"403", Attempt{Answered: true, Status: 403, Retries: 2}, want{Fail, false}, want{Fail, false}},
		{"404", Attempt{Answered: true, Status: 404}, want{Fail, false}, want{Fail, false}},
		{"4xx after a possibly applied attempt", Attempt{Answered: true, Status: 403, EarlierMayHaveApplied: true, Retries: 1}, want{InDoubt, false}, want{InDoubt, false}},
		{"4xx after a possibly applied attempt, budget spent", Attempt{Answered: true, Status: 400, EarlierMayHaveApplied: true, Retries: budget}, want{InDoubt, false}, want{InDoubt, false}},
		{"unexpected 3xx", Attempt{Answered: true, Status: 302}, want{Fail, false}, want{Fail, false}},

		// 429: retry after the pause, counted against the budget.
		{"429", Attempt{Answered: true, Status: 429}, want{RetryAfterPause, false}, want{RetryAfterPause, false}},
		{"429 on the last retry", Attempt{Answered: true, Status: 429, Retries: budget - 1}, want{RetryAfterPause, false}, want{RetryAfterPause, false}},
		{"429 after a possibly applied attempt retries", Attempt{Answered: true, Status: 429, EarlierMayHaveApplied: true, Retries: 1}, want{RetryAfterPause, false}, want{RetryAfterPause, false}},
		{"429, budget spent", Attempt{Answered: true, Status: 429, Retries: budget}, want{Fail, false}, want{Fail, false}},
		{"429, budget spent after a possibly applied attempt", Attempt{Answered: true, Status: 429, EarlierMayHaveApplied: true, Retries: budget}, want{InDoubt, false}, want{InDoubt, false}},

		// 503 and other 5xx that did not apply: safe to retry for any action.
		{"503", Attempt{Answered: true, Status: 503}, want{RetryBackoff, false}, want{RetryBackoff, false}},
		{"501", Attempt{Answered: true, Status: 501, Retries: 3}, want{RetryBackoff, false}, want{RetryBackoff, false}},
		{"503, budget spent", Attempt{Answered: true, Status: 503, Retries: budget}, want{Fail, false}, want{Fail, false}},
		{"503, budget spent after a possibly applied attempt", Attempt{Answered: true, Status: 503, EarlierMayHaveApplied: true, Retries: budget}, want{InDoubt, false}, want{InDoubt, false}},

		// 500/502/504 may have applied: repeated only for Repeatable actions.
		{"500", Attempt{Answered: true, Status: 500}, want{RetryBackoff, true}, want{InDoubt, true}},
		{"502", Attempt{Answered: true, Status: 502}, want{RetryBackoff, true}, want{InDoubt, true}},
		{"504", Attempt{Answered: true, Status: 504, Retries: 2}, want{RetryBackoff, true}, want{InDoubt, true}},
		{"500, budget spent", Attempt{Answered: true, Status: 500, Retries: budget}, want{InDoubt, true}, want{InDoubt, true}},

		// No answer, and the request may have reached Okta.
		{"reset connection after sending", Attempt{MayHaveReached: true}, want{RetryBackoff, true}, want{InDoubt, true}},
		{"timeout", Attempt{MayHaveReached: true, Timeout: true}, want{RetryBackoff, true}, want{InDoubt, true}},
		{"timeout before the request was written (dial)", Attempt{Timeout: true}, want{RetryBackoff, false}, want{RetryBackoff, false}},
		{"may have reached, budget spent", Attempt{MayHaveReached: true, Retries: budget}, want{InDoubt, true}, want{InDoubt, true}},

		// No answer, and the request cannot have reached Okta: safe retry.
		{"connection refused", Attempt{}, want{RetryBackoff, false}, want{RetryBackoff, false}},
		{"connection refused after a possibly applied attempt", Attempt{EarlierMayHaveApplied: true, Retries: 1}, want{RetryBackoff, false}, want{RetryBackoff, false}},
		{"connection refused, budget spent", Attempt{Retries: budget}, want{Fail, false}, want{Fail, false}},
		{"connection refused, budget spent after a possibly applied attempt", Attempt{EarlierMayHaveApplied: true, Retries: budget}, want{InDoubt, false}, want{InDoubt, false}},
		{"budget of zero", Attempt{Answered: true, Status: 503, MaxRetries: -1}, want{Fail, false}, want{Fail, false}},
	}
	for _, tc := range cases {
		for _, repeatable := range []bool{true, false} {
			name := tc.name + "/once"
			w := tc.once
			if repeatable {
				name, w = tc.name+"/repeatable", tc.rep
			}
			t.Run(name, func(t *testing.T) {
				a := tc.a
				a.Repeatable = repeatable
				if a.MaxRetries == 0 {
					a.MaxRetries = budget
				} else if a.MaxRetries < 0 {
					a.MaxRetries = 0
				}
				v, applied := Decide(a)
				if v != w.v || applied != w.applied {
					t.Errorf("Decide(%+v) = %v, %v; want %v, %v", a, v, applied, w.v, w.applied)
				}
			})
		}
	}
}

// TestDecideTerminates: following Decide's verdicts, every job ends within
// MaxRetries+1 attempts whatever the server answers.
func TestDecideTerminates(t *testing.T) {
	answers := []Attempt{
		{Answered: true, Status: 429}, {Answered: true, Status: 503}, {Answered: true, Status: 500},
		{MayHaveReached: true}, {}, {Timeout: true}, {Timeout: true, MayHaveReached: true},
	}
	for _, repeatable := range []bool{true, false} {
		for max := range 4 {
			for start := range answers {
				t.Run(fmt.Sprintf("repeatable=%v/max=%d/start=%d", repeatable, max, start), func(t *testing.T) {
					earlier := false
					for n := 0; ; n++ {
						if n > max {
							t.Fatalf("attempt %d still retried with MaxRetries %d", n+1, max)
						}
						a := answers[(start+n)%len(answers)]
						a.Repeatable, a.EarlierMayHaveApplied, a.Retries, a.MaxRetries = repeatable, earlier, n, max
						v, applied := Decide(a)
						earlier = earlier || applied
						if v != RetryAfterPause && v != RetryBackoff {
							if earlier && v == Fail {
								t.Fatalf("a job that may have applied ended %v, want in-doubt", v)
							}
							return
						}
					}
				})
			}
		}
	}
}

func TestBackoff(t *testing.T) {
	const lo, hi = 100 * time.Millisecond, 10 * time.Second
	for _, r := range []float64{0, 0.25, 0.5, 0.999} {
		rnd := func() float64 { return r }
		prev := time.Duration(0)
		for attempt := 1; attempt <= 40; attempt++ {
			d := Backoff(attempt, lo, hi, rnd)
			if d < lo || d > hi {
				t.Fatalf("Backoff(%d, rnd=%v) = %v, outside [%v, %v]", attempt, r, d, lo, hi)
			}
			if d < prev {
				t.Fatalf("Backoff(%d, rnd=%v) = %v, less than attempt %d's %v", attempt, r, d, attempt-1, prev)
			}
			prev = d
		}
		if prev != hi {
			t.Errorf("Backoff(40, rnd=%v) = %v, want the cap %v", r, prev, hi)
		}
	}
	// Exponential growth with the jitter inside [base, 1.5·base].
	for attempt := 1; attempt <= 6; attempt++ {
		base := lo << (attempt - 1)
		lowest := Backoff(attempt, lo, hi, func() float64 { return 0 })
		highest := Backoff(attempt, lo, hi, func() float64 { return 0.999999 })
		if lowest != base {
			t.Errorf("Backoff(%d) with no jitter = %v, want %v", attempt, lowest, base)
		}
		if highest <= lowest || highest > base+base/2 {
			t.Errorf("Backoff(%d) with full jitter = %v, want in (%v, %v]", attempt, highest, base, base+base/2)
		}
	}
	// Odd inputs.
	if d := Backoff(0, lo, hi, nil); d < lo || d > lo+lo/2 {
		t.Errorf("Backoff(0) = %v, want the first retry's range", d)
	}
	if d := Backoff(3, time.Second, time.Millisecond, nil); d != time.Second {
		t.Errorf("Backoff with max < min = %v, want min", d)
	}
	if d := Backoff(3, 0, time.Second, nil); d != 0 {
		t.Errorf("Backoff with min 0 = %v, want 0", d)
	}
	if d := Backoff(1000, time.Second, time.Duration(1<<62), func() float64 { return 0.5 }); d <= 0 || d > time.Duration(1<<62) {
		t.Errorf("Backoff near the duration limit = %v", d)
	}
	if d := Backoff(2, lo, hi, func() float64 { return 7 }); d < 2*lo || d > 3*lo {
		t.Errorf("Backoff with rnd out of range = %v", d)
	}
}
