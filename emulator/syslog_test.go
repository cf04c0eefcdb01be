package emulator

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func iso(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// logs lists /api/v1/logs with the query, following next links while
// pages are full (a bounded query's pages end; a polling query's next link
// is checked by the caller).
func (e *env) logs(kv ...string) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	for _, p := range e.follow("/api/v1/logs?" + query(kv...)) {
		out = append(out, p.items...)
	}
	return out
}

func field(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		mm, _ := v.(map[string]any)
		v = mm[k]
	}
	return v
}

// TestSystemLogEvents: each operation publishes Okta's event (or none),
// with the target user, the causing request's ID as transaction.id, the
// token's owner as actor, at the org's clock.
func TestSystemLogEvents(t *testing.T) {
	e := newEnv(t, Config{Users: 30})
	start := e.clk.Now()
	creds := func(pw, q, a string) map[string]any {
		m := map[string]any{"password": map[string]string{"value": pw}}
		if q != "" || a != "" {
			m["recovery_question"] = map[string]string{"question": q, "answer": a}
		}
		return m
	}
	steps := []struct {
		method, path string
		user         int
		body         any
		event        string // "" for none
		result       string
	}{
		{"POST", "/lifecycle/expire_password", 1, nil, EventExpirePassword, "SUCCESS"},
		{"POST", "/lifecycle/expire_password_with_temp_password", 2, nil, EventExpirePassword, "SUCCESS"},
		{"POST", "/lifecycle/reset_password?sendEmail=false", 3, nil, EventResetPassword, "SUCCESS"},
		{"POST", "/credentials/forgot_password?sendEmail=false", 5, nil, "", ""},
		{"POST", "/credentials/forgot_password_recovery_question", 6, creds("New-Pass-6!", "", "blue-6"), EventUpdatePassword, "SUCCESS"},
		{"POST", "/credentials/change_password", 8, map[string]any{"oldPassword": map[string]string{"value": "Pw-user00008-1!"}, "newPassword": map[string]string{"value": "New-8-pass!"}}, EventUpdatePassword, "SUCCESS"},
		{"POST", "/credentials/change_password", 9, map[string]any{"oldPassword": map[string]string{"value": "wrong"}, "newPassword": map[string]string{"value": "New-9-pass!"}}, EventUpdatePassword, "FAILURE"},
		{"POST", "/credentials/change_recovery_question", 10, creds("Pw-user00010-1!", "Which city?", "Oslo"), "", ""},
		{"DELETE", "/sessions", 12, nil, EventSessionClear, "SUCCESS"},
		{"POST", "/lifecycle/expire_password", iStaged, nil, "", ""}, // refused for its status: no event
	}
	type want struct{ event, result, user, reqID, at string }
	var wants []want
	for i, s := range steps {
		at := start.Add(time.Duration(i+1)*time.Second + 250*time.Microsecond)
		e.clk.Set(at)
		u := e.user(s.user)
		r := e.call(s.method, "/api/v1/users/"+u.ID+s.path, s.body)
		if s.event != "" {
			wants = append(wants, want{s.event, s.result, u.ID, r.header.Get("X-Okta-Request-Id"), iso(at.Truncate(time.Millisecond))})
		}
	}
	e.clk.Set(start.Add(time.Minute))
	got := e.logs("since", iso(start), "until", iso(start.Add(time.Minute)))
	if len(got) != len(wants) {
		t.Fatalf("%d events, want %d: %v", len(got), len(wants), got)
	}
	admin := e.user(0)
	for i, w := range wants {
		ev := got[i]
		targets, _ := ev["target"].([]any)
		target, _ := targets[0].(map[string]any)
		u, _ := e.org.User(w.user)
		if ev["eventType"] != w.event || field(ev, "outcome.result") != w.result || ev["published"] != w.at ||
			len(targets) != 1 || target["id"] != w.user || target["type"] != "User" || target["alternateId"] != u.Login ||
			field(ev, "transaction.id") != w.reqID || field(ev, "actor.id") != admin.ID || field(ev, "actor.alternateId") != admin.Login ||
			ev["uuid"] == "" || ev["displayMessage"] == "" {
			t.Errorf("event %d: %v, want %+v", i, ev, w)
		}
	}
	if evs := e.org.Events(); len(evs) != len(wants) || evs[0].TransactionID != wants[0].reqID || evs[0].Visible != evs[0].Published {
		t.Errorf("Events() %+v", evs)
	}
}

