package main

// End-to-end tests of `credbatch manifest` against the real emulator on
// 127.0.0.1, in process: every source against an org of several pages (the
// manifest compared with the emulator's own data), refusals, progress,
// --max-share, the demo's export step. The kill tests with the built binary
// are in manifest_kill_test.go.

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
)

// exportOrg is an emulator of generated users behind a recorder of the
// listing requests it answered.
type exportOrg struct {
	org  *emulator.Org
	url  string
	mu   sync.Mutex
	uris []string
}

func newExportOrg(t *testing.T, cfg emulator.Config) *exportOrg {
	t.Helper()
	if cfg.Seed == 0 {
		cfg.Seed = 11
	}
	o := &exportOrg{org: emulator.New(cfg)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/users") {
			o.mu.Lock()
			o.uris = append(o.uris, r.RequestURI)
			o.mu.Unlock()
		}
		o.org.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(o.org.Close)
	o.url = srv.URL
	return o
}

func (o *exportOrg) listings() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.uris)
}

// manifestInProcess runs `credbatch manifest ARGS` in this process and
// returns its exit status and stderr.
func manifestInProcess(t *testing.T, o *exportOrg, dir string, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
		getenv: func(k string) string {
			switch k {
			case "OKTA_CLIENT_TOKEN":
				return o.org.Token()
			case "HOME":
				return dir
			}
			return ""
		},
		isTerminal: func() bool { return false }, feed: ctx, hard: ctx}
	full := append([]string{"manifest", "--org-url", o.url, "--rate", "0", "--max-share", "100"}, args...)
	err := execute(e, full)
	printError(&errb, err)
	if out.Len() > 0 {
		t.Errorf("manifest wrote to stdout: %q", out.String())
	}
	return exitCode(err), errb.String()
}

// manifestIDs reads a CSV manifest's user column, failing on a user twice.
func manifestIDs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(recs) == 0 || recs[0][0] != "user" {
		t.Fatalf("%s: %v", path, err)
	}
	var ids []string
	for _, r := range recs[1:] {
		ids = append(ids, r[0])
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	if len(slices.Compact(sorted)) != len(ids) {
		t.Errorf("%s: a user appears twice", path)
	}
	return sorted
}

// TestManifestSourcesEndToEnd: every source of the command, over several
// pages, writes exactly the users the emulator holds for it.
func TestManifestSourcesEndToEnd(t *testing.T) {
	o := newExportOrg(t, emulator.Config{Users: 2300})
	dir := t.TempDir()
	where := func(ids []string, keep func(emulator.User) bool) []string {
		var out []string
		for _, u := range o.org.Users() {
			if (ids == nil || slices.Contains(ids, u.ID)) && keep(u) {
				out = append(out, u.ID)
			}
		}
		slices.Sort(out)
		return out
	}
	live := func(u emulator.User) bool { return u.Status != "DEPROVISIONED" }
	everyone, _ := o.org.GroupMembers("Everyone")
	finance, _ := o.org.GroupMembers("Finance")
	app := o.org.Apps()[0]
	assigned, _ := o.org.AppUsers(app.ID)
	var financeID string
	for _, g := range o.org.Groups() {
		if g.Name == "Finance" {
			financeID = g.ID
		}
	}
	for i, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--all"}, where(nil, live)},
		{[]string{"--all", "--include-deprovisioned"}, where(nil, func(emulator.User) bool { return true })},
		{[]string{"--all", "--status", "suspended,STAGED"}, where(nil, func(u emulator.User) bool { return u.Status == "SUSPENDED" || u.Status == "STAGED" })},
		{[]string{"--group", "Everyone"}, where(everyone, live)},
		{[]string{"--group", financeID, "--include-deprovisioned"}, where(finance, func(emulator.User) bool { return true })},
		{[]string{"--app", app.ID, "--status", "ACTIVE"}, where(assigned, func(u emulator.User) bool { return u.Status == "ACTIVE" })},
		{[]string{"--search", `profile.lastName sw "012"`}, where(nil, func(u emulator.User) bool { return strings.HasPrefix(u.LastName, "012") && live(u) })},
		{[]string{"--filter", `status eq "LOCKED_OUT"`}, where(nil, func(u emulator.User) bool { return u.Status == "LOCKED_OUT" })},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprintf("m%d.csv", i))
			code, stderr := manifestInProcess(t, o, dir, append(tc.args, "-o", out)...)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, stderr)
			}
			if got := manifestIDs(t, out); !slices.Equal(got, tc.want) {
				t.Errorf("%d users written, the emulator holds %d", len(got), len(tc.want))
			}
			if !strings.Contains(stderr, fmt.Sprintf("manifest: %s: %d users (mode 0600)", out, len(tc.want))) {
				t.Errorf("stderr:\n%s", stderr)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, "credbatch: source: ") || !strings.HasSuffix(last, " in "+o.url) {
				t.Errorf("stderr does not end with the source: %q", last)
			}
		})
	}
}

