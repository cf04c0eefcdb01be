package main

// Crash/resume proofs (SPEC.md "Checkpoint and resume"): the real credbatch
// binary, built with go build, is killed with SIGKILL at the runner's
// test-only crash points (CREDBATCH_TEST_CRASH=POINT:N) and at random
// instants, then rerun with the same command until it finishes. The report,
// the emulator's request log and the binary's output must then show that no
// row was lost or reported twice, no password check was applied twice, no
// secret Okta issued and the tool received was lost, and nothing secret was
// printed.

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/report"
)

var crashSeed = flag.Int64("seed", 0, "seed of TestKillAnywhere's random kill instants (default: from the clock)")

const (
	crashToken   = "kill-SSWS-token-3c9e1a7f5d2b8046e1f9a3c7"
	crashWorkers = 4
	// runLimit bounds one invocation of the binary; a run that takes longer
	// is a hang and fails the test.
	runLimit = 60 * time.Second
)

// The binary is built once and shared by the tests running at the same
// time; the last one to finish removes it (a later test builds it again).
var built struct {
	mu   sync.Mutex
	dir  string
	refs int
}

// credbatchBinary builds ./ (not with -race) and returns the binary's path.
func credbatchBinary(t *testing.T) string {
	t.Helper()
	built.mu.Lock()
	defer built.mu.Unlock()
	if built.refs == 0 {
		dir, err := os.MkdirTemp("", "credbatch-crash-bin-")
		if err != nil {
			t.Fatalf("temp dir for the binary: %v", err)
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, goTool, "build", "-tags", "crashpoints", "-o", filepath.Join(dir, "credbatch"), ".").CombinedOutput()
		if err != nil {
			_ = os.RemoveAll(dir)
			t.Fatalf("go build: %v\n%s", err, out)
		}
		built.dir = dir
	}
	built.refs++
	t.Cleanup(func() {
		built.mu.Lock()
		defer built.mu.Unlock()
		built.refs--
		if built.refs == 0 {
			_ = os.RemoveAll(built.dir)
			built.dir = ""
		}
	})
	return filepath.Join(built.dir, "credbatch")
}

// crashRow is one manifest row and what the test knows about it.
type crashRow struct {
	line      int
	user      emulator.User
	byLogin   bool
	action    string
	op        string // the emulator's operation name
	issues    bool   // issues a secret (temp password or reset URL): repeated after a crash
	newPW     string // change_password, forgot_password_set_new_password
	newAnswer string // change_recovery_question
}

// crashFixture is one chain's world: a fresh emulator, a manifest, a dir.
type crashFixture struct {
	bin        string
	org        *emulator.Org
	url        string
	users      []emulator.User
	rows       []crashRow
	dir        string
	manifest   string
	reportPath string
	checkpoint string
	rate       string
}

// crashActions cycle over the rows: two that issue a secret, three that
// check a password or an answer.
type crashAction struct {
	action, op string
	issues     bool
}

var crashActions = []crashAction{
	{"expire_password_with_temp_password", emulator.OpExpirePasswordWithTempPassword, true},
	{"reset_password", emulator.OpResetPassword, true},
	{"change_password", emulator.OpChangePassword, false},
	{"change_recovery_question", emulator.OpChangeRecoveryQuestion, false},
	{"forgot_password_set_new_password", emulator.OpForgotPasswordSetNewPassword, false},
}

