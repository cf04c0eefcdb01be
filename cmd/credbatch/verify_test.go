package main

// Tests of `credbatch verify` (SPEC.md "Verify"): a real run through the
// real code against the emulator with dropped-after-apply and 5xx faults,
// a System Log that lags and an org clock that is not this host's, then
// verify before and after the log catches up. The emulator's request log
// is the truth: it says which requests applied.

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/jobs"
)

const vfToken = "verify-SSWS-token-5b1d9e3a7c2f4e6081a3"

// vfOps maps an action to the emulator's operation name.
var vfOps = map[string]string{
	"expire_password": emulator.OpExpirePassword, "expire_password_with_temp_password": emulator.OpExpirePasswordWithTempPassword,
	"reset_password": emulator.OpResetPassword, "forgot_password": emulator.OpForgotPassword,
	"forgot_password_set_new_password": emulator.OpForgotPasswordSetNewPassword, "change_password": emulator.OpChangePassword,
	"change_recovery_question": emulator.OpChangeRecoveryQuestion, "clear_sessions": emulator.OpRevokeUserSessions,
}

// vfFixture is an org, its manifest and the secrets the test knows.
type vfFixture struct {
	org      *emulator.Org
	url      string
	dir      string
	manifest string
	report   string
	shift    *atomic.Int64 // moves the org's clock (and verify's, through its env)
	secrets  []string
	users    map[string]emulator.User // by ID
	actions  map[int]string           // manifest line -> action
	userOf   map[int]string           // manifest line -> user ID
}

// newVFFixture starts an org of n ACTIVE users whose clock runs skew
// behind this host's (plus the shift), with the given faults, and writes a
// manifest of one row per user cycling through actions.
func newVFFixture(t *testing.T, n int, actions []string, cfg emulator.Config, skew time.Duration) *vfFixture {
	t.Helper()
	f := &vfFixture{shift: new(atomic.Int64), users: map[string]emulator.User{}, actions: map[int]string{}, userOf: map[int]string{}, dir: t.TempDir()}
	users := []emulator.User{{ID: "00uvfadmin0000000000", Login: "admin@example.com", Email: "admin@example.com",
		Status: emulator.StatusActive, Provider: emulator.ProviderOkta, Password: "Admin-Pw-0!vf",
		RecoveryQuestion: emulator.GeneratedQuestion, RecoveryAnswer: "admin-answer-vf"}}
	var b strings.Builder
	b.WriteString("user,action,send_email,old_password,new_password,password,recovery_question,recovery_answer\n")
	for i := 1; i <= n; i++ {
		u := emulator.User{ID: fmt.Sprintf("00uvf%015d", i), Login: fmt.Sprintf("vf%03d@example.com", i), Email: fmt.Sprintf("vf%03d@example.com", i),
			FirstName: "Vee", LastName: fmt.Sprintf("%03d", i), Status: emulator.StatusActive, Provider: emulator.ProviderOkta,
			Password: fmt.Sprintf("Old-Pw-%03d-vf!", i), RecoveryQuestion: emulator.GeneratedQuestion, RecoveryAnswer: fmt.Sprintf("answer-%03d-vf", i)}
		users = append(users, u)
		f.users[u.ID] = u
		a := actions[(i-1)%len(actions)]
		var sendEmail, oldPW, newPW, pw, q, ans string
		switch a {
		case "reset_password", "forgot_password":
			sendEmail = "false"
		case "change_password":
			oldPW, newPW = u.Password, fmt.Sprintf("New-Pw-%03d-cp!", i)
		case "change_recovery_question":
			pw, q, ans = u.Password, "Which street did you grow up on?", fmt.Sprintf("new-answer-%03d", i)
		case "forgot_password_set_new_password":
			newPW, ans = fmt.Sprintf("New-Pw-%03d-fp!", i), u.RecoveryAnswer
		}
		f.secrets = append(f.secrets, u.Password, u.RecoveryAnswer)
		for _, s := range []string{newPW, ans} {
			if s != "" {
				f.secrets = append(f.secrets, s)
			}
		}
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s,%s\n", u.ID, a, sendEmail, oldPW, newPW, pw, q, ans)
		f.actions[i+1], f.userOf[i+1] = a, u.ID
	}
	cfg.Seed, cfg.UserList, cfg.Token = 21, users, vfToken
	cfg.Now = func() time.Time { return time.Now().Add(skew + time.Duration(f.shift.Load())) }
	f.org = emulator.New(cfg)
	srv := httptest.NewServer(f.org)
	t.Cleanup(srv.Close)
	t.Cleanup(f.org.Close)
	f.url = srv.URL
	f.manifest = cfgWrite(t, filepath.Join(f.dir, "incident.csv"), b.String(), 0o600)
	f.report = filepath.Join(f.dir, "incident.report.csv")
	f.secrets = append(f.secrets, vfToken)
	return f
}

