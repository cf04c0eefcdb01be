package main

// Tests of `credbatch report` on unfinished runs (issue 13): the pending
// count, the pending file, and the retryable rows of the repeatable actions
// with their reasons.

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

// rcJournal appends to the run's checkpoint what a stopped run leaves:
// outcomes, attempts and releases.
func rcJournal(t *testing.T, cp string, fn func(j *checkpoint.Journal)) {
	t.Helper()
	j, _, err := checkpoint.Open(cp)
	if err != nil {
		t.Fatal(err)
	}
	fn(j)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

func rcOutcome(t *testing.T, j *checkpoint.Journal, r *report.Row) {
	t.Helper()
	p := report.AppendRow(nil, r, report.JSONL)
	if err := j.Outcomes([]checkpoint.Outcome{{Line: r.Line, Outcome: string(r.Outcome), Payload: p}}); err != nil {
		t.Fatal(err)
	}
}

func rcAttempt(t *testing.T, j *checkpoint.Journal, line int) {
	t.Helper()
	if err := j.Attempt(checkpoint.Attempt{Line: line, UserID: "00udemo0000000000009", N: 1, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// A stopped run: the report holds 2 of the manifest's 10 rows. Of the 8
// pending, line 5 is finished in the checkpoint (the report lacks it: a
// crash between the two), line 6 was sent and may have applied, line 7 was
// sent and released (it did not apply); the others were never sent.
func TestReportPending(t *testing.T) {
	dir := t.TempDir()
	mp := filepath.Join(dir, "m.csv")
	os.WriteFile(mp, []byte(fixtureCSV), 0o600)
	rows := fixtureRows([]int{2, 3, 5, 6, 7, 8, 9, 11, 12, 13})
	rp := rcWriteRun(t, dir, "r.report.csv", mp, mp, rows[1:3], false) // lines 2 and 3
	rcJournal(t, rp+".checkpoint", func(j *checkpoint.Journal) {
		rcOutcome(t, j, rows[1])
		rcOutcome(t, j, rows[2])
		rcOutcome(t, j, rows[3]) // line 5: finished, not in the report
		rcAttempt(t, j, 6)
		rcAttempt(t, j, 7)
		if err := j.Release(7); err != nil {
			t.Fatal(err)
		}
	})

	// the summary: pending 8, exit 1 (and the rows in the report failed
	// or succeeded: line 3 failed 429)
	e, out, errb := rcEnv(nil)
	err := execute(e, []string{"report", rp})
	if exitCode(err) != exitFailures {
		t.Fatalf("exit %d (%v), want 1", exitCode(err), err)
	}
	if !regexp.MustCompile(`(?m)^pending +8$`).MatchString(out.String()) {
		t.Errorf("the summary lacks pending 8:\n%s", out)
	}
	if want := "credbatch: warning: 8 rows are still pending: rerun the original command to finish them first\n"; errb.String() != want {
		t.Errorf("stderr %q, want %q", errb, want)
	}
	e, out, _ = rcEnv(nil)
	execute(e, []string{"report", rp, "--json"})
	var js map[string]any
	if err := json.Unmarshal(out.Bytes(), &js); err != nil || js["pending"] != 8.0 {
		t.Errorf("--json: pending %v (%v):\n%s", js["pending"], err, out)
	}

	// the pending file: the rows never sent (and line 7, released), byte
	// for byte; lines 5 and 6 are the original command's to settle
	e, out, errb = rcEnv(nil)
	err = execute(e, []string{"report", rp, "--failed-manifest", filepath.Join(dir, "next.csv")})
	if exitCode(err) != exitFailures {
		t.Fatalf("exit %d (%v), want 1\n%s", exitCode(err), err, errb)
	}
	lines := strings.SplitAfter(fixtureCSV, "\r\n")
	want := lines[0] + strings.Join(lines[6:], "") // the rows on lines 7, 8, 9-10, 11, 12, 13
	pending := filepath.Join(dir, "next.pending.csv")
	if got := rcRead(t, pending); got != want {
		t.Errorf("pending file:\n%q\nwant\n%q", got, want)
	}
	rcMode(t, pending, 0o600)
	m, err := jobs.Open(pending)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Validate(jobs.Defaults{}); err != nil {
		t.Errorf("the pending file is not a valid manifest: %v", err)
	}
	for _, l := range []string{
		"credbatch: wrote " + pending + ": 6 rows (never sent: rerun the original command to finish them; run this file instead only if that run is abandoned, or they would be sent twice)\n",
		"credbatch: warning: 1 pending row finished in the checkpoint but not yet in the report: rerun the original command to complete the report (it sends nothing for it)\n",
		"credbatch: warning: 1 pending row (line 6) was sent before the run stopped and may have applied: rerun the original command, which repeats it or marks it in doubt by the action's rule; it is in no file\n",
		"credbatch: warning: 8 rows are still pending: rerun the original command to finish them first\n",
	} {
		if !strings.Contains(errb.String(), l) {
			t.Errorf("stderr lacks %q:\n%s", l, errb)
		}
	}
	rcNoSecrets(t, out.String(), errb.String())
}

// SPEC.md "Report": a row of a secret-issuing action whose answer was lost
// is retryable, and the reason is printed with the file; the in-doubt file
// keeps the password-checking actions.
func TestReportRetryableReasons(t *testing.T) {
	dir := t.TempDir()
	manifest := "user,action,send_email,old_password,new_password\n" +
		"ana.lopez@example.com,reset_password,false,,\n" + // 2 in_doubt
		"ben.okafor@example.com,expire_password_with_temp_password,,,\n" + // 3 failed 503
		"chen.wei@example.com,expire_password,,,\n" + // 4 in_doubt
		"dana.kim@example.com,clear_sessions,,,\n" + // 5 failed CB_NETWORK
		"eli.moss@example.com,change_password,," + pwOld + "," + pwNew + "\n" + // 6 in_doubt
		"fay.ng@example.com,forgot_password,false,,\n" + // 7 failed 429
		"gus.hale@example.com,forgot_password,false,,\n" // 8 failed CB_TIMEOUT
	mp := filepath.Join(dir, "m.csv")
	os.WriteFile(mp, []byte(manifest), 0o600)
	row := func(line int, action string, o report.Outcome, status int, code string) *report.Row {
		return &report.Row{Line: line, User: "u", Action: action, Outcome: o, HTTPStatus: status, ErrorCode: code, Attempts: 1}
	}
	rows := []*report.Row{
		row(2, "reset_password", report.InDoubt, 0, report.CodeTimeout),
		row(3, "expire_password_with_temp_password", report.Failed, 503, "E0000009"),
		row(4, "expire_password", report.InDoubt, 0, report.CodeNetwork),
		row(5, "clear_sessions", report.Failed, 0, report.CodeNetwork),
		row(6, "change_password", report.InDoubt, 0, report.CodeTimeout),
		row(7, "forgot_password", report.Failed, 429, "E0000047"),
		row(8, "forgot_password", report.Failed, 0, report.CodeTimeout),
	}
	rp := rcWriteRun(t, dir, "r.report.csv", mp, mp, rows, false)
	// rcWriteRun records 10 manifest rows; this manifest has 7
	os.Remove(rp + ".checkpoint")
	sha, size, _ := (&jobs.Manifest{Path: mp, Format: jobs.CSV}).Fingerprint()
	j, err := checkpoint.Create(rp+".checkpoint", checkpoint.Header{OrgURL: "http://127.0.0.1:1", ManifestPath: mp,
		ManifestSHA256: sha, ManifestSize: size, Rows: 7, ReportPath: rp, ReportFormat: "csv"})
	if err != nil {
		t.Fatal(err)
	}
	j.Close()

	e, out, errb := rcEnv(nil)
	err = execute(e, []string{"report", rp, "--failed-manifest", filepath.Join(dir, "next")})
	if exitCode(err) != exitFailures {
		t.Fatalf("exit %d (%v)\n%s", exitCode(err), err, errb)
	}
	ml := strings.SplitAfter(manifest, "\n")
	if got, want := rcRead(t, filepath.Join(dir, "next.retryable.csv")), ml[0]+ml[1]+ml[2]+ml[3]+ml[4]+ml[6]+ml[7]; got != want {
		t.Errorf("retryable file:\n%s\nwant\n%s", got, want)
	}
	if got, want := rcRead(t, filepath.Join(dir, "next.in-doubt.csv")), ml[0]+ml[5]; got != want {
		t.Errorf("in-doubt file:\n%s\nwant\n%s", got, want)
	}
	for _, l := range []string{
		"credbatch: wrote " + filepath.Join(dir, "next.retryable.csv") + ": 6 rows (429, 5xx or no answer: run it as it is)\n" +
			"credbatch:   3 of them (lines 2, 3 and 8): a secret may have been issued and lost: run again to issue a new one\n" +
			"credbatch:   2 of them (lines 4 and 5): it may have applied, and applying it again is harmless: run it again\n",
		"credbatch: wrote " + filepath.Join(dir, "next.in-doubt.csv") + ": 1 row (check these users in Okta first: an earlier attempt may have applied)\n",
	} {
		if !strings.Contains(errb.String(), l) {
			t.Errorf("stderr lacks %q:\n%s", l, errb)
		}
	}
	if strings.Contains(errb.String(), "pending") {
		t.Errorf("a pending warning with no row pending:\n%s", errb)
	}
	rcNoSecrets(t, out.String(), errb.String())
}

// Without its checkpoint the report cannot tell what is pending: it says
// so and still summarises; a run holding the checkpoint means rows are
// pending (exit 1); a checkpoint of fewer rows than the report is not its.
func TestReportPendingUnknown(t *testing.T) {
	dir := t.TempDir()
	mp := filepath.Join(dir, "m.csv")
	os.WriteFile(mp, []byte(fixtureCSV), 0o600)
	rows := fixtureRows([]int{2, 3, 5, 6, 7, 8, 9, 11, 12, 13})[:2] // skipped, succeeded
	rp := rcWriteRun(t, dir, "r.report.csv", mp, mp, rows, false)
	cp := rp + ".checkpoint"
	moved := filepath.Join(dir, "moved.checkpoint")
	if err := os.Rename(cp, moved); err != nil {
		t.Fatal(err)
	}

	e, out, errb := rcEnv(nil)
	if err := execute(e, []string{"report", rp, "--json"}); err != nil {
		t.Fatalf("no checkpoint, all rows fine: %v (exit %d)", err, exitCode(err))
	}
	var js map[string]any
	if err := json.Unmarshal(out.Bytes(), &js); err != nil {
		t.Fatal(err)
	}
	if v, ok := js["pending"]; !ok || v != nil {
		t.Errorf(`"pending": %v (present %v), want null`, v, ok)
	}
	if want := "credbatch: warning: cannot count the pending rows: no checkpoint " + cp + " (pass --checkpoint PATH if the run used another)\n"; errb.String() != want {
		t.Errorf("stderr %q, want %q", errb, want)
	}
	// named, it must be there
	e, _, _ = rcEnv(nil)
	if err := execute(e, []string{"report", rp, "--checkpoint", cp}); exitCode(err) != exitUsage {
		t.Errorf("a missing --checkpoint: exit %d (%v), want 2", exitCode(err), err)
	}
	// given: 8 pending
	e, out, _ = rcEnv(nil)
	if err := execute(e, []string{"report", rp, "--checkpoint", moved}); exitCode(err) != exitFailures || !regexp.MustCompile(`(?m)^pending +8$`).MatchString(out.String()) {
		t.Errorf("--checkpoint: exit %d (%v), want 1 and pending 8:\n%s", exitCode(err), err, out)
	}

	// a run holds it: the summary, a warning, exit 1
	j, _, err := checkpoint.Open(moved)
	if err != nil {
		t.Fatal(err)
	}
	e, out, errb = rcEnv(nil)
	err = execute(e, []string{"report", rp, "--checkpoint", moved})
	j.Close()
	if exitCode(err) != exitFailures || !strings.Contains(out.String(), "rows ") || strings.Contains(out.String(), "pending") {
		t.Errorf("a run in progress: exit %d (%v):\n%s", exitCode(err), err, out)
	}
	if !strings.Contains(errb.String(), "credbatch: warning: a credbatch run is still using "+moved+": its rows are pending until it ends\n") {
		t.Errorf("stderr %q", errb)
	}

	// a checkpoint of another, smaller run
	small := filepath.Join(dir, "small.checkpoint")
	j, err = checkpoint.Create(small, checkpoint.Header{OrgURL: "http://127.0.0.1:1", Rows: 1, ReportPath: rp, ReportFormat: "csv"})
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	e, _, _ = rcEnv(nil)
	err = execute(e, []string{"report", rp, "--checkpoint", small})
	var ue *usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "holds 2 rows, but the run of the checkpoint "+small+" has only 1") {
		t.Errorf("a smaller run's checkpoint: %v", err)
	}
}

func TestLineList(t *testing.T) {
	many := []int{29, 2, 3, 5, 7, 11, 13, 17, 19, 23}
	for i := 0; i < 37; i++ {
		many = append(many, 100+i)
	}
	for _, tc := range []struct {
		in   []int
		want string
	}{
		{[]int{4}, "line 4"},
		{[]int{12, 4, 9}, "lines 4, 9 and 12"},
		{many, "lines 2, 3, 5, 7, 11, 13, 17, 19, 23, 29 and 37 more"},
	} {
		if got := lineList(tc.in); got != tc.want {
			t.Errorf("lineList(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
