package runner_test

import (
	"hash/fnv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
)

// SPEC.md "Users": resolution, login check, duplicates after resolution,
// exclusion by login or ID, the token's own user.
func TestUsersRules(t *testing.T) {
	e := newEnv(t, emulator.Config{UserList: activeUsers(9)})
	const impostor = "user00004@example.com"
	const otherDomain = "user00008@example.com" // Okta answers user00008@evil.example
	e.prx.rewrite = func(ri reqInfo, body map[string]any) {
		p, ok := body["profile"].(map[string]any)
		switch {
		case !ok:
		case strings.EqualFold(ri.UserSeg, impostor):
			p["login"] = "someone-else@example.com"
		case strings.EqualFold(ri.UserSeg, otherDomain):
			p["login"] = "user00008@evil.example"
		}
	}
	byLogin := func(a jobs.Action, user string) mrow { return mrow{user: user, action: string(a)} }
	byID := func(a jobs.Action, i int) mrow { return mrow{user: uid(i), action: string(a)} }
	rows := []mrow{
		0:  byLogin(jobs.ExpirePassword, "user00001@example.com"),
		1:  byLogin(jobs.ExpirePassword, "USER00002@Example.COM"),
		2:  byLogin(jobs.ExpirePassword, "user00003"), // a login short name: refused without --match-short-names
		3:  byLogin(jobs.ExpirePassword, impostor),    // Okta answers with another login
		4:  byID(jobs.ExpirePassword, 5),
		5:  byLogin(jobs.ExpirePassword, "user00005@example.com"), // the same user and action as row 4
		6:  byID(jobs.ExpirePassword, 6),                          // excluded by login
		7:  byLogin(jobs.ExpirePassword, "user00007@example.com"), // excluded by ID
		8:  byID(jobs.ExpirePassword, 0),                          // the token's owner
		9:  byLogin(jobs.ClearSessions, "admin@example.com"),      // the token's owner by login
		10: byID(jobs.ExpirePassword, 4),                          // the mismatched row claimed no user
		11: byLogin(jobs.ExpirePassword, "user00006@example.com"), // excluded and also a duplicate of row 6
		12: byLogin(jobs.ExpirePassword, otherDomain),             // the same part before @, another domain
	}
	opt := baseOptions()
	opt.Exclude = []string{"User00006@example.com", uid(7)}
	r := e.run(rows, opt)
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	if len(r.rows) != len(rows) {
		t.Fatalf("report has %d rows, want %d", len(r.rows), len(rows))
	}
	want := []struct {
		outcome report.Outcome
		code    string
		userID  string
	}{
		0:  {report.Succeeded, "", uid(1)},
		1:  {report.Succeeded, "", uid(2)},
		2:  {report.Failed, report.CodeLoginMismatch, uid(3)},
		3:  {report.Failed, report.CodeLoginMismatch, uid(4)},
		4:  {report.Succeeded, "", uid(5)},
		5:  {report.Failed, report.CodeDuplicateUser, uid(5)},
		6:  {report.Skipped, "", uid(6)},
		7:  {report.Skipped, "", uid(7)},
		8:  {report.Skipped, "", uid(0)},
		9:  {report.Skipped, "", uid(0)},
		10: {report.Succeeded, "", uid(4)},
		11: {report.Skipped, "", uid(6)},
		12: {report.Failed, report.CodeLoginMismatch, uid(8)},
	}
	for k, w := range want {
		row := r.row(t, k)
		if row.Outcome != w.outcome || row.ErrorCode != w.code || row.UserID != w.userID {
			t.Errorf("row %d: %s user_id %q; want %s %q user_id %q", k, describe(row), row.UserID, w.outcome, w.code, w.userID)
		}
		if row.Outcome != report.Succeeded && (row.Attempts != 0 || !row.StartedAt.IsZero()) {
			t.Errorf("row %d: %s: nothing was sent, yet attempts or started_at are set", k, describe(row))
		}
	}
	sent := map[string]int{}
	for i := 0; i <= 8; i++ {
		sent[uid(i)] = len(e.prx.actions(uid(i)))
	}
	wantSent := map[string]int{uid(0): 0, uid(1): 1, uid(2): 1, uid(3): 0, uid(4): 1, uid(5): 1, uid(6): 0, uid(7): 0, uid(8): 0}
	for id, n := range wantSent {
		if sent[id] != n {
			t.Errorf("%s: %d action requests, want %d", id, sent[id], n)
		}
	}
	// Every login was resolved with a GET before anything was sent for it.
	gets := map[string]bool{}
	for _, ri := range e.prx.log() {
		if ri.Method == "GET" {
			gets[strings.ToLower(ri.UserSeg)] = true
		}
		if ri.Action && ri.UserSeg == uid(1) && !gets["user00001@example.com"] {
			t.Errorf("the action for user00001 was sent before its login was resolved")
		}
	}
}

