package emulator

import (
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

var linkPattern = regexp.MustCompile(`^<([^>]*)>;\s*rel="([a-z]+)"$`)

// links returns the URLs of a page's Link headers by rel.
func links(t *testing.T, r resp) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, v := range r.header.Values("Link") {
		m := linkPattern.FindStringSubmatch(v)
		if m == nil {
			t.Fatalf("Link header %q is not <URL>; rel=\"...\"", v)
		}
		if _, dup := out[m[2]]; dup {
			t.Fatalf("two Link headers with rel=%q", m[2])
		}
		out[m[2]] = m[1]
	}
	return out
}

// page is one answer of a listing.
type page struct {
	items []map[string]any
	links map[string]string
}

// follow lists from path, following each rel="next" URL exactly as given
// (it must be an absolute URL of this server), until a page has none. It
// checks every page's rel="self" and returns the pages.
func (e *env) follow(path string) []page {
	e.t.Helper()
	var out []page
	for {
		r := e.call("GET", path, nil)
		if r.status != 200 {
			e.t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
		var items []map[string]any
		if err := json.Unmarshal(r.body, &items); err != nil {
			e.t.Fatalf("GET %s: not a JSON array: %v", path, err)
		}
		l := links(e.t, r)
		if l["self"] != e.srv.URL+path {
			e.t.Errorf("self link %q, want %q", l["self"], e.srv.URL+path)
		}
		out = append(out, page{items, l})
		next, ok := l["next"]
		if !ok {
			return out
		}
		if !strings.HasPrefix(next, e.srv.URL+"/") {
			e.t.Fatalf("next link %q is not an absolute URL of %s", next, e.srv.URL)
		}
		path = strings.TrimPrefix(next, e.srv.URL)
		if len(out) > 2000 {
			e.t.Fatalf("more than 2000 pages from %s", path)
		}
	}
}

// ids returns the "id" of every item of every page, in order.
func ids(pages []page) []string {
	var out []string
	for _, p := range pages {
		for _, it := range p.items {
			id, _ := it["id"].(string)
			out = append(out, id)
		}
	}
	return out
}

// sameSet fails unless got holds every ID of want exactly once and no other.
func sameSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("%s: %s listed %d times", what, id, n)
		}
	}
	w := slices.Clone(want)
	g := slices.Clone(got)
	sort.Strings(w)
	g = slices.Compact(slices.Sorted(slices.Values(g)))
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: listed %d distinct of %d wanted; missing %v, extra %v", what, len(g), len(w), minus(w, g), minus(g, w))
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	if len(out) > 5 {
		out = append(out[:5], "...")
	}
	return out
}

// usersWhere returns the IDs of the org's users that keep.
func (e *env) usersWhere(keep func(User) bool) []string {
	var out []string
	for _, u := range e.org.Users() {
		if keep(u) {
			out = append(out, u.ID)
		}
	}
	return out
}

