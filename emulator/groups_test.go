package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

const (
	gContractors = "00gCONTRACTORS000001"
	gFinance     = "00gFINANCE0000000001"
	aBreached    = "0oaBREACHED000000001"
)

// directoryOrg is an org of 40 generated users plus declared groups and
// apps: Contractors (declared, referenced by ID), Finance (declared,
// referenced by name), "Ops" (made by a reference), app "Breached" assigned
// to users directly and to the Finance group.
func directoryOrg(t *testing.T, cfg Config) *env {
	t.Helper()
	users := GenerateUsers(3, 40)
	for i := range users {
		users[i].Groups, users[i].Apps = nil, nil
		switch {
		case i%3 == 1:
			users[i].Groups = []string{gContractors}
		case i%5 == 2:
			users[i].Groups = []string{"finance", "Ops"}
		}
		if i%7 == 0 {
			users[i].Apps = []string{"Breached"}
		}
	}
	cfg.UserList = users
	cfg.Groups = []Group{{ID: gContractors, Name: "Contractors", Description: "Outside staff"}, {ID: gFinance, Name: "Finance"}}
	cfg.Apps = []App{{ID: aBreached, Label: "Breached", Groups: []string{gFinance}}}
	return newEnv(t, cfg)
}

func TestListGroups(t *testing.T) {
	e := directoryOrg(t, Config{})
	all := e.org.Groups()
	if len(all) != 3 {
		t.Fatalf("groups %+v", all)
	}
	var want []string
	for _, g := range all {
		want = append(want, g.ID)
	}
	sameSet(t, "every group, 1 a page", ids(e.follow("/api/v1/groups?limit=1")), want)
	if n := len(e.follow("/api/v1/groups?limit=1")); n != 4 {
		t.Errorf("3 groups, 1 a page: %d pages", n)
	}
	sameSet(t, "every group", ids(e.follow("/api/v1/groups")), want)

	pages := e.follow("/api/v1/groups?" + query("search", `profile.name eq "contractors"`))
	if got := ids(pages); len(got) != 1 || got[0] != gContractors {
		t.Fatalf("search by name: %v", got)
	}
	g := pages[0].items[0]
	profile, _ := g["profile"].(map[string]any)
	if g["type"] != GroupTypeOkta || profile["name"] != "Contractors" || profile["description"] != "Outside staff" {
		t.Errorf("group %v", g)
	}
	if got := ids(e.follow("/api/v1/groups?" + query("search", `profile.name sw "Op"`))); len(got) != 1 {
		t.Errorf("search sw: %v", got)
	}
	if got := ids(e.follow("/api/v1/groups?" + query("filter", `id eq "`+gFinance+`"`))); len(got) != 1 || got[0] != gFinance {
		t.Errorf("filter by id: %v", got)
	}
	r := e.call("GET", "/api/v1/groups?q=fin", nil)
	if got := ids([]page{{items: itemsOf(t, r)}}); len(got) != 1 || got[0] != gFinance || links(t, r)["next"] != "" {
		t.Errorf("q=fin: %v, next %q (q is not paged)", got, links(t, r)["next"])
	}
	if r := e.call("GET", "/api/v1/groups/"+gFinance, nil); r.status != 200 || r.json(t)["id"] != gFinance {
		t.Errorf("get group: %d %s", r.status, r.body)
	}
	r = e.call("GET", "/api/v1/groups/00gNOPE0000000000000", nil)
	if m := r.json(t); r.status != 404 || m["errorCode"] != "E0000007" || m["errorSummary"] != "Not found: Resource not found: 00gNOPE0000000000000 (UserGroup)" {
		t.Errorf("unknown group: %d %s", r.status, r.body)
	}
}

func itemsOf(t *testing.T, r resp) []map[string]any {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var items []map[string]any
	if err := json.Unmarshal(r.body, &items); err != nil {
		t.Fatalf("not a JSON array: %v", err)
	}
	return items
}

func TestListGroupMembers(t *testing.T) {
	e := directoryOrg(t, Config{})
	for _, g := range e.org.Groups() {
		want, ok := e.org.GroupMembers(g.ID)
		if !ok || len(want) == 0 {
			t.Fatalf("group %s has no members", g.Name)
		}
		pages := e.follow("/api/v1/groups/" + g.ID + "/users?limit=3")
		sameSet(t, g.Name+" members", ids(pages), want)
		for _, p := range pages {
			for _, u := range p.items {
				if _, ok := u["profile"].(map[string]any)["login"]; !ok || u["status"] == nil {
					t.Fatalf("member is not a User: %v", u)
				}
			}
		}
	}
	// Members as the users say: DEPROVISIONED ones included.
	var want []string
	for _, u := range e.org.Users() {
		if slices.Contains(u.Groups, gContractors) {
			want = append(want, u.ID)
		}
	}
	sameSet(t, "Contractors by the users' references", ids(e.follow("/api/v1/groups/"+gContractors+"/users")), want)
	if ops, ok := e.org.GroupMembers("ops"); !ok || len(ops) == 0 {
		t.Errorf("a referenced group was not made")
	}
	if r := e.call("GET", "/api/v1/groups/00gNOPE0000000000000/users", nil); r.status != 404 || r.errorCode(t) != "E0000007" {
		t.Errorf("members of an unknown group: %d", r.status)
	}
	if r := e.call("GET", "/api/v1/groups/"+gContractors+"/users?limit=5000", nil); len(itemsOf(t, r)) != len(want) {
		t.Errorf("limit above the maximum")
	}
}

