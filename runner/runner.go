package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
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

// ErrStopped is wrapped by the error Run returns when it stopped on purpose
// (401, systemic 403, --halt-on): exit status 3. The unsent rows stay pending.
var ErrStopped = errors.New("run stopped")

// ErrLocal is wrapped by the error Run returns when a local write failed
// (checkpoint or report): exit status 4.
var ErrLocal = errors.New("local failure")

// StopError says why a run stopped on purpose and what fixes it.
type StopError struct {
	Reason string // what happened, e.g. "Okta answered 401 E0000011"
	Hint   string // what to do before rerunning the same command
}

func (e *StopError) Error() string { return "stopped: " + e.Reason }

// Is makes errors.Is(err, ErrStopped) true.
func (e *StopError) Is(target error) bool { return target == ErrStopped }

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
	// MatchShortNames accepts a login that Okta resolved by its short name
	// (the manifest's "jsmith" found "jsmith@corp.example"); without it such
	// a row fails CB_LOGIN_MISMATCH and nothing is sent for it.
	MatchShortNames bool
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
	Claims   map[uint64]int             // ClaimKey(user ID, action) -> line, for finished rows that claimed their user; the runner adds to it
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
	Counts      map[report.Outcome]int
	ByCode      map[string]int
	Requests    int64
	RateLimited int64
	Pending     int            // rows neither finished before nor in this invocation
	StatusCount map[string]int // dry run: users by current status
	Elapsed     time.Duration
}

// Progress is a snapshot for the progress display.
type Progress struct {
	Done, Total int64
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

	halt stopper // ends the feeding, or the run, early; armed by Run

	meID       string
	excludeIDs map[string]bool
	excludeLog map[string]string // excluded login (lower case) -> its user ID once looked up

	mu          sync.Mutex // guards below
	counts      map[report.Outcome]int
	byCode      map[string]int
	statusCount map[string]int
	ended       int            // rows handed to the recorder failed or in_doubt
	decided     int            // rows handed to the recorder
	tripped     bool           // a row tripped --halt-on
	claims      map[uint64]int // hash(userID, action) -> line
	chains      map[string]chan struct{}

	sys systemic // the systemic-403 rule's watch over the actions' answers
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
		}),
		counts:      map[report.Outcome]int{},
		byCode:      map[string]int{},
		statusCount: map[string]int{},
		claims:      map[uint64]int{},
		chains:      map[string]chan struct{}{},
		excludeIDs:  map[string]bool{},
		excludeLog:  map[string]string{},
	}
	r.total.Store(int64(in.Rows - in.Prior.Finished))
	return r
}

// Progress returns a snapshot; safe from any goroutine.
func (r *Runner) Progress() Progress {
	return Progress{
		Done: r.done.Load(), Total: r.total.Load(),
		Requests: r.requests.Load(), RateLimited: r.rateLimited.Load(),
		Paused: r.pacer.Paused(),
	}
}

// ClaimKey is the 64-bit hash under which a (user ID, action) pair is
// claimed: a second row with the same pair after resolution is a duplicate.
func ClaimKey(userID, action string) uint64 { return claimKey(userID, action) }