// TestSystemLogQuery: filter, since/until, sortOrder, limit and the next
// links of bounded and polling queries.
func TestSystemLogQuery(t *testing.T) {
	e := newEnv(t, Config{Users: 20})
	start := e.clk.Now()
	users := []User{e.user(1), e.user(2), e.user(3)}
	for i := range 12 {
		e.clk.Set(start.Add(time.Duration(i) * time.Second))
		u := users[i%3]
		path := "/lifecycle/expire_password"
		if i%4 == 3 {
			path = "/sessions"
			e.call("DELETE", "/api/v1/users/"+u.ID+path, nil)
			continue
		}
		e.call("POST", "/api/v1/users/"+u.ID+path, nil)
	}
	end := start.Add(12 * time.Second)
	e.clk.Set(end.Add(time.Minute))
	all := e.org.Events()
	seen := map[string]bool{}
	for _, ev := range all {
		if !uuidV4.MatchString(ev.UUID) || seen[ev.UUID] {
			t.Errorf("uuid %q: not a version 4 UUID, or used twice", ev.UUID)
		}
		seen[ev.UUID] = true
	}
	pick := func(keep func(Event) bool) []string {
		var out []string
		for _, ev := range all {
			if keep(ev) {
				out = append(out, ev.UUID)
			}
		}
		return out
	}
	uuids := func(items []map[string]any) []string {
		var out []string
		for _, it := range items {
			out = append(out, it["uuid"].(string))
		}
		return out
	}
	bounded := []string{"since", iso(start), "until", iso(end), "limit", "2"}
	filter := fmt.Sprintf(`eventType eq %q and (target.id eq %q or target.id eq %q)`, EventExpirePassword, users[0].ID, users[2].ID)
	got := uuids(e.logs(append(bounded, "filter", filter)...))
	want := pick(func(ev Event) bool {
		return ev.EventType == EventExpirePassword && (ev.TargetID == users[0].ID || ev.TargetID == users[2].ID)
	})
	if !slices.Equal(got, want) || len(want) < 4 {
		t.Errorf("filter %s: %v, want %v (ascending)", filter, got, want)
	}
	got = uuids(e.logs(append(bounded, "filter", `outcome.result eq "SUCCESS" and eventType sw "user.session"`, "sortOrder", "DESCENDING")...))
	want = pick(func(ev Event) bool { return ev.EventType == EventSessionClear })
	slices.Reverse(want)
	if !slices.Equal(got, want) || len(want) != 3 {
		t.Errorf("DESCENDING session events: %v, want %v", got, want)
	}
	// since is inclusive, until exclusive.
	got = uuids(e.logs("since", iso(start.Add(2*time.Second)), "until", iso(start.Add(5*time.Second))))
	if !slices.Equal(got, []string{all[2].UUID, all[3].UUID, all[4].UUID}) {
		t.Errorf("[since, until): %v", got)
	}
	// A bounded query's last page has no next link when it is not full.
	pages := e.follow("/api/v1/logs?" + query("since", iso(start), "until", iso(end), "limit", "5"))
	if len(pages) != 3 || len(pages[2].items) != 2 {
		t.Errorf("bounded pages: %d", len(pages))
	}
	// A polling query (no until) always has a next link; following it
	// gives the events published since, then nothing, until more come.
	r := e.call("GET", "/api/v1/logs?"+query("since", iso(start), "limit", "100"), nil)
	next := links(t, r)["next"]
	if len(itemsOf(t, r)) != len(all) || next == "" {
		t.Fatalf("polling: %d events, next %q", len(itemsOf(t, r)), next)
	}
	r = e.call("GET", strings.TrimPrefix(next, e.srv.URL), nil)
	if len(itemsOf(t, r)) != 0 || links(t, r)["next"] == "" {
		t.Errorf("polling after the last event: %d events, next %q", len(itemsOf(t, r)), links(t, r)["next"])
	}
	e.clk.Set(end.Add(2 * time.Minute))
	late := e.call("DELETE", "/api/v1/users/"+users[1].ID+"/sessions", nil)
	r = e.call("GET", strings.TrimPrefix(links(t, r)["next"], e.srv.URL), nil)
	if items := itemsOf(t, r); len(items) != 1 || field(items[0], "transaction.id") != late.header.Get("X-Okta-Request-Id") {
		t.Errorf("polling picks up the new event: %v", items)
	}
	for _, bad := range []struct{ kv []string }{
		{[]string{"filter", `eventType eq`}},
		{[]string{"filter", `profile.login eq "x"`}},
		{[]string{"filter", `published gt "yesterday"`}},
	} {
		if r := e.call("GET", "/api/v1/logs?"+query(bad.kv...), nil); r.status != 400 || r.errorCode(t) != "E0000031" {
			t.Errorf("%v: %d %s", bad.kv, r.status, r.body)
		}
	}
	for _, bad := range [][]string{{"since", "yesterday"}, {"until", "2026-13-01"}, {"sortOrder", "UP"}, {"after", "nope"}, {"limit", "0"}} {
		if r := e.call("GET", "/api/v1/logs?"+query(bad...), nil); r.status != 400 || r.errorCode(t) != "E0000001" {
			t.Errorf("%v: %d %s", bad, r.status, r.body)
		}
	}
}