func query(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

func TestListUsersPages(t *testing.T) {
	e := newEnv(t, Config{Users: 263})
	notDeprovisioned := e.usersWhere(func(u User) bool { return u.Status != StatusDeprovisioned })
	if len(notDeprovisioned) == 263 {
		t.Fatal("the org has no DEPROVISIONED user to leave out")
	}
	for _, c := range []struct {
		path  string
		limit int
	}{
		{"/api/v1/users", 200}, // the default
		{"/api/v1/users?limit=50", 50},
		{"/api/v1/users?limit=7", 7},
		{"/api/v1/users?limit=1000", 200}, // lowered to the maximum
	} {
		pages := e.follow(c.path)
		sameSet(t, c.path, ids(pages), notDeprovisioned)
		for i, p := range pages {
			if len(p.items) > c.limit || i < len(pages)-1 && len(p.items) != c.limit {
				t.Errorf("%s: page %d has %d users (limit %d)", c.path, i, len(p.items), c.limit)
			}
		}
		if want := (len(notDeprovisioned) + c.limit - 1) / c.limit; len(pages) != want {
			t.Errorf("%s: %d pages, want %d", c.path, len(pages), want)
		}
	}
	// A full last page still has a next link; the page after it is empty.
	e = newEnv(t, Config{Users: 60})
	n := len(e.usersWhere(func(u User) bool { return u.Status != StatusDeprovisioned }))
	pages := e.follow(fmt.Sprintf("/api/v1/users?limit=%d", n))
	if len(pages) != 2 || len(pages[0].items) != n || len(pages[1].items) != 0 {
		t.Errorf("limit = every user: %d pages", len(pages))
	}
}

func TestListUsersSearchAndFilter(t *testing.T) {
	users := GenerateUsers(42, 160)
	for i := range users {
		users[i].Profile = map[string]any{"department": []string{"Sales", "Finance", "IT"}[i%3], "badges": []any{fmt.Sprintf("b%d", i%4), "all"}}
	}
	users[5].Profile["badgeNumber"] = float64(42)
	e := newEnv(t, Config{UserList: users})
	cut := e.org.Users()[150]
	// Change a few users so that lastUpdated differs.
	e.clk.Set(e.clk.Now().Add(time.Hour))
	later := e.clk.Now().UTC()
	for _, i := range []int{1, 2, 3, 150} {
		e.call("POST", "/api/v1/users/"+users[i].ID+"/lifecycle/expire_password", nil)
	}
	stampLater := later.Format("2006-01-02T15:04:05.000Z")
	cases := []struct {
		param, expr string
		want        func(User) bool
	}{
		{"search", `status eq "LOCKED_OUT"`, func(u User) bool { return u.Status == StatusLockedOut }},
		{"search", `status eq "deprovisioned"`, func(u User) bool { return u.Status == StatusDeprovisioned }},
		{"search", `profile.department eq "finance"`, func(u User) bool { return u.Profile["department"] == "Finance" }},
		{"search", `profile.badges eq "B1"`, func(u User) bool { return slices.Contains(u.Profile["badges"].([]any), any("b1")) }},
		{"search", `profile.login sw "USER001"`, func(u User) bool { return strings.HasPrefix(u.Login, "user001") }},
		{"search", `profile.lastName co "12"`, func(u User) bool { return strings.Contains(u.LastName, "12") }},
		{"search", `profile.badgeNumber pr`, func(u User) bool { return u.ID == users[5].ID }},
		{"search", `profile.badgeNumber gt 41 and profile.badgeNumber lt 43`, func(u User) bool { return u.ID == users[5].ID }},
		{"search", `(status eq "ACTIVE" or status eq "RECOVERY") and profile.department eq "IT"`, func(u User) bool {
			return (u.Status == StatusActive || u.Status == StatusRecovery) && u.Profile["department"] == "IT"
		}},
		{"search", `status eq "ACTIVE" OR status eq "RECOVERY" AND profile.department eq "IT"`, func(u User) bool {
			return u.Status == StatusActive || u.Status == StatusRecovery && u.Profile["department"] == "IT"
		}},
		{"search", `status lt "STAGED" or status gt "STAGED"`, func(u User) bool { return u.Status != StatusStaged }},
		{"search", `lastUpdated gt "` + stampLater + `"`, func(u User) bool { return false }},
		{"search", `lastUpdated ge "` + stampLater + `"`, func(u User) bool { return slices.Contains([]int{1, 2, 3, 150}, idx(users, u.ID)) }},
		{"filter", `status eq "LOCKED_OUT" or status eq "RECOVERY"`, func(u User) bool { return u.Status == StatusLockedOut || u.Status == StatusRecovery }},
		{"filter", `status eq "locked_out"`, func(u User) bool { return false }}, // filter values are exact
		{"filter", `profile.login eq "` + cut.Login + `"`, func(u User) bool { return u.ID == cut.ID }},
		{"filter", `id eq "` + cut.ID + `"`, func(u User) bool { return u.ID == cut.ID }},
		{"filter", `lastUpdated lt "` + stampLater + `" and (status eq "PASSWORD_EXPIRED")`, func(u User) bool {
			return u.Status == StatusPasswordExpired && !slices.Contains([]int{1, 2, 3, 150}, idx(users, u.ID))
		}},
	}
	for _, c := range cases {
		path := "/api/v1/users?" + query(c.param, c.expr, "limit", "9")
		sameSet(t, c.param+" "+c.expr, ids(e.follow(path)), e.usersWhere(c.want))
	}
}

func idx(users []User, id string) int {
	for i, u := range users {
		if u.ID == id {
			return i
		}
	}
	return -1
}

func TestListUsersQ(t *testing.T) {
	e := newEnv(t, Config{Users: 120})
	r := e.call("GET", "/api/v1/users?q=User", nil)
	var items []map[string]any
	if err := json.Unmarshal(r.body, &items); err != nil || r.status != 200 {
		t.Fatalf("q: %d %v", r.status, err)
	}
	if len(items) != 10 || links(t, r)["next"] != "" {
		t.Errorf("q: %d users (default 10), next %q (q is not paged)", len(items), links(t, r)["next"])
	}
}

func TestListBadExpressions(t *testing.T) {
	e := newEnv(t, Config{Users: 5})
	bad := []struct{ path, param, expr string }{
		{"/api/v1/users", "search", `status eq`},
		{"/api/v1/users", "search", `status equals "ACTIVE"`},
		{"/api/v1/users", "search", `(status eq "ACTIVE"`},
		{"/api/v1/users", "search", `status eq "ACTIVE")`},
		{"/api/v1/users", "search", `status eq "ACTIVE" and`},
		{"/api/v1/users", "search", `status eq "ACTIVE`},
		{"/api/v1/users", "search", `"ACTIVE" eq status`},
		{"/api/v1/users", "search", `status ne "ACTIVE"`},
		{"/api/v1/users", "search", `profile.department co "x"`},
		{"/api/v1/users", "search", `passwordHash eq "x"`},
		{"/api/v1/users", "search", `lastUpdated gt "yesterday"`},
		{"/api/v1/users", "search", `status eq ACTIVE`},
		{"/api/v1/users", "search", ``},
		{"/api/v1/users", "filter", `profile.department eq "x"`},
		{"/api/v1/users", "filter", `status sw "A"`},
		{"/api/v1/users", "filter", `not status eq "ACTIVE"`},
		{"/api/v1/groups", "search", `profile.name ne "x"`},
		{"/api/v1/groups", "search", `profile.other co "x"`},
		{"/api/v1/groups", "filter", `profile.name eq "x"`},
	}
	for _, c := range bad {
		path := c.path + "?" + query(c.param, c.expr)
		r := e.call("GET", path, nil)
		m := r.json(t)
		if r.status != 400 || m["errorCode"] != "E0000031" || m["errorSummary"] != "Invalid search criteria." || len(r.causes(t)) != 1 {
			t.Errorf("%s %s=%q: %d %s", c.path, c.param, c.expr, r.status, r.body)
		}
	}
	r := e.call("GET", "/api/v1/users?"+query("search", `status eq "ACTIVE"`, "filter", `status eq "ACTIVE"`), nil)
	if r.status != 400 || r.errorCode(t) != "E0000031" {
		t.Errorf("search and filter together: %d %s", r.status, r.body)
	}
	for _, l := range []string{"0", "-3", "ten"} {
		if r := e.call("GET", "/api/v1/users?limit="+l, nil); r.status != 400 || r.errorCode(t) != "E0000001" {
			t.Errorf("limit=%s: %d %s", l, r.status, r.body)
		}
	}
}