// --match-short-names accepts a login Okta resolved by its short name, and
// only that: a full login must still match whole.
func TestMatchShortNames(t *testing.T) {
	e := newEnv(t, emulator.Config{UserList: activeUsers(3)})
	e.prx.rewrite = func(ri reqInfo, body map[string]any) {
		if p, ok := body["profile"].(map[string]any); ok && strings.EqualFold(ri.UserSeg, "user00002@example.com") {
			p["login"] = "user00002@evil.example"
		}
	}
	rows := []mrow{
		{user: "USER00001", action: string(jobs.ExpirePassword)},
		{user: "user00002@example.com", action: string(jobs.ExpirePassword)},
	}
	opt := baseOptions()
	opt.MatchShortNames = true
	r := e.run(rows, opt)
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	if row := r.row(t, 0); row.Outcome != report.Succeeded || row.UserID != uid(1) {
		t.Errorf("short name with --match-short-names: %s user_id %q; want succeeded %q", describe(row), row.UserID, uid(1))
	}
	if row := r.row(t, 1); row.Outcome != report.Failed || row.ErrorCode != report.CodeLoginMismatch {
		t.Errorf("full login answered for another domain: %s; want failed %s", describe(row), report.CodeLoginMismatch)
	}
	if n := len(e.prx.actions(uid(2))); n != 0 {
		t.Errorf("%d action requests for the mismatched user, want 0", n)
	}
}

// Rows of the same user (named by ID or by login) never run at the same time,
// and run in manifest order.
func TestSameUserRowsInOrderNeverConcurrent(t *testing.T) {
	const n = 6
	e := newEnv(t, emulator.Config{UserList: activeUsers(n)})
	e.prx.latency = 5 * time.Millisecond
	// forgot_password needs ACTIVE, so it comes first; the others accept what
	// the earlier ones leave.
	actions := []jobs.Action{jobs.ForgotPassword, jobs.ClearSessions, jobs.ExpirePasswordWithTempPassword, jobs.ResetPassword}
	suffix := map[string]jobs.Action{
		"/lifecycle/expire_password_with_temp_password": jobs.ExpirePasswordWithTempPassword,
		"/lifecycle/reset_password":                     jobs.ResetPassword,
		"/sessions":                                     jobs.ClearSessions,
		"/credentials/forgot_password":                  jobs.ForgotPassword,
	}
	var rows []mrow
	for ai, a := range actions {
		for i := 1; i <= n; i++ {
			row := rowFor(a, mkUser(i, emulator.StatusActive))
			if (ai+i)%2 == 0 {
				row.user = loginOf(i)
			}
			rows = append(rows, row)
		}
	}
	opt := baseOptions()
	opt.Workers = 8
	r := e.run(rows, opt)
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	if len(r.rows) != len(rows) || r.count(report.Succeeded) != len(rows) {
		t.Fatalf("report has %d rows (%d succeeded), want %d succeeded", len(r.rows), r.count(report.Succeeded), len(rows))
	}
	e.prx.mu.Lock()
	maxIn := map[string]int{}
	for k, v := range e.prx.maxInflight {
		maxIn[k] = v
	}
	e.prx.mu.Unlock()
	for i := 1; i <= n; i++ {
		id := uid(i)
		if maxIn[id] != 1 {
			t.Errorf("%s: %d requests in flight at once, want 1", id, maxIn[id])
		}
		var got []jobs.Action
		for _, ri := range e.prx.actions(id) {
			for suf, a := range suffix {
				if strings.HasSuffix(ri.Path, suf) {
					got = append(got, a)
				}
			}
		}
		if len(got) != len(actions) {
			t.Fatalf("%s: %d requests, want %d", id, len(got), len(actions))
		}
		for k := range actions {
			if got[k] != actions[k] {
				t.Errorf("%s: order %v, want manifest order %v", id, got, actions)
				break
			}
		}
	}
	// The bookkeeping must be able to see concurrency: across users, requests did overlap.
	e.prx.mu.Lock()
	all := e.prx.maxAll
	e.prx.mu.Unlock()
	if all < 2 {
		t.Fatalf("at most %d action request in flight at once over all users: the test cannot see overlap", all)
	}
}

// SPEC.md "Users": users on --exclude "are never touched", even when an
// excluded login cannot be looked up (here every GET of it answers 503 until
// the retries run out): a row naming that user by ID is not sent, whether
// the run refuses to start or skips the row.
func TestUnresolvableExcludeIsNeverTouched(t *testing.T) {
	e := newEnv(t, emulator.Config{UserList: activeUsers(3)})
	e.prx.setPlan(func(ri reqInfo) fault {
		if ri.Method == "GET" && ri.UserSeg == loginOf(3) {
			return errAnswer(503, "E0000009", "Service Unavailable")
		}
		return fault{}
	})
	opt := baseOptions()
	opt.MaxRetries = 1
	opt.Exclude = []string{loginOf(3)}
	r := e.run(expireRows(jobs.ExpirePassword, 3), opt)
	if n := len(e.prx.actions(uid(3))); n != 0 {
		t.Errorf("the excluded user got %d action requests (run error %v)", n, r.err)
	}
	if row, ok := r.byLine[lineOf(2)]; ok && row.Outcome != report.Skipped {
		t.Errorf("%s: want skipped, or the run refused", describe(row))
	}
}