// TestManifestAmbiguousGroup: a name two groups have is refused with both
// listed and no file; the ID of either works.
func TestManifestAmbiguousGroup(t *testing.T) {
	o := newExportOrg(t, emulator.Config{Users: 40, Groups: []emulator.Group{
		{ID: "00gDomainUsers000001", Name: "Domain Users", Type: "APP_GROUP"},
		{ID: "00gDomainUsers000002", Name: "DOMAIN USERS", Type: "APP_GROUP"},
	}})
	dir := t.TempDir()
	out := filepath.Join(dir, "m.csv")
	code, stderr := manifestInProcess(t, o, dir, "--group", "domain users", "-o", out)
	want := `2 groups are named "domain users": 00gDomainUsers000001 "Domain Users" (APP_GROUP); 00gDomainUsers000002 "DOMAIN USERS" (APP_GROUP)`
	if code != 2 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "hint: name the group by its ID") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left: %v", entries)
	}
}

// TestManifestProgressLine: off a terminal, a progress line every
// --progress-every: pages, users listed and written, requests.
func TestManifestProgressLine(t *testing.T) {
	o := newExportOrg(t, emulator.Config{Users: 2000, Latency: 40 * time.Millisecond})
	dir := t.TempDir()
	code, stderr := manifestInProcess(t, o, dir, "--all", "--progress-every", "100ms", "-o", filepath.Join(dir, "m.csv"))
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	re := regexp.MustCompile(`(?m)^credbatch: page \d+: \d+ users listed, \d+ written, \d+ requests, [0-9.]+ requests/min$`)
	if !re.MatchString(stderr) {
		t.Errorf("no progress line in:\n%s", stderr)
	}
}

// TestDemoGroupExport: the demo's export step builds the incident manifest
// from the group Contractors of the demo org (DEPROVISIONED members left
// out), runs it, and finds a temp password for each member.
func TestDemoGroupExport(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &errb, stderr: &errb, getenv: func(string) string { return "" },
		isTerminal: func() bool { return false }, feed: ctx, hard: ctx}
	dir := t.TempDir()
	ok, err := runGroupExport(e, dir)
	if err != nil || !ok {
		t.Fatalf("runGroupExport: %v, %v\n%s", ok, err, errb.String())
	}
	for _, want := range []string{
		"$ credbatch manifest --group Contractors --action expire_password_with_temp_password --revoke-sessions=true -o contractors-incident.csv",
		"left out: 1 DEPROVISIONED",
		"demo: all 5 members of Contractors got a temp password",
	} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, errb.String())
		}
	}
	ids := manifestIDs(t, filepath.Join(dir, "contractors-incident.csv"))
	if want := []string{"00udemo0000000000006", "00udemo0000000000011", "00udemo0000000000012", "00udemo0000000000013", "00udemo0000000000014"}; !slices.Equal(ids, want) {
		t.Errorf("manifest users %v, want %v", ids, want)
	}
}

// TestManifestMaxShare: listing users goes through the credential bucket's
// pacer with --max-share: against 2 s windows of 4 requests (slow enough
// that a page of 200 users, under the race detector too, is never what
// holds the export back), --max-share 50 keeps every window at or under 3
// (half, and the first answer's one of slack) with no 429, and --max-share
// 100 goes past that. A command that dropped the flag fails one of the two.
func TestManifestMaxShare(t *testing.T) {
	const limit = 4
	checkShareKept(t, limit, func(share string) []emulator.WindowStat {
		// 7 pages: 1,372 users listed (2% are DEPROVISIONED).
		o := newExportOrg(t, emulator.Config{Users: 1400, PostLimit: limit, Window: 2 * time.Second})
		dir := t.TempDir()
		code, stderr := manifestInProcess(t, o, dir, "--all", "--max-share", share, "-o", filepath.Join(dir, "m.csv"))
		if code != 0 {
			t.Fatalf("--max-share %s: exit %d\n%s", share, code, stderr)
		}
		return o.org.Windows()
	})
}
