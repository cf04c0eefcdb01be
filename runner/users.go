package runner

import (
	"context"
	"fmt"
	"strings"

	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/report"
)

// prepare learns the token's own user and resolves the exclusion list.
func (r *Runner) prepare(feed, hard context.Context) error {
	for _, e := range r.opt.Exclude {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if jobs.IsUserID(e) {
			r.excludeIDs[e] = true
		} else {
			r.excludeLog[strings.ToLower(e)] = ""
		}
	}
	// Room for a claim a row: the table never grows during the run.
	if r.claims = r.in.Prior.Claims; r.claims == nil {
		r.claims = NewClaims(r.in.Rows)
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
	// An ID is excluded as written; it is looked up only to warn when the
	// org has no such user (a typo in a VIP's ID must not pass silently).
	for id := range r.excludeIDs {
		res := r.send(feed, hard, lookup(func(ctx context.Context, o okta.CallOptions) (*okta.Response, error) {
			return r.in.Client.GetUser(ctx, id, o)
		}))
		if res.pending {
			return r.halt.why(feed)
		}
		if ae := asError[*okta.APIError](res.err); ae != nil && ae.HTTPStatus == 404 {
			r.warnExcludeUnknown(id)
		}
	}
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
			r.warnExcludeUnknown(login)
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

// warnExcludeUnknown says that an --exclude entry names no user of the org,
// with where the entry came from when the caller said (FILE:LINE).
func (r *Runner) warnExcludeUnknown(entry string) {
	where := r.opt.ExcludeAt[entry]
	if where == "" {
		where = "--exclude"
	}
	r.log.Warn(where+": the --exclude entry matches no user in the org (misspelled?)", "entry", entry)
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

// resolve turns the row's user into an Okta ID and learns who it is (GET
// for logins, for IDs without a login column, and for every row in a dry
// run).
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

// excludedWhy is the summary of a row whose user is on the --exclude list.
const excludedWhy = "user is on the --exclude list"

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
	if j.UserIsID && !r.opt.DryRun && j.Login != "" {
		// Named by ID, and the manifest says who it is: no lookup. (A row
		// named by ID alone is looked up in the user-GET bucket, which does
		// not slow the credential bucket, so its report row names the user.)
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
		r.claims.Claim(claimKey(t.userID, string(j.Action)), j.Line)
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
	if first, dup := r.claims.Line(key); dup && first != j.Line {
		r.decide(t, r.failure(), report.CodeDuplicateUser,
			fmt.Sprintf("line %d already has %s for this user (after resolving logins); not sent again", first, j.Action))
		return
	}
	r.claims.Claim(key, j.Line)
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
