package main

// End-to-end tests of `credbatch manifest` against the real emulator on
// 127.0.0.1: in-process for every source against an org of several pages
// (the manifest compared with the emulator's own data), and with the built
// binary for kill -9 and SIGTERM midway (the rerun must give the file an
// uninterrupted export gives).

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
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

// exportRun is the built binary's manifest command against o.
func exportRun(ctx context.Context, bin string, o *exportOrg, dir string, source ...string) (*exec.Cmd, *bytes.Buffer) {
	if source == nil {
		source = []string{"--all", "--include-deprovisioned"}
	}
	c := exec.CommandContext(ctx, bin, append([]string{"manifest", "-o", "out.csv", "--org-url", o.url, "--rate", "0", "--max-share", "100", "--backoff-min", "10ms"}, source...)...)
	c.Dir = dir
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "OKTA_") || k == "CREDBATCH_TEST_CRASH" || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	c.Env = append(env, "HOME="+dir, "OKTA_CLIENT_TOKEN="+o.org.Token())
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	c.WaitDelay = 5 * time.Second
	return c, &out
}

// reference is the manifest an uninterrupted export writes.
func exportReference(t *testing.T, bin string, o *exportOrg) []byte {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	c, out := exportRun(ctx, bin, o, dir)
	if err := c.Run(); err != nil {
		t.Fatalf("uninterrupted export: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "out.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestManifestKilledAnywhere: an export killed with SIGKILL at random
// instants (and at each crash point), rerun each time, ends with exactly
// the file of an uninterrupted export; no page is asked for twice but one
// in flight at each kill.
func TestManifestKilledAnywhere(t *testing.T) {
	bin := credbatchBinary(t)
	// 4,000 users, 20 pages of 200, each answered after ~40 ms.
	o := newExportOrg(t, emulator.Config{Users: 4000, Latency: 40 * time.Millisecond})
	want := exportReference(t, bin, o)
	if n := bytes.Count(want, []byte("\n")); n != 4001 {
		t.Fatalf("the reference has %d lines", n)
	}
	for _, tc := range []struct {
		name    string
		crashes []string // crash points, then random kills
		random  int
	}{
		{"crash points", []string{"export-after-rows:3", "export-after-state:2", "export-after-rows:1", "export-after-link:1"}, 0},
		{"random kills", nil, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			before := len(o.listings())
			kills := 0
			run := func(crash string, killAfter time.Duration) runEnd {
				ctx, cancel := context.WithTimeout(context.Background(), runLimit)
				defer cancel()
				c, out := exportRun(ctx, bin, o, dir)
				if crash != "" {
					c.Env = append(c.Env, "CREDBATCH_TEST_CRASH="+crash)
				}
				if err := c.Start(); err != nil {
					t.Fatal(err)
				}
				if killAfter > 0 {
					timer := time.AfterFunc(killAfter, func() { _ = c.Process.Signal(syscall.SIGKILL) })
					defer timer.Stop()
				}
				return wait(t, ctx, c, out)
			}
			finished := func() bool {
				_, errOut := os.Stat(filepath.Join(dir, "out.csv"))
				_, errState := os.Stat(filepath.Join(dir, "out.csv.partial.state"))
				return errOut == nil && errState != nil
			}
			for _, cp := range tc.crashes {
				if end := run(cp, 0); !end.killed {
					t.Fatalf("crash point %s: %v\n%s", cp, end, end.out)
				}
				kills++
			}
			for i := 0; i < tc.random; i++ {
				end := run("", time.Duration(100+rand.IntN(500))*time.Millisecond)
				if end.killed {
					kills++
				} else if end.code != 0 {
					t.Fatalf("run %d: %v\n%s", i, end, end.out)
				}
				if finished() {
					break
				}
			}
			if !finished() {
				if end := run("", 0); end.killed || end.code != 0 {
					t.Fatalf("final rerun: %v\n%s", end, end.out)
				}
			}
			got, err := os.ReadFile(filepath.Join(dir, "out.csv"))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("after %d kills the manifest differs from an uninterrupted one (%d and %d bytes, %v)", kills, len(got), len(want), err)
			}
			if fi, _ := os.Stat(filepath.Join(dir, "out.csv")); fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v", fi.Mode().Perm())
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("files left beside the manifest: %v", entries)
			}
			seen := map[string]int{}
			again := 0
			for _, u := range o.listings()[before:] {
				if seen[u]++; seen[u] > 1 {
					again++
				}
			}
			if again > kills {
				t.Errorf("%d pages asked for again after %d kills", again, kills)
			}
			t.Logf("%d kills, %d pages asked for again", kills, again)
		})
	}
}