// newCrashFixture starts an emulator of 120 ACTIVE users (and the token's
// owner) and writes a manifest of n rows, one per user, cycling through
// actions (crashActions when none are given) and naming users by ID and by
// login in turn.
func newCrashFixture(t *testing.T, n int, actions ...crashAction) *crashFixture {
	t.Helper()
	const nUsers = 120
	if len(actions) == 0 {
		actions = crashActions
	}
	if n > nUsers {
		t.Fatalf("at most %d rows", nUsers)
	}
	users := []emulator.User{{
		ID: "00ukilladmin000000000"[:20], Login: "admin@example.com", Email: "admin@example.com",
		FirstName: "Ada", LastName: "Admin", Status: emulator.StatusActive, Provider: emulator.ProviderOkta,
		Password: "Admin-Pw-0!kill", RecoveryQuestion: emulator.GeneratedQuestion, RecoveryAnswer: "admin-answer-0",
	}}
	for i := 1; i <= nUsers; i++ {
		login := fmt.Sprintf("kill%03d@example.com", i)
		users = append(users, emulator.User{
			ID: fmt.Sprintf("00ukill%013d", i), Login: login, Email: login,
			FirstName: "Kill", LastName: fmt.Sprintf("%03d", i),
			Status: emulator.StatusActive, Provider: emulator.ProviderOkta,
			Password:         fmt.Sprintf("Old-Pw-%03d-k!", i),
			RecoveryQuestion: emulator.GeneratedQuestion,
			RecoveryAnswer:   fmt.Sprintf("answer-%03d-k", i),
		})
	}
	// A little latency spreads a run out, so random kills land on the wire.
	org := emulator.New(emulator.Config{Seed: 11, UserList: users, Token: crashToken,
		Latency: 500 * time.Microsecond, Jitter: time.Millisecond})
	srv := httptest.NewServer(org) // 127.0.0.1
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	f := &crashFixture{
		bin: credbatchBinary(t), org: org, url: srv.URL, users: users, dir: dir,
		manifest: filepath.Join(dir, "kill.csv"), rate: "0",
	}
	f.reportPath = filepath.Join(dir, "kill.report.csv")
	f.checkpoint = f.reportPath + ".checkpoint"

	var b strings.Builder
	b.WriteString("user,action,send_email,old_password,new_password,password,recovery_question,recovery_answer\n")
	for i := 0; i < n; i++ {
		u := users[i+1]
		a := actions[i%len(actions)]
		r := crashRow{line: i + 2, user: u, byLogin: i%2 == 1, action: a.action, op: a.op, issues: a.issues}
		name := u.ID
		if r.byLogin {
			name = u.Login
		}
		var sendEmail, oldPW, newPW, pw, question, answer string
		switch a.action {
		case "reset_password":
			sendEmail = "false"
		case "change_password":
			oldPW = u.Password
			r.newPW = fmt.Sprintf("New-Pw-%03d-cp!", i+1)
			newPW = r.newPW
		case "change_recovery_question":
			pw = u.Password
			question = "Which test killed this run?"
			r.newAnswer = fmt.Sprintf("new-answer-%03d-rq", i+1)
			answer = r.newAnswer
		case "forgot_password_set_new_password":
			r.newPW = fmt.Sprintf("New-Pw-%03d-fp!", i+1)
			newPW = r.newPW
			answer = u.RecoveryAnswer
		}
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s,%s\n", name, a.action, sendEmail, oldPW, newPW, pw, question, answer)
		f.rows = append(f.rows, r)
	}
	if err := os.WriteFile(f.manifest, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// command is the same run command every time; crash arms a crash point.
func (f *crashFixture) command(ctx context.Context, crash string) (*exec.Cmd, *bytes.Buffer) {
	c := exec.CommandContext(ctx, f.bin, "run", f.manifest, "--org-url", f.url,
		"--yes", "--rate", f.rate, "--workers", fmt.Sprint(crashWorkers))
	c.Dir = f.dir
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "OKTA_") || k == "CREDBATCH_TEST_CRASH" || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+f.dir, "OKTA_CLIENT_TOKEN="+crashToken)
	if crash != "" {
		env = append(env, "CREDBATCH_TEST_CRASH="+crash)
	}
	c.Env = env
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	c.WaitDelay = 5 * time.Second
	return c, &out
}

// runEnd is how one invocation ended.
type runEnd struct {
	killed bool // died by SIGKILL
	code   int  // exit status when not killed
	out    string
}

func (e runEnd) String() string {
	if e.killed {
		return "killed"
	}
	return fmt.Sprintf("exit %d", e.code)
}