// TestSystemLogDelay: an event becomes visible LogDelay after it is
// published, by the org's clock.
func TestSystemLogDelay(t *testing.T) {
	e := newEnv(t, Config{Users: 5, LogDelay: 10 * time.Minute})
	at := e.clk.Now()
	e.call("POST", "/api/v1/users/"+e.user(iActive).ID+"/lifecycle/expire_password", nil)
	for _, c := range []struct {
		after time.Duration
		n     int
	}{{0, 0}, {9*time.Minute + 59*time.Second, 0}, {10 * time.Minute, 1}, {time.Hour, 1}} {
		e.clk.Set(at.Add(c.after))
		if got := e.logs("since", iso(at.Add(-time.Minute)), "until", iso(at.Add(time.Minute))); len(got) != c.n {
			t.Errorf("%v after: %d events, want %d", c.after, len(got), c.n)
		}
	}
	if evs := e.org.Events(); len(evs) != 1 || !evs[0].Visible.Equal(evs[0].Published.Add(10*time.Minute)) {
		t.Errorf("Events() %+v", evs)
	}
}

// TestSystemLogDroppedStillLogged: a request applied and then dropped
// (DropRate) publishes its event all the same.
func TestSystemLogDroppedStillLogged(t *testing.T) {
	e := newEnv(t, Config{Users: 5, DropRate: 1})
	u := e.user(iActive)
	if _, err := e.try("POST", "/api/v1/users/"+u.ID+"/lifecycle/expire_password", nil); !errors.Is(err, io.EOF) {
		t.Fatalf("client error %v, want EOF", err)
	}
	log := e.org.Log()
	got := e.logs("filter", fmt.Sprintf("target.id eq %q", u.ID), "until", iso(e.clk.Now().Add(time.Second)))
	if len(log) != 1 || !log[0].Dropped || len(got) != 1 || field(got[0], "transaction.id") != log[0].RequestID ||
		got[0]["eventType"] != EventExpirePassword {
		t.Errorf("dropped request's event: %v (log %+v)", got, log)
	}
}

// TestSystemLogBucket: GET /api/v1/logs has its own rate-limit bucket.
func TestSystemLogBucket(t *testing.T) {
	e := newEnv(t, Config{Users: 5, LogLimit: 2, PostLimit: 1})
	e.call("POST", "/api/v1/users/"+e.user(iActive).ID+"/lifecycle/expire_password", nil)
	for i, want := range []int{200, 200, 429} {
		r := e.call("GET", "/api/v1/logs", nil)
		if r.status != want || r.header.Get("X-Rate-Limit-Limit") != "2" {
			t.Errorf("logs call %d: %d, limit %s", i, r.status, r.header.Get("X-Rate-Limit-Limit"))
		}
	}
	used := map[string]int{}
	for _, w := range e.org.Windows() {
		used[w.Bucket] += w.Used
	}
	if used[BucketLogs] != 2 || used[BucketCredentials] != 1 {
		t.Errorf("windows %v", used)
	}
}

// TestScopesOnListings: an access token needs the listing's scope
// (okta.logs.read for the System Log); without it, 403 E0000006 naming it.
func TestScopesOnListings(t *testing.T) {
	for _, c := range []struct {
		granted, asked string
		status         int
	}{
		{"okta.users.manage okta.logs.read", "okta.users.manage okta.logs.read", 200},
		{"okta.users.manage okta.logs.read", "okta.users.manage", 403},
	} {
		e := newOAuthEnvScopes(t, false, strings.Fields(c.granted))
		tok := e.token(e.assertionClaims(), nil, url.Values{"scope": {c.asked}}, "")
		at, _ := tok.body["access_token"].(string)
		if tok.status != 200 || at == "" {
			t.Fatalf("token: %d %v", tok.status, tok.body)
		}
		id := e.org.Users()[1].ID
		if r := e.api("POST", "/api/v1/users/"+id+"/lifecycle/expire_password", "Bearer "+at, ""); r.status != 200 {
			t.Fatalf("expire with a token: %d", r.status)
		}
		r := e.api("GET", "/api/v1/logs", "Bearer "+at, "")
		if r.status != c.status {
			t.Errorf("scopes %q: GET /api/v1/logs %d, want %d", c.asked, r.status, c.status)
		}
		if c.status == 403 && (r.body["errorCode"] != "E0000006" || !strings.Contains(r.hdr.Get("WWW-Authenticate"), `error="insufficient_scope"`) ||
			!strings.Contains(r.hdr.Get("WWW-Authenticate"), "okta.logs.read")) {
			t.Errorf("403: %v %v", r.body, r.hdr.Get("WWW-Authenticate"))
		}
		if users := e.api("GET", "/api/v1/users", "Bearer "+at, ""); users.status != 200 {
			t.Errorf("okta.users.manage does not allow listing users: %d", users.status)
		}
		if g := e.api("GET", "/api/v1/groups", "Bearer "+at, ""); g.status != 403 {
			t.Errorf("listing groups without okta.groups.read: %d", g.status)
		}
		if evs := e.org.Events(); len(evs) != 1 || evs[0].TransactionID == "" || evs[0].ActorID != "0oa-rsa" {
			t.Errorf("events %+v", evs)
		}
	}
}
