package pace

import (
	"math"
	"time"
)

// The others' rate: how fast the org's other integrations use a bucket's
// window, so that the share rule can leave them what they will still use
// until Reset (issue 18).
//
// Every answer of the current window is a sample of the others' use: its
// Limit − Remaining counts everyone's requests up to the moment Okta counted
// it, and credbatch's own among them are (as far as it can tell) its
// requests of the window that left before it, this one included: each
// request is numbered as it leaves (Ticket.seq), and the window remembers
// the number before its first request (window.base). So a sample is (the
// request's departure, used − (seq − base)), whatever order the answers
// arrive in, and requests still in flight do not disturb it. A constant
// error (a request that left before the window was known and landed in it;
// one that never reached Okta) shifts every later sample alike and cancels
// out of a rate.
//
// The rate is the average over the current regime: since the others last
// changed pace, carried over from earlier windows while they keep it. A
// change shows when, over the last one, two or four horizons, the others
// sent more or fewer requests than the regime's rate explains, by more
// than counting whole requests can (changed); the regime then restarts
// there. So a steady neighbour is measured over many seconds, and a stop,
// a surge or a burst shows within a horizon (a second) or two.
const (
	// maxHorizon is the horizon: the shortest span a change is looked for
	// over. A window shorter than ten horizons (the emulator's) gets a
	// tenth of its length, but at least minHorizon.
	maxHorizon = time.Second
	minHorizon = 50 * time.Millisecond
	// slotsPerHorizon is the resolution of the sample history: one sample is
	// kept per slot of departures, a horizon holds this many.
	slotsPerHorizon = 8
	// numSlots is the history's length (four horizons).
	numSlots = 4 * slotsPerHorizon
	// noise is how many requests a count may differ by from what a steady
	// rate explains, beyond one standard deviation of a Poisson count,
	// without being a change.
	noise = 2
	// maxCarried is the longest span of earlier windows a regime carries
	// into the next window's rate.
	maxCarried = time.Minute
)

// sample is the others' use of the window as estimated at one departure.
type sample struct {
	at   time.Time // the request's departure, local clock; zero: no sample
	slot int64     // at's slot number (at / (horizon / slotsPerHorizon))
	n    int       // the others' use counted when Okta counted the request
}

// othersRate estimates, for one bucket, the rate of the others' requests in
// the current window.
type othersRate struct {
	horizon time.Duration
	ring    [numSlots]sample // the latest sample of each slot
	last    sample           // the window's latest sample
	// start is where the regime starts in this window: the window's
	// earliest sample, or where a change was seen (restarted).
	start     sample
	restarted bool

	// carried is the regime's rate over carriedSpan of earlier windows
	// (carriedSpan 0: the regime began in this window, or nothing earlier
	// is known).
	carried     float64
	carriedSpan time.Duration

	// rate is the others' rate (requests per second) expected until Reset.
	rate float64
}

// newWindow starts the estimate of a new window of length windowLen (as far
// as is known), carrying the regime over.
func (e *othersRate) newWindow(windowLen time.Duration) {
	carried, span := e.carried, e.carriedSpan
	if own := e.last.at.Sub(e.start.at); !e.start.at.IsZero() && own > 0 {
		carried, span = e.rate, min(span+own, maxCarried)
	}
	h := min(max(windowLen/10, minHorizon), maxHorizon)
	*e = othersRate{horizon: h, carried: carried, carriedSpan: span, rate: carried}
}

// add records the sample (at, n) and updates the estimate.
func (e *othersRate) add(at time.Time, n int) {
	if e.horizon <= 0 {
		e.newWindow(DefaultWindow) // not reached: a window starts with newWindow
	}
	s := sample{at: at, slot: at.UnixNano() / int64(e.horizon/slotsPerHorizon), n: n}
	if e.start.at.IsZero() || !e.restarted && at.Before(e.start.at) {
		e.start = s
	}
	if e.last.at.IsZero() || at.After(e.last.at) {
		e.last = s
	}
	r := &e.ring[uint64(s.slot)%numSlots]
	switch {
	case r.at.IsZero() || s.slot > r.slot:
		*r = s
	case s.slot == r.slot && !at.Before(r.at):
		*r = s
	}
	e.update()
}

// average is the regime's rate: the samples since its start, with the span
// carried from earlier windows at its rate.
func (e *othersRate) average() float64 {
	span := e.last.at.Sub(e.start.at)
	total := e.carriedSpan + span
	if total <= 0 {
		return e.carried
	}
	n := e.carried*e.carriedSpan.Seconds() + float64(max(e.last.n-e.start.n, 0))
	return n / total.Seconds()
}

func (e *othersRate) update() {
	if e.last.at.Sub(e.start.at) < e.horizon {
		switch {
		case e.restarted:
			// A change was just seen: until the new regime spans a
			// horizon, the rate is the others' count over the last one.
			if ref, ok := e.before(e.last.at.Add(-e.horizon), time.Time{}); ok {
				e.rate = float64(max(e.last.n-ref.n, 0)) / e.last.at.Sub(ref.at).Seconds()
			}
			return
		case e.carriedSpan == 0:
			// Young, and nothing earlier known: the rate of what was seen,
			// but over at least a quarter horizon (one or two answers close
			// together say little; one request of others between them must
			// not read as hundreds a second).
			d := max(e.last.n-e.start.n, 0)
			e.rate = float64(d) / max(e.last.at.Sub(e.start.at), e.horizon/4).Seconds()
			return
		}
	}
	e.rate = e.average()
	for k := time.Duration(1); k <= 4; k *= 2 {
		ref, ok := e.before(e.last.at.Add(-k*e.horizon), e.start.at)
		if !ok {
			break
		}
		dt := e.last.at.Sub(ref.at).Seconds()
		got := float64(max(e.last.n-ref.n, 0))
		want := e.rate * dt
		if math.Abs(got-want) > noise+math.Sqrt(want) {
			// A change, somewhere since ref: the new regime starts here,
			// at its rate since ref until it spans a horizon.
			e.start, e.restarted, e.carried, e.carriedSpan = e.last, true, 0, 0
			e.rate = got / dt
			return
		}
	}
}

// before returns the latest sample departed at or before t and not before
// from.
func (e *othersRate) before(t, from time.Time) (sample, bool) {
	var best sample
	for _, s := range e.ring {
		if !s.at.IsZero() && !s.at.After(t) && !s.at.Before(from) && s.at.After(best.at) {
			best = s
		}
	}
	if s := e.start; best.at.IsZero() && !s.at.After(t) && !s.at.Before(from) {
		best = s
	}
	return best, !best.at.IsZero()
}

// reserve is how many requests of the window to leave to the others: what
// they are expected to send from since (the departure of the request whose
// answer gave the window's use) until reset, rounded up.
func (e *othersRate) reserve(since, reset time.Time) int {
	if e.rate <= 0 || !reset.After(since) {
		return 0
	}
	return int(min(math.Ceil(e.rate*reset.Sub(since).Seconds()), 1e9))
}

// implausible reports whether the estimate has the others alone use more
// than allowed of the window by reset: a neighbour that keeps within the
// share does not, so the rate is most likely a burst's, and a request may
// leave now and then to see whether it went on (see Pacer.tryTake).
func (e *othersRate) implausible(allowed int, reset time.Time) bool {
	if e.last.at.IsZero() || e.rate <= 0 {
		return false
	}
	return float64(e.last.n)+e.rate*reset.Sub(e.last.at).Seconds() > float64(allowed)
}