// wait waits for c and classifies its end; a run past runLimit fails the test.
func wait(t *testing.T, ctx context.Context, c *exec.Cmd, out *bytes.Buffer) runEnd {
	t.Helper()
	err := c.Wait()
	if ctx.Err() != nil {
		t.Fatalf("credbatch run did not end within %s", runLimit)
	}
	if c.ProcessState == nil {
		t.Fatalf("credbatch run: %v", err)
	}
	ws, ok := c.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		t.Fatalf("no wait status: %v", err)
	}
	end := runEnd{out: out.String()}
	switch {
	case ws.Signaled() && ws.Signal() == syscall.SIGKILL:
		end.killed = true
	case ws.Signaled():
		t.Fatalf("credbatch run died by %v", ws.Signal())
	default:
		end.code = ws.ExitStatus()
	}
	return end
}

// run runs the command once to its end.
func (f *crashFixture) run(t *testing.T, crash string) runEnd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	c, out := f.command(ctx, crash)
	if err := c.Start(); err != nil {
		t.Fatalf("starting credbatch: %v", err)
	}
	return wait(t, ctx, c, out)
}

// runKilledAfter starts the command and kills it after d (if it is still
// running by then).
func (f *crashFixture) runKilledAfter(t *testing.T, d time.Duration) runEnd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	c, out := f.command(ctx, "")
	if err := c.Start(); err != nil {
		t.Fatalf("starting credbatch: %v", err)
	}
	timer := time.AfterFunc(d, func() { _ = c.Process.Kill() })
	defer timer.Stop()
	return wait(t, ctx, c, out)
}

// finishRun reruns the command (no crash point) until it exits; it must
// exit 0 or 1 at once.
func (f *crashFixture) finishRun(t *testing.T) runEnd {
	t.Helper()
	end := f.run(t, "")
	if end.killed || (end.code != 0 && end.code != 1) {
		t.Fatalf("the rerun ended with %s, want exit 0 or 1; output:\n%s", end, end.out)
	}
	return end
}

