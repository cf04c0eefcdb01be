package verify

import (
	"fmt"
	"time"
)

// Offset is what verify knows of Okta's clock against this host's:
// Okta's time minus the local time lies in [Lo, Hi). N counts the Date
// headers it was learned from; N == 0 means unknown (no answer carried a
// Date, or their Dates contradict each other: Reason says which).
type Offset struct {
	Lo, Hi time.Duration
	N      int
	Reason string // why the offset is unknown, when N == 0
}

// Known reports whether the offset was learned.
func (o Offset) Known() bool { return o.N > 0 }

// String says the offset as the evidence shows it.
func (o Offset) String() string {
	if !o.Known() {
		return "clock offset unknown: " + o.Reason
	}
	return fmt.Sprintf("Okta's clock minus this host's: %s to %s (from %d Date %s)",
		signed(o.Lo), signed(o.Hi), o.N, plural(o.N, "header", "headers"))
}

func signed(d time.Duration) string {
	s := fmt.Sprintf("%.3fs", d.Seconds())
	if d >= 0 {
		s = "+" + s
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// ClockSamples learns the offset from answers' Date headers. An answer
// sent at local time S and received at local time R whose Date header
// says D (whole seconds: Okta's clock when it answered, cut to the
// second) bounds the offset: Okta's clock read D…D+1s at some local
// instant between S and R, so D−R ≤ offset < D+1s−S. The bounds of every
// answer are intersected. The zero value is ready to use; it is not safe
// for concurrent use.
type ClockSamples struct {
	lo, hi       time.Duration
	n            int
	noDate       int
	inconsistent bool
}

// Add records one answer; a zero date (no Date header) is counted apart.
func (c *ClockSamples) Add(sent, received, date time.Time) {
	if date.IsZero() {
		c.noDate++
		return
	}
	lo := date.Sub(received)
	hi := date.Add(time.Second).Sub(sent)
	if c.n == 0 {
		c.lo, c.hi = lo, hi
	} else {
		c.lo, c.hi = max(c.lo, lo), min(c.hi, hi)
	}
	c.n++
	if c.lo >= c.hi {
		c.inconsistent = true
	}
}

// Offset is what the answers so far say.
func (c *ClockSamples) Offset() Offset {
	switch {
	case c.inconsistent:
		return Offset{Reason: "Okta's Date headers contradict each other (did a clock jump?)"}
	case c.n == 0 && c.noDate > 0:
		return Offset{Reason: "Okta's answers carried no Date header"}
	case c.n == 0:
		return Offset{Reason: "no answer from Okta"}
	}
	return Offset{Lo: c.lo, Hi: c.hi, N: c.n}
}
