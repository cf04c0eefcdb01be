package export

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/credbatch/credbatch/emulator"
)

// TestEverySourceMatchesEmulator: each source's manifest holds exactly the
// users the emulator holds for it, once each, with their profile and
// status, DEPROVISIONED left out; over several pages (1,300 users: seven
// pages of users, two of Everyone's members).
func TestEverySourceMatchesEmulator(t *testing.T) {
	o := newOrg(t, emulator.Config{Users: 1300}, nil)
	group := func(name string) string {
		for _, g := range o.org.Groups() {
			if g.Name == name {
				return g.ID
			}
		}
		t.Fatalf("no group %s", name)
		return ""
	}
	members := func(name string) []string {
		ids, ok := o.org.GroupMembers(name)
		if !ok {
			t.Fatalf("no group %s", name)
		}
		return ids
	}
	app := o.org.Apps()[0]
	assigned, _ := o.org.AppUsers(app.ID)
	for _, tc := range []struct {
		name    string
		src     Source
		want    []string
		source  string
		minPage int
	}{
		{"all", Source{Kind: FromAll}, o.usersWhere(nil, notDeprovisioned), "all users (Okta lists every status but DEPROVISIONED)", 7},
		{"group by name", Source{Kind: FromGroup, Value: "contractors"}, o.usersWhere(members("Contractors"), notDeprovisioned),
			`group "Contractors" (` + group("Contractors") + ")", 1},
		{"group by ID", Source{Kind: FromGroup, Value: group("Everyone")}, o.usersWhere(members("Everyone"), notDeprovisioned),
			`group "Everyone" (` + group("Everyone") + ")", 2},
		{"search", Source{Kind: FromSearch, Value: `profile.lastName sw "01"`}, o.usersWhere(nil, func(u emulator.User) bool {
			return strings.HasPrefix(u.LastName, "01") && notDeprovisioned(u)
		}), `search: profile.lastName sw "01"`, 1},
		{"filter", Source{Kind: FromFilter, Value: `status eq "LOCKED_OUT" or status eq "RECOVERY"`}, o.usersWhere(nil, func(u emulator.User) bool {
			return u.Status == "LOCKED_OUT" || u.Status == "RECOVERY"
		}), `filter: status eq "LOCKED_OUT" or status eq "RECOVERY"`, 1},
		{"app", Source{Kind: FromApp, Value: app.ID}, o.usersWhere(assigned, notDeprovisioned), "app " + app.ID, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, ext := range []string{".csv", ".jsonl"} {
				out := outPath(t, "m"+ext)
				res := o.run(t, opts{src: tc.src, out: out})
				o.wantUsers(t, tc.name+ext, readManifest(t, out), tc.want)
				if res.Source.String() != tc.source {
					t.Errorf("source %q, want %q", res.Source, tc.source)
				}
				if res.Written != len(tc.want) || res.Pages < tc.minPage {
					t.Errorf("result %+v: want %d written over at least %d pages", res, len(tc.want), tc.minPage)
				}
				sum := 0
				for _, n := range res.ByStatus {
					sum += n
				}
				if sum != res.Written {
					t.Errorf("counts by status %v do not add up to %d", res.ByStatus, res.Written)
				}
				fi, err := os.Stat(out)
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: %v, mode %v; want 0600", out, err, fi.Mode())
				}
				for _, p := range []string{out + ".partial", out + ".partial.state"} {
					if _, err := os.Stat(p); err == nil {
						t.Errorf("%s is left behind", p)
					}
				}
			}
		})
	}
}

