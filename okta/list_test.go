package okta

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/credbatch/credbatch/emulator"
)

// walk follows a listing to its end with fetch, failing the test on an
// error or more than maxPages pages.
func walk(t *testing.T, first string, maxPages int, fetch func(ctx context.Context, url string, o CallOptions) ([]ListedUser, *Page, error)) []ListedUser {
	t.Helper()
	var all []ListedUser
	for url, n := first, 0; url != ""; n++ {
		if n == maxPages {
			t.Fatalf("more than %d pages", maxPages)
		}
		items, pg, err := fetch(testCtx(t), url, CallOptions{})
		if err != nil {
			t.Fatalf("page %d (%s): %v", n+1, url, err)
		}
		all = append(all, items...)
		url = pg.Next
	}
	return all
}

func ids(us []ListedUser) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

// TestListingsAgainstEmulator: each listing gives exactly the users the
// emulator holds for it, with their status and profile.
func TestListingsAgainstEmulator(t *testing.T) {
	org, base := emuOrg(t, emulator.Config{Users: 1300})
	c := emuClient(t, org, base, AuthSSWS)
	byID := map[string]emulator.User{}
	for _, u := range org.Users() {
		byID[u.ID] = u
	}
	check := func(name string, got []ListedUser, want []string) {
		t.Helper()
		g := ids(got)
		slices.Sort(g)
		want = slices.Clone(want)
		slices.Sort(want)
		if !slices.Equal(g, want) {
			t.Errorf("%s: %d users listed, the emulator holds %d", name, len(g), len(want))
		}
		for _, u := range got {
			e := byID[u.ID]
			if u.Status != e.Status || u.Login != e.Login || u.Email != e.Email || u.FirstName != e.FirstName || u.LastName != e.LastName || u.Partial {
				t.Errorf("%s: listed %+v, the emulator has %+v", name, u, e)
				return
			}
		}
	}

	var locked []string
	for _, u := range org.Users() {
		if u.Status == "LOCKED_OUT" {
			locked = append(locked, u.ID)
		}
	}
	check("filter", walk(t, ListUsersURL("", `status eq "LOCKED_OUT"`, 0), 5, c.UsersPage), locked)
	check("search", walk(t, ListUsersURL(`status eq "LOCKED_OUT"`, "", 7), 10, c.UsersPage), locked)

	for _, name := range []string{"Everyone", "Contractors", "Finance"} {
		members, ok := org.GroupMembers(name)
		if !ok {
			t.Fatalf("no group %s", name)
		}
		groups := walkGroups(t, c, FindGroupsURL(name))
		if len(groups) != 1 || groups[0].Name != name {
			t.Fatalf("FindGroupsURL(%q): %+v", name, groups)
		}
		g, _, err := c.GetGroup(testCtx(t), groups[0].ID, CallOptions{})
		if err != nil || *g != groups[0] {
			t.Fatalf("GetGroup: %+v, %v; want %+v", g, err, groups[0])
		}
		// Everyone's 1300 members take two pages of 1000.
		check("group "+name, walk(t, ListGroupUsersURL(g.ID, 0), 3, c.UsersPage), members)
	}

	apps := org.Apps()
	if len(apps) != 1 {
		t.Fatalf("apps %+v", apps)
	}
	assigned, _ := org.AppUsers(apps[0].ID)
	// 434 assignments: a page of 500 and none after; 100 a page: five.
	check("app", walk(t, ListAppUsersURL(apps[0].ID, 0), 2, c.AppUsersPage), assigned)
	check("app, small pages", walk(t, ListAppUsersURL(apps[0].ID, 100), 6, c.AppUsersPage), assigned)
}

func walkGroups(t *testing.T, c *Client, first string) []Group {
	t.Helper()
	var all []Group
	for url, n := first, 0; url != ""; n++ {
		if n == 5 {
			t.Fatal("more than 5 pages of groups")
		}
		gs, pg, err := c.GroupsPage(testCtx(t), url, CallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, gs...)
		url = pg.Next
	}
	return all
}

// TestAppUsersWithoutEmbeddedUser: an AppUser without _embedded.user (a
// server that ignores expand=user) is Partial, with the app's copy of the
// user's names and no status.
func TestAppUsersWithoutEmbeddedUser(t *testing.T) {
	org := emulator.New(emulator.Config{Seed: 42, Users: 40})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		q.Del("expand")
		r.URL.RawQuery = q.Encode()
		org.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c := emuClient(t, org, srv.URL, AuthSSWS)
	app := org.Apps()[0]
	got := walk(t, ListAppUsersURL(app.ID, 0), 2, c.AppUsersPage)
	want, _ := org.AppUsers(app.ID)
	if !slices.Equal(ids(got), want) {
		t.Fatalf("listed %v, want %v", ids(got), want)
	}
	for _, u := range got {
		e, _ := org.User(u.ID)
		if !u.Partial || u.Status != "" || u.Login != e.Login || u.Email != e.Email {
			t.Fatalf("listed %+v for %+v: want a Partial user with the app's userName and no status", u, e)
		}
	}
}

// TestFindGroupsQuoting: a name with quotes and backslashes is searched
// for as itself.
func TestFindGroupsQuoting(t *testing.T) {
	name := `R&D "core" \ team`
	org, base := emuOrg(t, emulator.Config{Users: 3, Groups: []emulator.Group{
		{ID: "00gAAAAAAAAAAAAAAAA1", Name: name},
		{ID: "00gAAAAAAAAAAAAAAAA2", Name: "R&D"},
	}})
	c := emuClient(t, org, base, AuthSSWS)
	got := walkGroups(t, c, FindGroupsURL(name))
	if len(got) != 1 || got[0].ID != "00gAAAAAAAAAAAAAAAA1" || got[0].Name != name {
		t.Fatalf("found %+v", got)
	}
	if got := walkGroups(t, c, FindGroupsURL("nobody")); len(got) != 0 {
		t.Fatalf("found %+v for an unknown name", got)
	}
	_, _, err := c.GetGroup(testCtx(t), "00gZZZZZZZZZZZZZZZZZ", CallOptions{})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetGroup of an unknown group: %v", err)
	}
}

// TestListedObjectWithoutID: a page holding an object without an id is
// refused whole.
func TestListedObjectWithoutID(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`[{"id":"00u1","status":"ACTIVE","profile":{"login":3}},{"status":"ACTIVE"}]`))
	})
	c := newClient(t, srv.URL, AuthSSWS, 0)
	_, _, err := c.UsersPage(testCtx(t), "/api/v1/users", CallOptions{})
	if !errors.Is(err, ErrNoID) || !strings.Contains(err.Error(), "item 2") {
		t.Fatalf("err %v, want ErrNoID naming item 2", err)
	}
}
