// Package pace owns how fast credbatch talks to Okta, apart from how a request
// is made: one token bucket over all requests, a pacer per Okta rate-limit
// bucket steered by the X-Rate-Limit-* headers (first-response gate,
// --max-share spacing, 429 pauses), an AIMD in-flight limit for Okta's
// concurrency limit, and the retry policy (Decide, Backoff).
//
// The package is pure logic over plain types: the runner converts each Okta
// answer into an Observation and hands it back through Ticket.Done. Time is
// read with time.Now and waited on with timers, so tests run it under
// testing/synctest.
//
// # Choices made where SPEC.md leaves room
//
//   - New window: when the local clock passes a window's Reset (or after any
//     pause), the bucket knows nothing about the new window, so it lets exactly
//     one request probe it; the probe's answer names the new window (Limit,
//     Remaining, Reset) and the share rule takes over. This costs one round
//     trip per window (about a minute) and never sends a burst into a window
//     whose state is unknown. The probe is not held back by the share rule
//     (nothing is known to hold it against), so a bucket sends at least one
//     request per window.
//   - Server times (Reset, Retry-After) are converted to the local clock with
//     offset = max(Date − Received) over the answers that carried a Date in
//     the last offsetSeconds seconds (the best sample of each local second is
//     kept, so a fast run does not push out the tight samples taken just after
//     a second boundary). Every sample is a lower bound of the true offset (Date is truncated
//     to the second and the answer travelled before Received), so the
//     converted local instants are never earlier than the true ones: credbatch
//     errs on waiting slightly longer. An answer without Date is measured
//     against the local clock (offset 0), as SPEC.md says.
//   - A rate-limit 429 pauses its bucket until the later of Reset and
//     Retry-After, and for at least MinPause. A concurrency 429 (Limit and
//     Remaining both 0) halves the in-flight limit (never below 1), pauses only
//     its bucket for ConcurrencyCooldown, and leaves the window state alone;
//     the limit rises by one after IncreaseAfter answers that were not
//     concurrency 429s, never above Workers.
//   - After a pause, requests leave spaced out: one probe first, then the
//     share rule's spacing; if the answers carry no usable rate headers, a
//     fallback spacing of window/Limit (window estimated from consecutive
//     Resets, 60 s by default) applies until they do.
//   - The share of a window is floor(Limit·MaxShare/100), but at least one
//     request, so that a tiny Limit cannot stop the run for good.
//   - Inconsistent headers are tolerated: Remaining is clamped to 0..Limit; an
//     answer whose Limit is 0 (and is not a concurrency 429), or whose Reset is
//     not after its own Date, carries no window information; an answer naming
//     an older window than the one known is stale and ignored.
package pace

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Tunables of the pacer. They are constants, not flags: SPEC.md exposes only
// --rate, --burst, --max-share and --workers.
const (
	// MinPause is the shortest pause a rate-limit 429 causes, so that a 429
	// whose Reset is already past (clock skew, a proxy) cannot cause a tight
	// retry loop.
	MinPause = time.Second
	// ConcurrencyCooldown is how long a concurrency 429 pauses its bucket.
	ConcurrencyCooldown = 500 * time.Millisecond
	// IncreaseAfter is how many answers (other than concurrency 429s) raise
	// the in-flight limit by one after it was lowered.
	IncreaseAfter = 10
	// DefaultWindow is the assumed length of an Okta rate-limit window until
	// two consecutive windows have been seen.
	DefaultWindow = time.Minute
	// offsetSeconds is how many recent local seconds of Date samples the
	// clock offset uses (the best sample of each second).
	offsetSeconds = 8
)

// Bucket names one of the Okta rate-limit buckets credbatch tracks.
type Bucket int

const (
	// Post is the credential operations bucket (POSTs, and DELETE sessions).
	Post Bucket = iota
	// Get is GET /api/v1/users/{id}.
	Get
	numBuckets
)

// String returns "credential" or "user-read".
func (b Bucket) String() string {
	switch b {
	case Post:
		return "credential"
	case Get:
		return "user-read"
	}
	return "unknown"
}

// Config sets a Pacer up. The runner passes validated flag values; out of
// range values are normalised by New as documented on each field.
type Config struct {
	// Rate is requests per second over all buckets; 0 (or less) removes the
	// cap: no token bucket.
	Rate float64
	// Burst is the token bucket's burst, at least 1 (raised to 1); ignored
	// when Rate is 0.
	Burst int
	// MaxShare is the percentage (1..100) of each window's Limit that
	// everyone's use may reach. 0 or more than 100 means 100.
	MaxShare int
	// Workers is the in-flight ceiling (AIMD never exceeds it); at least 1.
	Workers int
}

// Observation is what one response said, converted by the runner from the
// HTTP answer. Repeated or inconsistent headers are already collapsed.
type Observation struct {
	Answered   bool // false: no HTTP answer (network error, timeout); no header info
	Status     int
	HasRate    bool // X-Rate-Limit-* present
	Limit      int
	Remaining  int
	Reset      time.Time // absolute, server clock
	Date       time.Time // server Date header; zero if missing
	RetryAfter time.Time // absolute, server clock; zero if absent
	Received   time.Time // local clock at receipt; zero means "now"
}

