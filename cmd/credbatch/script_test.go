package main

// End-to-end tests of the credbatch command: every testdata/script/*.txtar
// runs the real binary (this test binary, re-executed as "credbatch")
// against a fresh in-process Okta emulator on 127.0.0.1, loaded with the
// demo org of examples/users.json. The custom commands below let a script
// assert on what the emulator saw (emu-count, emu-posts, emu-secret-matches),
// on the report (report-row, report-rows, wait-report), on file modes (mode),
// on secrets never leaking (no-secrets), and on how a signalled background
// run ended (signal, bg-exit).

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/report"
)

// scriptToken is the emulator's API token in every script. no-secrets
// checks that it never appears in the output.
const scriptToken = "e2e-SSWS-token-7f3a9c1d5b2e8f4a6c0d9e1b"

// usersFile is the demo org every script starts from.
const usersFile = "../../examples/users.json"

// bgWatchdog bounds a signalled background run: if it has not exited this
// long after the signal, it is killed (and bg-exit then fails).
const bgWatchdog = 30 * time.Second

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"credbatch": func() { os.Exit(Main()) },
	})
}

// scriptState is one script's emulator and bookkeeping, kept in
// testscript.Env.Values under stateKey{}.
type scriptState struct {
	org   *emulator.Org
	users []emulator.User
	// signalled are the background commands the last `signal` sent a
	// signal to, with their watchdogs; bg-exit reads their exit status
	// after `wait` (which orders the read after the process's end).
	signalled []*exec.Cmd
	watchdogs []*time.Timer
}

type stateKey struct{}

func TestScripts(t *testing.T) {
	raw, err := os.ReadFile(usersFile)
	if err != nil {
		t.Fatalf("reading the demo users: %v", err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			users, err := emulator.LoadUsers(bytes.NewReader(raw))
			if err != nil {
				return fmt.Errorf("loading %s: %w", usersFile, err)
			}
			org := emulator.New(emulator.Config{Seed: 7, UserList: users, Token: scriptToken})
			srv := httptest.NewServer(org) // listens on 127.0.0.1
			env.Defer(srv.Close)
			env.Setenv("ORG_URL", srv.URL)
			env.Setenv("ORG_HOSTPORT", strings.TrimPrefix(srv.URL, "http://"))
			env.Setenv("OKTA_CLIENT_TOKEN", scriptToken)
			env.Setenv("SCRIPT_TOKEN", scriptToken)
			env.Values[stateKey{}] = &scriptState{org: org, users: users}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"emu-count":          cmdEmuCount,
			"emu-posts":          cmdEmuPosts,
			"emu-secret-matches": cmdEmuSecretMatches,
			"no-secrets":         cmdNoSecrets,
			"report-row":         cmdReportRow,
			"report-rows":        cmdReportRows,
			"mode":               cmdMode,
			"wait-report":        cmdWaitReport,
			"signal":             cmdSignal,
			"bg-exit":            cmdBgExit,
			"gen-manifest":       cmdGenManifest,
			"status":             cmdStatus,
		},
	})
}

func state(ts *testscript.TestScript) *scriptState {
	s, ok := ts.Value(stateKey{}).(*scriptState)
	if !ok {
		ts.Fatalf("no emulator state: Setup did not run")
	}
	return s
}

func noNeg(ts *testscript.TestScript, neg bool, name string) {
	if neg {
		ts.Fatalf("unsupported: ! %s", name)
	}
}

func atoi(ts *testscript.TestScript, s, what string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		ts.Fatalf("%s: want a number, got %q", what, s)
	}
	return n
}

// isCredentialOp reports whether op is one of the credential operations
// (the seven POSTs and DELETE sessions): what "post" counts.
func isCredentialOp(op string) bool {
	switch op {
	case emulator.OpExpirePassword, emulator.OpExpirePasswordWithTempPassword,
		emulator.OpResetPassword, emulator.OpForgotPassword,
		emulator.OpForgotPasswordSetNewPassword, emulator.OpChangePassword,
		emulator.OpChangeRecoveryQuestion, emulator.OpRevokeUserSessions:
		return true
	}
	return false
}

var knownOps = map[string]bool{
	"all": true, "post": true, "get": true,
	emulator.OpGetUser: true, emulator.OpGetMe: true,
	emulator.OpExpirePassword: true, emulator.OpExpirePasswordWithTempPassword: true,
	emulator.OpResetPassword: true, emulator.OpForgotPassword: true,
	emulator.OpForgotPasswordSetNewPassword: true, emulator.OpChangePassword: true,
	emulator.OpChangeRecoveryQuestion: true, emulator.OpRevokeUserSessions: true,
}

