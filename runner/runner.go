package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner/checkpoint"
	"github.com/credbatch/credbatch/runner/pace"
)

// ErrLocal is wrapped by the error Run returns when a local write failed
// (checkpoint or report): exit status 4.
var ErrLocal = errors.New("local failure")

// Journal is what the runner needs of the checkpoint: durable records.
type Journal interface {
	Attempt(checkpoint.Attempt) error
	// Outcomes must not keep the Payload slices after it returns: the
	// runner reuses their memory.
	Outcomes([]checkpoint.Outcome) error
	Note(checkpoint.Attempt) error
	Release(line int) error
}

// Options are the run's settings. Workers, Burst, MaxShare, the backoffs,
// Logger and Now take defaults when zero; Rate 0 means no cap and MaxRetries
// 0 means no retry, as the flags say (the command always sets both).
type Options struct {
	Workers    int
	Rate       float64 // requests/s; 0 = no cap
	Burst      int
	MaxShare   int
	MaxRetries int
	BackoffMin time.Duration // first retry's backoff; default 500ms
	BackoffMax time.Duration // default 30s
	HaltOn     int           // stop once this many jobs ended failed or in_doubt; 0 = off
	HaltOnPct  float64       // stop once this share (of at least 20 ended jobs) failed or is in doubt; 0 = off
	DryRun     bool
	Exclude    []string // user IDs and logins never to touch
	// ExcludeAt says where each Exclude entry came from ("FILE:LINE"; keys
	// as given, logins lower-cased), for the warning about an entry that
	// matches no user.
	ExcludeAt map[string]string
	// MatchShortNames accepts a login that Okta resolved by its short name
	// (the manifest's "jsmith" found "jsmith@corp.example"); without it such
	// a row fails CB_LOGIN_MISMATCH and nothing is sent for it.
	MatchShortNames bool
	// MaxWait bounds a rate-limit pause: Okta asking to wait longer (a
	// Retry-After or Reset past it) stops the run (exit 3), naming when.
	// 0: 15 minutes; negative: no bound.
	MaxWait time.Duration
	// OwnerID is the token's own user when the caller already learned it
	// (the command's check of the org, GET /api/v1/users/me); empty: the
	// runner asks Okta itself before anything is sent.
	OwnerID string
	// TokenMayHaveNoUser: the token may come from client credentials
	// (PrivateKey, or an access token in Bearer mode), which have no user, so
	// a 403/404 from GET /api/v1/users/me is no reason to stop.
	TokenMayHaveNoUser bool
	Logger             *slog.Logger
	Now                func() time.Time
	// SyncGap is the least time between the starts of two of the
	// recorder's fsyncs while no worker waits on it; default 5ms.
	SyncGap time.Duration
	// Seal, when set, replaces each issued secret (temporary password, reset
	// link) before the row is encoded, so the checkpoint and the report hold
	// only what it returns (--encrypt-to: age ciphertext). An error is a
	// local failure: the run stops with ErrLocal and the row stays pending.
	Seal func(secret.String) (secret.String, error)
}

// Prior is what earlier runs of the same checkpoint left behind.
type Prior struct {
	Done     func(line int) bool        // rows with a durable outcome: not sent again
	Finished int                        // how many rows Done holds (0: counted as the feeder meets them)
	Attempts map[int]int                // line -> attempts recorded in earlier runs
	InFlight map[int]checkpoint.Attempt // last attempts of rows with no outcome: password-checking ones are settled in_doubt
	FirstAt  map[int]time.Time          // first attempt of rows with no outcome (their started_at)
	Claims   *Claims                    // ClaimKey(user ID, action) -> line, for finished rows that claimed their user; the runner adds to it
	Counts   map[string]int             // outcome -> rows, of the rows Done holds (for progress)
}

// Input is what one invocation runs.
type Input struct {
	Manifest *jobs.Manifest
	Defaults jobs.Defaults
	Rows     int // rows in the manifest (for progress)
	Client   *okta.Client
	Journal  Journal
	Report   *report.Writer
	Prior    Prior
}

// Result counts what this invocation did.
type Result struct {
	Counts map[report.Outcome]int
	ByCode map[string]int
	// ByReason counts a dry run's would_fail rows by their reason (the
	// row's error_summary: "user is STAGED: activate the user instead").
	ByReason    map[string]int
	Requests    int64
	RateLimited int64
	Pending     int            // rows neither finished before nor in this invocation
	StatusCount map[string]int // dry run: users by current status
	// OwnerID is the token's own user, never touched ("" for a token with
	// no user, or when the run stopped before learning it).
	OwnerID string
	Elapsed time.Duration
}

// Progress is a snapshot for the progress display.
type Progress struct {
	Done, Total int64 // this invocation's rows: finished, and to finish
	Before      int64 // rows finished by earlier runs of the same checkpoint
	DryRun      bool
	// Counts are the whole run's outcomes so far, earlier runs included, so
	// progress never contradicts the final line.
	Counts      map[report.Outcome]int64
	Requests    int64
	RateLimited int64
	Paused      []pace.PauseInfo
}

