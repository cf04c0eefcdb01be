package gctune

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	p := Policy{Base: 100, Max: 300, Headroom: 40 << 20}
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 300}, {1 << 20, 300}, {10 << 20, 300}, {20 << 20, 200},
		{30 << 20, 133}, {40 << 20, 100}, {400 << 20, 100},
	} {
		if got := p.Percent(c.live); got != c.want {
			t.Errorf("live %d MiB: %d, want %d", c.live>>20, got, c.want)
		}
	}
}

// gcPercent reads the current target.
func gcPercent() int {
	v := debug.SetGCPercent(-1)
	debug.SetGCPercent(v)
	return v
}

// waitPercent collects until the tuner (which runs after a collection, on
// the finalizer goroutine) has set want, for at most 5 s.
func waitPercent(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for gcPercent() != want {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC %d, want %d", gcPercent(), want)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

var keep [][]byte // live heap the tests hold

// TestStartFollowsTheLiveHeap: with a small live heap the target is Max;
// holding more than Headroom brings it down to Base; letting go raises it
// again; stop restores the target found at Start.
func TestStartFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(gcPercent())
	debug.SetGCPercent(100)
	p := Policy{Base: 100, Max: 300, Headroom: 8 << 20}
	stop := Start(p)
	waitPercent(t, 300)
	keep = make([][]byte, 32)
	for i := range keep {
		keep[i] = make([]byte, 1<<20) // 32 MiB live: 8 MiB of headroom is 25 %, below Base
	}
	waitPercent(t, 100)
	keep = nil
	waitPercent(t, 300)
	stop()
	if got := gcPercent(); got != 100 {
		t.Errorf("after stop: GOGC %d, want 100", got)
	}
	// A tuner still running would now move the target off 250.
	debug.SetGCPercent(250)
	keep = make([][]byte, 32)
	for i := range keep {
		keep[i] = make([]byte, 1<<20)
	}
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	keep = nil
	if got := gcPercent(); got != 250 {
		t.Errorf("collections after stop: GOGC %d, want 250 (the tuner still runs)", got)
	}
}

// TestStartKeepsTheUsersSetting: a target other than Base (GOGC set by the
// user) is left alone, and a second Start while one runs does nothing.
func TestStartKeepsTheUsersSetting(t *testing.T) {
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(gcPercent())
	p := Policy{Base: 100, Max: 300, Headroom: 8 << 20}
	// GOGC in the environment, even at Go's own value: left alone.
	t.Setenv("GOGC", "100")
	debug.SetGCPercent(100)
	stop := Start(p)
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	runtime.GC()
	if got := gcPercent(); got != 100 {
		t.Errorf("GOGC=100 in the environment: %d after Start", got)
	}
	stop()
	t.Setenv("GOGC", "")
	for _, user := range []int{50, 200, -1} {
		debug.SetGCPercent(user)
		stop := Start(p)
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		if got := gcPercent(); got != user {
			t.Errorf("GOGC %d set by the user: %d after Start", user, got)
		}
		stop()
		if got := gcPercent(); got != user {
			t.Errorf("GOGC %d set by the user: %d after stop", user, got)
		}
	}
	debug.SetGCPercent(100)
	stop = Start(p)
	waitPercent(t, 300)
	stop2 := Start(p)
	stop2()
	if got := gcPercent(); got != 300 {
		t.Errorf("a second Start's stop changed the target to %d", got)
	}
	stop()
	if got := gcPercent(); got != 100 {
		t.Errorf("after stop: %d, want 100", got)
	}
}

// TestLower: Lower sets the target to its percent while held and gives back
// what was set before, whether that was higher, lower or off; a lower
// setting is never raised, and nested calls restore once, at the last.
func TestLower(t *testing.T) {
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(gcPercent())
	for _, before := range []int{100, 400, 20, -1} {
		debug.SetGCPercent(before)
		restore := Lower(50)
		during := debug.SetGCPercent(-2) // reads the target (any negative value means off)
		debug.SetGCPercent(during)
		restore()
		if want := min(before, 50); before >= 0 && during != want || before < 0 && during >= 0 {
			t.Errorf("GOGC %d: %d while lowered, want %d", before, during, want)
		}
		if after := gcPercent(); after != before {
			t.Errorf("GOGC %d: %d after restore", before, after)
		}
	}
	debug.SetGCPercent(100)
	outer := Lower(50)
	inner := Lower(50)
	inner()
	if got := gcPercent(); got != 50 {
		t.Errorf("an inner restore gave back %d while the outer Lower holds", got)
	}
	outer()
	if got := gcPercent(); got != 100 {
		t.Errorf("after the outer restore: %d, want 100", got)
	}
	// GOGC=off in the environment: the target is not touched, not even for
	// a moment (which would start a collection); 200 here stands for
	// whatever the program set since.
	t.Setenv("GOGC", "off")
	debug.SetGCPercent(200)
	restore := Lower(50)
	during := gcPercent()
	restore()
	if during != 200 {
		t.Errorf("GOGC=off in the environment: %d while lowered, want it untouched (200)", during)
	}
}
