package verify

import (
	"strings"
	"testing"
	"time"
)

// The offset is the intersection of what each Date says: an Okta clock
// 2.4 s behind, read by answers at several phases of its second, ends up
// bracketed tightly around -2.4 s; the bounds always hold the truth.
func TestClockSamples(t *testing.T) {
	const skew = -2400 * time.Millisecond
	okta := func(local time.Time) time.Time { return local.Add(skew).Truncate(time.Second) }
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var c ClockSamples
	if o := c.Offset(); o.Known() || !strings.Contains(o.String(), "no answer") {
		t.Errorf("no samples: %+v %s", o, o)
	}
	// Answers 30 ms long, sent every 170 ms: their phases cover the second.
	for i := 0; i < 12; i++ {
		sent := base.Add(time.Duration(i) * 170 * time.Millisecond)
		recv := sent.Add(30 * time.Millisecond)
		c.Add(sent, recv, okta(sent.Add(15*time.Millisecond))) // Okta answered mid-way
		o := c.Offset()
		if !o.Known() || o.N != i+1 || o.Lo > skew || o.Hi <= skew {
			t.Fatalf("after %d answers: [%v, %v) from %d, want it to hold %v", i+1, o.Lo, o.Hi, o.N, skew)
		}
	}
	// An answer that straddles Okta's second: sent at Okta's X.990,
	// answered at X+1.015, received 30 ms after it was sent.
	sent := base.Add(5*time.Second + 990*time.Millisecond - skew)
	c.Add(sent, sent.Add(30*time.Millisecond), okta(sent.Add(25*time.Millisecond)))
	o := c.Offset()
	if o.Lo > skew || o.Hi <= skew {
		t.Fatalf("after the straddling answer: [%v, %v), want it to hold %v", o.Lo, o.Hi, skew)
	}
	if w := o.Hi - o.Lo; w > 200*time.Millisecond {
		t.Errorf("after 12 answers over 2 s the offset is %v wide: [%v, %v)", w, o.Lo, o.Hi)
	}
	if s := o.String(); !strings.Contains(s, "from 13 Date headers") || !strings.Contains(s, "-2.") {
		t.Errorf("String() = %s", s)
	}

	// A missing Date is not a sample.
	c.Add(base, base, time.Time{})
	if c.Offset().N != 13 {
		t.Errorf("an answer without Date counted")
	}
	var none ClockSamples
	none.Add(base, base, time.Time{})
	if o := none.Offset(); o.Known() || !strings.Contains(o.Reason, "no Date header") {
		t.Errorf("only answers without Date: %+v", o)
	}

	// Dates that cannot all be true (a clock jump) make it unknown.
	c.Add(base.Add(3*time.Second), base.Add(3*time.Second), base.Add(time.Hour))
	if o := c.Offset(); o.Known() || !strings.Contains(o.Reason, "contradict") {
		t.Errorf("contradicting Dates: %+v", o)
	}
}