// TestClaimKeyIsFNV1a: the hand-written hash is hash/fnv's FNV-1a over
// user ID, a zero byte and action.
func TestClaimKeyIsFNV1a(t *testing.T) {
	for _, c := range [][2]string{{"", ""}, {"00u1", "expire_password"}, {"00uABCDEFGHIJKLMNOPQ", "change_password"}, {"a\x00b", "c"}} {
		h := fnv.New64a()
		h.Write([]byte(c[0]))
		h.Write([]byte{0})
		h.Write([]byte(c[1]))
		if got, want := runner.ClaimKey(c[0], c[1]), h.Sum64(); got != want {
			t.Errorf("ClaimKey(%q, %q) = %#x, want %#x", c[0], c[1], got, want)
		}
	}
}

// Lookups are repeatable (SPEC.md "Rate limits and faults"): a GET of the
// token's own user or of a login that reached Okta and got no answer, or
// got a 503, is sent again, and the row goes on as if nothing happened.
func TestLookupsAreRetried(t *testing.T) {
	e := newEnv(t, emulator.Config{UserList: activeUsers(2)})
	var mu sync.Mutex
	gets := map[string]int{} // path -> GETs so far
	e.prx.setPlan(func(ri reqInfo) fault {
		if ri.Method != "GET" {
			return fault{}
		}
		mu.Lock()
		defer mu.Unlock()
		gets[ri.Path]++
		switch {
		case gets[ri.Path] > 1:
			return fault{}
		case ri.UserSeg == loginOf(2):
			return errAnswer(503, "E0000009", "Service Unavailable")
		default: // users/me and user 1's login
			return fault{kind: dropAfter}
		}
	})
	rows := []mrow{
		{user: loginOf(1), action: string(jobs.ExpirePassword)},
		{user: loginOf(2), action: string(jobs.ExpirePassword)},
	}
	r := e.run(rows, baseOptions())
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	for k := range rows {
		if row := r.row(t, k); row.Outcome != report.Succeeded {
			t.Errorf("row %d: %s, want succeeded", k, describe(row))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range []string{"/api/v1/users/me", "/api/v1/users/" + loginOf(1), "/api/v1/users/" + loginOf(2)} {
		if gets[p] != 2 {
			t.Errorf("GET %s sent %d times, want 2 (the fault, then the retry)", p, gets[p])
		}
	}
}

// The report names the user each row acted on (login, email, first and last
// name): from the manifest's informational columns when given (no lookup
// for a row named by ID), else from Okta: the GET that resolves a login, or
// one GET in the user-GET bucket for a row named by ID alone; with
// --match-short-names, the full login Okta resolved.
func TestReportNamesTheUser(t *testing.T) {
	e := newEnv(t, emulator.Config{UserList: activeUsers(4)})
	rows := []mrow{
		{user: loginOf(1), action: string(jobs.ExpirePassword)},
		{user: uid(2), action: string(jobs.ExpirePassword)},
		{user: uid(3), action: string(jobs.ExpirePassword), login: "per-manifest@example.com", email: "pm@example.com", first: "Per", last: "Manifest"},
		{user: "user00004", action: string(jobs.ExpirePassword)},
	}
	opt := baseOptions()
	opt.MatchShortNames = true
	r := e.run(rows, opt)
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	want := [][4]string{
		{loginOf(1), loginOf(1), "User", "1"},
		{loginOf(2), loginOf(2), "User", "2"},
		{"per-manifest@example.com", "pm@example.com", "Per", "Manifest"},
		{loginOf(4), loginOf(4), "User", "4"},
	}
	for k, w := range want {
		row := r.row(t, k)
		if got := [4]string{row.Login, row.Email, row.FirstName, row.LastName}; got != w || row.Outcome != report.Succeeded {
			t.Errorf("row %d: %s names %q, want %q", k, describe(row), got, w)
		}
	}
	gets := map[string]int{}
	for _, ri := range e.prx.log() {
		if ri.Method == "GET" {
			gets[ri.UserSeg]++
		}
	}
	if gets[uid(2)] != 1 || gets[uid(3)] != 0 {
		t.Errorf("GETs: %d for the ID without a login column (want 1), %d for the ID with one (want 0)", gets[uid(2)], gets[uid(3)])
	}
}