// secrets lists every secret the runs may have seen: the token, the users'
// original passwords and answers, the manifest's new ones, every secret in
// the emulator's log and every user's last secret.
func (f *crashFixture) secrets() []string {
	set := map[string]bool{crashToken: true}
	for _, u := range f.users {
		set[u.Password], set[u.RecoveryAnswer] = true, true
		set[f.org.LastSecret(u.ID)] = true
	}
	for _, r := range f.rows {
		set[r.newPW], set[r.newAnswer] = true, true
	}
	for _, e := range f.org.Log() {
		set[e.Secret] = true
	}
	var out []string
	for s := range set {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// userOf is the ID of the user a logged request named. A request whose
// client went away during the emulator's latency wait (a kill) is logged
// before its user is resolved: its user is then read from the path.
func (f *crashFixture) userOf(e emulator.LogEntry) string {
	if e.UserID != "" {
		return e.UserID
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(e.Path, "/api/v1/users/"), "/")
	if u, ok := f.org.User(name); ok {
		return u.ID
	}
	return name
}

// readRows reads the whole report strictly.
func readRows(t *testing.T, path string) []*report.Row {
	t.Helper()
	var rows []*report.Row
	if err := report.ReadFile(path, func(r *report.Row) error {
		rows = append(rows, r)
		return nil
	}); err != nil {
		t.Fatalf("reading the report: %v", err)
	}
	return rows
}

// checkChain asserts what a chain of runs (crashes of them killed) left:
// the report, the emulator's log, the files' modes and the runs' output.
func (f *crashFixture) checkChain(t *testing.T, ends []runEnd, crashes int) {
	t.Helper()
	last := ends[len(ends)-1]

	// 1. Exactly one row per manifest row, each with its own user and action.
	rows := readRows(t, f.reportPath)
	byLine := map[int]*report.Row{}
	for _, r := range rows {
		if byLine[r.Line] != nil {
			t.Errorf("report: line %d appears twice", r.Line)
		}
		byLine[r.Line] = r
	}
	if len(rows) != len(f.rows) {
		t.Errorf("report has %d rows, want %d (one per manifest row)", len(rows), len(f.rows))
	}

	log := f.org.Log()
	type key struct{ user, op string }
	applied, sent := map[key]int{}, map[key]int{}
	for _, e := range log {
		if !isCredentialOp(e.Op) {
			continue
		}
		k := key{f.userOf(e), e.Op}
		sent[k]++
		if e.Applied {
			applied[k]++
		}
	}
	expected := map[key]bool{}
	inDoubt, repeatedUsers, extraApplies := 0, 0, 0
	for _, cr := range f.rows {
		k := key{cr.user.ID, cr.op}
		expected[k] = true
		r := byLine[cr.line]
		if r == nil {
			t.Errorf("report: no row for line %d", cr.line)
			continue
		}
		if r.UserID != cr.user.ID || r.Action != cr.action {
			t.Errorf("line %d: user_id %s action %s, want %s %s", cr.line, r.UserID, r.Action, cr.user.ID, cr.action)
		}
		got := r.TempPassword.Reveal() + r.ResetURL.Reveal()
		if cr.issues {
			// 2. Repeated after a crash; the report holds the last secret.
			if r.Outcome != report.Succeeded {
				t.Errorf("line %d (%s): %s %s %q; a secret-issuing action is repeated after a crash and must succeed",
					cr.line, cr.action, r.Outcome, r.ErrorCode, r.ErrorSummary)
				continue
			}
			want := f.org.LastSecret(cr.user.ID)
			if got == "" || got != want {
				t.Errorf("line %d (%s): the report's secret is not the last one the emulator issued to %s (report empty: %v, emulator empty: %v)",
					cr.line, cr.action, cr.user.ID, got == "", want == "")
			}
			if applied[k] < 1 {
				t.Errorf("line %d: succeeded, but the emulator applied no %s for %s", cr.line, cr.op, cr.user.ID)
			}
			if applied[k] > 1 {
				repeatedUsers++
				extraApplies += applied[k] - 1
			}
			continue
		}
		// 3. Never applied (nor sent) twice; a lost answer ends in_doubt.
		if got != "" {
			t.Errorf("line %d (%s) carries a secret it cannot have", cr.line, cr.action)
		}
		if applied[k] > 1 || sent[k] > 1 {
			t.Errorf("line %d (%s, %s): sent %d times, applied %d times; a password-checking action must never be repeated",
				cr.line, cr.action, cr.user.ID, sent[k], applied[k])
		}
		switch r.Outcome {
		case report.Succeeded:
			if applied[k] != 1 {
				t.Errorf("line %d (%s): succeeded, but the emulator applied it %d times", cr.line, cr.action, applied[k])
			}
		case report.InDoubt:
			inDoubt++
			if !strings.Contains(r.ErrorSummary, "may have applied") {
				t.Errorf("line %d: in_doubt without saying an earlier attempt may have applied: %q", cr.line, r.ErrorSummary)
			}
		default:
			t.Errorf("line %d (%s): %s %s %q; want succeeded, or in_doubt after a crash",
				cr.line, cr.action, r.Outcome, r.ErrorCode, r.ErrorSummary)
		}
	}
	for k, n := range sent {
		if !expected[k] {
			t.Errorf("the emulator got %d %s requests for %s, which no manifest row asks for", n, k.op, k.user)
		}
	}
	// 4. A crash repeats at most the requests on the wire: --workers of them.
	limit := crashWorkers * crashes
	if repeatedUsers > limit || extraApplies > limit {
		t.Errorf("%d secret-issuing actions applied more than once (%d extra applications) after %d crashes; want at most %d",
			repeatedUsers, extraApplies, crashes, limit)
	}
	if inDoubt > limit {
		t.Errorf("%d rows in_doubt after %d crashes; want at most %d", inDoubt, crashes, limit)
	}
	wantCode := 0
	if inDoubt > 0 {
		wantCode = 1
	}
	if last.code != wantCode {
		t.Errorf("the last run exited %d, want %d (%d rows in_doubt)", last.code, wantCode, inDoubt)
	}

	// 5. Files 0600; nothing secret in any run's output.
	for _, p := range []string{f.reportPath, f.checkpoint} {
		st, err := os.Stat(p)
		if err != nil {
			t.Errorf("%v", err)
		} else if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", filepath.Base(p), st.Mode().Perm())
		}
	}
	secrets := f.secrets()
	if len(secrets) < 3*len(f.rows) {
		t.Fatalf("only %d secrets known: the output check would prove little", len(secrets))
	}
	for i, e := range ends {
		for j, s := range secrets {
			if strings.Contains(e.out, s) {
				// Never print the secret: name it by index and length.
				t.Errorf("run %d's output holds secret #%d (%d characters)", i+1, j, len(s))
			}
		}
	}
	t.Logf("%d runs, %d crashes: %d rows in_doubt, %d secret-issuing actions repeated", len(ends), crashes, inDoubt, repeatedUsers)
}

// crashChain runs the command once per crash spec (each arming a crash point
// that must kill it or let it finish), then without one until it finishes.
func crashChain(t *testing.T, specs ...string) {
	f := newCrashFixture(t, 100)
	var ends []runEnd
	crashes := 0
	for _, spec := range specs {
		end := f.run(t, spec)
		ends = append(ends, end)
		if end.killed {
			crashes++
			continue
		}
		if end.code != 0 && end.code != 1 {
			t.Fatalf("with %s the run ended with %s; output:\n%s", spec, end, end.out)
		}
		t.Logf("%s was never reached: the run finished (%s)", spec, end)
	}
	if crashes == 0 && surelyReached(specs) {
		// Each point is visited at least 7 times in a 100-row run, however
		// the recorder batches: a chain in which none fired tests nothing (a
		// binary built without -tags crashpoints, a renamed point).
		t.Fatalf("no crash point of %v fired: the chain tested no crash", specs)
	}
	if crashes > 0 {
		ends = append(ends, f.finishRun(t))
	}
	if strings.HasPrefix(specs[0], "after-attempt:") && ends[0].killed {
		// The row killed after its attempt record was never sent: it can
		// only end in_doubt, settled without a request.
		f.checkSettledUnsent(t)
	}
	f.checkChain(t, ends, crashes)
}

// surelyReached: some spec of the chain arms its point's 7th visit or an
// earlier one. (A later visit of the recorder's points, after-outcome and
// after-report, may not come: one batch can hold many rows.)
func surelyReached(specs []string) bool {
	for _, s := range specs {
		var n int
		if _, after, ok := strings.Cut(s, ":"); ok {
			if _, err := fmt.Sscan(after, &n); err == nil && n <= 7 {
				return true
			}
		}
	}
	return false
}

// checkSettledUnsent: some password-checking row is in_doubt with no request
// ever sent for it.
func (f *crashFixture) checkSettledUnsent(t *testing.T) {
	t.Helper()
	sent := map[string]int{}
	for _, e := range f.org.Log() {
		if isCredentialOp(e.Op) {
			sent[f.userOf(e)+" "+e.Op]++
		}
	}
	rows := map[int]*report.Row{}
	for _, r := range readRows(t, f.reportPath) {
		rows[r.Line] = r
	}
	for _, cr := range f.rows {
		if r := rows[cr.line]; !cr.issues && r != nil && r.Outcome == report.InDoubt && sent[cr.user.ID+" "+cr.op] == 0 {
			return
		}
	}
	t.Errorf("killed after an attempt record, yet no row is in_doubt without a request sent")
}

// TestKillAnywhere kills the binary at each crash point (the 1st, 2nd, 7th
// and 30th visit), at several points in one chain, and at random instants
// (seeded: -seed), each chain on a fresh emulator and checkpoint, then reruns
// the same command to its end and checks what the chain left (checkChain).
func TestKillAnywhere(t *testing.T) {
	t.Parallel()
	credbatchBinary(t) // one build for every subtest
	seed := *crashSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("random kill instants: -seed %d", seed)

	points := []string{"before-attempt", "after-attempt", "after-response", "after-outcome", "after-report"}
	for _, p := range points {
		for _, n := range []int{1, 2, 7, 30} {
			spec := fmt.Sprintf("%s:%d", p, n)
			t.Run(spec, func(t *testing.T) {
				t.Parallel()
				crashChain(t, spec)
			})
		}
	}
	// Crashing again while resuming.
	for i, chain := range [][]string{
		{"after-attempt:2", "after-response:3", "after-outcome:5", "after-report:2"},
		{"after-response:1", "before-attempt:4", "after-attempt:1", "after-response:7"},
	} {
		t.Run(fmt.Sprintf("chain-%d", i), func(t *testing.T) {
			t.Parallel()
			crashChain(t, chain...)
		})
	}
	// Random instants: kill, rerun, kill, ... then finish.
	for i := range 4 {
		t.Run(fmt.Sprintf("random-%d", i), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(seed), uint64(i)))
			f := newCrashFixture(t, 100)
			var ends []runEnd
			crashes := 0
			for range 5 {
				d := time.Duration(rng.Int64N(int64(300 * time.Millisecond)))
				end := f.runKilledAfter(t, d)
				ends = append(ends, end)
				if end.killed {
					crashes++
					t.Logf("killed after %s: %d report rows", d, completeRows(f.reportPath))
					continue
				}
				if end.code != 0 && end.code != 1 {
					t.Fatalf("a run killed after %s ended with %s; output:\n%s", d, end, end.out)
				}
				t.Logf("the run finished (%s) before its kill at %s", end, d)
			}
			ends = append(ends, f.finishRun(t))
			f.checkChain(t, ends, crashes)
		})
	}
}