func opMatches(filter, op string) bool {
	switch filter {
	case "all":
		return true
	case "post":
		return isCredentialOp(op)
	case "get":
		return op == emulator.OpGetUser || op == emulator.OpGetMe
	}
	return filter == op
}

// emu-count [OP [USER]] N: the emulator logged exactly N requests, of OP
// ("all", "post" = any credential operation, "get", or an operation name such
// as expirePassword) for USER (an ID or login; its ID is matched).
func cmdEmuCount(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 3 {
		ts.Fatalf("usage: emu-count [OP [USER]] N")
	}
	st := state(ts)
	want := atoi(ts, args[len(args)-1], "emu-count N")
	filter, userID := "all", ""
	if len(args) >= 2 {
		filter = args[0]
		if !knownOps[filter] {
			ts.Fatalf("emu-count: unknown operation %q", filter)
		}
	}
	if len(args) == 3 {
		u, ok := st.org.User(args[1])
		if !ok {
			ts.Fatalf("emu-count: no user %q in the org", args[1])
		}
		userID = u.ID
	}
	got := 0
	for _, e := range st.org.Log() {
		if opMatches(filter, e.Op) && (userID == "" || e.UserID == userID) {
			got++
		}
	}
	if (got == want) == neg {
		ts.Fatalf("emu-count %s: got %d requests, want %s%d", strings.Join(args, " "), got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
	ts.Logf("emulator: %d %s requests", got, filter)
}

// emu-posts N: exactly N credential requests (POSTs and DELETE sessions).
func cmdEmuPosts(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: emu-posts N")
	}
	cmdEmuCount(ts, neg, []string{"post", args[0]})
}

// readReport reads a whole report (strictly) into rows.
func readReport(ts *testscript.TestScript, path string) []*report.Row {
	var rows []*report.Row
	err := report.ReadFile(ts.MkAbs(path), func(r *report.Row) error {
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		ts.Fatalf("reading report %s: %v", path, err)
	}
	return rows
}

// emu-secret-matches REPORT: every succeeded row of an action that issues a
// secret carries the one the emulator issued (a temp password, or a reset URL
// unless Okta emailed it) in the last request that applied the row's
// operation to its user — org.LastSecret(user) when that user got no later
// secret, which is checked too. At least one secret must have been checked.
func cmdEmuSecretMatches(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "emu-secret-matches")
	if len(args) != 1 {
		ts.Fatalf("usage: emu-secret-matches REPORT")
	}
	st := state(ts)
	log := st.org.Log()
	checked := 0
	for _, r := range readReport(ts, args[0]) {
		if r.Outcome != report.Succeeded {
			continue
		}
		var op string
		var got string
		switch r.Action {
		case "expire_password_with_temp_password":
			op, got = emulator.OpExpirePasswordWithTempPassword, r.TempPassword.Reveal()
			if r.ResetURL.Reveal() != "" {
				ts.Fatalf("line %d: %s row has a reset_url", r.Line, r.Action)
			}
		case "reset_password":
			op, got = emulator.OpResetPassword, r.ResetURL.Reveal()
		case "forgot_password":
			op, got = emulator.OpForgotPassword, r.ResetURL.Reveal()
		default:
			if r.TempPassword.Reveal() != "" || r.ResetURL.Reveal() != "" {
				ts.Fatalf("line %d: %s row carries a secret it cannot have", r.Line, r.Action)
			}
			continue
		}
		if r.UserID == "" {
			ts.Fatalf("line %d: succeeded without a user_id", r.Line)
		}
		var last *emulator.LogEntry
		for i := range log {
			if log[i].Op == op && log[i].UserID == r.UserID && log[i].Applied {
				last = &log[i]
			}
		}
		if last == nil {
			ts.Fatalf("line %d: succeeded, but the emulator applied no %s for %s", r.Line, op, r.UserID)
		}
		if last.Emailed {
			if got != "" {
				ts.Fatalf("line %d: the link was emailed, yet the report has a reset_url", r.Line)
			}
			continue
		}
		// The secret of the last request that applied this row's operation
		// to its user; org.LastSecret when no later secret replaced it.
		want := last.Secret
		if got == "" || want == "" {
			ts.Fatalf("line %d (%s, %s): the report or the emulator has no secret (report empty: %v, emulator empty: %v)",
				r.Line, r.Action, r.UserID, got == "", want == "")
		}
		if got != want {
			ts.Fatalf("line %d (%s, %s): the report's secret is not the one the emulator issued", r.Line, r.Action, r.UserID)
		}
		if latest := lastSecretEntry(log, r.UserID); latest == last && got != st.org.LastSecret(r.UserID) {
			ts.Fatalf("line %d (%s, %s): the report's secret is not org.LastSecret", r.Line, r.Action, r.UserID)
		}
		checked++
	}
	if checked == 0 {
		ts.Fatalf("emu-secret-matches %s: no succeeded row carried a secret to check", args[0])
	}
	ts.Logf("%d secrets match the emulator's", checked)
}

// lastSecretEntry is the last log entry that issued the user a secret.
func lastSecretEntry(log []emulator.LogEntry, userID string) *emulator.LogEntry {
	var last *emulator.LogEntry
	for i := range log {
		if log[i].UserID == userID && log[i].Applied && (log[i].Secret != "" || log[i].Emailed) {
			last = &log[i]
		}
	}
	return last
}

// secretsOf lists every secret a script may have seen: the token, every
// secret in the emulator's log and its last secret per user, every password
// and answer of the demo org, and every password or answer in the
// manifests ($WORK/**/*.csv and *.jsonl that are not reports).
func secretsOf(ts *testscript.TestScript, st *scriptState) []string {
	set := map[string]bool{scriptToken: true}
	for _, e := range st.org.Log() {
		set[e.Secret] = true
	}
	for _, u := range st.users {
		set[u.Password] = true
		set[u.RecoveryAnswer] = true
		set[st.org.LastSecret(u.ID)] = true
	}
	secretCols := map[string]bool{"old_password": true, "new_password": true, "password": true, "recovery_answer": true}
	work := ts.Getenv("WORK")
	_ = filepath.WalkDir(work, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		name := d.Name()
		if strings.Contains(name, ".report.") || strings.Contains(name, ".dryrun.") || strings.Contains(name, ".checkpoint") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		switch strings.ToLower(filepath.Ext(name)) {
		case ".csv":
			recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
			if err != nil || len(recs) == 0 {
				return nil
			}
			for i, h := range recs[0] {
				if !secretCols[strings.ToLower(strings.TrimSpace(h))] {
					continue
				}
				for _, rec := range recs[1:] {
					if i < len(rec) {
						set[rec[i]] = true
					}
				}
			}
		case ".jsonl":
			for _, l := range bytes.Split(b, []byte("\n")) {
				var obj map[string]any
				if json.Unmarshal(l, &obj) != nil {
					continue
				}
				for k, v := range obj {
					if s, ok := v.(string); ok && secretCols[strings.ToLower(k)] {
						set[s] = true
					}
				}
			}
		}
		return nil
	})
	var out []string
	for s := range set {
		if len(s) >= 6 { // shorter strings are no secrets here and would match by chance
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// no-secrets [FILE...]: the last command's stdout and stderr, and each named
// file, hold none of the secrets the script may have seen. Negated, some
// named file (or the output) holds one: how a script shows the check bites,
// e.g. on a report.
func cmdNoSecrets(ts *testscript.TestScript, neg bool, args []string) {
	st := state(ts)
	secrets := secretsOf(ts, st)
	if len(secrets) < 10 {
		ts.Fatalf("no-secrets: only %d secrets known: the check would prove little", len(secrets))
	}
	found := false
	for _, name := range append([]string{"stdout", "stderr"}, args...) {
		text := ts.ReadFile(name)
		for i, s := range secrets {
			if strings.Contains(text, s) {
				if neg {
					found = true
					continue
				}
				// Never print the secret itself: name it by index and length.
				ts.Fatalf("no-secrets: %s holds secret #%d of %d (%d characters)", name, i, len(secrets), len(s))
			}
		}
	}
	if neg && !found {
		ts.Fatalf("! no-secrets: none of %d secrets found in the output or %v", len(secrets), args)
	}
	ts.Logf("no-secrets: %d secrets checked", len(secrets))
}

// report-row REPORT LINE OUTCOME [ERROR_CODE] [FIELD=VALUE | FIELD~REGEXP]...:
// the report has exactly one row for manifest line LINE, with this outcome
// and error code (empty when not given). FIELD is a report column.
func cmdReportRow(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "report-row")
	if len(args) < 3 {
		ts.Fatalf("usage: report-row REPORT LINE OUTCOME [ERROR_CODE] [FIELD=VALUE|FIELD~REGEXP]...")
	}
	line := atoi(ts, args[1], "report-row LINE")
	wantOutcome := args[2]
	if _, err := report.ParseOutcome(wantOutcome); err != nil {
		ts.Fatalf("report-row: %v", err)
	}
	wantCode := ""
	rest := args[3:]
	if len(rest) > 0 && !strings.ContainsAny(rest[0], "=~") {
		wantCode, rest = rest[0], rest[1:]
	}
	var row *report.Row
	for _, r := range readReport(ts, args[0]) {
		if r.Line == line {
			if row != nil {
				ts.Fatalf("report %s has two rows for line %d", args[0], line)
			}
			row = r
		}
	}
	if row == nil {
		ts.Fatalf("report %s has no row for line %d", args[0], line)
	}
	if string(row.Outcome) != wantOutcome || row.ErrorCode != wantCode {
		ts.Fatalf("line %d: outcome %s, error_code %q (summary %q); want %s, %q",
			line, row.Outcome, row.ErrorCode, row.ErrorSummary, wantOutcome, wantCode)
	}
	fields := map[string]string{
		"user": row.User, "user_id": row.UserID, "action": row.Action,
		"http_status": strconv.Itoa(row.HTTPStatus), "error_summary": row.ErrorSummary,
		"okta_request_id": row.OktaRequestID, "user_status": row.UserStatus,
		"attempts":          strconv.Itoa(row.Attempts),
		"has_temp_password": strconv.FormatBool(row.TempPassword.Reveal() != ""),
		"has_reset_url":     strconv.FormatBool(row.ResetURL.Reveal() != ""),
		"has_started_at":    strconv.FormatBool(!row.StartedAt.IsZero()),
	}
	for _, f := range rest {
		if k, v, ok := strings.Cut(f, "="); ok && !strings.Contains(k, "~") {
			got, known := fields[k]
			if !known {
				ts.Fatalf("report-row: unknown field %q", k)
			}
			if got != v {
				ts.Fatalf("line %d: %s is %q, want %q", line, k, got, v)
			}
			continue
		}
		k, pat, _ := strings.Cut(f, "~")
		got, known := fields[k]
		if !known {
			ts.Fatalf("report-row: unknown field %q", k)
		}
		re, err := regexp.Compile(pat)
		if err != nil {
			ts.Fatalf("report-row: %v", err)
		}
		if !re.MatchString(got) {
			ts.Fatalf("line %d: %s is %q, want a match of %q", line, k, got, pat)
		}
	}
}

// report-rows REPORT N [FIRST]: the report holds exactly N rows, one per line
// number; with FIRST, the lines are exactly FIRST .. FIRST+N-1.
func cmdReportRows(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "report-rows")
	if len(args) != 2 && len(args) != 3 {
		ts.Fatalf("usage: report-rows REPORT N [FIRST]")
	}
	want := atoi(ts, args[1], "report-rows N")
	seen := map[int]int{}
	rows := readReport(ts, args[0])
	for _, r := range rows {
		seen[r.Line]++
		if seen[r.Line] > 1 {
			ts.Fatalf("report %s: line %d appears %d times", args[0], r.Line, seen[r.Line])
		}
	}
	if len(rows) != want {
		ts.Fatalf("report %s: %d rows, want %d", args[0], len(rows), want)
	}
	if len(args) == 3 {
		first := atoi(ts, args[2], "report-rows FIRST")
		for l := first; l < first+want; l++ {
			if seen[l] != 1 {
				ts.Fatalf("report %s: no row for line %d", args[0], l)
			}
		}
	}
}

// mode FILE PERM: the file's permission bits are exactly PERM (octal).
func cmdMode(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "mode")
	if len(args) != 2 {
		ts.Fatalf("usage: mode FILE PERM")
	}
	want, err := strconv.ParseUint(args[1], 8, 32)
	if err != nil {
		ts.Fatalf("mode: %q is not an octal mode", args[1])
	}
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	if got := fi.Mode().Perm(); uint64(got) != want {
		ts.Fatalf("%s has mode %04o, want %04o", args[0], got, want)
	}
}

