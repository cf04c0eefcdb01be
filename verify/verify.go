// Package verify settles the rows a run could not: `credbatch verify`
// (SPEC.md "Verify"). A row whose request may have reached Okta without an
// answer (in_doubt, or failed with CB_NETWORK, CB_TIMEOUT or a 5xx) gets a
// verdict — applied, not_applied or unproven — from evidence Okta itself
// keeps, and never one the evidence does not show.
//
// The stages, one a file:
//
//	rows.go      which rows need a verdict, and when their attempts started
//	             and ended (the checkpoint's attempt records, else the report)
//	evidence.go  GET /api/v1/users/{id} once per user (strongly consistent)
//	syslog.go    the System Log: GET /api/v1/logs, bounded queries of many
//	             users each, on the System Log's own bucket
//	clock.go     Okta's clock against this host's, from every answer's Date
//	findings.go  what the user object and the System Log show per action
//	decide.go    the verdict: a pure function of the evidence and the time
//	write.go     OUT (the report plus verdict and evidence) and the rerun lines
//
// verify sends only GETs, through fetch.go: paced by runner/pace, retried
// by its rules. Times of the run (attempts) are this host's clock; times
// Okta serves are Okta's; the offset between the two is an interval
// learned from Date headers, and evidence counts for an attempt only when
// it is not before the attempt's earliest possible start in Okta's time.
package verify

import (
	"context"
	"time"

	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/runner/pace"
)

// DefaultSettleAfter is --settle-after's default: how long after the last
// attempt verify waits before it calls silence not_applied.
const DefaultSettleAfter = 10 * time.Minute

// Options are what Run needs besides the plan.
type Options struct {
	Client *okta.Client
	// Pacer paces the user-GET and System Log buckets (runner/pace).
	Pacer *pace.Pacer
	// Now is verify's clock (default time.Now): the attempt times are
	// compared with it for --settle-after, and Date samples are taken by it.
	Now         func() time.Time
	SettleAfter time.Duration
	MaxRetries  int           // of one GET (429, 5xx, network); default 5
	BackoffMin  time.Duration // first backoff after a 5xx or network error; default 500ms
}

// Result is what Run found.
type Result struct {
	Decisions []Decision // one per target, in line order
	Offset    Offset
	Requests  int // GETs sent
	Queries   int // System Log queries (each one or more pages)
}

// Run reads the evidence for the plan's targets and decides each. It
// returns an error only when it cannot go on: ctx ended, Okta refused the
// token (okta.ErrUnauthorized), or the System Log is refused to it
// (ErrLogsForbidden).
func Run(ctx context.Context, o Options, p *Plan) (*Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 5
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 500 * time.Millisecond
	}
	f := &fetcher{client: o.Client, pacer: o.Pacer, now: o.Now, maxRetries: o.MaxRetries, backoffMin: o.BackoffMin}
	targets := p.Targets()
	res := &Result{}
	if len(targets) == 0 {
		return res, nil
	}
	// 1. The users, strongly consistent: they also teach the clock offset
	// the log queries' bounds need.
	users, userErrs, err := f.userEvidence(ctx, targets)
	if err != nil {
		return nil, err
	}
	// 2. The System Log around the attempts.
	queries := logQueries(targets, f.clock.Offset(), o.Now())
	events, logErrs, err := f.systemLog(ctx, queries)
	if err != nil {
		return nil, err
	}
	res.Offset, res.Requests, res.Queries = f.clock.Offset(), f.requests, len(queries)
	// 3. The verdicts, against the offset every answer taught.
	now := o.Now()
	for _, t := range targets {
		k := logKey{eventType(t.Action), t.UserID}
		evs, consulted := events[k]
		c := Case{
			Target: t, Offset: res.Offset,
			User: users[t.UserID], UserErr: userErrs[t.UserID],
			LogConsulted: consulted, Events: evs, LogErr: logErrs[k],
			Others: p.Others(t.UserID), Now: now, SettleAfter: o.SettleAfter,
		}
		if c.User == nil && c.UserErr == "" {
			c.UserErr = "not read"
		}
		if k.eventType != "" && !consulted && c.LogErr == "" && !filterSafe(t.UserID) {
			c.LogErr = "the user ID cannot go in a System Log filter"
		}
		res.Decisions = append(res.Decisions, Decide(c))
	}
	return res, nil
}