// claimKey is FNV-1a over userID, a zero byte and action (hash/fnv's New64a,
// written out so that a row pays no allocation for it).
func claimKey(userID, action string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(userID); i++ {
		h = (h ^ uint64(userID[i])) * prime
	}
	h *= prime // the zero byte: h ^ 0 == h
	for i := 0; i < len(action); i++ {
		h = (h ^ uint64(action[i])) * prime
	}
	return h
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
// The stages, each its own goroutines joined by channels: feed (one) ->
// resolveRows (Workers) -> sequencer (one) -> executor (Workers) -> recorder
// (one). Every stage but the recorder ends with pipe, the errgroup's context
// (hard's end or a stage's error); feeding and sending also end with feed's.
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

// resolveRows is one resolver: it turns logins into IDs (and, in a dry run,
// learns every user's state) for the rows from in, and passes them on.
func (r *Runner) resolveRows(feed, hard, pipe context.Context, in <-chan *task, out chan<- *task) error {
	for t := range in {
		r.resolve(feed, hard, t)
		select {
		case out <- t:
		case <-pipe.Done():
			return pipe.Err()
		}
	}
	return nil
}

// sequencer puts the resolved rows back in manifest order, frees their
// places in window, applies the Users rules to each (sequence), and passes
// on every row not left pending. It closes out.
func (r *Runner) sequencer(pipe context.Context, window <-chan struct{}, in <-chan *task, out chan<- *task) error {
	defer close(out)
	held := map[int64]*task{} // rows that arrived before an earlier one
	var next int64
	for t := range in {
		if t.seq != next {
			held[t.seq] = t
			continue
		}
		for t != nil {
			next++
			<-window
			if !t.pending {
				r.sequence(t)
				select {
				case out <- t:
				case <-pipe.Done():
					return pipe.Err()
				}
			}
			if t = held[next]; t != nil {
				delete(held, next)
			}
		}
	}
	return nil
}

// executor is one executor: it sends the rows' actions (or records what
// was decided) and hands their outcomes to the recorder through q.
func (r *Runner) executor(feed, hard context.Context, in <-chan *task, q recQueue) error {
	for t := range in {
		if err := r.execute(feed, hard, t, q); err != nil {
			return err
		}
	}
	return nil
}

var errFeedStopped = errors.New("feeding stopped")

func (r *Runner) result(start time.Time) *Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := &Result{
		Counts: map[report.Outcome]int{}, ByCode: map[string]int{}, StatusCount: map[string]int{},
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
	for k, v := range r.statusCount {
		res.StatusCount[k] = v
	}
	res.Pending = int(r.total.Load()) - recorded
	if res.Pending < 0 {
		res.Pending = 0
	}
	return res
}

// stopper ends a run early: a stop of the run's own (401, systemic 403,
// --halt-on: exit 3) or a local failure that leaves the requests on the wire
// be ends the feeding; a failed journal write or seal also abandons those
// requests. Run arms it with the cancel functions of its two contexts.
type stopper struct {
	log              *slog.Logger
	endFeed, endHard context.CancelCauseFunc

	mu  sync.Mutex
	err *StopError // the run's own stop: the first
}

func (s *stopper) arm(log *slog.Logger, endFeed, endHard context.CancelCauseFunc) {
	s.log, s.endFeed, s.endHard = log, endFeed, endHard
}

// stop ends feeding for a reason of the run's own (exit 3). The first wins.
func (s *stopper) stop(err *StopError) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
		s.log.Warn("stopping: no new requests will start", "reason", err.Reason)
	}
	s.mu.Unlock()
	s.endFeed(err)
}

// stopFeeding ends feeding for a local failure; the requests on the wire
// finish and are recorded.
func (s *stopper) stopFeeding(err error) { s.endFeed(err) }

// abandon ends feeding and abandons the requests on the wire: a local
// failure after which nothing more can be recorded.
func (s *stopper) abandon(err error) {
	s.endFeed(err)
	s.endHard(err)
}

// stopError is the run's own stop, or nil.
func (s *stopper) stopError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		return nil // not a nil *StopError in an error
	}
	return s.err
}

// why is the reason a request was left unsent: the run's own stop, else the
// cause of feed's end.
func (s *stopper) why(feed context.Context) error {
	if err := s.stopError(); err != nil {
		return err
	}
	return context.Cause(feed)
}

// prepare learns the token's own user and resolves the exclusion list.
func (r *Runner) prepare(feed, hard context.Context) error {
	for _, e := range r.opt.Exclude {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if isUserID(e) {
			r.excludeIDs[e] = true
		} else {
			r.excludeLog[strings.ToLower(e)] = ""
		}
	}
	if r.in.Prior.Claims != nil {
		r.claims = r.in.Prior.Claims
	}
	// The token's own user is never touched.
	if r.opt.OwnerID != "" {
		r.meID = r.opt.OwnerID
		return r.resolveExcluded(feed, hard)
	}
	res := r.send(feed, hard, lookup(func(ctx context.Context, o okta.CallOptions) (*okta.Response, error) {
		return r.in.Client.GetMe(ctx, o)
	}))
	if res.pending {
		return r.halt.why(feed)
	}
	if res.resp != nil && res.resp.User != nil {
		r.meID = res.resp.User.ID
	} else if res.err != nil {
		// A client-credentials token has no user: Okta answers 404 or 403
		// here. An API token always has one: not knowing it, the run could
		// touch it, so it stops before anything is sent.
		ae := asError[*okta.APIError](res.err)
		noUser := ae != nil && (ae.HTTPStatus == 404 || ae.HTTPStatus == 403)
		if !noUser || !r.opt.TokenMayHaveNoUser {
			return &StopError{
				Reason: fmt.Sprintf("could not learn which user the token belongs to (GET /api/v1/users/me), so that user could not be kept safe: %v", res.err),
				Hint:   "rerun the same command once Okta answers GET /api/v1/users/me for this token",
			}
		}
	}
	return r.resolveExcluded(feed, hard)
}