// env is a command environment with the token and verify's clock shifted
// as the org's is.
func (f *vfFixture) env() (*env, *bytes.Buffer, *bytes.Buffer) {
	vars := map[string]string{"OKTA_CLIENT_TOKEN": vfToken, "HOME": f.dir}
	if d := time.Duration(f.shift.Load()); d != 0 {
		vars[verifyClockEnv] = d.String()
	}
	return rcEnv(vars)
}

// allSecrets adds what the org issued to the manifest's secrets.
func (f *vfFixture) allSecrets() []string {
	s := append([]string(nil), f.secrets...)
	for _, e := range f.org.Log() {
		if e.Secret != "" {
			s = append(s, e.Secret)
		}
	}
	for id := range f.users {
		if x := f.org.LastSecret(id); x != "" {
			s = append(s, x)
		}
	}
	return s
}

func (f *vfFixture) noSecrets(t *testing.T, what string, text string) {
	t.Helper()
	for _, s := range f.allSecrets() {
		if strings.Contains(text, s) {
			t.Errorf("%s holds a secret", what)
			return
		}
	}
}

// applied says, from the emulator's log, whether a request of line's
// action for its user applied.
func (f *vfFixture) applied(line int) bool {
	for _, e := range f.org.Log() {
		if e.UserID == f.userOf[line] && e.Op == vfOps[f.actions[line]] && e.Applied {
			return true
		}
	}
	return false
}

// readOut reads OUT: line -> (verdict, evidence), checking its header.
func readOut(t *testing.T, path string) map[int][2]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	h := recs[0]
	if len(h) < 3 || h[0] != "line" || h[len(h)-2] != "verdict" || h[len(h)-1] != "evidence" {
		t.Fatalf("%s: header %v", path, h)
	}
	out := map[int][2]string{}
	for _, r := range recs[1:] {
		var line int
		fmt.Sscan(r[0], &line)
		out[line] = [2]string{r[len(r)-2], r[len(r)-1]}
	}
	return out
}

