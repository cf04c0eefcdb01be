package pace

import (
	"testing"
	"testing/synctest"
	"time"
)

// The System Log bucket is paced on its own: its spent share holds only
// its own requests, and its name says which bucket it is.
func TestLogsBucketIsItsOwn(t *testing.T) {
	if got := Logs.String(); got != "system-log" {
		t.Errorf("Logs.String() = %q, want system-log", got)
	}
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{MaxShare: 50, Workers: 4})
		start := time.Now()
		reset := start.Add(40 * time.Second)
		tk, err := p.Acquire(t.Context(), Logs)
		if err != nil {
			t.Fatal(err)
		}
		// 60 a minute, and everyone has used 30: half is spent.
		tk.Done(Observation{Answered: true, Status: 200, HasRate: true, Limit: 60, Remaining: 30, Reset: reset, Date: start, Received: start})
		got := p.Paused()
		if len(got) != 1 || got[0].Bucket != Logs || got[0].Reason != ReasonShareSpent || !got[0].Until.Equal(reset) {
			t.Fatalf("Paused() = %+v, want only the System Log, share spent until %v", got, reset)
		}
		for _, b := range []Bucket{Post, Get} {
			tk, err := p.Acquire(t.Context(), b)
			if err != nil {
				t.Fatal(err)
			}
			if !time.Now().Equal(start) {
				t.Errorf("%s waited for the System Log's window", b)
			}
			tk.Done(Observation{Answered: true, Status: 200})
		}
		tk, err = p.Acquire(t.Context(), Logs)
		if err != nil {
			t.Fatal(err)
		}
		if now := time.Now(); now.Before(reset) {
			t.Errorf("the next System Log request left at %v, before the window's reset %v", now, reset)
		}
		tk.Done(Observation{})
	})
}