// resolveExcluded looks up the excluded logins, so a row naming such a user
// by ID is excluded too.
func (r *Runner) resolveExcluded(feed, hard context.Context) error {
	for login := range r.excludeLog {
		res := r.send(feed, hard, lookup(func(ctx context.Context, o okta.CallOptions) (*okta.Response, error) {
			return r.in.Client.GetUser(ctx, login, o)
		}))
		if res.pending {
			return r.halt.why(feed)
		}
		if res.resp != nil && res.resp.User != nil {
			r.excludeIDs[res.resp.User.ID] = true
			r.excludeLog[login] = res.resp.User.ID
			continue
		}
		if ae := asError[*okta.APIError](res.err); ae != nil && ae.HTTPStatus == 404 {
			continue // no such user: a row naming it by login is still excluded
		}
		// An excluded user we cannot identify could be touched through a
		// row that names it by ID: stop before anything is sent.
		return &StopError{
			Reason: fmt.Sprintf("could not look up an --exclude user, so its rows could not be kept safe: %v", res.err),
			Hint:   "rerun the same command once Okta answers GET /api/v1/users for it again",
		}
	}
	return nil
}

// loginMatches reports whether Okta's profile.login is the login the
// manifest named: equal ignoring case (SPEC.md "Users"). With short names
// allowed, a manifest value without "@" also matches the part of the
// resolved login before its "@", as Okta itself resolves it; a value with an
// "@" must always match whole.
func loginMatches(manifest, resolved string, shortNames bool) bool {
	if strings.EqualFold(manifest, resolved) {
		return true
	}
	if !shortNames || strings.Contains(manifest, "@") {
		return false
	}
	at := strings.IndexByte(resolved, '@')
	return at > 0 && strings.EqualFold(manifest, resolved[:at])
}

// resolve turns the row's user into an Okta ID (GET for logins; GET for
// every row in a dry run).
func (r *Runner) resolve(feed, hard context.Context, t *task) {
	if r.resolveLocally(feed, t) {
		return
	}
	j := &t.job
	res := r.send(feed, hard, lookup(func(ctx context.Context, o okta.CallOptions) (*okta.Response, error) {
		return r.in.Client.GetUser(ctx, j.User, o)
	}))
	if res.pending {
		t.pending = true
		return
	}
	if res.err != nil {
		row := r.decide(t, r.failure(), "", "")
		fillError(row, res.err, false)
		if ae := asError[*okta.APIError](res.err); ae != nil && ae.HTTPStatus == 404 {
			row.ErrorSummary = "user not found: " + row.ErrorSummary
		}
		return
	}
	u := res.resp.User
	if u == nil {
		r.decide(t, r.failure(), "", "Okta's answer to GET /api/v1/users carried no user")
		return
	}
	t.userID = u.ID
	if !j.UserIsID && !loginMatches(j.User, u.Login, r.opt.MatchShortNames) {
		why := "Okta resolved this login to a user whose login is different; nothing was sent for this row"
		if loginMatches(j.User, u.Login, true) {
			why = "Okta resolved this short name to a user with a longer login; nothing was sent for this row (write the full login, or rerun with --match-short-names)"
		}
		r.decide(t, r.failure(), report.CodeLoginMismatch, why)
		return
	}
	if j.UserIsID && u.ID != j.User {
		// IDs are case-sensitive: Okta must not answer for another ID.
		r.decide(t, r.failure(), report.CodeLoginMismatch, "Okta answered with a different user ID")
		return
	}
	t.user = u
}

// resolveLocally resolves the row when no lookup is needed (a user ID
// outside a dry run, a row to settle, a login on the --exclude list, a
// stopped feed) and reports whether it did.
func (r *Runner) resolveLocally(feed context.Context, t *task) bool {
	if feed.Err() != nil {
		t.pending = true
		return true
	}
	if t.settle {
		return true
	}
	j := &t.job
	if id, ok := r.excludedLogin(j); ok {
		// Excluded by login: skipped without a lookup of its own (so a
		// login Okta does not know still ends skipped).
		t.userID = id
		r.decide(t, report.Skipped, "", excludedWhy)
		return true
	}
	if j.UserIsID && !r.opt.DryRun {
		t.userID = j.User
		return true
	}
	return false
}

// excludedLogin returns the user ID of a row that names, by login, a user
// on the --exclude list.
func (r *Runner) excludedLogin(j *jobs.Job) (string, bool) {
	if j.UserIsID || len(r.excludeLog) == 0 {
		return "", false
	}
	id, ok := r.excludeLog[strings.ToLower(j.User)]
	return id, ok
}

