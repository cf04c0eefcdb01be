package pace

import (
	"math/rand/v2"
	"time"
)

// Backoff returns how long to wait before retry number attempt (attempt 1 is
// the first retry): exponential, min·2^(attempt−1), plus up to half of that
// again as jitter (rnd()·base/2, rnd in [0,1)), never above max and never
// below min. attempt < 1 counts as 1; max < min means max = min; min ≤ 0
// returns 0. A nil rnd uses math/rand/v2. For a fixed rnd the result never
// decreases as attempt grows.
func Backoff(attempt int, min, max time.Duration, rnd func() float64) time.Duration {
	if min <= 0 {
		return 0
	}
	if max < min {
		max = min
	}
	if attempt < 1 {
		attempt = 1
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	base := min
	for i := 1; i < attempt && base < max; i++ {
		base *= 2 // base < max, so no overflow unless max is near the limit
		if base <= 0 {
			base = max
		}
	}
	if base >= max {
		return max
	}
	r := rnd()
	if r < 0 || r != r {
		r = 0
	} else if r > 1 {
		r = 1
	}
	d := base + time.Duration(r*float64(base)/2)
	if d > max || d < base {
		d = max
	}
	return d
}

// Attempt describes how one attempt of a job ended, for Decide.
type Attempt struct {
	// Repeatable: the action may be repeated after an attempt that may have
	// applied (expire_password, expire_password_with_temp_password,
	// reset_password, forgot_password, clear_sessions).
	Repeatable bool
	// Answered: an HTTP answer came back, with Status.
	Answered bool
	Status   int
	// MayHaveReached: for Answered=false, the request may have reached Okta.
	MayHaveReached bool
	// Timeout: for Answered=false, the attempt timed out. It is
	// informational (the runner reports CB_TIMEOUT): MayHaveReached alone
	// says whether the attempt may have applied, since the client knows
	// whether the request was written in full (a dial timeout was not).
	Timeout bool
	// EarlierMayHaveApplied: some earlier attempt of this job may have
	// applied (the OR of Decide's second result over earlier attempts).
	EarlierMayHaveApplied bool
	// Retries done so far (not counting this attempt), and the
	// --max-retries budget.
	Retries    int
	MaxRetries int
}

// Verdict is what to do after an attempt.
type Verdict int

const (
	// Success: 2xx; the job succeeded.
	Success Verdict = iota
	// RetryAfterPause: a 429; acquire again (the pacer holds the request
	// until the bucket's pause ends) and retry. A 429 retry counts against
	// MaxRetries like any other, so a run can never loop forever.
	RetryAfterPause
	// RetryBackoff: a 5xx, timeout or network error; wait Backoff, retry.
	RetryBackoff
	// Fail: the job failed (a 4xx, or retries ran out while nothing may
	// have applied).
	Fail
	// InDoubt: the action may have applied and it is not known whether it
	// did; it must not (or can no longer) be repeated.
	InDoubt
)

// String names the verdict.
func (v Verdict) String() string {
	switch v {
	case Success:
		return "success"
	case RetryAfterPause:
		return "retry-after-pause"
	case RetryBackoff:
		return "retry-backoff"
	case Fail:
		return "fail"
	case InDoubt:
		return "in-doubt"
	}
	return "unknown"
}

// Decide applies SPEC.md's retry and outcome rules to one attempt.
// mayHaveApplied reports whether this attempt may have applied without the
// tool knowing: no answer while the request may have reached Okta
// (MayHaveReached, whether or not it timed out), or a 500, 502 or 504 (a 503 did not apply). The caller ORs it into
// EarlierMayHaveApplied for the next attempt. A 2xx returns false: it applied,
// and the job is over.
//
// The rules, in order:
//   - 2xx → Success.
//   - A possibly applied attempt of a non-Repeatable action → InDoubt at once.
//   - 429 → RetryAfterPause (a 429 says nothing about whether an earlier
//     attempt applied, so it is not the "4xx after a possibly applied
//     attempt" below: the retry's answer decides).
//   - Other 5xx, timeouts and network errors → RetryBackoff.
//   - Retries running out (Retries ≥ MaxRetries) where a retry was due →
//     InDoubt if this or an earlier attempt may have applied, else Fail.
//   - Any other answer (4xx, and anything unexpected) → InDoubt after an
//     earlier possibly applied attempt, else Fail.
func Decide(a Attempt) (v Verdict, mayHaveApplied bool) {
	retry := Fail
	switch {
	case !a.Answered:
		mayHaveApplied = a.MayHaveReached
		retry = RetryBackoff
	case a.Status >= 200 && a.Status < 300:
		return Success, false
	case a.Status == 429:
		retry = RetryAfterPause
	case a.Status >= 500 && a.Status < 600:
		mayHaveApplied = a.Status == 500 || a.Status == 502 || a.Status == 504
		retry = RetryBackoff
	}
	doubt := mayHaveApplied || a.EarlierMayHaveApplied
	switch {
	case mayHaveApplied && !a.Repeatable:
		return InDoubt, true
	case retry == Fail, a.Retries >= a.MaxRetries:
		if doubt {
			return InDoubt, mayHaveApplied
		}
		return Fail, mayHaveApplied
	}
	return retry, mayHaveApplied
}
