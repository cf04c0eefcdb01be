package emulator

import (
	"math"
	"sort"
	"time"
)

// The neighbour is another integration of the org (SSO, provisioning, an HR
// sync) that uses the credential bucket (Okta's /api/v1/users) without
// sending anything to the emulator: its requests are counted in the
// bucket's windows, and so in X-Rate-Limit-Remaining, as real requests
// would be. Its rate is a step function of the org's clock (Config.Now);
// its use is computed when needed from the time elapsed, so it needs no
// goroutine and follows a fake clock (testing/synctest) exactly.

// NeighbourStep makes the neighbour send Rate requests a second from After
// (counted from the org's creation, by its clock) until the next step.
type NeighbourStep struct {
	After time.Duration
	Rate  float64
}

// neighbourStep is a step at an absolute time.
type neighbourStep struct {
	at   time.Time
	rate float64
}

// initNeighbour sets the neighbour's steps from cfg; start is the org's
// creation time. The caller is New.
func (o *Org) initNeighbour(cfg Config, start time.Time) {
	o.neighbour = []neighbourStep{{at: start, rate: max(cfg.Neighbour, 0)}}
	steps := append([]NeighbourStep(nil), cfg.NeighbourSchedule...)
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].After < steps[j].After })
	for _, s := range steps {
		o.neighbour = append(o.neighbour, neighbourStep{at: start.Add(max(s.After, 0)), rate: max(s.Rate, 0)})
	}
}

// SetNeighbour makes the neighbour send rate requests a second from now
// (the org's clock) on, replacing the rest of Config.NeighbourSchedule: 0
// stops it. What it sent before stays counted.
func (o *Org) SetNeighbour(rate float64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	kept := o.neighbour[:0]
	for _, s := range o.neighbour {
		if !s.at.After(now) {
			kept = append(kept, s)
		}
	}
	o.neighbour = append(kept, neighbourStep{at: now, rate: max(rate, 0)})
}

// neighbourSent is how many requests the neighbour wanted to send in
// [from, to): the integral of its rate, rounded down. The caller holds
// o.mu.
func (o *Org) neighbourSent(from, to time.Time) int {
	total := 0.0
	for i, s := range o.neighbour {
		end := to
		if i+1 < len(o.neighbour) && o.neighbour[i+1].at.Before(end) {
			end = o.neighbour[i+1].at
		}
		begin := s.at
		if from.After(begin) {
			begin = from
		}
		if s.rate > 0 && end.After(begin) {
			total += s.rate * end.Sub(begin).Seconds()
		}
	}
	return int(math.Floor(total + 1e-9))
}

func (o *Org) hasNeighbour() bool {
	for _, s := range o.neighbour {
		if s.rate > 0 {
			return true
		}
	}
	return false
}

// settleNeighbour counts in ws the neighbour's requests up to now (at most
// the window's end): each new one takes what the window has left, and the
// rest are the neighbour's own 429s. The caller holds o.mu.
func (o *Org) settleNeighbour(ws *WindowStat, now time.Time) {
	if ws.Bucket != BucketCredentials || !o.hasNeighbour() {
		return
	}
	end := ws.Start.Add(o.window)
	if now.After(end) {
		now = end
	}
	sent := o.neighbourSent(ws.Start, now)
	fresh := sent - ws.neighbourSent
	if fresh <= 0 {
		return
	}
	ws.neighbourSent = sent
	taken := fresh
	if ws.Limit > 0 {
		taken = min(fresh, max(ws.Limit-ws.Used-ws.Neighbour, 0))
	}
	ws.Neighbour += taken
	ws.NeighbourRejected += fresh - taken
}