// sequence applies, in manifest order, the exclusion, self, duplicate and
// one-row-per-user-at-a-time rules.
func (r *Runner) sequence(t *task) {
	if t.row != nil || t.pending {
		return // a row that failed its login check claims no user
	}
	j := &t.job
	if t.settle {
		// On the wire when a run stopped: it ends in_doubt whatever the
		// lists say now. It still claims its user.
		r.mu.Lock()
		r.claims[claimKey(t.userID, string(j.Action))] = j.Line
		r.mu.Unlock()
		return
	}
	if _, byLogin := r.excludedLogin(j); r.excludeIDs[t.userID] || byLogin {
		r.decide(t, report.Skipped, "", excludedWhy)
		return
	}
	if r.meID != "" && t.userID == r.meID {
		r.decide(t, report.Skipped, "", "user is the API token's own user: credbatch never changes it")
		return
	}
	key := claimKey(t.userID, string(j.Action))
	r.mu.Lock()
	defer r.mu.Unlock()
	if first, dup := r.claims[key]; dup && first != j.Line {
		r.decide(t, r.failure(), report.CodeDuplicateUser,
			fmt.Sprintf("line %d already has %s for this user (after resolving logins); not sent again", first, j.Action))
		return
	}
	r.claims[key] = j.Line
	t.prev = r.chains[t.userID]
	t.done = make(chan struct{})
	r.chains[t.userID] = t.done
}

// finish releases the task's slot, if it holds one, and the next row of
// the same user.
func (r *Runner) finish(t *task, slots <-chan struct{}) {
	if t.slot {
		t.slot = false
		<-slots
	}
	if t.done == nil {
		return
	}
	r.mu.Lock()
	if r.chains[t.userID] == t.done {
		delete(r.chains, t.userID)
	}
	r.mu.Unlock()
	close(t.done)
}

// excludedWhy is the summary of a row whose user is on the --exclude list.
const excludedWhy = "user is on the --exclude list"

// decide gives the task its row, with an outcome known without sending its
// action (or, in a dry run, the one predicted), and the code and summary
// that say why (either may be empty). It returns the row.
func (r *Runner) decide(t *task, o report.Outcome, code, summary string) *report.Row {
	row := r.baseRow(t)
	row.Outcome, row.ErrorCode, row.ErrorSummary = o, code, summary
	t.row = row
	return row
}

// failure is the outcome of a row that fails without its action being sent:
// would_fail in a dry run, failed in a real one.
func (r *Runner) failure() report.Outcome {
	if r.opt.DryRun {
		return report.WouldFail
	}
	return report.Failed
}

// baseRow is the task's row before its outcome: its line, user, action, and
// the attempts and start of earlier runs.
func (r *Runner) baseRow(t *task) *report.Row {
	return &report.Row{
		Line: t.job.Line, User: t.job.User, UserID: t.userID, Action: string(t.job.Action),
		Attempts: t.attempts, StartedAt: t.started,
	}
}

// execute sends the row's action (or records what was decided) and records
// the outcome. It returns an error only for a local failure.
func (r *Runner) execute(feed, hard context.Context, t *task, q recQueue) error {
	defer func() {
		if !t.queued {
			r.finish(t, q.slots) // not recorded: release the user's next row now
		}
	}()
	err := r.executeRow(feed, hard, t, q)
	if errors.Is(err, errTripped) {
		return nil // pending
	}
	return err
}

func (r *Runner) executeRow(feed, hard context.Context, t *task, q recQueue) error {
	if t.prev != nil {
		select {
		case <-t.prev:
		case <-hard.Done():
			return nil
		}
	}
	if t.row != nil {
		return r.record(q, t, t.row)
	}
	if t.settle {
		return r.record(q, t, r.decide(t, report.InDoubt, "", "an earlier attempt may have applied: the run stopped while the request was on the wire, and this action is not safe to repeat; check the user in Okta"))
	}
	if r.opt.DryRun {
		o, reason := report.WouldSucceed, ""
		if ok, why := dryRunVerdict(t.job.Action, t.user); !ok {
			o, reason = report.WouldFail, why
		}
		row := r.decide(t, o, "", reason)
		row.UserStatus = t.user.Status
		r.mu.Lock()
		r.statusCount[t.user.Status]++
		r.mu.Unlock()
		return r.record(q, t, row)
	}
	if feed.Err() != nil {
		return nil // pending
	}
	j := &t.job
	rep := repeatable(j.Action)
	// Attempts of password-checking actions are durable before the POST (a
	// crash then resumes in_doubt, never as a second attempt); those of the
	// repeatable ones are noted without waiting, only so the report's
	// attempts and started_at cover every run.
	journalAttempt := func(n int) error {
		a := checkpoint.Attempt{Line: j.Line, UserID: t.userID, N: t.attempts + n, At: r.now()}
		var err error
		if rep {
			err = r.in.Journal.Note(a)
		} else {
			err = r.in.Journal.Attempt(a)
		}
		if err != nil {
			return fmt.Errorf("%w: recording an attempt: %w", ErrLocal, err)
		}
		return nil
	}
	// Most rows hold a slot from before their first attempt until their
	// outcome is durable (holdsSlot): a crash leaves at most --workers of
	// them answered but unrecorded. expire_password and clear_sessions rows
	// move on at once; the recorder's batch and queue bound how many wait.
	if holdsSlot(j.Action) {
		select {
		case q.slots <- struct{}{}:
			t.slot = true
		case <-feed.Done():
			return nil // pending
		}
	}
	res := r.send(feed, hard, request{
		bucket:     pace.Post,
		repeatable: rep,
		call: func(ctx context.Context, o okta.CallOptions) (*okta.Response, error) {
			return callAction(ctx, r.in.Client, j, t.userID, o)
		},
		beforeAttempt:         journalAttempt,
		watch403:              true,
		earlierMayHaveApplied: t.priorApplied,
	})
	if res.localErr != nil {
		r.halt.stopFeeding(res.localErr)
		return res.localErr
	}
	release := func() error {
		if res.sent > 0 && !res.mayHaveApplied {
			// Answered without effect (401, 503, 429, a 4xx, never
			// written): the row is plainly pending, and a resume sends it.
			if err := r.in.Journal.Release(j.Line); err != nil {
				err = fmt.Errorf("%w: recording line %d as pending: %w", ErrLocal, j.Line, err)
				r.halt.stopFeeding(err)
				return err
			}
		}
		return nil
	}
	if res.pending {
		return release()
	}
	err := r.record(q, t, r.answered(t, &res))
	if errors.Is(err, errTripped) {
		if rerr := release(); rerr != nil {
			return rerr
		}
	}
	return err
}