// completeRows counts the complete rows of a report being written: its
// complete lines, less the CSV header.
func completeRows(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n := bytes.Count(b, []byte("\n"))
	if strings.EqualFold(filepath.Ext(path), ".csv") && n > 0 {
		n--
	}
	return n
}

// wait-report REPORT N: poll until the report holds at least N complete rows;
// fail after 20 seconds.
func cmdWaitReport(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "wait-report")
	if len(args) != 2 {
		ts.Fatalf("usage: wait-report REPORT N")
	}
	want := atoi(ts, args[1], "wait-report N")
	path := ts.MkAbs(args[0])
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := completeRows(path)
		if got >= want {
			ts.Logf("%s has %d rows", args[0], got)
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s has %d rows after 20s, want %d", args[0], got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signal INT|TERM: send the signal to every command running in the
// background and remember them for bg-exit. A watchdog kills any of them
// still running 30 seconds later, so a run that ignores the signal fails
// the script instead of hanging it.
func cmdSignal(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "signal")
	if len(args) != 1 {
		ts.Fatalf("usage: signal INT|TERM|HUP")
	}
	var sig os.Signal
	switch args[0] {
	case "INT":
		sig = os.Interrupt
	case "TERM":
		sig = syscall.SIGTERM
	case "HUP":
		sig = syscall.SIGHUP
	default:
		ts.Fatalf("signal: unknown signal %q", args[0])
	}
	st := state(ts)
	cmds := ts.BackgroundCmds()
	if len(cmds) == 0 {
		ts.Fatalf("signal: no command runs in the background")
	}
	st.signalled = cmds
	for _, c := range cmds {
		ts.Check(c.Process.Signal(sig))
		p := c.Process
		st.watchdogs = append(st.watchdogs, time.AfterFunc(bgWatchdog, func() { _ = p.Kill() }))
	}
}