// Runner runs one invocation. Create it with New, read Progress from any
// goroutine while Run runs.
type Runner struct {
	opt   Options
	in    Input
	pacer *pace.Pacer
	log   *slog.Logger
	debug bool // log's debug level is on: per-attempt lines are built
	now   func() time.Time

	total       atomic.Int64
	done        atomic.Int64
	requests    atomic.Int64
	rateLimited atomic.Int64

	halt stopper  // ends the feeding, or the run, early (stop.go); armed by Run
	sys  systemic // the systemic-403 rule's watch over the actions' answers (stop.go)

	// The Users rules (users.go): set by prepare, only read afterwards.
	meID       string
	excludeIDs map[string]bool
	excludeLog map[string]string // excluded login (lower case) -> its user ID once looked up

	mu sync.Mutex // guards below
	// What was recorded (record.go's recorder; statusCount: execute.go).
	counts      map[report.Outcome]int
	byCode      map[string]int
	byReason    map[string]int
	statusCount map[string]int
	// --halt-on (record.go's trips).
	ended   int  // rows handed to the recorder failed or in_doubt
	decided int  // rows handed to the recorder
	tripped bool // a row tripped --halt-on
	// Duplicates and one row per user at a time (users.go's sequence, finish).
	claims *Claims                  // ClaimKey(userID, action) -> line (set by prepare)
	chains map[string]chan struct{} // user ID -> the done of its last row sequenced
}