// answered is the row of a task whose action got a final verdict: what
// Okta's answer (or its absence) says, and the attempts of every run.
func (r *Runner) answered(t *task, res *sendResult) *report.Row {
	row := r.baseRow(t)
	row.Attempts = t.attempts + res.sent
	if row.StartedAt.IsZero() {
		row.StartedAt = res.started
	}
	switch res.verdict {
	case pace.Success:
		row.Outcome = report.Succeeded
		resp := res.resp
		row.HTTPStatus = resp.HTTPStatus
		row.OktaRequestID = resp.RequestID
		row.TempPassword = resp.TempPassword
		row.ResetURL = resp.ResetURL
		row.UserStatus = resp.UserStatus
		if row.UserStatus == "" {
			row.UserStatus = documentedStatus(t.job.Action)
		}
	case pace.InDoubt:
		row.Outcome = report.InDoubt
		fillError(row, res.err, true)
	default:
		row.Outcome = report.Failed
		fillError(row, res.err, false)
	}
	return row
}

// fillError puts an error's code and summary into a row; never a secret.
func fillError(row *report.Row, err error, inDoubt bool) {
	ae, ne := asError[*okta.APIError](err), asError[*okta.NetError](err)
	switch {
	case ae != nil:
		row.HTTPStatus = ae.HTTPStatus
		row.ErrorCode = ae.Code
		row.OktaRequestID = ae.RequestID
		parts := []string{}
		if ae.Summary != "" {
			parts = append(parts, ae.Summary)
		}
		parts = append(parts, ae.Causes...)
		row.ErrorSummary = strings.Join(parts, "; ")
		if row.ErrorSummary == "" {
			row.ErrorSummary = fmt.Sprintf("HTTP %d", ae.HTTPStatus)
		}
	case ne != nil:
		if ne.Timeout {
			row.ErrorCode = report.CodeTimeout
			row.ErrorSummary = "no answer from Okta within --timeout"
		} else {
			row.ErrorCode = report.CodeNetwork
			row.ErrorSummary = "no answer from Okta: " + ne.Err.Error()
		}
	case err != nil:
		row.ErrorSummary = err.Error()
	}
	if inDoubt {
		row.ErrorSummary = "an earlier attempt may have applied; check the user in Okta before repeating: " + row.ErrorSummary
	}
}

// recQueue is what the executors share with the recorder: the queue of
// finished rows, and the slots of the rows sent and not yet durable (at most
// Workers: see holdsSlot).
type recQueue struct {
	rows  chan recItem
	slots chan struct{}
}

// recItem is a finished row on its way to the recorder.
type recItem struct {
	row     *report.Row
	payload *[]byte // the row's journal payload, from payloads
	t       *task
}

// payloads recycles the rows' journal payloads (the JSONL encoding of the
// row): the recorder gives each back once the journal has copied it. 512
// bytes hold a usual row at once (growing from nil took ~7 allocations).
var payloads = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// putPayload gives p back, zeroed (a payload may hold a temporary password
// or a reset link), unless an odd row made it large.
func putPayload(p *[]byte) {
	if cap(*p) <= 8<<10 {
		clear(*p)
		*p = (*p)[:0]
		payloads.Put(p)
	}
}

