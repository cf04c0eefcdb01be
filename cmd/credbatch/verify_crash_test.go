package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/report"
)

// runBin runs the crash-point binary (crash_test.go) in dir with the
// fixture's token and, when crash is set, CREDBATCH_TEST_CRASH; it returns
// whether SIGKILL ended it, its exit status and its output.
func (f *vfFixture) runBin(t *testing.T, bin, crash string, args ...string) (killed bool, code int, out string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	c := exec.CommandContext(ctx, bin, args...)
	c.Dir = f.dir
	c.Env = []string{"HOME=" + f.dir, "PATH=" + os.Getenv("PATH"), "OKTA_CLIENT_TOKEN=" + vfToken}
	if crash != "" {
		c.Env = append(c.Env, "CREDBATCH_TEST_CRASH="+crash)
	}
	var b bytes.Buffer
	c.Stdout, c.Stderr = &b, &b
	err := c.Run()
	if ctx.Err() != nil {
		t.Fatalf("credbatch %v did not end within %s", args, runLimit)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true, -1, b.String()
		}
		return false, ee.ExitCode(), b.String()
	} else if err != nil {
		t.Fatalf("credbatch %v: %v", args, err)
	}
	return false, 0, b.String()
}

// verify settles rows a crash left in doubt. The run is killed (SIGKILL at
// the runner's test-only crash points) once right after the attempt record
// of a change_password became durable and before the request left, once
// right after a change_recovery_question was answered and before its
// outcome was recorded. Both resumes end the row in_doubt; only Okta's
// evidence (and the checkpoint's attempt records) tell them apart.
func TestVerifyAfterCrash(t *testing.T) {
	bin := credbatchBinary(t)
	f := newVFFixture(t, 3, []string{"change_password", "clear_sessions", "change_recovery_question"}, emulator.Config{}, 0)
	all, err := os.ReadFile(f.manifest)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(all), "\n")
	a := cfgWrite(t, filepath.Join(f.dir, "a.csv"), lines[0]+lines[1]+lines[2], 0o600)
	b := cfgWrite(t, filepath.Join(f.dir, "b.csv"), lines[0]+lines[3], 0o600)
	runArgs := func(m string) []string {
		return []string{"run", m, "--org-url", f.url, "--yes", "--rate", "0", "--workers", "1"}
	}

	// a: the request never left.
	if killed, _, out := f.runBin(t, bin, "after-attempt:1", runArgs(a)...); !killed {
		t.Fatalf("the run was not killed at after-attempt:\n%s", out)
	}
	if _, code, out := f.runBin(t, bin, "", runArgs(a)...); code != exitFailures {
		t.Fatalf("the resume: exit %d\n%s", code, out)
	}
	rows := map[int]string{}
	if err := report.ReadFile(filepath.Join(f.dir, "a.report.csv"), func(r *report.Row) error { rows[r.Line] = string(r.Outcome); return nil }); err != nil {
		t.Fatal(err)
	}
	if rows[2] != "in_doubt" || rows[3] != "succeeded" {
		t.Fatalf("after the resume: %v, want line 2 in_doubt, 3 succeeded", rows)
	}
	sent := len(f.org.Log())
	verifyA := func(args ...string) (error, string) {
		e, stdout, stderr := f.env()
		err := execute(e, append([]string{"verify", filepath.Join(f.dir, "a.report.csv"), "--org-url", f.url, "--rate", "0"}, args...))
		printError(stderr, err)
		f.noSecrets(t, "verify's output", stdout.String()+stderr.String())
		return err, stderr.String()
	}

	// At once: nothing shows it applied, but --settle-after (10m) has not
	// passed: unproven, and when to run again.
	err, stderr := verifyA()
	out := filepath.Join(f.dir, "a.report.verified.csv")
	if exitCode(err) != exitFailures || !strings.Contains(stderr, "verdicts: applied 0, not_applied 0, unproven 1") ||
		!strings.Contains(stderr, "run verify again after 20") {
		t.Errorf("first verify: exit %d\n%s", exitCode(err), stderr)
	}
	got := readOut(t, out)
	if v := got[2]; v[0] != "unproven" || !regexp.MustCompile(`attempt .*the checkpoint's attempt records.*passwordChanged .*before the attempt.*no System Log user.account.update_password event.*run verify again after`).MatchString(v[1]) {
		t.Errorf("line 2: %q", v)
	}
	if v := got[3]; v != [2]string{"", ""} {
		t.Errorf("line 3 (succeeded) has a verdict: %q", v)
	}

	// OUT is never overwritten.
	before, _ := os.ReadFile(out)
	err, stderr = verifyA()
	if exitCode(err) != exitUsage || !strings.Contains(stderr, "a.report.verified.csv: file already exists") {
		t.Errorf("second verify onto OUT: exit %d\n%s", exitCode(err), stderr)
	}
	if after, _ := os.ReadFile(out); !bytes.Equal(before, after) {
		t.Error("OUT was changed")
	}

	// Once --settle-after has passed (here 0s): not_applied; the rerun
	// manifest is the manifest's row byte for byte, 0600, and runs.
	rerun := filepath.Join(f.dir, "a.rerun.csv")
	err, stderr = verifyA("--settle-after", "0s", "-o", filepath.Join(f.dir, "a.verified.jsonl"), "--rerun-manifest", rerun)
	if err != nil || !strings.Contains(stderr, "verdicts: applied 0, not_applied 1, unproven 0") || !strings.Contains(stderr, "a.rerun.csv: 1 row to run again") {
		t.Errorf("verify --settle-after 0s: %v\n%s", err, stderr)
	}
	jl, _ := os.ReadFile(filepath.Join(f.dir, "a.verified.jsonl"))
	if !regexp.MustCompile(`(?m)^\{"line":2,.*"verdict":"not_applied","evidence":".*rerun: not applied"\}$`).Match(jl) ||
		regexp.MustCompile(`(?m)^\{"line":3,.*verdict`).Match(jl) {
		t.Errorf("JSONL OUT:\n%s", jl)
	}
	if got, _ := os.ReadFile(rerun); string(got) != lines[0]+lines[1] {
		t.Errorf("rerun manifest %q, want %q", got, lines[0]+lines[1])
	}
	if st, err := os.Stat(rerun); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("rerun manifest: %v %v", st, err)
	}
	for _, le := range f.org.Log()[sent:] {
		if le.Method != "GET" {
			t.Errorf("verify sent %s %s", le.Method, le.Path)
		}
	}
	e, _, stderrRun := f.env()
	if err := execute(e, []string{"run", rerun, "--org-url", f.url, "--yes", "--rate", "0"}); err != nil {
		t.Fatalf("running the rerun manifest: %v\n%s", err, stderrRun)
	}
	if !f.applied(2) {
		t.Error("the rerun did not change the password")
	}

	// b: the request applied; its answer was lost.
	if killed, _, out := f.runBin(t, bin, "after-response:1", runArgs(b)...); !killed {
		t.Fatalf("the run was not killed at after-response:\n%s", out)
	}
	if _, code, out := f.runBin(t, bin, "", runArgs(b)...); code != exitFailures {
		t.Fatalf("the resume: exit %d\n%s", code, out)
	}
	e, stdout, stderrB := f.env()
	brerun := filepath.Join(f.dir, "b.rerun.csv")
	err = execute(e, []string{"verify", filepath.Join(f.dir, "b.report.csv"), "--org-url", f.url, "--rate", "0", "--rerun-manifest", brerun})
	printError(stderrB, err)
	f.noSecrets(t, "verify's output", stdout.String()+stderrB.String())
	if err != nil || !strings.Contains(stderrB.String(), "verdicts: applied 1, not_applied 0, unproven 0") || !strings.Contains(stderrB.String(), "no row to run again") {
		t.Errorf("verify b: %v\n%s", err, stderrB)
	}
	if _, err := os.Stat(brerun); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a rerun manifest of nothing was written: %v", err)
	}
	if v := readOut(t, filepath.Join(f.dir, "b.report.verified.csv"))[2]; v[0] != "applied" ||
		!strings.Contains(v[1], "the recovery question is the row's; lastUpdated") || !strings.Contains(v[1], "Okta logs no System Log event for change_recovery_question") {
		t.Errorf("b line 2: %q", v)
	}
}
