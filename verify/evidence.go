package verify

import (
	"context"
	"errors"
	"fmt"

	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/runner/pace"
)

// userEvidence reads GET /api/v1/users/{id} once for each user of the
// targets, on the user-GET bucket. A user that cannot be read (a 404, no
// answer after the retries) gets its reason in errs; only ctx's end and a
// token Okta refuses stop the stage.
func (f *fetcher) userEvidence(ctx context.Context, targets []*Target) (found map[string]*okta.UserEvidence, errs map[string]string, err error) {
	found, errs = map[string]*okta.UserEvidence{}, map[string]string{}
	for _, t := range targets {
		id := t.UserID
		if id == "" || found[id] != nil || errs[id] != "" {
			continue
		}
		var ev *okta.UserEvidence
		err := f.get(ctx, pace.Get, func(ctx context.Context, o okta.CallOptions) (*okta.Page, error) {
			var pg *okta.Page
			var err error
			ev, pg, err = f.client.GetUserEvidence(ctx, id, o)
			return pg, err
		})
		switch {
		case ctx.Err() != nil:
			return nil, nil, ctx.Err()
		case errors.Is(err, okta.ErrUnauthorized):
			return nil, nil, fmt.Errorf("GET /api/v1/users/%s: %w", id, err)
		case err != nil:
			errs[id] = err.Error()
		default:
			found[id] = ev
		}
	}
	return found, errs, nil
}
