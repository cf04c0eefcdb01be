package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/runner/pace"
)

// Bounds of one System Log query: many users a query, but a filter
// short enough for any proxy's URL limit, a time span that keeps the
// pages few, and a page count that always ends.
const (
	MaxUsersPerQuery = 40
	MaxFilterLen     = 2000 // bytes of the filter expression
	MaxQuerySpan     = 6 * time.Hour
	maxPagesPerQuery = 200 // of okta.MaxLogLimit events each
)

// ErrLogsForbidden is wrapped when Okta refuses the System Log to the
// token (403): OAuth needs the okta.logs.read scope, an API token an admin
// role that may read the System Log.
var ErrLogsForbidden = errors.New("the System Log is refused to this token")

// logQuery is one System Log query: an event type, the users it asks
// about, and the bounded query itself.
type logQuery struct {
	eventType string
	users     []string
	q         okta.LogQuery
}

// logKey names one user's events of one type.
type logKey struct{ eventType, userID string }

// logQueries groups the targets whose action Okta logs into bounded
// queries: per event type, users in the order of their attempts, a query
// from the earliest possible start of its first attempt to the end of its
// last window (never past Okta's earliest possible now), each within
// MaxUsersPerQuery, MaxFilterLen and MaxQuerySpan.
func logQueries(targets []*Target, off Offset, now time.Time) []logQuery {
	type span struct {
		userID   string
		from, to time.Time
	}
	byType := map[string][]span{}
	for _, t := range targets {
		et := eventType(t.Action)
		if et == "" || !filterSafe(t.UserID) || t.First.IsZero() {
			continue
		}
		c := Case{Target: t, Offset: off}
		from, to := c.window()
		byType[et] = append(byType[et], span{t.UserID, from, to})
	}
	ceiling := now.Add(off.Lo) // Okta's clock reads at least this now
	var out []logQuery
	for _, et := range sortedKeys(byType) {
		spans := byType[et]
		sort.SliceStable(spans, func(i, j int) bool { return spans[i].from.Before(spans[j].from) })
		var cur *logQuery
		var since, until time.Time
		flush := func() {
			if cur == nil {
				return
			}
			until = minTime(until, ceiling)
			cur.q = okta.LogQuery{Since: since.Truncate(time.Millisecond), Until: until.Truncate(time.Millisecond).Add(time.Millisecond),
				Filter: logFilter(et, cur.users), Limit: okta.MaxLogLimit}
			out = append(out, *cur)
			cur = nil
		}
		for _, s := range spans {
			if cur != nil && !slices.Contains(cur.users, s.userID) &&
				(len(cur.users) == MaxUsersPerQuery || len(logFilter(et, append(cur.users[:len(cur.users):len(cur.users)], s.userID))) > MaxFilterLen ||
					maxTime(until, s.to).Sub(since) > MaxQuerySpan) {
				flush()
			}
			if cur == nil {
				cur, since, until = &logQuery{eventType: et}, s.from, s.to
			}
			if !slices.Contains(cur.users, s.userID) {
				cur.users = append(cur.users, s.userID)
			}
			until = maxTime(until, s.to)
		}
		flush()
	}
	return out
}

// logFilter is `eventType eq "T" and (target.id eq "A" or target.id eq "B" …)`.
func logFilter(eventType string, users []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "eventType eq %q and (", eventType)
	for i, u := range users {
		if i > 0 {
			b.WriteString(" or ")
		}
		fmt.Fprintf(&b, "target.id eq %q", u)
	}
	b.WriteString(")")
	return b.String()
}

// filterSafe: only an ID of letters and digits goes into a filter
// expression (a report's user_id is data, not syntax).
func filterSafe(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// systemLog runs the queries on the System Log's bucket, page by page
// (each next link as Okta gave it), and keeps each asked user's events of
// the asked type. A query that fails leaves its users' reason in errs;
// a 403 (ErrLogsForbidden), a 401 and ctx's end stop the stage.
func (f *fetcher) systemLog(ctx context.Context, queries []logQuery) (events map[logKey][]okta.LogEvent, errs map[logKey]string, err error) {
	events, errs = map[logKey][]okta.LogEvent{}, map[logKey]string{}
	for _, lq := range queries {
		asked := map[string]bool{}
		for _, u := range lq.users {
			asked[u] = true
			events[logKey{lq.eventType, u}] = nil // consulted
		}
		fail := func(reason string) {
			for _, u := range lq.users {
				k := logKey{lq.eventType, u}
				errs[k] = reason
				delete(events, k)
			}
		}
		next, seen := lq.q.Path(), map[string]bool{}
		for pages := 0; next != ""; pages++ {
			if pages == maxPagesPerQuery || seen[next] {
				fail(fmt.Sprintf("the query did not end after %d pages", pages))
				break
			}
			seen[next] = true
			var evs []okta.LogEvent
			var pg *okta.Page
			err := f.get(ctx, pace.Logs, func(ctx context.Context, o okta.CallOptions) (*okta.Page, error) {
				var err error
				evs, pg, err = f.client.ListLogEvents(ctx, next, o)
				return pg, err
			})
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			if err != nil {
				if errors.Is(err, okta.ErrUnauthorized) {
					return nil, nil, fmt.Errorf("GET /api/v1/logs: %w", err)
				}
				var ae *okta.APIError
				if errors.As(err, &ae) && ae.HTTPStatus == 403 {
					return nil, nil, fmt.Errorf("GET /api/v1/logs: %w: %w", ErrLogsForbidden, err)
				}
				fail(err.Error())
				break
			}
			for _, e := range evs {
				for _, t := range e.Targets {
					if e.EventType == lq.eventType && asked[t.ID] {
						k := logKey{lq.eventType, t.ID}
						events[k] = append(events[k], e)
					}
				}
			}
			next = pg.Next
		}
	}
	return events, errs, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