// record hands a finished row to the recorder, which makes it durable and
// then appends it to the report. The executor moves on at once: the row
// counts as done, and the user's next row may start, only once durable.
func (r *Runner) record(q recQueue, t *task, row *report.Row) error {
	if halt := r.trips(row); halt != nil {
		// The row that trips the stop stays pending (SPEC.md, exit 3):
		// the same command sends it again once the cause is fixed.
		r.halt.stop(halt)
		return errTripped
	}
	if row.FinishedAt.IsZero() {
		row.FinishedAt = r.now()
	}
	if err := r.seal(row); err != nil {
		err = fmt.Errorf("%w: line %d: %w", ErrLocal, row.Line, err)
		// Like a failed journal write: abandon everything, the row pending.
		r.halt.abandon(err)
		return err
	}
	p := payloads.Get().(*[]byte)
	*p = report.AppendRow((*p)[:0], row, report.JSONL)
	it := recItem{row: row, payload: p, t: t}
	// The recorder drains q.rows until every executor is done, even after
	// a failure, so this send always completes: a decided row is never
	// dropped.
	q.rows <- it
	t.queued = true
	return nil
}

// seal replaces the row's secrets with Options.Seal's output, if set.
func (r *Runner) seal(row *report.Row) error {
	if r.opt.Seal == nil {
		return nil
	}
	for _, f := range []*secret.String{&row.TempPassword, &row.ResetURL} {
		if f.Reveal() == "" {
			continue
		}
		v, err := r.opt.Seal(*f)
		if err != nil {
			return fmt.Errorf("sealing a secret (--encrypt-to): %w", err)
		}
		*f = v
	}
	return nil
}

// errTripped says the row tripped --halt-on and was left pending.
var errTripped = errors.New("row tripped --halt-on")

// trips reports whether recording this row as failed or in doubt would reach
// --halt-on. Only the first such row trips; rows that were on the wire and
// finish afterwards are recorded as usual.
func (r *Runner) trips(row *report.Row) *StopError {
	r.mu.Lock()
	defer r.mu.Unlock()
	bad := row.Outcome == report.Failed || row.Outcome == report.InDoubt
	if !bad || r.tripped || (r.opt.HaltOn <= 0 && r.opt.HaltOnPct <= 0) {
		r.decided++
		if bad {
			r.ended++
		}
		return nil
	}
	ended, total := r.ended+1, r.decided+1
	hint := "look at the failed rows in the report, fix the cause, then rerun the same command to resume (the row that tripped the stop is still pending)"
	switch {
	case r.opt.HaltOn > 0 && ended >= r.opt.HaltOn:
		r.tripped = true
		return &StopError{Reason: fmt.Sprintf("--halt-on %d reached: %d rows failed or are in doubt", r.opt.HaltOn, ended), Hint: hint}
	case r.opt.HaltOnPct > 0 && total >= 20 && float64(ended)*100 >= r.opt.HaltOnPct*float64(total):
		r.tripped = true
		return &StopError{Reason: fmt.Sprintf("--halt-on %g%% reached: %d of %d rows failed or are in doubt", r.opt.HaltOnPct, ended, total), Hint: hint}
	}
	r.ended, r.decided = ended, total
	return nil
}

// defaultSyncGap spaces the recorder's fsyncs (Options.SyncGap): at most one
// begins per gap, so a fast run makes ~100 rows durable per fsync, not ~30
// (an fsync cost ~0.4 ms of CPU here), while a slow one still syncs each row
// as it comes.
const defaultSyncGap = 5 * time.Millisecond