// TestStatuses: --status keeps only the listed statuses; DEPROVISIONED
// users are written only when asked for; --all with a status selection
// asks Okta for those statuses alone.
func TestStatuses(t *testing.T) {
	o := newOrg(t, emulator.Config{Users: 500}, nil)
	members, _ := o.org.GroupMembers("Everyone")
	keep := func(list string, dep bool) Statuses {
		k, err := KeepStatuses(list, dep)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	out := outPath(t, "locked.csv")
	o.run(t, opts{src: Source{Kind: FromGroup, Value: "Everyone"}, out: out, keep: keep("locked_out, recovery", false)})
	o.wantUsers(t, "group, two statuses", readManifest(t, out), o.usersWhere(members, func(u emulator.User) bool {
		return u.Status == "LOCKED_OUT" || u.Status == "RECOVERY"
	}))

	out = outPath(t, "everyone.csv")
	res := o.run(t, opts{src: Source{Kind: FromGroup, Value: "Everyone"}, out: out, keep: keep("", true)})
	o.wantUsers(t, "group, deprovisioned included", readManifest(t, out), members)
	if res.LeftOut["DEPROVISIONED"] != 0 || res.ByStatus["DEPROVISIONED"] == 0 {
		t.Errorf("result %+v: want the DEPROVISIONED members written", res)
	}

	out = outPath(t, "group.csv")
	res = o.run(t, opts{src: Source{Kind: FromGroup, Value: "Everyone"}, out: out})
	dep := len(members) - len(o.usersWhere(members, notDeprovisioned))
	if res.LeftOut["DEPROVISIONED"] != dep || dep == 0 {
		t.Errorf("left out %v, want %d DEPROVISIONED", res.LeftOut, dep)
	}

	before := len(o.listingRequests())
	out = outPath(t, "all.csv")
	res = o.run(t, opts{src: Source{Kind: FromAll}, out: out, keep: keep("", true)})
	o.wantUsers(t, "all, deprovisioned included", readManifest(t, out), o.usersWhere(nil, func(emulator.User) bool { return true }))
	if !strings.Contains(res.Source.String(), `status eq "DEPROVISIONED"`) {
		t.Errorf("source %q", res.Source)
	}
	out = outPath(t, "all-locked.csv")
	o.run(t, opts{src: Source{Kind: FromAll}, out: out, keep: keep("LOCKED_OUT", false)})
	o.wantUsers(t, "all locked out", readManifest(t, out), o.usersWhere(nil, func(u emulator.User) bool { return u.Status == "LOCKED_OUT" }))
	reqs := o.listingRequests()[before:]
	if last := reqs[len(reqs)-1]; !strings.Contains(last, "filter=status+eq+%22LOCKED_OUT%22") || len(reqs) != 3+1 {
		t.Errorf("requests %v: want three pages of every user and one filtered page", reqs)
	}
}

func TestKeepStatusesRefusals(t *testing.T) {
	for _, tc := range []struct {
		list string
		dep  bool
		want string
	}{
		{"ACTIVE,LOCKED", false, `unknown user status "LOCKED"`},
		{" , ", false, "no status named"},
		{"ACTIVE", true, "does not name DEPROVISIONED"},
	} {
		if _, err := KeepStatuses(tc.list, tc.dep); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("KeepStatuses(%q, %v): %v, want %q", tc.list, tc.dep, err, tc.want)
		}
	}
	k, err := KeepStatuses("deprovisioned", false)
	if err != nil || !k["DEPROVISIONED"] || len(k) != 1 {
		t.Errorf("KeepStatuses(deprovisioned) = %v, %v", k, err)
	}
}

// TestOverlappingPages: pages that repeat users (a cursor that lands one
// user early) still give each user once.
func TestOverlappingPages(t *testing.T) {
	o := newOrg(t, emulator.Config{Users: 700}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			if a := q.Get("after"); len(a) == 20 {
				q.Set("after", a[:19]) // sorts just before the last user of the page
				r.URL.RawQuery = q.Encode()
			}
			h.ServeHTTP(w, r)
		})
	})
	out := outPath(t, "m.csv")
	res := o.run(t, opts{src: Source{Kind: FromAll}, out: out})
	o.wantUsers(t, "overlapping", readManifest(t, out), o.usersWhere(nil, notDeprovisioned))
	if res.LeftOut["duplicate"] != res.Pages-1 || res.Pages < 4 {
		t.Errorf("result %+v: want one duplicate a page after the first", res)
	}
}

