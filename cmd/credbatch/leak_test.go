package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/internal/secret"
)

// The secret-hygiene proof (SPEC.md "Report": secrets are written only to
// the report, the checkpoint and REPORT.manifest). Full runs go through
// execute in-process against an emulator with faults; every text a person
// or a script could see — stdout, stderr with --verbose debug logs, every
// returned error, the --summary-json files — is scanned for every secret
// the emulator issued, the API token, the access tokens, the private key
// and the manifest's passwords and answers.

// leakCapture collects what the runs showed.
type leakCapture struct {
	texts map[string]string // name → text
}

func (c *leakCapture) add(name, text string) {
	if c.texts == nil {
		c.texts = map[string]string{}
	}
	c.texts[name] += text
}

// leakScan returns "name: secret kind" for every secret found in a text.
// Secrets shorter than 6 bytes are not searched for (they would match
// ordinary words); none of the fixture's secrets is that short.
func leakScan(texts map[string]string, secrets map[string]string) []string {
	var found []string
	for name, text := range texts {
		for sec, kind := range secrets {
			if len(sec) >= 6 && strings.Contains(text, sec) {
				found = append(found, fmt.Sprintf("%s: %s", name, kind))
			}
		}
	}
	sort.Strings(found)
	return found
}

// leakEnv is an env for one in-process run, output captured.
func leakEnv(vars map[string]string, stdin string, feed context.Context) (*env, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return &env{
		stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr,
		getenv:     func(k string) string { return vars[k] },
		isTerminal: func() bool { return false },
		feed:       feed, hard: context.Background(),
	}, &stdout, &stderr
}

// leakManifest builds a manifest of every action over users 1..n-1, with
// right and wrong passwords and answers; it returns the CSV and the
// secrets it holds.
func leakManifest(users []emulator.User) (string, map[string]string) {
	secrets := map[string]string{}
	var b strings.Builder
	b.WriteString("user,action,send_email,old_password,new_password,password,recovery_question,recovery_answer\n")
	for i := 1; i < len(users); i++ {
		u := users[i]
		pw := emulator.GeneratedPassword(u.Login)
		newPw := fmt.Sprintf("New-Pass-%04d-xQ!", i)
		wrong := fmt.Sprintf("Wrong-Pass-%04d-zK", i)
		answer := fmt.Sprintf("Answer-%04d-mauve", i)
		var row string
		switch i % 7 {
		case 0:
			row = u.ID + ",expire_password_with_temp_password,,,,,,"
		case 1:
			row = u.ID + ",reset_password,false,,,,,"
		case 2:
			row = u.Login + ",forgot_password,false,,,,,"
		case 3:
			row = u.ID + ",change_password,," + pw + "," + newPw + ",,,"
			secrets[pw], secrets[newPw] = "manifest old_password", "manifest new_password"
		case 4:
			row = u.ID + ",change_password,," + wrong + "," + newPw + ",,,"
			secrets[wrong], secrets[newPw] = "manifest old_password (wrong)", "manifest new_password"
		case 5:
			row = u.ID + ",change_recovery_question,,,," + pw + ",Where was I born?," + answer
			secrets[pw], secrets[answer] = "manifest password", "manifest recovery_answer"
		case 6:
			ans := fmt.Sprintf("blue-%d", i) // the generated user's answer
			row = u.ID + ",forgot_password_set_new_password,false,," + newPw + ",,," + ans
			secrets[newPw], secrets[ans] = "manifest new_password", "manifest recovery_answer"
		}
		b.WriteString(row + "\n")
	}
	return b.String(), secrets
}