// Pause reasons reported by Paused.
const (
	ReasonRateLimit   = "rate limit"
	ReasonShareSpent  = "share spent"
	ReasonConcurrency = "concurrency limit"
)

// PauseInfo describes a paused bucket, for the progress line
// ("paused until 14:03:05: rate limit, 0/600 left").
type PauseInfo struct {
	Bucket    Bucket
	Until     time.Time // local clock
	Reason    string    // ReasonRateLimit, ReasonShareSpent or ReasonConcurrency
	Remaining int       // of the bucket's current window, as last seen (0 when unknown)
	Limit     int       // the window's Limit (0 when unknown)
}

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

// Pacer decides when each request may leave. It is safe for concurrent use.
type Pacer struct {
	maxShare int
	workers  int
	lim      *rate.Limiter // nil: no token bucket

	mu       sync.Mutex
	changed  chan struct{} // closed on the next state change; nil while nobody waits
	inflight int
	limit    int // AIMD in-flight limit
	okStreak int
	buckets  [numBuckets]bucketState
	offsets  [offsetSeconds]offsetSample // best Date − Received sample per local second
}

// New returns a Pacer for cfg.
func New(cfg Config) *Pacer {
	p := &Pacer{
		maxShare: cfg.MaxShare,
		workers:  max(cfg.Workers, 1),
	}
	if p.maxShare <= 0 || p.maxShare > 100 {
		p.maxShare = 100
	}
	if cfg.Rate > 0 {
		p.lim = rate.NewLimiter(rate.Limit(cfg.Rate), max(cfg.Burst, 1))
	}
	p.limit = p.workers
	for i := range p.buckets {
		p.buckets[i].windowLen = DefaultWindow
	}
	return p
}

// Ticket is one request's permission to leave. Complete it exactly once with
// Done; later calls are ignored.
type Ticket struct {
	p      *Pacer
	bucket Bucket
	probe  bool
	once   sync.Once
}

// Acquire blocks until a request of bucket b may leave: an in-flight slot
// (the AIMD limit), the bucket's gates (first-response gate, pause, share
// spacing, new-window probe), then the token bucket. It returns a Ticket that
// must be completed exactly once with what the response said (a zero
// Observation when nothing was sent or nothing came back). When ctx ends
// while waiting, Acquire returns ctx.Err() and holds nothing. An unknown
// bucket is paced as Post.
func (p *Pacer) Acquire(ctx context.Context, b Bucket) (*Ticket, error) {
	if b < 0 || b >= numBuckets {
		b = Post
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p.mu.Lock()
		now := time.Now()
		wake, probe, ok := p.tryTake(b, now)
		if ok {
			var res *rate.Reservation
			if p.lim != nil {
				res = p.lim.ReserveN(now, 1)
			}
			p.mu.Unlock()
			t := &Ticket{p: p, bucket: b, probe: probe}
			if res != nil {
				if err := waitFor(ctx, res.DelayFrom(now), nil); err != nil {
					res.Cancel()
					p.release(t)
					return nil, err
				}
			}
			return t, nil
		}
		if p.changed == nil {
			p.changed = make(chan struct{})
		}
		ch := p.changed
		p.mu.Unlock()
		var d time.Duration = -1
		if !wake.IsZero() {
			d = wake.Sub(now)
		}
		if err := waitFor(ctx, d, ch); err != nil {
			return nil, err
		}
	}
}

// waitFor waits d (forever when d < 0), until ch is closed, or until ctx
// ends, whichever comes first; it returns ctx.Err() only in the last case.
func waitFor(ctx context.Context, d time.Duration, ch <-chan struct{}) error {
	var tc <-chan time.Time
	if d >= 0 {
		if d == 0 {
			return nil
		}
		t := time.NewTimer(d)
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-ch:
	case <-tc:
	}
	return nil
}