// TestTornReportTail: a finished run's report cut in the middle of its last
// row is repaired by the rerun, from the checkpoint, with nothing sent.
func TestTornReportTail(t *testing.T) {
	t.Parallel()
	f := newCrashFixture(t, 20)
	first := f.run(t, "")
	if first.killed || first.code != 0 {
		t.Fatalf("the first run ended with %s, want exit 0; output:\n%s", first, first.out)
	}
	whole, err := os.ReadFile(f.reportPath)
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.TrimSuffix(whole, []byte("\n"))
	start := bytes.LastIndexByte(body, '\n') + 1
	if start == 0 || len(body)-start < 10 {
		t.Fatalf("the report's last row is too short to cut (%d bytes)", len(body)-start)
	}
	cut := start + (len(body)-start)/2
	if err := os.Truncate(f.reportPath, int64(cut)); err != nil {
		t.Fatal(err)
	}
	if err := report.ReadFile(f.reportPath, func(*report.Row) error { return nil }); err == nil {
		t.Fatalf("the cut report still reads whole: the cut proves nothing")
	}
	requests := len(f.org.Log())

	rerun := f.run(t, "")
	if rerun.killed || rerun.code != 0 {
		t.Fatalf("the rerun ended with %s, want exit 0; output:\n%s", rerun, rerun.out)
	}
	if !strings.Contains(rerun.out, "already finished") {
		t.Errorf("the rerun of a finished run does not say so; output:\n%s", rerun.out)
	}
	if n := len(f.org.Log()); n != requests {
		t.Errorf("the rerun sent %d requests, want none", n-requests)
	}
	repaired, err := os.ReadFile(f.reportPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(repaired, whole) {
		t.Errorf("the repaired report differs from the one the run wrote (%d bytes, want %d)", len(repaired), len(whole))
	}
	f.checkChain(t, []runEnd{first, rerun}, 0)
}

// TestHeldLock: a second run of the same command while the first holds the
// checkpoint exits 2 with a hint and changes nothing.
func TestHeldLock(t *testing.T) {
	t.Parallel()
	f := newCrashFixture(t, 40)
	f.rate = "5" // 40 rows at 5/s: about 8 s, stopped long before

	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	c, out := f.command(ctx, "")
	if err := c.Start(); err != nil {
		t.Fatalf("starting credbatch: %v", err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}()
	// The report is created after the checkpoint is locked; its first row
	// shows the run is under way.
	deadline := time.Now().Add(20 * time.Second)
	for completeRows(f.reportPath) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the first run wrote no report row within 20s; output:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	second := f.run(t, "")
	if second.killed || second.code != 2 {
		t.Errorf("the second run ended with %s, want exit 2; output:\n%s", second, second.out)
	}
	if !strings.Contains(second.out, "credbatch: hint: another credbatch run holds this checkpoint") {
		t.Errorf("the second run gives no hint about the held checkpoint; output:\n%s", second.out)
	}

	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	first := wait(t, ctx, c, out)
	stopped = true
	if first.killed || first.code != exitTerminated {
		t.Fatalf("the first run ended with %s after SIGTERM, want exit %d (still running when the second ran); output:\n%s",
			first, exitTerminated, first.out)
	}

	f.rate = "0"
	last := f.finishRun(t)
	f.checkChain(t, []runEnd{first, second, last}, 0)
}
