// Package gctune owns the garbage collector's target (GOGC) of a credbatch
// process: Start lets the collector run less often while a run's live heap
// is small, without letting the heap grow past what Go's default would allow
// once it is not; Lower holds the target down around work that builds a
// large short-lived structure (manifest validation). They are not meant to
// overlap: `run` validates before it starts the tuner.
//
// A run keeps little alive per row (a claim per user, a bit per line), but
// every request allocates: with Go's default target (GOGC 100) a 100,000-row
// run on one CPU collected a ~5 MB heap about 270 times, and GOGC 300 cut its
// CPU per row by ~8 % (bench/throughput.sh's A/B runs). A fixed GOGC 300
// would let a 1,000,000-row run's heap reach 4 × its ~37 MB of claims, past
// the 128 MiB goal of bench/memory.sh; so after each collection the target
// is set from the live heap: the next heap may hold live + Headroom bytes,
// but never more than (1 + Max/100) × live nor less than Go's own target.
package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
)

// Policy bounds the target.
type Policy struct {
	Base     int    // the target when the live heap leaves no headroom (Go's: 100)
	Max      int    // the highest target
	Headroom uint64 // bytes the heap may grow over the live heap before a collection
}

// Default is the policy of a run: at most 40 MiB over the live heap, GOGC
// 100 to 300.
var Default = Policy{Base: 100, Max: 300, Headroom: 40 << 20}

// Percent is the target for a live heap of live bytes.
func (p Policy) Percent(live uint64) int {
	if live == 0 {
		return p.Max
	}
	pct := p.Headroom * 100 / live
	return int(max(min(pct, uint64(p.Max)), uint64(p.Base)))
}

var running struct {
	sync.Mutex
	on   bool
	prev int // the target before Start
}

// Start applies p after every collection until the returned stop is called,
// which restores the target found at Start. It does nothing (and stop does
// nothing) when the GOGC environment variable is set, another Start is in
// effect, or the target is not p.Base: a setting of the user's is kept.
func Start(p Policy) (stop func()) {
	running.Lock()
	defer running.Unlock()
	if running.on || os.Getenv("GOGC") != "" {
		return func() {}
	}
	prev := debug.SetGCPercent(p.Base)
	if prev != p.Base {
		debug.SetGCPercent(prev)
		return func() {}
	}
	running.on, running.prev = true, prev
	t := &tuner{p: p, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}, set: prev}
	t.arm()
	t.apply()
	return func() {
		running.Lock()
		defer running.Unlock()
		t.mu.Lock()
		t.stopped = true
		t.mu.Unlock()
		debug.SetGCPercent(running.prev)
		running.on = false
	}
}

type tuner struct {
	p      Policy
	sample []metrics.Sample

	mu      sync.Mutex
	stopped bool
	set     int // the target last set
}

// sentinel is garbage the moment arm returns: its finalizer runs after the
// next collection. (It holds a pointer so that it is never a tiny
// allocation, whose finalizer may not run.)
type sentinel struct{ _ *byte }

func (t *tuner) arm() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		if t.apply() {
			t.arm()
		}
	})
}

// apply sets the target for the live heap of the last collection; false
// once stopped.
func (t *tuner) apply() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	metrics.Read(t.sample)
	var live uint64
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		live = t.sample[0].Value.Uint64()
	}
	if pct := t.p.Percent(live); pct != t.set {
		debug.SetGCPercent(pct)
		t.set = pct
	}
	return true
}

var lowered struct {
	sync.Mutex
	depth int // Lower calls not yet restored
	prev  int // the target before the first of them
}

// Lower sets the target to percent, unless it is lower already (or off, or
// GOGC=off is set in the environment, when it is not touched even for a
// moment, which would start a collection), until restore is called. The
// last restore of nested calls collects at once, returning the memory freed
// to the system (the short-lived structure is garbage by then; left to the
// next collection, it would still count as live when the target comes back
// up), and gives back the target found at the first.
func Lower(percent int) (restore func()) {
	if strings.EqualFold(os.Getenv("GOGC"), "off") {
		return func() {}
	}
	lowered.Lock()
	defer lowered.Unlock()
	if lowered.depth == 0 {
		lowered.prev = debug.SetGCPercent(percent)
		if lowered.prev < percent {
			debug.SetGCPercent(lowered.prev) // GOGC asks for less (or off)
		}
	}
	lowered.depth++
	return func() {
		lowered.Lock()
		defer lowered.Unlock()
		if lowered.depth--; lowered.depth == 0 {
			debug.FreeOSMemory()
			debug.SetGCPercent(lowered.prev)
		}
	}
}