// recorder is the one goroutine that records: it takes every finished row
// queued (waiting up to SyncGap after the last fsync began for more, unless
// a worker waits on it), makes the batch durable in the checkpoint with one
// fsync, then counts the rows as done, releases their users' next rows and appends them
// to the report, flushing whenever the queue runs empty.
func (r *Runner) recorder(q recQueue) error {
	var firstErr error
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
			// A failed journal write abandons everything (SPEC.md).
			r.halt.abandon(err)
		}
	}
	batch := make([]recItem, 0, 256)
	outs := make([]checkpoint.Outcome, 0, 256)
	var lastSync time.Time
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer linger.Stop()
	for it := range q.rows {
		batch = append(batch[:0], it)
		// Take what is queued; then, if the last fsync began less than
		// SyncGap ago, go on collecting until then, unless every slot
		// is held (workers wait on this fsync) or the batch is full.
		linger.Reset(max(r.opt.SyncGap-time.Since(lastSync), 0))
	collect:
		for len(batch) < cap(batch) {
			select {
			case more, ok := <-q.rows:
				if !ok {
					break collect
				}
				batch = append(batch, more)
				continue
			default:
			}
			if len(q.slots) == cap(q.slots) {
				break
			}
			select {
			case more, ok := <-q.rows:
				if !ok {
					break collect
				}
				batch = append(batch, more)
			case <-linger.C:
				break collect
			}
		}
		linger.Stop()
		lastSync = time.Now()
		if firstErr == nil {
			outs = outs[:0]
			for _, b := range batch {
				outs = append(outs, checkpoint.Outcome{Line: b.row.Line, Outcome: string(b.row.Outcome), Payload: *b.payload})
			}
			if err := r.in.Journal.Outcomes(outs); err != nil {
				fail(fmt.Errorf("%w: recording the outcomes of %d rows: %w", ErrLocal, len(outs), err))
			} else {
				crash("after-outcome")
			}
			clear(outs)
		}
		for _, b := range batch {
			putPayload(b.payload)
			if firstErr == nil {
				r.done.Add(1)
				r.mu.Lock()
				r.counts[b.row.Outcome]++
				if b.row.ErrorCode != "" {
					r.byCode[b.row.ErrorCode]++
				}
				r.mu.Unlock()
			}
			r.finish(b.t, q.slots)
			if firstErr == nil {
				if err := r.in.Report.Write(b.row); err != nil {
					fail(fmt.Errorf("%w: writing the report: %w", ErrLocal, err))
				}
			}
		}
		if firstErr == nil && len(q.rows) == 0 {
			if err := r.in.Report.Flush(); err != nil {
				fail(fmt.Errorf("%w: writing the report: %w", ErrLocal, err))
				continue
			}
			crash("after-report")
		}
	}
	if firstErr == nil {
		if err := r.in.Report.Flush(); err != nil {
			fail(fmt.Errorf("%w: writing the report: %w", ErrLocal, err))
		}
	}
	return firstErr
}

// terminal reports whether a verdict finishes the job (no retry follows).
func terminal(v pace.Verdict) bool {
	return v == pace.Success || v == pace.Fail || v == pace.InDoubt
}

// systemic watches for the systemic-403 rule: the first five jobs to finish
// all answered 403 E0000006 (the token lacks the permission). Its zero value
// is ready; it is safe for concurrent use.
type systemic struct {
	mu       sync.Mutex
	finished int  // jobs whose action got a final HTTP answer, up to systemicN
	other    bool // one of them answered something else: the rule cannot trip
}

const systemicN = 5

// observe counts one job's final answer and returns true when it trips the
// rule.
func (s *systemic) observe(status int, code string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished >= systemicN {
		return false
	}
	s.finished++
	if status != 403 || code != "E0000006" {
		s.other = true
		return false
	}
	return !s.other && s.finished == systemicN
}

// sendResult is what one job's request loop ended with.
type sendResult struct {
	resp           *okta.Response
	err            error
	verdict        pace.Verdict
	sent           int
	started        time.Time
	pending        bool  // stopped before finishing: the row stays pending
	mayHaveApplied bool  // some attempt may have reached Okta and applied
	localErr       error // journal write failed
}

// request is one request as send sends it: the bucket that paces it, how an
// attempt is made, and what the retry policy and the stop rules must know.
type request struct {
	bucket pace.Bucket
	// repeatable: it may be sent again after an attempt that may have
	// reached Okta (every lookup; the actions repeatable names).
	repeatable bool
	// call makes one attempt.
	call func(context.Context, okta.CallOptions) (*okta.Response, error)
	// beforeAttempt, when set, runs before each attempt goes on the wire
	// (the journal's record of it; n counts this run's attempts from 1).
	// Its error ends the request as sendResult.localErr.
	beforeAttempt func(n int) error
	// watch403: the request's final answers count toward the systemic-403
	// rule (a row's action). A flag, not a *systemic: a pointer field that
	// leaks would make call and beforeAttempt escape, one allocation each
	// per row.
	watch403 bool
	// earlierMayHaveApplied: an attempt of an earlier run may have applied.
	earlierMayHaveApplied bool
}

// lookup is a GET: repeatable, in the pacer's Get bucket, its answers not
// counted by the systemic-403 rule.
func lookup(call func(context.Context, okta.CallOptions) (*okta.Response, error)) request {
	return request{bucket: pace.Get, repeatable: true, call: call}
}

