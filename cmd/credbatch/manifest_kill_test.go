package main

// Kill tests of `credbatch manifest` with the built binary (-tags
// crashpoints): SIGKILL at random instants and at each crash point, SIGTERM
// between pages, reruns of other settings; every rerun of the same command
// must end with the file an uninterrupted export writes.

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
)

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
