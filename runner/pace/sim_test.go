package pace

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeOrg is a tiny Okta rate-limit window counter driven by the (fake)
// clock: fixed windows of length window on the server clock, which runs
// offset ahead of the local one. A neighbour (the org's other integrations)
// may send requests of its own into the same bucket.
type fakeOrg struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	offset time.Duration
	counts map[int64]int // window index -> everyone's requests counted
	ours   map[int64]int // window index -> the pacer's requests counted
	others map[int64]int // window index -> the neighbour's requests counted
	// sent429: 429s the pacer's requests got; neighbour429: requests of the
	// neighbour refused because the window was full.
	sent429, neighbour429 int

	// neighbour returns how many requests the neighbour sent in the first
	// d since start (a non-decreasing step function); nil: none.
	neighbour func(d time.Duration) int
	start     time.Time // local
	through   time.Time // local: the neighbour's requests before it are counted
}

func newFakeOrg(limit int, window, offset time.Duration) *fakeOrg {
	now := time.Now()
	return &fakeOrg{limit: limit, window: window, offset: offset,
		counts: map[int64]int{}, ours: map[int64]int{}, others: map[int64]int{},
		start: now, through: now}
}

// withNeighbour sets the neighbour's schedule.
func (f *fakeOrg) withNeighbour(n func(d time.Duration) int) *fakeOrg {
	f.neighbour = n
	return f
}

// index is the server window a local instant falls in.
func (f *fakeOrg) index(local time.Time) int64 {
	return local.Add(f.offset).UnixNano() / int64(f.window)
}

// end is the local instant at which window idx ends.
func (f *fakeOrg) end(idx int64) time.Time {
	return time.Unix(0, (idx+1)*int64(f.window)).Add(-f.offset)
}

// advance counts the neighbour's requests sent before to, each in its own
// window (f.mu held).
func (f *fakeOrg) advance(to time.Time) {
	if f.neighbour == nil {
		f.through = to
		return
	}
	for cur := f.through; cur.Before(to); {
		idx := f.index(cur)
		seg := f.end(idx)
		if to.Before(seg) {
			seg = to
		}
		for range f.neighbour(seg.Sub(f.start)) - f.neighbour(cur.Sub(f.start)) {
			if f.counts[idx] >= f.limit {
				f.neighbour429++
				continue
			}
			f.counts[idx]++
			f.others[idx]++
		}
		cur = seg
	}
	f.through = to
}

// serve counts one request arriving now and returns what its response says.
func (f *fakeOrg) serve() Observation {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	f.advance(now)
	server := now.Add(f.offset)
	idx := f.index(now)
	reset := time.Unix(0, (idx+1)*int64(f.window)).UTC()
	o := Observation{
		Answered: true, Status: 200, HasRate: true, Limit: f.limit,
		Reset: reset, Date: server.Truncate(time.Second), Received: now,
	}
	if f.counts[idx] >= f.limit {
		f.sent429++
		o.Status = 429
		return o
	}
	f.counts[idx]++
	f.ours[idx]++
	o.Remaining = f.limit - f.counts[idx]
	return o
}

// finish waits for the current window to end, so that the neighbour's
// requests of every window the run touched are counted.
func (f *fakeOrg) finish() {
	time.Sleep(time.Until(f.end(f.index(time.Now()))))
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advance(time.Now())
}

func (f *fakeOrg) maxPerWindow() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := 0
	for _, c := range f.counts {
		m = max(m, c)
	}
	return m
}

// windowUse is one window's count: everyone's, the pacer's and the
// neighbour's.
type windowUse struct {
	idx                int64
	total, ours, other int
}

// windows returns every window that counted a request, in order.
func (f *fakeOrg) windows() []windowUse {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []windowUse
	for idx, c := range f.counts {
		out = append(out, windowUse{idx: idx, total: c, ours: f.ours[idx], other: f.others[idx]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].idx < out[j].idx })
	return out
}

// steady is a neighbour sending perSecond requests a second, evenly spaced.
func steady(perSecond float64) func(time.Duration) int {
	return func(d time.Duration) int { return int(math.Ceil(perSecond * d.Seconds())) }
}

// runJobs runs jobs requests through p and org with the given number of
// goroutines; each request takes between latency and 3×latency (so answers
// arrive out of order); 429s are retried (as the runner would). It returns
// how many jobs completed.
func runJobs(t *testing.T, p *Pacer, org *fakeOrg, b Bucket, goroutines, jobs int, latency time.Duration) int {
	t.Helper()
	return runJobsRTT(t, p, org, b, goroutines, jobs, func(n int64) (time.Duration, time.Duration) {
		return latency + time.Duration(n%5)*latency/2, 0
	})
}

// runJobsRTT is runJobs with the way to the server (up) and back (down) of
// the nth request given by rtt.
func runJobsRTT(t *testing.T, p *Pacer, org *fakeOrg, b Bucket, goroutines, jobs int, rtt func(n int64) (up, down time.Duration)) int {
	t.Helper()
	var next, completed, sent atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for next.Add(1) <= int64(jobs) {
				for {
					tk, err := p.Acquire(t.Context(), b)
					if err != nil {
						t.Errorf("Acquire: %v", err)
						return
					}
					up, down := rtt(sent.Add(1))
					time.Sleep(up)
					o := org.serve()
					time.Sleep(down)
					o.Received = time.Now()
					tk.Done(o)
					if o.Status != 429 {
						completed.Add(1)
						break
					}
				}
			}
		})
	}
	wg.Wait()
	return int(completed.Load())
}