// New prepares a run.
func New(opt Options, in Input) *Runner {
	if opt.Workers < 1 {
		opt.Workers = 8
	}
	if opt.MaxShare < 1 || opt.MaxShare > 100 {
		opt.MaxShare = 50
	}
	if opt.Burst < 1 {
		opt.Burst = 1
	}
	if opt.BackoffMin <= 0 {
		opt.BackoffMin = 500 * time.Millisecond
	}
	if opt.BackoffMax <= 0 {
		opt.BackoffMax = 30 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.SyncGap <= 0 {
		opt.SyncGap = defaultSyncGap
	}
	r := &Runner{
		opt: opt, in: in, log: opt.Logger, now: opt.Now,
		debug: opt.Logger.Enabled(context.Background(), slog.LevelDebug),
		pacer: pace.New(pace.Config{
			Rate: opt.Rate, Burst: opt.Burst, MaxShare: opt.MaxShare, Workers: opt.Workers,
			MaxWait: opt.MaxWait,
		}),
		counts:      map[report.Outcome]int{},
		byCode:      map[string]int{},
		byReason:    map[string]int{},
		statusCount: map[string]int{},
		chains:      map[string]chan struct{}{},
		excludeIDs:  map[string]bool{},
		excludeLog:  map[string]string{},
	}
	r.total.Store(int64(in.Rows - in.Prior.Finished))
	return r
}

// Progress returns a snapshot; safe from any goroutine.
func (r *Runner) Progress() Progress {
	p := Progress{
		Done: r.done.Load(), Total: r.total.Load(),
		Requests: r.requests.Load(), RateLimited: r.rateLimited.Load(),
		Paused: r.pacer.Paused(), DryRun: r.opt.DryRun,
		Counts: make(map[report.Outcome]int64, 8),
	}
	p.Before = int64(r.in.Rows) - p.Total
	for k, v := range r.in.Prior.Counts {
		p.Counts[report.Outcome(k)] += int64(v)
	}
	r.mu.Lock()
	for k, v := range r.counts {
		p.Counts[k] += int64(v)
	}
	r.mu.Unlock()
	return p
}

// task is one row on its way through the pipeline.
type task struct {
	job      jobs.Job
	seq      int64
	userID   string
	user     *okta.User  // dry run: what GET returned
	row      *report.Row // decided without sending the action (resolution failed)
	settle   bool        // in flight at a crash: ends in_doubt without sending
	pending  bool        // stopped before it finished: stays pending
	prev     <-chan struct{}
	done     chan struct{}
	attempts int // attempts in earlier runs
	started  time.Time
	queued   bool // handed to the recorder, which finishes it once durable
	slot     bool // holds one of the recorder's slots (sent, not yet durable)
	// priorApplied: an attempt of an earlier run may have applied (a
	// repeatable action that was on the wire when that run stopped).
	priorApplied bool
}

// Run executes the jobs. feed ends the feeding (first Ctrl-C, SIGTERM); hard
// abandons the requests on the wire (second Ctrl-C). It returns what this
// invocation did and, when it did not finish, why: a StopError (exit 3), an
// error wrapping ErrLocal (exit 4), or the cause of feed's end.
//
// The stages are goroutines joined by channels: feed (one) -> resolveRows
// (Workers) -> sequencer (one) -> executor (Workers) -> recorder (one). Rows
// stop moving between stages at pipe's end (the errgroup's context: hard's
// end or a stage's error); no new row is fed and no new request starts at
// feed's end; a request on the wire is abandoned only at hard's end.
func (r *Runner) Run(feed, hard context.Context) (*Result, error) {
	start := r.now()
	hardCtx, endHard := context.WithCancelCause(hard)
	defer endHard(nil)
	feedCtx, endFeed := context.WithCancelCause(feed)
	defer endFeed(nil)
	r.halt.arm(r.log, endFeed, endHard)

	if err := r.prepare(feedCtx, hardCtx); err != nil {
		return r.result(start), err
	}

	g, pipe := errgroup.WithContext(hardCtx)
	window := make(chan struct{}, 4*r.opt.Workers+16) // rows fed and not yet sequenced
	toResolve := make(chan *task, r.opt.Workers)
	resolved := make(chan *task, r.opt.Workers)
	toExecute := make(chan *task, r.opt.Workers)
	q := recQueue{
		rows:  make(chan recItem, 8*r.opt.Workers+64),
		slots: make(chan struct{}, r.opt.Workers),
	}

	// The recorder: the one goroutine that writes the report.
	recDone := make(chan error, 1)
	go func() { recDone <- r.recorder(q) }()

	var senders sync.WaitGroup // the feeder and the resolvers: resolved's senders
	senders.Add(1 + r.opt.Workers)
	g.Go(func() error {
		defer senders.Done()
		return r.feed(feedCtx, pipe, window, toResolve, resolved)
	})
	for range r.opt.Workers {
		g.Go(func() error {
			defer senders.Done()
			return r.resolveRows(feedCtx, hardCtx, pipe, toResolve, resolved)
		})
	}
	g.Go(func() error {
		senders.Wait()
		close(resolved)
		return nil
	})
	g.Go(func() error { return r.sequencer(pipe, window, resolved, toExecute) })
	for range r.opt.Workers {
		g.Go(func() error { return r.executor(feedCtx, hardCtx, toExecute, q) })
	}

	gerr := g.Wait()
	close(q.rows)
	recErr := <-recDone

	res := r.result(start)
	switch {
	case feed.Err() != nil:
		// Interrupted (Ctrl-C, SIGTERM) ranks before a local failure and
		// a stop of the run's own (SPEC.md's order of exit statuses).
		return res, context.Cause(feed)
	case gerr != nil && errors.Is(gerr, ErrLocal):
		return res, gerr
	case recErr != nil:
		return res, recErr
	case gerr != nil && hard.Err() != nil:
		return res, context.Cause(hard)
	case gerr != nil:
		return res, gerr
	}
	if err := r.halt.stopError(); err != nil {
		return res, err
	}
	if feed.Err() != nil {
		return res, context.Cause(feed)
	}
	return res, nil
}

// feed sends the manifest's rows in order, finished ones skipped, to
// toResolve, or straight to resolved when no lookup is needed; it closes
// toResolve. A row enters window first: at most cap(window) rows are between
// the feeder and the sequencer. It stops at feed's end or pipe's.
func (r *Runner) feed(feed, pipe context.Context, window chan<- struct{}, toResolve, resolved chan<- *task) error {
	defer close(toResolve)
	var seq int64
	err := r.in.Manifest.Each(r.in.Defaults, func(j *jobs.Job) error {
		if r.in.Prior.Done != nil && r.in.Prior.Done(j.Line) {
			if r.in.Prior.Finished == 0 {
				r.total.Add(-1)
			}
			return nil
		}
		select {
		case window <- struct{}{}:
		case <-feed.Done():
			return errFeedStopped
		case <-pipe.Done():
			return errFeedStopped
		}
		t := &task{job: *j, seq: seq, attempts: r.in.Prior.Attempts[j.Line], started: r.in.Prior.FirstAt[j.Line]}
		seq++
		if a, ok := r.in.Prior.InFlight[j.Line]; ok {
			if j.Action.ChecksPassword() {
				t.settle = true
				t.userID = a.UserID
			} else {
				// Repeated, but a 4xx now, or retries running out,
				// ends in_doubt: the earlier attempt may have applied.
				t.priorApplied = true
			}
			if t.started.IsZero() {
				t.started = a.At
			}
		}
		// A row that needs no lookup (a user ID, outside a dry run)
		// skips the resolvers: one hand-off less per row.
		to := toResolve
		if r.resolveLocally(feed, t) {
			to = resolved
		}
		select {
		case to <- t:
			return nil
		case <-pipe.Done():
			return errFeedStopped
		}
	})
	if errors.Is(err, errFeedStopped) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: reading the manifest: %w", ErrLocal, err)
	}
	return nil
}

var errFeedStopped = errors.New("feeding stopped")

func (r *Runner) result(start time.Time) *Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := &Result{
		Counts: map[report.Outcome]int{}, ByCode: map[string]int{}, StatusCount: map[string]int{}, ByReason: map[string]int{},
		OwnerID:  r.meID,
		Requests: r.requests.Load(), RateLimited: r.rateLimited.Load(),
		Elapsed: r.now().Sub(start),
	}
	recorded := 0
	for k, v := range r.counts {
		res.Counts[k] = v
		recorded += v
	}
	for k, v := range r.byCode {
		res.ByCode[k] = v
	}
	for k, v := range r.byReason {
		res.ByReason[k] = v
	}
	for k, v := range r.statusCount {
		res.StatusCount[k] = v
	}
	res.Pending = int(r.total.Load()) - recorded
	if res.Pending < 0 {
		res.Pending = 0
	}
	return res
}
