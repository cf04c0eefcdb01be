package verify

import (
	"context"
	"errors"
	"time"

	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/runner/pace"
)

// fetcher sends verify's GETs: each one paced on its bucket, retried by
// runner/pace's rules (a 429 after its pause, a 5xx or a network error
// after a backoff), and every answer's Date taken as a clock sample. It
// is used by one goroutine.
type fetcher struct {
	client     *okta.Client
	pacer      *pace.Pacer
	now        func() time.Time
	maxRetries int
	backoffMin time.Duration
	clock      ClockSamples
	requests   int
}

// get sends one GET (call) until it is answered for good, and returns its
// error (nil for a 2xx). Only ctx's end stops the waits.
func (f *fetcher) get(ctx context.Context, b pace.Bucket, call func(context.Context, okta.CallOptions) (*okta.Page, error)) error {
	var opts okta.CallOptions
	for {
		tk, err := f.pacer.Acquire(ctx, b)
		if err != nil {
			return err
		}
		sent := f.now()
		pg, err := call(ctx, opts)
		received := f.now()
		f.requests++
		obs, att := observe(pg, err)
		tk.Done(obs)
		if ri, ok := okta.AnswerRate(pg, err); ok {
			f.clock.Add(sent, received, ri.Date)
		}
		if err != nil && pg != nil {
			return err // a 2xx that cannot be read: asking again reads the same
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		att.Repeatable, att.Retries, att.MaxRetries = true, opts.RetryCount, f.maxRetries
		v, _ := pace.Decide(att)
		switch v {
		case pace.Success:
			return nil
		case pace.RetryAfterPause, pace.RetryBackoff:
			if ae := (*okta.APIError)(nil); errors.As(err, &ae) {
				opts.RetryFor = ae.RequestID
			}
			opts.RetryCount++
			if v == pace.RetryBackoff {
				if err := sleep(ctx, pace.Backoff(opts.RetryCount, f.backoffMin, 20*f.backoffMin, nil)); err != nil {
					return err
				}
			}
			continue
		}
		return err
	}
}

// observe turns an answer into what the pacer and the retry rules need.
// Received stays zero: the pacer reads its own clock (verify's may be
// shifted in tests).
func observe(pg *okta.Page, err error) (pace.Observation, pace.Attempt) {
	var obs pace.Observation
	var a pace.Attempt
	var ae *okta.APIError
	var ne *okta.NetError
	switch {
	case errors.As(err, &ae):
		obs.Answered, obs.Status = true, ae.HTTPStatus
	case pg != nil:
		obs.Answered, obs.Status = true, pg.HTTPStatus
	case errors.As(err, &ne):
		a.MayHaveReached, a.Timeout = ne.MayHaveReached, ne.Timeout
	}
	if ri, ok := okta.AnswerRate(pg, err); ok {
		if ri.Present {
			obs.HasRate, obs.Limit, obs.Remaining, obs.Reset = true, ri.Limit, ri.Remaining, ri.Reset
		}
		obs.Date, obs.RetryAfter = ri.Date, ri.RetryAfter
	}
	a.Answered, a.Status = obs.Answered, obs.Status
	return obs, a
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
