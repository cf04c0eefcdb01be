package pace

import "time"

// window is what is known about a bucket's current rate-limit window.
type window struct {
	known      bool
	name       time.Time // Reset as the server sent it: the window's name
	resetLocal time.Time // Reset on the local clock
	limit      int
	used       int // everyone's use: Limit − Remaining, the highest seen
}

type bucketState struct {
	inflight  int
	probes    int  // requests in flight that probe an unknown window
	answered  bool // the first-response gate is open
	needProbe bool // after a pause: one request probes before the rest
	// spaceFallback: after a pause, space requests by fallback spacing until
	// a usable window is known.
	spaceFallback bool
	win           window
	lastLimit     int
	windowLen     time.Duration
	nextAt        time.Time // earliest departure of the next request
	pauseUntil    time.Time
	pauseReason   string
}

// allowed is the share of a window of limit that everyone's use may reach:
// floor(limit·MaxShare/100), but at least 1 so that a tiny Limit cannot stop
// the run for good.
func (p *Pacer) allowed(limit int) int {
	return max(limit*p.maxShare/100, 1)
}

func (bs *bucketState) fallbackSpacing() time.Duration {
	if bs.lastLimit > 0 {
		return bs.windowLen / time.Duration(bs.lastLimit)
	}
	return 100 * time.Millisecond
}

// updateWindow folds a usable rate-limit answer into bs's window state.
func (p *Pacer) updateWindow(bs *bucketState, o Observation, resetLocal time.Time) {
	remaining := min(max(o.Remaining, 0), o.Limit)
	used := o.Limit - remaining
	w := &bs.win
	switch {
	case !w.known || o.Reset.After(w.name):
		if w.known && o.Reset.After(w.name) {
			if d := o.Reset.Sub(w.name); d >= time.Second && d <= 10*time.Minute {
				bs.windowLen = d
			}
		}
		*w = window{known: true, name: o.Reset, resetLocal: resetLocal, limit: o.Limit, used: used}
	case o.Reset.Equal(w.name):
		w.limit = o.Limit
		w.used = max(w.used, used)
		// Each estimate of the same Reset is never earlier than the true
		// instant (the offset is a lower bound), so the earliest is the
		// tightest: a later estimate must not stretch the window.
		w.resetLocal = earlierOf(w.resetLocal, resetLocal)
	default:
		return // an older window: stale
	}
	bs.lastLimit = o.Limit
	bs.spaceFallback = false
}

// offsetSample is the best (largest) Date − Received sample seen in one
// local second.
type offsetSample struct {
	sec int64 // local Unix second; 0: empty
	d   time.Duration
}

func (p *Pacer) addOffset(received time.Time, d time.Duration) {
	sec := received.Unix()
	slot := &p.offsets[uint64(sec)%offsetSeconds]
	if slot.sec != sec {
		*slot = offsetSample{sec: sec, d: d}
		return
	}
	slot.d = max(slot.d, d)
}

// offset is the estimated (server − local) clock offset: the largest sample
// of the last offsetSeconds seconds, each a lower bound of the true offset.
func (p *Pacer) offset(now time.Time) time.Duration {
	best, found := time.Duration(0), false
	for _, s := range p.offsets {
		if s.sec != 0 && s.sec > now.Unix()-offsetSeconds && (!found || s.d > best) {
			best, found = s.d, true
		}
	}
	return best
}

func earlierOf(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