// TestRefusalsCreateNothing: a bad expression, an unknown or ambiguous
// group, an unknown app, an existing OUT: an error and no file.
func TestRefusalsCreateNothing(t *testing.T) {
	o := newOrg(t, emulator.Config{Users: 30, Groups: []emulator.Group{
		{ID: "00gAAAAAAAAAAAAAAAA1", Name: "Domain Users", Type: "APP_GROUP"},
		{ID: "00gAAAAAAAAAAAAAAAA2", Name: "domain users", Type: "APP_GROUP"},
		{ID: "00gAAAAAAAAAAAAAAAA3", Name: "Contractors EU"},
	}}, nil)
	for _, tc := range []struct {
		name string
		src  Source
		want string
		is   func(error) bool
	}{
		{"bad search", Source{Kind: FromSearch, Value: `profile.login ne "x"`}, "E0000031", refusedBefore},
		{"bad filter", Source{Kind: FromFilter, Value: `profile.department eq "x"`}, "Invalid search criteria", refusedBefore},
		{"unknown app", Source{Kind: FromApp, Value: "0oaZZZZZZZZZZZZZZZZZ"}, "E0000007", refusedBefore},
		{"unknown group name", Source{Kind: FromGroup, Value: "Contractor"}, `no group is named "Contractor"; groups whose names start with it: 00gAAAAAAAAAAAAAAAA3 "Contractors EU"`, isGroupError},
		{"unknown group ID", Source{Kind: FromGroup, Value: "00gZZZZZZZZZZZZZZZZZ"}, "no group has the ID 00gZZZZZZZZZZZZZZZZZ", isGroupError},
		{"ambiguous group", Source{Kind: FromGroup, Value: "Domain Users"}, `2 groups are named "Domain Users": 00gAAAAAAAAAAAAAAAA1 "Domain Users" (APP_GROUP); 00gAAAAAAAAAAAAAAAA2 "domain users" (APP_GROUP)`, isGroupError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := outPath(t, "m.csv")
			x, _, err := o.open(t, opts{src: tc.src, out: out})
			if err != nil {
				t.Fatal(err)
			}
			_, err = x.Run()
			if err == nil || !tc.is(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run: %v; want %q", err, tc.want)
			}
			noFiles(t, out)
		})
	}
	out := outPath(t, "m.csv")
	if err := os.WriteFile(out, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := len(o.requests())
	if _, _, err := o.open(t, opts{src: Source{Kind: FromAll}, out: out}); !errors.Is(err, ErrExists) {
		t.Fatalf("Open over an existing OUT: %v", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "keep me" || len(o.requests()) != before {
		t.Errorf("the existing OUT was changed (%q) or a request was sent", b)
	}
}

func refusedBefore(err error) bool {
	var re *RefusedError
	return errors.As(err, &re) && re.Before
}

func isGroupError(err error) bool {
	var ge *GroupError
	return errors.As(err, &ge)
}

// TestEmptyListingWritesNothing: a listing with no user to write leaves no
// manifest.
func TestEmptyListingWritesNothing(t *testing.T) {
	o := newOrg(t, emulator.Config{Users: 30}, nil)
	out := outPath(t, "m.csv")
	x, _, err := o.open(t, opts{src: Source{Kind: FromSearch, Value: `profile.login eq "nobody@example.com"`}, out: out})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Run(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("Run: %v, want ErrEmpty", err)
	}
	noFiles(t, out)
}

// TestColumnsWithAction: --action and the row defaults become columns.
func TestColumnsWithAction(t *testing.T) {
	o := newOrg(t, emulator.Config{Users: 30}, nil)
	f := false
	tr := true
	for _, ext := range []string{".csv", ".jsonl"} {
		out := outPath(t, "m"+ext)
		o.run(t, opts{src: Source{Kind: FromGroup, Value: "Contractors"}, out: out,
			cols: Columns{Action: "reset_password", SendEmail: &f, RevokeSessions: &tr}})
		b, _ := os.ReadFile(out)
		first, _, _ := strings.Cut(string(b), "\n")
		if ext == ".csv" && first != "user,login,email,first_name,last_name,status,action,send_email,revoke_sessions" {
			t.Errorf("header %q", first)
		}
		for _, r := range readManifest(t, out) {
			if r["action"] != "reset_password" || r["send_email"] != "false" || r["revoke_sessions"] != "true" || r["strict"] != "" {
				t.Fatalf("%s: row %v", ext, r)
			}
		}
	}
}

// TestPartialAppUsersLookedUp: app users listed without their User are
// looked up one by one, so the manifest still has their status and
// profile.
func TestPartialAppUsersLookedUp(t *testing.T) {
	o := newOrg(t, emulator.Config{Users: 60}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			q.Del("expand")
			r.URL.RawQuery = q.Encode()
			h.ServeHTTP(w, r)
		})
	})
	app := o.org.Apps()[0]
	assigned, _ := o.org.AppUsers(app.ID)
	out := outPath(t, "m.csv")
	o.run(t, opts{src: Source{Kind: FromApp, Value: app.ID}, out: out})
	o.wantUsers(t, "app without expand", readManifest(t, out), o.usersWhere(assigned, notDeprovisioned))
	gets := 0
	for _, u := range o.requests() {
		if strings.HasPrefix(u, "/api/v1/users/00u") {
			gets++
		}
	}
	if gets != len(assigned) {
		t.Errorf("%d user lookups for %d assignments", gets, len(assigned))
	}
}
