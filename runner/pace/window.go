package pace

import "time"

// window is what is known about a bucket's current rate-limit window.
type window struct {
	known      bool
	name       time.Time // Reset as the server sent it: the window's name
	resetLocal time.Time // Reset on the local clock
	limit      int
	used       int       // everyone's use: Limit − Remaining, the highest seen
	usedAt     time.Time // the departure of the request whose answer said used
	// base: credbatch's requests of this bucket numbered (Ticket.seq) up to
	// base landed in earlier windows, as far as is known.
	base uint64
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
	seq           uint64     // requests of this bucket that left so far
	others        othersRate // the others' rate in the current window
}

// allowed is the share of a window of limit that everyone's use may reach:
// floor(limit·MaxShare/100), but at least 1 so that a tiny Limit cannot stop
// the run for good.
func (p *Pacer) allowed(limit int) int {
	return max(limit*p.maxShare/100, 1)
}

// tryShare is tryTake within a known current window: the share rule.
func (p *Pacer) tryShare(bs *bucketState, t *Ticket, now time.Time) (wake time.Time, ok bool) {
	left := p.shareLeft(bs) - bs.inflight
	if left <= 0 {
		// Share spent (or about to be, by requests in flight, or by
		// what the others will send until Reset): wait for the window's
		// end, or for an answer that changes the picture. But if only
		// an implausible estimate of the others holds the bucket back
		// (they alone would pass the share: a burst, most likely), one
		// request a horizon goes to see whether the burst went on.
		room := p.allowed(bs.win.limit) - bs.win.used - bs.inflight
		e := &bs.others
		if room <= 0 || bs.inflight > 0 || !e.implausible(p.allowed(bs.win.limit), bs.win.resetLocal) {
			return bs.win.resetLocal, false
		}
		if due := e.last.at.Add(e.horizon); now.Before(due) {
			return earlierOf(due, bs.win.resetLocal), false
		}
		p.take(bs, t, now)
		return time.Time{}, true
	}
	if now.Before(bs.nextAt) {
		return bs.nextAt, false
	}
	p.take(bs, t, now)
	// What is left is spread evenly until Reset (as if there were one
	// more, so that the last leaves before Reset and what the others'
	// reserve frees meanwhile can still be used).
	bs.nextAt = now.Add(bs.win.resetLocal.Sub(now) / time.Duration(left+1))
	return time.Time{}, true
}

// shareLeft is how many more requests the share of bs's current window
// allows credbatch: the share, less everyone's use so far and what the
// others are expected to send until Reset.
func (p *Pacer) shareLeft(bs *bucketState) int {
	w := &bs.win
	return p.allowed(w.limit) - w.used - bs.others.reserve(w.usedAt, w.resetLocal)
}

func (bs *bucketState) fallbackSpacing() time.Duration {
	if bs.lastLimit > 0 {
		return bs.windowLen / time.Duration(bs.lastLimit)
	}
	return 100 * time.Millisecond
}

// updateWindow folds a usable rate-limit answer to t into bs's window state,
// and the others' use it shows into their rate.
func (p *Pacer) updateWindow(bs *bucketState, t *Ticket, o Observation, resetLocal time.Time) {
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
		*w = window{known: true, name: o.Reset, resetLocal: resetLocal, limit: o.Limit,
			used: used, usedAt: t.at, base: t.seq - 1}
		bs.others.newWindow(bs.windowLen)
	case o.Reset.Equal(w.name):
		w.limit = o.Limit
		if used > w.used {
			w.used, w.usedAt = used, t.at
		}
		// Each estimate of the same Reset is never earlier than the true
		// instant (the offset is a lower bound), so the earliest is the
		// tightest: a later estimate must not stretch the window.
		w.resetLocal = earlierOf(w.resetLocal, resetLocal)
	default:
		return // an older window: stale
	}
	if t.seq > w.base {
		// Credbatch's own use of the window when Okta counted t: its
		// requests of the window that left before t, and t.
		bs.others.add(t.at, used-int(t.seq-w.base))
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
