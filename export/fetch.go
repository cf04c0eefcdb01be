package export

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/runner/pace"
)

// Fetcher sends an export's requests one at a time through the pacer, with
// run's retry rules (runner/pace.Decide; a GET may always be repeated): a
// 429 pauses its bucket until Reset or Retry-After and the same request
// is sent again; a 5xx, a timeout or no answer is retried after a backoff;
// at most MaxRetries retries of one request.
type Fetcher struct {
	Pacer      *pace.Pacer
	MaxRetries int
	// BackoffMin and BackoffMax bound the backoff after a 5xx or no answer.
	BackoffMin, BackoffMax time.Duration
	// Feed ends to stop taking new requests (the first Ctrl-C, SIGTERM);
	// Hard ends a request on the wire (the second Ctrl-C). Nil: never.
	Feed, Hard context.Context

	requests, rateLimited atomic.Int64
}

// Requests is how many requests the fetcher sent.
func (f *Fetcher) Requests() int64 { return f.requests.Load() }

// RateLimited is how many 429s it met.
func (f *Fetcher) RateLimited() int64 { return f.rateLimited.Load() }

// ErrStopped wraps the context's cause when Feed ended before a request
// was sent (nothing is lost: the same command resumes).
var ErrStopped = errors.New("export: stopped")

func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

// Do sends one request of bucket b with call, retrying as the rules say,
// and returns call's last error (nil on success). When Feed ends before a
// request leaves, the error wraps ErrStopped and Feed's cause; a pause
// longer than the pacer's MaxWait is its *pace.WaitTooLongError.
func (f *Fetcher) Do(b pace.Bucket, call func(ctx context.Context, o okta.CallOptions) (*okta.Page, error)) error {
	feed, hard := orBackground(f.Feed), orBackground(f.Hard)
	retries := 0
	lastID := ""
	for {
		if feed.Err() != nil {
			return stopped(feed)
		}
		tk, err := f.Pacer.Acquire(feed, b)
		if err != nil {
			if feed.Err() != nil {
				return stopped(feed)
			}
			return err
		}
		f.requests.Add(1)
		pg, err := call(hard, okta.CallOptions{RetryFor: lastID, RetryCount: retries})
		obs, att, known := observe(pg, err)
		tk.Done(obs)
		if err == nil {
			return nil
		}
		if obs.Status == 429 {
			f.rateLimited.Add(1)
		}
		if !known || hard.Err() != nil {
			return err
		}
		if ae := (*okta.APIError)(nil); errors.As(err, &ae) {
			lastID = ae.RequestID
		}
		att.Repeatable, att.Retries, att.MaxRetries = true, retries, f.MaxRetries
		switch v, _ := pace.Decide(att); v {
		case pace.RetryAfterPause:
			retries++
		case pace.RetryBackoff:
			retries++
			t := time.NewTimer(pace.Backoff(retries, f.BackoffMin, f.BackoffMax, rand.Float64))
			select {
			case <-t.C:
			case <-feed.Done():
				t.Stop()
				return stopped(feed)
			}
		default:
			return err
		}
	}
}

func stopped(ctx context.Context) error {
	return errors.Join(ErrStopped, context.Cause(ctx))
}

// observe turns an answer into the pacer's Observation and Decide's
// Attempt; known is false for an error that is neither an answer nor a
// missing one (a link that leaves the org, an object without id): it is
// not retried.
func observe(pg *okta.Page, err error) (obs pace.Observation, att pace.Attempt, known bool) {
	var rate okta.RateInfo
	var ae *okta.APIError
	var ne *okta.NetError
	known = true
	switch {
	case errors.As(err, &ae):
		rate = ae.Rate
		obs.Answered, obs.Status = true, ae.HTTPStatus
		att.Answered, att.Status = true, ae.HTTPStatus
	case errors.As(err, &ne):
		att.MayHaveReached, att.Timeout = ne.MayHaveReached, ne.Timeout
	case err != nil:
		known = false
	default:
		att.Answered = true
	}
	if pg != nil { // a 2xx arrived, usable or not
		rate = pg.Rate
		obs.Answered, obs.Status = true, pg.HTTPStatus
		if err == nil {
			att.Status = pg.HTTPStatus
		}
	}
	if rate.Present {
		obs.HasRate, obs.Limit, obs.Remaining, obs.Reset = true, rate.Limit, rate.Remaining, rate.Reset
	}
	obs.Date, obs.RetryAfter, obs.Received = rate.Date, rate.RetryAfter, rate.Received
	return obs, att, known
}