// The test: against the emulator with dropped-after-apply faults
// and a log delay, a real run, then verify at once and after the delay.
// No row is applied that the emulator did not apply, none not_applied
// that it did; at least 90% of the password-check rows settle once the
// delay has passed, and those it has not seen yet stay unproven before;
// verify sends only GETs, writes OUT and the rerun manifest (0600, the
// manifest's rows byte for byte) and prints no secret.
func TestVerifyAfterFaultyRun(t *testing.T) {
	actions := []string{"change_password", "change_recovery_question", "forgot_password_set_new_password",
		"expire_password_with_temp_password", "change_password", "reset_password", "change_recovery_question",
		"forgot_password_set_new_password", "clear_sessions", "forgot_password", "expire_password"}
	f := newVFFixture(t, 110, actions, emulator.Config{DropRate: 0.3, Fail5xxRate: 0.25,
		LogDelay: 4 * time.Minute, LogLimit: 6, Window: time.Second}, -1700*time.Millisecond)

	e, _, runErr := f.env()
	err := execute(e, []string{"run", f.manifest, "--org-url", f.url, "--yes", "--rate", "0", "--max-retries", "1", "--backoff-min", "1ms"})
	if err != nil && !errors.Is(err, errRowsFailed) {
		t.Fatalf("run: %v\n%s", err, runErr)
	}
	runEnd := len(f.org.Log())

	verifyRun := func(name, out, rerun string) (map[int][2]string, string, error) {
		e, stdout, stderr := f.env()
		err := execute(e, []string{"verify", f.report, "--org-url", f.url, "-o", out, "--rerun-manifest", rerun, "--rate", "0"})
		printError(stderr, err)
		f.noSecrets(t, name+"'s output", stdout.String()+stderr.String())
		if st, serr := os.Stat(out); serr != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: OUT %s: %v (%v)\n%s", name, out, st, serr, stderr)
		}
		return readOut(t, out), stderr.String(), err
	}
	check := func(name string, got map[int][2]string) (settled, pwRows int) {
		verdicts := 0
		for line, v := range got {
			if v[0] == "" {
				continue
			}
			verdicts++
			switch applied := f.applied(line); {
			case v[0] == "applied" && !applied:
				t.Errorf("%s: line %d (%s) applied, but the emulator applied nothing: %s", name, line, f.actions[line], v[1])
			case v[0] == "not_applied" && applied:
				t.Errorf("%s: line %d (%s) not_applied, but the emulator applied it: %s", name, line, f.actions[line], v[1])
			}
			if jobs.Action(f.actions[line]).ChecksPassword() {
				pwRows++
				if v[0] != "unproven" {
					settled++
				}
			}
		}
		if verdicts < 30 || pwRows < 15 {
			t.Fatalf("%s: %d rows with a verdict, %d password-check ones: the faults did not bite", name, verdicts, pwRows)
		}
		return settled, pwRows
	}

	// At once: the log shows nothing yet and --settle-after has not passed.
	early, stderr, err := verifyRun("the first verify", filepath.Join(f.dir, "v1.csv"), filepath.Join(f.dir, "r1.csv"))
	if exitCode(err) != exitFailures || !strings.Contains(stderr, "run verify again after") {
		t.Errorf("first verify: exit %d, want 1 and when to run again\n%s", exitCode(err), stderr)
	}
	check("the first verify", early)
	for line, v := range early {
		if v[0] == "not_applied" {
			t.Errorf("line %d not_applied before --settle-after: %s", line, v[1])
		}
		if v[0] != "" && !f.applied(line) && v[0] != "unproven" {
			t.Errorf("line %d (not applied) is %s before the log caught up", line, v[0])
		}
	}

	// Eleven minutes later (the org's clock and verify's).
	f.shift.Store(int64(11 * time.Minute))
	late, stderr, err := verifyRun("the second verify", filepath.Join(f.dir, "v2.csv"), filepath.Join(f.dir, "r2.csv"))
	settled, pw := check("the second verify", late)
	t.Logf("password-check rows settled after the delay: %d of %d\n%s", settled, pw, stderr)
	if settled*10 < pw*9 {
		t.Errorf("%d of %d password-check rows settled, want at least 90%%", settled, pw)
	}
	notApplied := 0
	for line, v := range late {
		if v[0] == "not_applied" {
			notApplied++
		}
		if v[0] == "unproven" && f.actions[line] != "forgot_password" && !jobs.Action(f.actions[line]).ChecksPassword() {
			t.Logf("unproven line %d (%s): %s", line, f.actions[line], v[1])
		}
	}
	if notApplied == 0 {
		t.Error("no row not_applied after the delay: the 5xx faults did not bite")
	}
	if code := exitCode(err); code != exitOK && code != exitFailures {
		t.Errorf("second verify: exit %d\n%s", code, stderr)
	}

	// Only GETs since the run.
	for _, le := range f.org.Log()[runEnd:] {
		if le.Method != http.MethodGet {
			t.Errorf("verify sent %s %s", le.Method, le.Path)
		}
	}

	// The rerun manifest: the manifest's header and the rows to rerun,
	// byte for byte; not_applied rows and lost secrets, nothing else.
	r2 := filepath.Join(f.dir, "r2.csv")
	if st, err := os.Stat(r2); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("rerun manifest: %v %v", st, err)
	}
	manifest, _ := os.ReadFile(f.manifest)
	mlines := strings.SplitAfter(string(manifest), "\n")
	rerun, _ := os.ReadFile(r2)
	rlines := strings.SplitAfter(string(rerun), "\n")
	if rlines[0] != mlines[0] {
		t.Errorf("rerun manifest header %q", rlines[0])
	}
	want := map[string]bool{}
	for line, v := range late {
		lost := f.actions[line] == "expire_password_with_temp_password" || f.actions[line] == "reset_password" || f.actions[line] == "forgot_password"
		if v[0] == "not_applied" || v[0] != "" && lost {
			want[mlines[line-1]] = true
			if !strings.Contains(v[1], "rerun: ") {
				t.Errorf("line %d is rerun but its evidence does not say why: %s", line, v[1])
			}
		}
	}
	for _, l := range rlines[1:] {
		if l != "" && !want[l] {
			t.Errorf("rerun manifest holds %q, not a row to rerun", l)
		}
		delete(want, l)
	}
	if len(want) > 0 {
		t.Errorf("rerun manifest lacks %d rows: %v", len(want), want)
	}
	e2, _, stderr2 := f.env()
	if err := execute(e2, []string{"validate", r2}); err != nil {
		t.Errorf("the rerun manifest does not validate: %v\n%s", err, stderr2)
	}
}

