package pace

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Tunables of the pacer. They are constants, not flags: SPEC.md exposes only
// --rate, --burst, --max-share, --workers and --max-wait.
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
	// DefaultMaxWait is Config.MaxWait's default, --max-wait's.
	DefaultMaxWait = 15 * time.Minute
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
	// Logs is the System Log, GET /api/v1/logs (20-120 a minute).
	Logs
	// Groups is /api/v1/groups…: group lookups and group members.
	Groups
	// Apps is /api/v1/apps…: app users.
	Apps
	numBuckets
)

// String returns "credential", "user-read", "system-log", "groups" or "apps".
func (b Bucket) String() string {
	switch b {
	case Post:
		return "credential"
	case Get:
		return "user-read"
	case Logs:
		return "system-log"
	case Groups:
		return "groups"
	case Apps:
		return "apps"
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
	// MaxWait is the longest a bucket may be held back at once (--max-wait):
	// when a rate-limit pause (a 429's Reset or Retry-After), a spent share
	// (until the window's Reset) or the share's spacing would hold a
	// request longer, Acquire returns a *WaitTooLongError instead of
	// waiting. 0 means DefaultMaxWait; less than 0, no limit.
	MaxWait time.Duration
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
	// ReasonSpacing is a WaitTooLongError's reason when the next request
	// of a bucket is due far away: the share spread until a distant Reset,
	// or the spacing after a pause.
	ReasonSpacing = "spacing"
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

// Pacer decides when each request may leave. It is safe for concurrent use.
type Pacer struct {
	maxShare int
	workers  int
	maxWait  time.Duration // 0: no limit
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
	switch {
	case cfg.MaxWait == 0:
		p.maxWait = DefaultMaxWait
	case cfg.MaxWait > 0:
		p.maxWait = cfg.MaxWait
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
	seq    uint64    // the bucket's request number
	at     time.Time // departure, local clock
	once   sync.Once
}

// Acquire blocks until a request of bucket b may leave: an in-flight slot
// (the AIMD limit), the bucket's gates (first-response gate, pause, share
// spacing, new-window probe), then the token bucket. It returns a Ticket that
// must be completed exactly once with what the response said (a zero
// Observation when nothing was sent or nothing came back). When ctx ends
// while waiting, Acquire returns ctx.Err() and holds nothing; when the
// bucket would be held back longer than Config.MaxWait, it returns a
// *WaitTooLongError (errors.Is ErrWaitTooLong) at once and holds nothing.
// An unknown bucket is paced as Post.
func (p *Pacer) Acquire(ctx context.Context, b Bucket) (*Ticket, error) {
	if b < 0 || b >= numBuckets {
		b = Post
	}
	t := &Ticket{p: p, bucket: b}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p.mu.Lock()
		now := time.Now()
		wake, ok := p.tryTake(t, now)
		if ok {
			var res *rate.Reservation
			if p.lim != nil {
				res = p.lim.ReserveN(now, 1)
			}
			p.mu.Unlock()
			if res != nil {
				if d := res.DelayFrom(now); d > 0 {
					if err := waitFor(ctx, d, nil); err != nil {
						res.Cancel()
						p.release(t)
						return nil, err
					}
					t.at = time.Now()
				}
			}
			return t, nil
		}
		if err := p.tooLong(t.bucket, wake, now); err != nil {
			p.mu.Unlock()
			return nil, err
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

// tryTake, with p.mu held, either takes an in-flight slot for t's bucket
// (ok), or says until when to wait at most (zero wake: until a change).
func (p *Pacer) tryTake(t *Ticket, now time.Time) (wake time.Time, ok bool) {
	bs := &p.buckets[t.bucket]
	if now.Before(bs.pauseUntil) {
		return bs.pauseUntil, false
	}
	if p.inflight >= p.limit {
		return time.Time{}, false
	}
	if !bs.answered {
		// First-response gate: one request until the bucket's first answer.
		if bs.inflight > 0 {
			return time.Time{}, false
		}
		p.take(bs, t, now)
		return time.Time{}, true
	}
	current := bs.win.known && now.Before(bs.win.resetLocal)
	if bs.needProbe || (bs.win.known && !current) {
		// Nothing is known about this window: one request probes it.
		if bs.probes > 0 {
			return time.Time{}, false
		}
		if now.Before(bs.nextAt) {
			return bs.nextAt, false
		}
		p.take(bs, t, now)
		t.probe = true
		bs.probes++
		if bs.spaceFallback {
			bs.nextAt = now.Add(bs.fallbackSpacing())
		}
		return time.Time{}, true
	}
	if current {
		return p.tryShare(bs, t, now)
	}
	// No window information at all (the server sends no usable headers).
	if bs.spaceFallback {
		if now.Before(bs.nextAt) {
			return bs.nextAt, false
		}
		bs.nextAt = now.Add(bs.fallbackSpacing())
	}
	p.take(bs, t, now)
	return time.Time{}, true
}

// take gives t an in-flight slot of bs and its number, leaving now.
func (p *Pacer) take(bs *bucketState, t *Ticket, now time.Time) {
	p.inflight++
	bs.inflight++
	bs.seq++
	t.seq, t.at = bs.seq, now
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
		p.updateWindow(bs, t, o, toLocal(o.Reset))
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

func (p *Pacer) pause(bs *bucketState, until time.Time, reason string) {
	if until.After(bs.pauseUntil) {
		bs.pauseUntil = until
		bs.pauseReason = reason
	}
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
		case current && p.shareLeft(bs) <= 0:
			info.Until, info.Reason = bs.win.resetLocal, ReasonShareSpent
		default:
			continue
		}
		out = append(out, info)
	}
	return out
}
