package emulator

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// LogEntry records one request under /api, in arrival order. An entry whose
// request is still being handled, or whose client went away during the
// Latency wait, has Status 0. A dropped request logs the status it would
// have had. Secret holds the temp password or reset URL the answer carried:
// the log is a test and bench tool, and holds secrets.
type LogEntry struct {
	Seq             int       `json:"seq"`
	Time            time.Time `json:"time"`
	Method          string    `json:"method"`
	Path            string    `json:"path"`
	RawQuery        string    `json:"rawQuery,omitempty"`
	UserID          string    `json:"userId,omitempty"` // resolved user, "" if none
	Op              string    `json:"op"`               // an Op* name, "" for an unknown path
	Status          int       `json:"status"`
	ErrorCode       string    `json:"errorCode,omitempty"`
	RequestID       string    `json:"requestId"`
	Applied         bool      `json:"applied"`                   // a credential operation took effect
	Secret          string    `json:"secret,omitempty"`          // temp password or reset URL in the answer
	Emailed         bool      `json:"emailed,omitempty"`         // a reset link was "emailed" instead
	RevokedSessions bool      `json:"revokedSessions,omitempty"` // the user's sessions were revoked
	Dropped         bool      `json:"dropped,omitempty"`         // applied, then the connection was closed
	RetryFor        string    `json:"retryFor,omitempty"`        // X-Okta-Retry-For
	RetryCount      string    `json:"retryCount,omitempty"`      // X-Okta-Retry-Count
	AuthScheme      string    `json:"authScheme,omitempty"`      // SSWS, Bearer, DPoP, other, or ""
	UserAgent       string    `json:"userAgent,omitempty"`
	IdempotencyKey  bool      `json:"idempotencyKey,omitempty"` // any header naming idempotency was sent
}

// reserve appends e (giving it its Seq) and returns its index.
func (o *Org) reserve(e *LogEntry) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	e.Seq = len(o.log) + 1
	o.log = append(o.log, *e)
	return len(o.log) - 1
}

// finish stores the final form of the entry at idx.
func (o *Org) finish(idx int, e LogEntry) {
	o.mu.Lock()
	o.log[idx] = e
	o.mu.Unlock()
}

// Log returns a copy of the request log, in arrival order.
func (o *Org) Log() []LogEntry {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]LogEntry(nil), o.log...)
}

// WriteLog writes the request log as JSONL, one LogEntry a line.
func (o *Org) WriteLog(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, e := range o.Log() {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("write emulator log: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write emulator log: %w", err)
	}
	return nil
}

// Stats summarises the request log and the rate-limit windows.
type Stats struct {
	Requests            int                       `json:"requests"`
	ByOp                map[string]map[string]int `json:"byOp"`     // op ("" = unknown path) → status → count
	ByStatus            map[string]int            `json:"byStatus"` // status → count
	RateLimited         int                       `json:"rateLimited"`
	ConcurrencyRejected int                       `json:"concurrencyRejected"` // the 429s of the concurrency limit
	Applied             int                       `json:"applied"`
	Dropped             int                       `json:"dropped"`
	Faults5xx           int                       `json:"faults5xx"`
	Windows             []WindowStat              `json:"windows"`
	MaxShare            map[string]float64        `json:"maxShare"`                    // limited bucket → max (Used+Neighbour)/Limit over its windows
	NeighbourRejected   int                       `json:"neighbourRejected,omitempty"` // the neighbour's 429s, every window
	Token               TokenStats                `json:"token"`                       // POST /oauth2/v1/token
}

// Stats computes the current Stats.
func (o *Org) Stats() Stats {
	s := Stats{ByOp: map[string]map[string]int{}, ByStatus: map[string]int{}, MaxShare: map[string]float64{}}
	for _, e := range o.Log() {
		s.Requests++
		code := strconv.Itoa(e.Status)
		if s.ByOp[e.Op] == nil {
			s.ByOp[e.Op] = map[string]int{}
		}
		s.ByOp[e.Op][code]++
		s.ByStatus[code]++
		switch {
		case e.Status == http.StatusTooManyRequests:
			s.RateLimited++
		case e.ErrorCode == "E0000009":
			s.Faults5xx++
		}
		if e.Applied {
			s.Applied++
		}
		if e.Dropped {
			s.Dropped++
		}
	}
	s.Windows = o.Windows()
	s.Token = o.tokenStats()
	for _, w := range s.Windows {
		s.NeighbourRejected += w.NeighbourRejected
		if w.Limit > 0 {
			share := float64(w.Used+w.Neighbour) / float64(w.Limit)
			if share > s.MaxShare[w.Bucket] {
				s.MaxShare[w.Bucket] = share
			}
		}
	}
	o.mu.Lock()
	s.ConcurrencyRejected = o.concurrencyRejected
	o.mu.Unlock()
	return s
}