// bg-exit N: after `wait`, every command the last `signal` reached exited
// with status N.
func cmdBgExit(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "bg-exit")
	if len(args) != 1 {
		ts.Fatalf("usage: bg-exit N")
	}
	want := atoi(ts, args[0], "bg-exit N")
	st := state(ts)
	if len(st.signalled) == 0 {
		ts.Fatalf("bg-exit: no command was signalled")
	}
	if len(ts.BackgroundCmds()) != 0 {
		ts.Fatalf("bg-exit: run `wait` first")
	}
	for _, w := range st.watchdogs {
		w.Stop()
	}
	for _, c := range st.signalled {
		if c.ProcessState == nil {
			ts.Fatalf("bg-exit: %s has not been waited for", c.Path)
		}
		if got := c.ProcessState.ExitCode(); got != want {
			ts.Fatalf("background command exited with %d (%v), want %d", got, c.ProcessState, want)
		}
	}
	st.signalled, st.watchdogs = nil, nil
}

// gen-manifest FILE N: write a CSV manifest of N rows over the demo org's
// users, cycling through users, then through five actions that need no
// password (reset_password and forgot_password with send_email=false). The
// first 100 rows name users by ID: distinct (user, action) pairs. The next
// 100 name the same users by login, the next by login short name: valid
// manifest rows that are duplicates once resolved (CB_DUPLICATE_USER).
func cmdGenManifest(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "gen-manifest")
	if len(args) != 2 {
		ts.Fatalf("usage: gen-manifest FILE N")
	}
	n := atoi(ts, args[1], "gen-manifest N")
	st := state(ts)
	actions := []struct{ name, sendEmail string }{
		{"clear_sessions", ""}, {"expire_password", ""}, {"expire_password_with_temp_password", ""},
		{"reset_password", "false"}, {"forgot_password", "false"},
	}
	pairs := len(st.users) * len(actions)
	if n > 3*pairs {
		ts.Fatalf("gen-manifest: at most %d rows", 3*pairs)
	}
	var b strings.Builder
	b.WriteString("user,action,send_email\n")
	for i := 0; i < n; i++ {
		u := st.users[i%len(st.users)]
		a := actions[(i%pairs)/len(st.users)]
		name := u.ID
		switch i / pairs {
		case 1:
			name = u.Login
		case 2:
			name, _, _ = strings.Cut(u.Login, "@")
		}
		fmt.Fprintf(&b, "%s,%s,%s\n", name, a.name, a.sendEmail)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(b.String()), 0o600))
}

// status N PROGRAM [ARGS...]: run PROGRAM (as exec does: its stdout and
// stderr become the last command's) and require exit status N exactly.
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "status")
	if len(args) < 2 {
		ts.Fatalf("usage: status N PROGRAM [ARGS...]")
	}
	want := atoi(ts, args[0], "status N")
	err := ts.Exec(args[1], args[2:]...)
	got := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}
