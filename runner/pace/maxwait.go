package pace

import (
	"errors"
	"fmt"
	"time"
)

// ErrWaitTooLong is what a *WaitTooLongError matches with errors.Is.
var ErrWaitTooLong = errors.New("pace: rate-limit wait longer than the maximum")

// WaitTooLongError says that a bucket would be held back longer than
// Config.MaxWait (--max-wait): a hostile or broken server (a Reset or a
// Retry-After days away) cannot stall the run. The runner stops the run on
// it; the request that asked holds nothing.
type WaitTooLongError struct {
	Bucket Bucket
	// Until is when the bucket would let the next request go, on the local
	// clock: for a 429 the later of its Reset and Retry-After, for a spent
	// share the window's Reset, each converted with the clock offset.
	Until   time.Time
	Reason  string        // ReasonRateLimit, ReasonShareSpent or ReasonSpacing
	MaxWait time.Duration // the limit it passed
}

func (e *WaitTooLongError) Error() string {
	return fmt.Sprintf("%s bucket: Okta asked to wait until %s (%s), longer than the maximum wait of %v",
		e.Bucket, e.Until.Format("2006-01-02 15:04:05 MST"), e.Reason, e.MaxWait)
}

// Is makes errors.Is(err, ErrWaitTooLong) true.
func (e *WaitTooLongError) Is(target error) bool { return target == ErrWaitTooLong }

// tooLong, with p.mu held, returns a *WaitTooLongError when waiting for wake
// (a zero wake: until a change, which is never too long) from now passes
// the maximum wait.
func (p *Pacer) tooLong(b Bucket, wake, now time.Time) error {
	if p.maxWait <= 0 || wake.IsZero() || wake.Sub(now) <= p.maxWait {
		return nil
	}
	bs := &p.buckets[b]
	e := &WaitTooLongError{Bucket: b, Until: wake, Reason: ReasonSpacing, MaxWait: p.maxWait}
	switch {
	case now.Before(bs.pauseUntil):
		e.Reason = bs.pauseReason
	case bs.win.known && wake.Equal(bs.win.resetLocal):
		e.Reason = ReasonShareSpent
	}
	return e
}