// serveAdmin answers /_emulator/log and /_emulator/stats.
func (o *Org) serveAdmin(w http.ResponseWriter, r *http.Request) {
	var write func(io.Writer) error
	ctype := "application/json"
	switch r.URL.Path {
	case "/_emulator/log":
		write, ctype = o.WriteLog, "application/x-ndjson"
	case "/_emulator/stats":
		write = func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(o.Stats())
		}
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", ctype)
	_ = write(w) // the client may go away; nothing to do about it
}

// WindowStat is one rate-limit window of one bucket. Limit 0 means the
// bucket is unlimited (its use is still counted).
type WindowStat struct {
	Bucket   string    `json:"bucket"`
	Start    time.Time `json:"start"`
	Reset    int64     `json:"reset"` // the window's end, epoch seconds rounded up
	Limit    int       `json:"limit"`
	Used     int       `json:"used"`     // requests the emulator admitted
	Rejected int       `json:"rejected"` // 429s of this window (not counting the concurrency limit)
	// The neighbour's requests counted in this window (credential bucket),
	// and those it wanted but found no room for (its own 429s).
	Neighbour         int `json:"neighbour,omitempty"`
	NeighbourRejected int `json:"neighbourRejected,omitempty"`
	neighbourSent     int // what it wanted so far: Neighbour + NeighbourRejected
}

type windowKey struct {
	bucket string
	start  int64 // unix nanoseconds
}

// Windows returns every window seen so far, by bucket then start.
// A window's neighbour counts are brought up to now (the org's clock).
func (o *Org) Windows() []WindowStat {
	o.mu.Lock()
	now := o.now()
	out := make([]WindowStat, 0, len(o.windows))
	for _, w := range o.windows {
		o.settleNeighbour(w, now)
		out = append(out, *w)
	}
	o.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bucket != out[j].Bucket {
			return out[i].Bucket < out[j].Bucket
		}
		return out[i].Start.Before(out[j].Start)
	})
	return out
}

func (o *Org) limitFor(bucket string) int {
	switch bucket {
	case BucketCredentials:
		return o.cfg.PostLimit
	case BucketUsers:
		return o.cfg.GetLimit
	case BucketGroups:
		return o.cfg.GroupLimit
	case BucketApps:
		return o.cfg.AppLimit
	case BucketLogs:
		return o.cfg.LogLimit
	}
	return 0
}

// windowBounds gives the start of the window holding now and its reset
// (end, epoch seconds rounded up).
func (o *Org) windowBounds(now time.Time) (start int64, reset int64) {
	n, w := now.UnixNano(), o.window.Nanoseconds()
	start = n - ((n%w)+w)%w
	end := start + w
	reset = end / 1e9
	if end%1e9 > 0 {
		reset++
	}
	return start, reset
}

// windowAt returns the stat of bucket's window at now, creating it. The
// caller holds o.mu.
func (o *Org) windowAt(bucket string, now time.Time) *WindowStat {
	start, reset := o.windowBounds(now)
	k := windowKey{bucket, start}
	ws := o.windows[k]
	if ws == nil {
		ws = &WindowStat{Bucket: bucket, Start: time.Unix(0, start).UTC(), Reset: reset, Limit: o.limitFor(bucket)}
		o.windows[k] = ws
	}
	return ws
}

func (o *Org) info(ws *WindowStat) rateInfo {
	limit := ws.Limit
	if limit <= 0 {
		limit = UnlimitedLimit
	}
	return rateInfo{limit: limit, remaining: max(limit-ws.Used-ws.Neighbour, 0), reset: ws.Reset}
}

// admit counts a request in bucket's window at now, or refuses it when the
// window is full. The caller holds o.mu.
func (o *Org) admit(bucket string, now time.Time) (rateInfo, bool) {
	ws := o.windowAt(bucket, now)
	o.settleNeighbour(ws, now)
	if ws.Limit > 0 && ws.Used+ws.Neighbour >= ws.Limit {
		ws.Rejected++
		return rateInfo{limit: ws.Limit, remaining: 0, reset: ws.Reset}, false
	}
	ws.Used++
	return o.info(ws), true
}

// peek reports bucket's window at now without counting. An empty bucket
// (unknown path) reports an unlimited window.
func (o *Org) peek(bucket string, now time.Time) *rateInfo {
	o.mu.Lock()
	defer o.mu.Unlock()
	ri := o.peekLocked(bucket, now)
	return &ri
}

func (o *Org) peekLocked(bucket string, now time.Time) rateInfo {
	start, reset := o.windowBounds(now)
	if bucket == "" {
		return rateInfo{limit: UnlimitedLimit, remaining: UnlimitedLimit, reset: reset}
	}
	if ws := o.windows[windowKey{bucket, start}]; ws != nil || bucket == BucketCredentials && o.hasNeighbour() {
		if ws == nil {
			ws = o.windowAt(bucket, now) // the neighbour uses it already
		}
		o.settleNeighbour(ws, now)
		return o.info(ws)
	}
	limit := o.limitFor(bucket)
	if limit <= 0 {
		limit = UnlimitedLimit
	}
	return rateInfo{limit: limit, remaining: limit, reset: reset}
}