// send runs one request with pacing and the retry policy of runner/pace.
func (r *Runner) send(feed, hard context.Context, req request) sendResult {
	b, rep, earlier := req.bucket, req.repeatable, req.earlierMayHaveApplied
	var res sendResult
	var lastReqID string
	retries := 0
	for {
		if feed.Err() != nil {
			res.pending = true
			return res
		}
		ticket, err := r.pacer.Acquire(feed, b)
		if err != nil {
			res.pending = true
			return res
		}
		if req.beforeAttempt != nil {
			if !rep {
				crash("before-attempt")
			}
			if err := req.beforeAttempt(res.sent + 1); err != nil {
				ticket.Done(pace.Observation{})
				res.localErr = err
				return res
			}
		}
		if req.beforeAttempt != nil && !rep {
			crash("after-attempt")
		}
		if res.started.IsZero() {
			res.started = r.now()
		}
		res.sent++
		r.requests.Add(1)
		resp, err := req.call(hard, okta.CallOptions{RetryFor: lastReqID, RetryCount: retries})
		if b == pace.Post {
			crash("after-response")
		}
		obs, attempt := r.observe(resp, err)
		ticket.Done(obs)
		if hard.Err() != nil && !attempt.Answered {
			// Abandoned on the wire (second Ctrl-C): a resume settles it.
			// An answer that did arrive is decided and recorded as usual.
			res.pending = true
			res.mayHaveApplied = earlier || attempt.MayHaveReached
			return res
		}
		if obs.Status == 429 {
			r.rateLimited.Add(1)
		}
		attempt.Repeatable = rep
		attempt.EarlierMayHaveApplied = earlier
		attempt.Retries = retries
		attempt.MaxRetries = r.opt.MaxRetries
		v, applied := pace.Decide(attempt)
		earlier = earlier || applied
		res.mayHaveApplied = earlier
		res.resp, res.err, res.verdict = resp, err, v

		if ae := asError[*okta.APIError](err); ae != nil {
			lastReqID = ae.RequestID
			if ae.HTTPStatus == 401 {
				// Any 401 with a static token stops the run; the row stays
				// pending (a resume settles it in_doubt if an earlier attempt
				// may have applied).
				r.halt.stop(&StopError{
					Reason: fmt.Sprintf("Okta answered 401 %s: %s", ae.Code, ae.Summary),
					Hint:   "the API token is invalid, expired or revoked: set a valid OKTA_CLIENT_TOKEN (or --token-file), then rerun the same command to resume",
				})
				res.pending = true
				return res
			}
			if req.watch403 && terminal(v) && r.sys.observe(ae.HTTPStatus, ae.Code) {
				r.halt.stop(&StopError{
					Reason: "the first 5 rows all answered 403 E0000006: the token is not allowed to do this",
					Hint:   "give the token's admin (or the service app) a role that may manage these users' credentials (okta.users.manage), then rerun the same command to resume",
				})
				res.pending = true
				return res
			}
		} else if resp != nil {
			lastReqID = resp.RequestID
			if req.watch403 && terminal(v) {
				r.sys.observe(resp.HTTPStatus, "")
			}
		}
		if r.debug {
			r.log.Debug("attempt", "bucket", b.String(), "try", res.sent, "status", obs.Status, "verdict", int(v))
		}

		switch v {
		case pace.RetryAfterPause:
			retries++
			continue
		case pace.RetryBackoff:
			retries++
			d := pace.Backoff(retries, r.opt.BackoffMin, r.opt.BackoffMax, rand.Float64)
			timer := time.NewTimer(d)
			select {
			case <-timer.C:
			case <-feed.Done():
				timer.Stop()
				if !rep && earlier {
					// Not reached: Decide ends such a row in_doubt at once.
					res.verdict = pace.InDoubt
					return res
				}
				res.pending = true
				return res
			}
			continue
		}
		return res
	}
}

// asError returns the T in err's chain (errors.As), or T's zero value: the
// target is made only when there is an error, so that an answer without one
// pays nothing for it.
func asError[T error](err error) T {
	if err != nil {
		var t T
		if errors.As(err, &t) {
			return t
		}
	}
	var zero T
	return zero
}

// observe converts the client's answer into what the pacer and the retry
// policy need.
func (r *Runner) observe(resp *okta.Response, err error) (pace.Observation, pace.Attempt) {
	var rate okta.RateInfo
	var obs pace.Observation
	var a pace.Attempt
	if err == nil && resp != nil {
		rate = resp.Rate
		obs.Answered, obs.Status = true, resp.HTTPStatus
	} else if ae := asError[*okta.APIError](err); ae != nil {
		rate = ae.Rate
		obs.Answered, obs.Status = true, ae.HTTPStatus
	} else if ne := asError[*okta.NetError](err); ne != nil {
		a.MayHaveReached = ne.MayHaveReached
		a.Timeout = ne.Timeout
	} else {
		a.MayHaveReached = true
	}
	if rate.Present {
		obs.HasRate = true
		obs.Limit, obs.Remaining = rate.Limit, rate.Remaining
		obs.Reset = rate.Reset
	}
	obs.Date, obs.RetryAfter, obs.Received = rate.Date, rate.RetryAfter, rate.Received
	if obs.Received.IsZero() {
		obs.Received = r.now()
	}
	a.Answered, a.Status = obs.Answered, obs.Status
	return obs, a
}