// tryTake, with p.mu held, either takes an in-flight slot for bucket b
// (ok), or says until when to wait at most (zero wake: until a change).
func (p *Pacer) tryTake(b Bucket, now time.Time) (wake time.Time, probe, ok bool) {
	bs := &p.buckets[b]
	if now.Before(bs.pauseUntil) {
		return bs.pauseUntil, false, false
	}
	if p.inflight >= p.limit {
		return time.Time{}, false, false
	}
	if !bs.answered {
		// First-response gate: one request until the bucket's first answer.
		if bs.inflight > 0 {
			return time.Time{}, false, false
		}
		p.take(bs)
		return time.Time{}, false, true
	}
	current := bs.win.known && now.Before(bs.win.resetLocal)
	if bs.needProbe || (bs.win.known && !current) {
		// Nothing is known about this window: one request probes it.
		if bs.probes > 0 {
			return time.Time{}, false, false
		}
		if now.Before(bs.nextAt) {
			return bs.nextAt, false, false
		}
		p.take(bs)
		bs.probes++
		if bs.spaceFallback {
			bs.nextAt = now.Add(bs.fallbackSpacing())
		}
		return time.Time{}, true, true
	}
	if current {
		left := p.allowed(bs.win.limit) - bs.win.used - bs.inflight
		if left <= 0 {
			// Share spent (or about to be, by requests in flight): wait for
			// the window's end, or for an answer that changes the picture.
			return bs.win.resetLocal, false, false
		}
		if now.Before(bs.nextAt) {
			return bs.nextAt, false, false
		}
		p.take(bs)
		bs.nextAt = now.Add(bs.win.resetLocal.Sub(now) / time.Duration(left))
		return time.Time{}, false, true
	}
	// No window information at all (the server sends no usable headers).
	if bs.spaceFallback {
		if now.Before(bs.nextAt) {
			return bs.nextAt, false, false
		}
		bs.nextAt = now.Add(bs.fallbackSpacing())
	}
	p.take(bs)
	return time.Time{}, false, true
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

func (p *Pacer) take(bs *bucketState) {
	p.inflight++
	bs.inflight++
}

// release gives back t's slot without any observation (Acquire cancelled).
func (p *Pacer) release(t *Ticket) {
	t.once.Do(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.drop(t)
		p.broadcast()
	})
}

func (p *Pacer) drop(t *Ticket) {
	bs := &p.buckets[t.bucket]
	p.inflight--
	bs.inflight--
	if t.probe {
		bs.probes--
	}
}

// broadcast wakes every waiter (a channel is made only when someone waits:
// an unpaced run changes state on every answer and would make one each time).
func (p *Pacer) broadcast() {
	if p.changed != nil {
		close(p.changed)
		p.changed = nil
	}
}

// Done completes the ticket with what the response said. Only the first call
// counts.
func (t *Ticket) Done(o Observation) {
	t.once.Do(func() { t.p.observe(t, o) })
}

func (p *Pacer) observe(t *Ticket, o Observation) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.broadcast()
	p.drop(t)
	if !o.Answered {
		return
	}
	now := time.Now()
	if o.Received.IsZero() {
		o.Received = now
	}
	bs := &p.buckets[t.bucket]
	bs.answered = true

	offset := time.Duration(0) // Date missing: the local clock
	serverNow := o.Received
	if !o.Date.IsZero() {
		p.addOffset(o.Received, o.Date.Sub(o.Received))
		offset = p.offset(o.Received)
		serverNow = o.Date
	}
	toLocal := func(s time.Time) time.Time { return s.Add(-offset) }

	concurrency := o.Status == 429 && o.HasRate && o.Limit == 0 && o.Remaining == 0
	if concurrency {
		p.limit = max(p.limit/2, 1)
		p.okStreak = 0
		p.pause(bs, now.Add(ConcurrencyCooldown), ReasonConcurrency)
		return
	}
	bs.needProbe = false
	if p.limit < p.workers {
		p.okStreak++
		if p.okStreak >= IncreaseAfter {
			p.limit++
			p.okStreak = 0
		}
	}

	if o.HasRate && o.Limit > 0 && o.Reset.After(serverNow) {
		p.updateWindow(bs, o, toLocal(o.Reset))
	} else if t.probe && bs.win.known && !now.Before(bs.win.resetLocal) {
		// A probe of a new window got no usable description of it: stop
		// probing for a window the server does not describe.
		bs.win.known = false
	}

	if o.Status == 429 {
		until := now.Add(MinPause)
		if o.HasRate && !o.Reset.IsZero() {
			until = laterOf(until, toLocal(o.Reset))
		}
		if !o.RetryAfter.IsZero() {
			until = laterOf(until, toLocal(o.RetryAfter))
		}
		if bs.win.known && bs.win.name.Equal(o.Reset) {
			bs.win.used = max(bs.win.used, bs.win.limit)
		}
		p.pause(bs, until, ReasonRateLimit)
		bs.needProbe = true
		bs.spaceFallback = true
	}
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

func (p *Pacer) pause(bs *bucketState, until time.Time, reason string) {
	if until.After(bs.pauseUntil) {
		bs.pauseUntil = until
		bs.pauseReason = reason
	}
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

// Paused reports the buckets that are paused now: by a 429 (rate or
// concurrency limit) or because the window's share is spent. Ordered by
// bucket.
func (p *Pacer) Paused() []PauseInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	var out []PauseInfo
	for i := range p.buckets {
		bs := &p.buckets[i]
		current := bs.win.known && now.Before(bs.win.resetLocal)
		info := PauseInfo{Bucket: Bucket(i)}
		if current {
			info.Limit = bs.win.limit
			info.Remaining = bs.win.limit - bs.win.used
		}
		switch {
		case now.Before(bs.pauseUntil):
			info.Until, info.Reason = bs.pauseUntil, bs.pauseReason
		case current && bs.win.used >= p.allowed(bs.win.limit):
			info.Until, info.Reason = bs.win.resetLocal, ReasonShareSpent
		default:
			continue
		}
		out = append(out, info)
	}
	return out
}
