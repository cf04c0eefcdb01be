package export

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/runner/pace"
)

// testOrg is the real emulator on 127.0.0.1, behind an optional wrapper
// (fault injection in front of it), with every request URI recorded.
type testOrg struct {
	org  *emulator.Org
	url  string
	mu   sync.Mutex
	uris []string
}

func newOrg(t *testing.T, cfg emulator.Config, wrap func(http.Handler) http.Handler) *testOrg {
	t.Helper()
	if cfg.Seed == 0 {
		cfg.Seed = 42
	}
	o := &testOrg{org: emulator.New(cfg)}
	var h http.Handler = o.org
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.uris = append(o.uris, r.RequestURI)
		o.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(o.org.Close)
	o.url = srv.URL
	return o
}

// requests returns the request URIs the org got, in order.
func (o *testOrg) requests() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.uris)
}

// listingRequests are those of user listings (not group lookups).
func (o *testOrg) listingRequests() []string {
	var out []string
	for _, u := range o.requests() {
		p, _, _ := strings.Cut(u, "?")
		if p == "/api/v1/users" || strings.HasSuffix(p, "/users") {
			out = append(out, u)
		}
	}
	return out
}

func (o *testOrg) client(t *testing.T) *okta.Client {
	t.Helper()
	c, err := okta.New(okta.Config{OrgURL: o.url, Token: secret.New(o.org.Token()), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// opts are an export's settings in a test.
type opts struct {
	src     Source
	out     string
	keep    Statuses
	cols    Columns
	feed    context.Context
	retries int
}

func keepDefault(t *testing.T) Statuses {
	t.Helper()
	k, err := KeepStatuses("", false)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// open prepares an export against o; the Fetcher is unpaced but for the
// rate headers (MaxShare 100, no token bucket).
func (o *testOrg) open(t *testing.T, op opts) (*Export, *Fetcher, error) {
	t.Helper()
	if op.keep == nil {
		op.keep = keepDefault(t)
	}
	if op.src.Kind == FromAll && op.src.StatusFilter == "" {
		op.src.StatusFilter = AllStatusFilter(op.keep)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	feed := op.feed
	if feed == nil {
		feed = ctx
	}
	if op.retries == 0 {
		op.retries = 5
	}
	f := &Fetcher{Pacer: pace.New(pace.Config{MaxShare: 100, Workers: 1}), MaxRetries: op.retries,
		BackoffMin: time.Millisecond, BackoffMax: 10 * time.Millisecond, Feed: feed, Hard: ctx}
	c := o.client(t)
	x, err := Open(Config{Client: c, Fetcher: f, OrgURL: c.OrgURL(), Source: op.src, Out: op.out,
		Columns: op.cols, Keep: op.keep, ToolVersion: "test"})
	return x, f, err
}

// run opens and runs an export, failing the test on an error.
func (o *testOrg) run(t *testing.T, op opts) *Result {
	t.Helper()
	x, _, err := o.open(t, op)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	res, err := x.Run()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

// row is one manifest row as a test reads it back.
type row map[string]string

// readManifest reads a CSV or JSONL manifest into rows (the header's names
// as keys); JSON booleans become "true"/"false".
func readManifest(t *testing.T, path string) []row {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []row
	if filepath.Ext(path) == ".jsonl" {
		for i, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if l == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("%s line %d: %v", path, i+1, err)
			}
			r := row{}
			for k, v := range m {
				switch v := v.(type) {
				case string:
					r[k] = v
				case bool:
					r[k] = map[bool]string{true: "true", false: "false"}[v]
				default:
					t.Fatalf("%s line %d: %s is %T", path, i+1, k, v)
				}
			}
			rows = append(rows, r)
		}
		return rows
	}
	recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(recs) == 0 {
		t.Fatalf("%s: no header", path)
	}
	for _, rec := range recs[1:] {
		r := row{}
		for i, name := range recs[0] {
			r[name] = rec[i]
		}
		rows = append(rows, r)
	}
	return rows
}

// wantUsers checks the rows name exactly the users of ids, once each, with
// the emulator's login, email, names and status.
func (o *testOrg) wantUsers(t *testing.T, name string, rows []row, ids []string) {
	t.Helper()
	var got []string
	for _, r := range rows {
		got = append(got, r["user"])
		u, ok := o.org.User(r["user"])
		if !ok {
			t.Errorf("%s: a row for %s, whom the org does not have", name, r["user"])
			continue
		}
		if r["login"] != u.Login || r["email"] != u.Email || r["first_name"] != u.FirstName || r["last_name"] != u.LastName || r["status"] != u.Status {
			t.Errorf("%s: row %v; the org has %+v", name, r, u)
		}
	}
	slices.Sort(got)
	want := slices.Clone(ids)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: %d rows, want the %d users the emulator holds (first rows %v)", name, len(got), len(want), got[:min(len(got), 3)])
	}
	if len(slices.Compact(got)) != len(got) {
		t.Errorf("%s: a user appears twice", name)
	}
}

// usersWhere returns the IDs of the org's users that keep says, among ids
// (nil: every user).
func (o *testOrg) usersWhere(ids []string, keep func(emulator.User) bool) []string {
	var out []string
	for _, u := range o.org.Users() {
		if (ids == nil || slices.Contains(ids, u.ID)) && keep(u) {
			out = append(out, u.ID)
		}
	}
	return out
}

func notDeprovisioned(u emulator.User) bool { return u.Status != "DEPROVISIONED" }

func outPath(t *testing.T, name string) string { return filepath.Join(t.TempDir(), name) }

func noFiles(t *testing.T, out string) {
	t.Helper()
	for _, p := range []string{out, out + ".partial", out + ".partial.state", out + ".partial.state.tmp"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s exists", p)
		}
	}
}