// orgSecrets lists every secret the org issued or accepts.
func orgSecrets(org *emulator.Org) map[string]string {
	s := map[string]string{org.Token(): "API token"}
	for _, e := range org.Log() {
		if e.Secret != "" {
			s[e.Secret] = "issued secret (" + e.Op + ")"
			if i := strings.LastIndex(e.Secret, "/"); i >= 0 && strings.Contains(e.Secret, "/signin/reset-password/") {
				s[e.Secret[i+1:]] = "reset token (" + e.Op + ")"
			}
		}
	}
	for _, u := range org.Users() {
		if v := org.LastSecret(u.ID); v != "" {
			s[v] = "last secret of " + u.ID
		}
	}
	for _, t := range org.AccessTokens() {
		s[t] = "access token"
	}
	return s
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// TestNoSecretLeaks runs success, failure, retries (5xx and dropped
// connections), a run interrupted by a cancelled feed and resumed, a dry
// run, a manifest on standard input and a PrivateKey run with DPoP, all
// with --verbose and --summary-json, and finds no secret in anything shown.
func TestNoSecretLeaks(t *testing.T) {
	org := emulator.New(emulator.Config{Seed: 11, Users: 50, Fail5xxRate: 0.15, DropRate: 0.08,
		Clients: []emulator.OAuthClient{{ID: "0oa-leak", PublicKeyPEM: cfgKey(t, "rsa-public.pem"), RequireDPoP: true}}})
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	manifest, secrets := leakManifest(org.Users())
	mpath := filepath.Join(dir, "m.csv")
	cfgWrite(t, mpath, manifest, 0o600)
	vars := map[string]string{"OKTA_CLIENT_ORGURL": srv.URL, "OKTA_CLIENT_TOKEN": org.Token()}
	common := []string{"--yes", "--verbose", "--rate", "0", "--workers", "4", "--backoff-min", "1ms", "--max-retries", "8"}
	var cap leakCapture
	run := func(name string, e *env, stdout, stderr *bytes.Buffer, args ...string) error {
		t.Helper()
		err := execute(e, args)
		printError(e.stderr, err) // as Main does
		cap.add(name+" stdout", stdout.String())
		cap.add(name+" stderr", stderr.String())
		if err != nil {
			cap.add(name+" error", fmt.Sprintf("%v | %+v | %#v", err, err, err))
		}
		return err
	}

	// 1. A dry run.
	e, so, se := leakEnv(vars, "", context.Background())
	_ = run("dry run", e, so, se, append([]string{"run", mpath, "--dry-run", "--summary-json", filepath.Join(dir, "dry.json")}, common...)...)

	// 2. A run interrupted once some rows are done, then resumed.
	feed, stop := context.WithCancelCause(context.Background())
	before := len(org.Log())
	go func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case <-tick.C:
				if len(org.Log()) >= before+15 {
					stop(&signalError{code: exitInterrupted})
					return
				}
			case <-deadline:
				stop(&signalError{code: exitInterrupted})
				return
			}
		}
	}()
	e, so, se = leakEnv(vars, "", feed)
	err := run("interrupted run", e, so, se, append([]string{"run", mpath, "--summary-json", filepath.Join(dir, "interrupted.json")}, common...)...)
	stop(nil)
	if code := exitCode(err); code != exitInterrupted {
		t.Errorf("interrupted run: exit %d (%v), want 130", code, err)
	}
	e, so, se = leakEnv(vars, "", context.Background())
	err = run("resumed run", e, so, se, append([]string{"run", mpath, "--summary-json", filepath.Join(dir, "resumed.json")}, common...)...)
	if code := exitCode(err); code != exitFailures {
		t.Errorf("resumed run: exit %d (%v), want 1 (wrong passwords fail)", code, err)
	}
	if !strings.Contains(se.String(), "resuming") {
		t.Errorf("the second run did not resume:\n%s", se)
	}

	// 3. A manifest on standard input (REPORT.manifest keeps it).
	stdinReport := filepath.Join(dir, "stdin.report.csv")
	e, so, se = leakEnv(vars, manifest, context.Background())
	_ = run("stdin run", e, so, se, append([]string{"run", "-", "--report", stdinReport, "--summary-json", filepath.Join(dir, "stdin.json")}, common...)...)

	// 4. PrivateKey with DPoP: access tokens and the key are secrets too.
	pkVars := map[string]string{"OKTA_CLIENT_ORGURL": srv.URL, "OKTA_CLIENT_AUTHORIZATIONMODE": "PrivateKey",
		"OKTA_CLIENT_CLIENTID": "0oa-leak", "OKTA_CLIENT_PRIVATEKEY": strings.ReplaceAll(cfgKey(t, "rsa-pkcs8.pem"), "\n", `\n`)}
	pkManifest := filepath.Join(dir, "pk.csv")
	cfgWrite(t, pkManifest, manifest, 0o600)
	e, so, se = leakEnv(pkVars, "", context.Background())
	_ = run("PrivateKey run", e, so, se, append([]string{"run", pkManifest, "--summary-json", filepath.Join(dir, "pk.json")}, common...)...)

	for _, name := range []string{"dry.json", "interrupted.json", "resumed.json", "stdin.json", "pk.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("--summary-json %s: %v", name, err)
			continue
		}
		cap.add("summary "+name, string(b))
	}

	// The fixture must have exercised what it claims to.
	st := org.Stats()
	if st.Faults5xx == 0 || st.Dropped == 0 || st.Applied == 0 {
		t.Errorf("faults not exercised: %+v", st)
	}
	if st.Token.Issued == 0 {
		t.Error("the PrivateKey run got no access token")
	}
	for k, v := range orgSecrets(org) {
		secrets[k] = v
	}
	for _, line := range strings.Split(cfgKey(t, "rsa-pkcs8.pem"), "\n") {
		if len(line) > 40 && !strings.HasPrefix(line, "-----") {
			secrets[line] = "private key material"
		}
	}
	issued := 0
	for _, kind := range secrets {
		if strings.HasPrefix(kind, "issued secret") {
			issued++
		}
	}
	if issued < 10 {
		t.Errorf("only %d secrets issued: the scan would prove little", issued)
	}

	if found := leakScan(cap.texts, secrets); len(found) > 0 {
		t.Errorf("secrets leaked:\n  %s", strings.Join(found, "\n  "))
	}

	// The files that hold secrets are 0600.
	for _, p := range []string{
		filepath.Join(dir, "m.report.csv"), filepath.Join(dir, "m.report.csv.checkpoint"),
		filepath.Join(dir, "m.dryrun.csv"), filepath.Join(dir, "m.dryrun.csv.checkpoint"),
		stdinReport, stdinReport + ".checkpoint", stdinReport + ".manifest",
		filepath.Join(dir, "pk.report.csv"), filepath.Join(dir, "pk.report.csv.checkpoint"),
	} {
		if m := fileMode(t, p); m != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", filepath.Base(p), m)
		}
	}
	// The reports did get the secrets (the scan looks for real values).
	rep, err := os.ReadFile(filepath.Join(dir, "m.report.csv"))
	if err != nil {
		t.Fatal(err)
	}
	inReport := 0
	for _, e := range org.Log() {
		if e.Secret != "" && bytes.Contains(rep, []byte(e.Secret)) {
			inReport++
		}
	}
	if inReport == 0 {
		t.Error("no issued secret is in the report: the fixture is broken")
	}
}

// TestLeakScanCatchesALeak proves the scan can fail: a secret written to
// the captured stderr through a test-only path (a debug log of a revealed
// value) is found, while the same secret logged as a secret.String is not.
func TestLeakScanCatchesALeak(t *testing.T) {
	sec := secret.New("TempPw-Leaky-8841")
	var stderr bytes.Buffer
	log := slog.New(slog.NewTextHandler(&stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	log.Debug("attempt", "temp", sec) // redacted by the type
	secrets := map[string]string{sec.Reveal(): "temp password"}
	if found := leakScan(map[string]string{"stderr": stderr.String()}, secrets); len(found) != 0 {
		t.Fatalf("a redacted value was reported as a leak: %v", found)
	}
	log.Debug("attempt", "temp", sec.Reveal()) // the deliberate leak
	found := leakScan(map[string]string{"stderr": stderr.String()}, secrets)
	if len(found) != 1 || found[0] != "stderr: temp password" {
		t.Fatalf("the scan missed a leaked secret: %v", found)
	}
}