func TestListAppUsers(t *testing.T) {
	e := directoryOrg(t, Config{})
	want, ok := e.org.AppUsers(aBreached)
	if !ok {
		t.Fatal("no app")
	}
	direct, viaGroup := 0, 0
	for _, u := range e.org.Users() {
		d, g := slices.Contains(u.Apps, "Breached"), slices.Contains(u.Groups, "finance")
		switch {
		case d:
			direct++
		case g:
			viaGroup++
		}
	}
	if len(want) != direct+viaGroup || direct == 0 || viaGroup == 0 {
		t.Fatalf("app users %d, want %d direct + %d through Finance", len(want), direct, viaGroup)
	}
	pages := e.follow("/api/v1/apps/" + aBreached + "/users?limit=2&expand=user")
	sameSet(t, "app users", ids(pages), want)
	scopes := map[string]int{}
	for _, p := range pages {
		for _, au := range p.items {
			scopes[au["scope"].(string)]++
			emb, _ := au["_embedded"].(map[string]any)
			user, _ := emb["user"].(map[string]any)
			if user["id"] != au["id"] || au["credentials"].(map[string]any)["userName"] == nil {
				t.Fatalf("app user %v", au)
			}
			u, _ := e.org.User(au["id"].(string))
			if wantStatus := map[bool]string{true: StatusDeprovisioned, false: StatusActive}[u.Status == StatusDeprovisioned]; au["status"] != wantStatus {
				t.Errorf("app user of a %s user: status %v", u.Status, au["status"])
			}
		}
	}
	if scopes["USER"] != direct || scopes["GROUP"] != viaGroup {
		t.Errorf("scopes %v, want USER %d GROUP %d", scopes, direct, viaGroup)
	}
	r := e.call("GET", "/api/v1/apps/"+aBreached+"/users", nil)
	if items := itemsOf(t, r); items[0]["_embedded"] != nil {
		t.Errorf("_embedded without expand=user")
	}
	r = e.call("GET", "/api/v1/apps/0oaNOPE0000000000000/users", nil)
	if m := r.json(t); r.status != 404 || m["errorSummary"] != "Not found: Resource not found: 0oaNOPE0000000000000 (AppInstance)" {
		t.Errorf("unknown app: %d %s", r.status, r.body)
	}
	// Generated orgs: Payroll has every third user; 50 a page by default.
	g := newEnv(t, Config{Users: 200})
	payroll := g.org.Apps()[0]
	pages = g.follow("/api/v1/apps/" + payroll.ID + "/users")
	if payroll.Label != GeneratedApp || len(pages) != 2 || len(pages[0].items) != 50 || len(ids(pages)) != 67 {
		t.Errorf("Payroll: %q, %d pages, %d users", payroll.Label, len(pages), len(ids(pages)))
	}
}

func TestListingBuckets(t *testing.T) {
	e := directoryOrg(t, Config{PostLimit: 3, GroupLimit: 2, AppLimit: 1})
	u := e.user(iActive)
	e.call("POST", "/api/v1/users/"+u.ID+"/lifecycle/expire_password", nil)
	e.call("GET", "/api/v1/users", nil)
	r := e.call("GET", "/api/v1/users?limit=5", nil)
	if r.status != 200 || r.header.Get("X-Rate-Limit-Remaining") != "0" || r.header.Get("X-Rate-Limit-Limit") != "3" {
		t.Errorf("listing users is not in the credential bucket: %d %v", r.status, r.header)
	}
	if r := e.call("POST", "/api/v1/users/"+u.ID+"/lifecycle/expire_password", nil); r.status != 429 {
		t.Errorf("the credential bucket, spent by listings, still admits: %d", r.status)
	}
	if r := e.call("GET", "/api/v1/users", nil); r.status != 429 || r.errorCode(t) != "E0000047" {
		t.Errorf("listing users past the limit: %d", r.status)
	}
	for i, want := range []int{200, 200, 429} {
		path := []string{"/api/v1/groups", "/api/v1/groups/" + gFinance + "/users", "/api/v1/groups/" + gFinance}[i]
		if r := e.call("GET", path, nil); r.status != want || r.header.Get("X-Rate-Limit-Limit") != "2" {
			t.Errorf("group call %d: %d, limit %s", i, r.status, r.header.Get("X-Rate-Limit-Limit"))
		}
	}
	if r := e.call("GET", "/api/v1/apps/"+aBreached+"/users", nil); r.status != 200 || r.header.Get("X-Rate-Limit-Limit") != "1" {
		t.Errorf("app users: %d", r.status)
	}
	if r := e.call("GET", "/api/v1/apps/"+aBreached+"/users", nil); r.status != 429 {
		t.Errorf("app bucket past its limit: %d", r.status)
	}
	used := map[string]int{}
	for _, w := range e.org.Windows() {
		used[w.Bucket] += w.Used
	}
	if used[BucketCredentials] != 3 || used[BucketGroups] != 2 || used[BucketApps] != 1 || used[BucketUsers] != 0 {
		t.Errorf("windows %v", used)
	}
	if r := e.call("POST", "/api/v1/users", "{}"); r.status != 405 || r.header.Get("Allow") != "GET" {
		t.Errorf("POST /api/v1/users: %d", r.status)
	}
}

