package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/credbatch/credbatch/internal/crashpoint"
	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner/pace"
)

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
			if wt := asError[*pace.WaitTooLongError](err); wt != nil {
				// Okta asked for a pause past --max-wait: stop (exit 3),
				// resumable; the row stays pending.
				r.halt.stop(&StopError{
					Reason: fmt.Sprintf("Okta asked to wait until %s (%s, %s bucket), longer than --max-wait %s",
						wt.Until.Format("2006-01-02 15:04:05 MST"), wt.Reason, wt.Bucket, wt.MaxWait),
					Hint: "rerun the same command after that time to resume, or give a longer --max-wait",
				})
			}
			res.pending = true
			return res
		}
		if req.beforeAttempt != nil {
			if !rep {
				crashpoint.Hit("before-attempt")
			}
			if err := req.beforeAttempt(res.sent + 1); err != nil {
				ticket.Done(pace.Observation{})
				res.localErr = err
				return res
			}
		}
		if req.beforeAttempt != nil && !rep {
			crashpoint.Hit("after-attempt")
		}
		if res.started.IsZero() {
			res.started = r.now()
		}
		res.sent++
		r.requests.Add(1)
		resp, err := req.call(hard, okta.CallOptions{RetryFor: lastReqID, RetryCount: retries})
		if b == pace.Post {
			crashpoint.Hit("after-response")
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

// terminal reports whether a verdict finishes the job (no retry follows).
func terminal(v pace.Verdict) bool {
	return v == pace.Success || v == pace.Fail || v == pace.InDoubt
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