// TestManifestSIGTERM: SIGTERM stops the export between pages (exit 143,
// the page on the wire saved); the same command resumes it to the
// uninterrupted file.
func TestManifestSIGTERM(t *testing.T) {
	bin := credbatchBinary(t)
	o := newExportOrg(t, emulator.Config{Users: 3000, Latency: 50 * time.Millisecond})
	want := exportReference(t, bin, o)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	c, out := exportRun(ctx, bin, o, dir)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "out.csv.partial.state")
	for i := 0; ; i++ { // until the first page is saved
		if _, err := os.Stat(state); err == nil {
			break
		}
		if i == 3000 {
			_ = c.Process.Kill()
			t.Fatal("no state file within 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = c.Process.Signal(syscall.SIGTERM)
	end := wait(t, ctx, c, out)
	if end.killed || end.code != exitTerminated || !strings.Contains(end.out, "terminated (SIGTERM)") || !strings.Contains(end.out, "finished so far: ") {
		t.Fatalf("after SIGTERM: %v\n%s", end, end.out)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.csv")); err == nil {
		t.Fatal("OUT exists after SIGTERM")
	}
	c, out = exportRun(ctx, bin, o, dir)
	if err := c.Run(); err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	if !strings.Contains(out.String(), "resuming out.csv.partial: ") {
		t.Errorf("the rerun did not resume:\n%s", out)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "out.csv")); !bytes.Equal(got, want) {
		t.Errorf("the resumed manifest differs from an uninterrupted one")
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

// TestManifestRerunAfterKill: killed after a page's rows were written and
// before its state was saved, the export is not resumed by a command of
// other settings (exit 2, naming them, the files unchanged); the same
// command resumes it, says so, and writes the uninterrupted file.
func TestManifestRerunAfterKill(t *testing.T) {
	bin := credbatchBinary(t)
	o := newExportOrg(t, emulator.Config{Users: 700})
	want := exportReference(t, bin, o)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	run := func(crash string, source ...string) runEnd {
		t.Helper()
		c, out := exportRun(ctx, bin, o, dir, source...)
		if crash != "" {
			c.Env = append(c.Env, "CREDBATCH_TEST_CRASH="+crash)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		return wait(t, ctx, c, out)
	}
	if end := run("export-after-rows:2"); !end.killed {
		t.Fatalf("not killed: %v\n%s", end, end.out)
	}
	state := filepath.Join(dir, "out.csv.partial.state")
	partial := filepath.Join(dir, "out.csv.partial")
	before, _ := os.ReadFile(state)
	partialBefore, _ := os.ReadFile(partial)
	if fi, err := os.Stat(partial); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("partial: %v, %v", fi, err)
	}
	for _, tc := range []struct {
		source []string
		want   string
	}{
		{[]string{"--all", "--status", "ACTIVE,DEPROVISIONED"}, "--status is \"[STAGED PROVISIONED ACTIVE RECOVERY PASSWORD_EXPIRED LOCKED_OUT SUSPENDED DEPROVISIONED]\" there but \"[ACTIVE DEPROVISIONED]\" now"},
		{[]string{"--filter", `status eq "ACTIVE"`, "--include-deprovisioned"}, `source is "all" there but "filter" now`},
		{[]string{"--all", "--include-deprovisioned", "--action", "clear_sessions"}, `--action is "" there but "clear_sessions" now`},
	} {
		end := run("", tc.source...)
		if end.killed || end.code != exitUsage || !strings.Contains(end.out, "this command does not match the export recorded in out.csv.partial.state: ") ||
			!strings.Contains(end.out, tc.want) || !strings.Contains(end.out, "hint: rerun with the settings the export started with, or remove out.csv.partial and out.csv.partial.state to start over") {
			t.Errorf("%v: %v\n%s", tc.source, end, end.out)
		}
		if now, _ := os.ReadFile(state); !bytes.Equal(now, before) {
			t.Fatalf("%v changed the state file", tc.source)
		}
		if now, _ := os.ReadFile(partial); !bytes.Equal(now, partialBefore) {
			t.Fatalf("%v changed the partial manifest", tc.source)
		}
	}
	end := run("")
	if end.killed || end.code != 0 || !strings.Contains(end.out, "resuming out.csv.partial: 1 page saved, 200 users written") {
		t.Fatalf("resume: %v\n%s", end, end.out)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "out.csv")); !bytes.Equal(got, want) {
		t.Errorf("the resumed manifest differs from an uninterrupted one")
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
	busiest := func(share string) (used int) {
		// 7 pages: 1,372 users listed (2% are DEPROVISIONED).
		o := newExportOrg(t, emulator.Config{Users: 1400, PostLimit: limit, Window: 2 * time.Second})
		dir := t.TempDir()
		code, stderr := manifestInProcess(t, o, dir, "--all", "--max-share", share, "-o", filepath.Join(dir, "m.csv"))
		if code != 0 {
			t.Fatalf("--max-share %s: exit %d\n%s", share, code, stderr)
		}
		for _, w := range o.org.Windows() {
			if w.Bucket != emulator.BucketCredentials {
				continue
			}
			if w.Rejected > 0 {
				t.Errorf("--max-share %s: %d requests answered 429", share, w.Rejected)
			}
			used = max(used, w.Used)
		}
		return used
	}
	if used := busiest("50"); used > limit/2+1 {
		t.Errorf("--max-share 50: the busiest window held %d of %d requests, want at most %d", used, limit, limit/2+1)
	}
	if used := busiest("100"); used <= limit/2+1 {
		t.Errorf("--max-share 100: the busiest window held %d of %d requests; the export should use more than half", used, limit)
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