func TestLoadDirectory(t *testing.T) {
	good := `{"users": [
	   {"id":"00uAAAAAAAAAAAAAAAAA","login":"a@x.example","groups":["00gCONTRACTORS000001","Finance"],"apps":["Breached"],
	    "profile":{"department":"IT","badges":["b1","b2"],"level":3,"remote":true,"manager":null}},
	   {"id":"00uBBBBBBBBBBBBBBBBB","login":"b@x.example","groups":["Contractors"]}],
	 "groups": [{"id":"00gCONTRACTORS000001","name":"Contractors"}],
	 "apps": [{"id":"0oaBREACHED000000001","label":"Breached","groups":["Finance"]}]}`
	d, err := LoadDirectory(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	org := New(Config{UserList: d.Users, Groups: d.Groups, Apps: d.Apps})
	if m, _ := org.GroupMembers("00gCONTRACTORS000001"); len(m) != 2 {
		t.Errorf("Contractors by ID and by name: %v", m)
	}
	if m, ok := org.GroupMembers("Finance"); !ok || len(m) != 1 {
		t.Errorf("Finance made from a reference: %v", m)
	}
	if a, _ := org.AppUsers("0oaBREACHED000000001"); len(a) != 1 {
		t.Errorf("app users %v", a)
	}
	if apps := org.Apps(); len(apps) != 1 || apps[0].Name != "breached" {
		t.Errorf("apps %+v", apps)
	}
	again := New(Config{UserList: d.Users, Groups: d.Groups, Apps: d.Apps})
	if fmt.Sprint(again.Groups()) != fmt.Sprint(org.Groups()) {
		t.Errorf("made groups' IDs are not stable")
	}
	if arr, err := LoadDirectory(strings.NewReader(`[{"id":"00uAAAAAAAAAAAAAAAAA","login":"a@x.example","groups":["Ops"]}]`)); err != nil || len(arr.Users) != 1 {
		t.Errorf("array form: %v", err)
	}
	bad := map[string]string{
		"undeclared group ID": `[{"id":"00uAAAAAAAAAAAAAAAAA","login":"a@x.example","groups":["00gNOPE0000000000000"]}]`,
		"undeclared app ID":   `[{"id":"00uAAAAAAAAAAAAAAAAA","login":"a@x.example","apps":["0oaNOPE0000000000000"]}]`,
		"empty group name":    `[{"id":"00uAAAAAAAAAAAAAAAAA","login":"a@x.example","groups":[" "]}]`,
		"reserved profile":    `[{"id":"00uAAAAAAAAAAAAAAAAA","login":"a@x.example","profile":{"login":"b"}}]`,
		"object value":        `[{"id":"00uAAAAAAAAAAAAAAAAA","login":"a@x.example","profile":{"x":{"y":1}}}]`,
		"base profile type":   `[{"id":"00uAAAAAAAAAAAAAAAAA","login":"a@x.example","profile":{"department":7}}]`,
		"bad group ID":        `{"users":[{"id":"00uAAAAAAAAAAAAAAAAA","login":"a@x.example"}],"groups":[{"id":"g1","name":"G"}]}`,
		"duplicate name":      `{"users":[{"id":"00uAAAAAAAAAAAAAAAAA","login":"a@x.example"}],"groups":[{"id":"00gAAAAAAAAAAAAAAAAA","name":"G"},{"id":"00gBBBBBBBBBBBBBBBBB","name":"g"}]}`,
		"bad type":            `{"users":[{"id":"00uAAAAAAAAAAAAAAAAA","login":"a@x.example"}],"groups":[{"id":"00gAAAAAAAAAAAAAAAAA","name":"G","type":"X"}]}`,
		"bad app ID":          `{"users":[{"id":"00uAAAAAAAAAAAAAAAAA","login":"a@x.example"}],"apps":[{"id":"app","label":"A"}]}`,
		"unknown key":         `{"users":[{"id":"00uAAAAAAAAAAAAAAAAA","login":"a@x.example"}],"roles":[]}`,
		"bad user":            `{"users":[{"id":"nope","login":"a@x.example"}]}`,
	}
	for name, in := range bad {
		if _, err := LoadDirectory(strings.NewReader(in)); !errors.Is(err, ErrInvalidUsers) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