// verify refuses, before sending anything and writing anything: an OUT or
// rerun manifest that exists, another org, a checkpoint that is missing or
// damaged, a manifest that changed, bad flags.
func TestVerifyRefusals(t *testing.T) {
	f := newVFFixture(t, 12, []string{"change_password", "expire_password"}, emulator.Config{DropRate: 0.5}, 0)
	e, _, runErr := f.env()
	if err := execute(e, []string{"run", f.manifest, "--org-url", f.url, "--yes", "--rate", "0", "--max-retries", "0"}); err != nil && !errors.Is(err, errRowsFailed) {
		t.Fatalf("run: %v\n%s", err, runErr)
	}
	sent := len(f.org.Log())
	exists := cfgWrite(t, filepath.Join(f.dir, "exists.csv"), "keep me\n", 0o600)
	other := httptest.NewServer(emulator.New(emulator.Config{Seed: 3, Token: vfToken}))
	t.Cleanup(other.Close)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"OUT exists", []string{"-o", exists}, "exists.csv: file already exists"},
		{"rerun manifest exists", []string{"--rerun-manifest", exists}, "exists.csv: file already exists"},
		{"OUT neither csv nor jsonl", []string{"-o", filepath.Join(f.dir, "out.txt")}, "out.txt"},
		{"rerun manifest of another format", []string{"--rerun-manifest", filepath.Join(f.dir, "rerun.jsonl")}, "the rerun manifest must be too"},
		{"another org", []string{"--org-url", other.URL}, "verify asks the org the run changed"},
		{"negative --settle-after", []string{"--settle-after", "-1m"}, "--settle-after -1m0s: want 0 or more"},
		{"missing checkpoint", []string{"--checkpoint", filepath.Join(f.dir, "none.checkpoint")}, "cannot find the run's checkpoint"},
		{"missing OUT directory", []string{"-o", filepath.Join(f.dir, "no", "out.csv")}, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _, stderr := f.env()
			args := append([]string{"verify", f.report, "--org-url", f.url}, tc.args...)
			err := execute(e, args)
			printError(stderr, err)
			if exitCode(err) != exitUsage || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, want 2 with %q:\n%s", exitCode(err), tc.want, stderr)
			}
			if got, _ := os.ReadFile(exists); string(got) != "keep me\n" {
				t.Error("an existing file was changed")
			}
		})
	}
	// A checkpoint damaged in the middle: refused (exit 2), unchanged.
	cp := f.report + ".checkpoint"
	orig, _ := os.ReadFile(cp)
	damaged := append([]byte(nil), orig...)
	i := bytes.Index(damaged[100:], []byte("\tO\t")) + 100
	damaged[i+5] ^= 0x20
	if err := os.WriteFile(cp, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	e, _, stderr := f.env()
	err := execute(e, []string{"verify", f.report, "--org-url", f.url})
	printError(stderr, err)
	if exitCode(err) != exitUsage || !strings.Contains(stderr.String(), "checkpoint") {
		t.Errorf("damaged checkpoint: exit %d\n%s", exitCode(err), stderr)
	}
	if now, _ := os.ReadFile(cp); !bytes.Equal(now, damaged) {
		t.Error("verify changed the damaged checkpoint")
	}
	_ = os.WriteFile(cp, orig, 0o600)
	// A manifest that changed since the run.
	m, _ := os.ReadFile(f.manifest)
	_ = os.WriteFile(f.manifest, append(m, []byte("00uvf000000000000001,clear_sessions,,,,,,\n")...), 0o600)
	e, _, stderr = f.env()
	err = execute(e, []string{"verify", f.report, "--org-url", f.url})
	printError(stderr, err)
	if exitCode(err) != exitUsage || !strings.Contains(stderr.String(), "the manifest changed since the run") {
		t.Errorf("changed manifest: exit %d\n%s", exitCode(err), stderr)
	}
	_ = os.WriteFile(f.manifest, m, 0o600)

	if n := len(f.org.Log()); n != sent {
		t.Errorf("the refusals sent %d requests", n-sent)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "incident.report.verified.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused verify wrote OUT: %v", err)
	}
}

// A run with nothing in doubt: OUT is the report with empty verdict
// columns, nothing is sent, exit 0.
func TestVerifyNothingToSettle(t *testing.T) {
	f := newVFFixture(t, 5, []string{"expire_password"}, emulator.Config{}, 0)
	e, _, runErr := f.env()
	if err := execute(e, []string{"run", f.manifest, "--org-url", f.url, "--yes", "--rate", "0"}); err != nil {
		t.Fatalf("run: %v\n%s", err, runErr)
	}
	sent := len(f.org.Log())
	e, _, stderr := f.env()
	out := filepath.Join(f.dir, "v.jsonl")
	if err := execute(e, []string{"verify", f.report, "--org-url", f.url, "-o", out, "--rerun-manifest", filepath.Join(f.dir, "r.csv")}); err != nil {
		t.Fatalf("verify: %v\n%s", err, stderr)
	}
	if n := len(f.org.Log()); n != sent {
		t.Errorf("verify sent %d requests with nothing to settle", n-sent)
	}
	data, _ := os.ReadFile(out)
	if strings.Count(string(data), "\n") != 5 || strings.Contains(string(data), "verdict") {
		t.Errorf("OUT:\n%s", data)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "r.csv")); !errors.Is(err, os.ErrNotExist) || !strings.Contains(stderr.String(), "no row to run again") {
		t.Errorf("an empty rerun manifest was written (%v)\n%s", err, stderr)
	}
}
