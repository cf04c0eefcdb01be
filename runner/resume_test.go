package runner_test

import (
	"strings"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

// A resume after a crash: a password-checking row that was on the wire ends
// in_doubt without being sent; finished rows are not sent again, and their
// (user, action) stays claimed.
func TestResumeSettlesInFlightAndSkipsDone(t *testing.T) {
	e := newEnv(t, emulator.Config{UserList: activeUsers(4)})
	rows := []mrow{
		0: rowFor(jobs.ChangePassword, mkUser(1, emulator.StatusActive)), // in flight at the crash
		1: rowFor(jobs.ExpirePassword, mkUser(2, emulator.StatusActive)), // finished before the crash
		2: rowFor(jobs.ExpirePassword, mkUser(3, emulator.StatusActive)),
		3: rowFor(jobs.ChangeRecoveryQuestion, mkUser(4, emulator.StatusActive)),
		4: {user: loginOf(2), action: string(jobs.ExpirePassword)}, // the finished row's user and action again
	}
	f := e.prepare(rows)

	crashAt := time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)
	j, _, err := checkpoint.Open(f.cpPath)
	if err != nil {
		t.Fatalf("checkpoint.Open: %v", err)
	}
	if err := j.Attempt(checkpoint.Attempt{Line: lineOf(0), UserID: uid(1), N: 1, At: crashAt}); err != nil {
		t.Fatalf("Attempt: %v", err)
	}
	done := &report.Row{Line: lineOf(1), User: uid(2), UserID: uid(2), Action: string(jobs.ExpirePassword),
		Outcome: report.Succeeded, HTTPStatus: 200, UserStatus: "PASSWORD_EXPIRED", Attempts: 1,
		StartedAt: crashAt, FinishedAt: crashAt}
	if err := j.Outcome(checkpoint.Outcome{Line: lineOf(1), Outcome: string(report.Succeeded),
		Payload: report.AppendRow(nil, done, report.JSONL)}); err != nil {
		t.Fatalf("Outcome: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	r := e.execute(f, baseOptions())
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	// The report holds the finished row once: completed from the journal, as
	// `credbatch run` does on a resume, and not recorded again by the runner.
	if len(r.rows) != len(rows) {
		t.Fatalf("the report has %d rows, want %d", len(r.rows), len(rows))
	}
	if row := r.row(t, 1); row.Outcome != report.Succeeded || !row.FinishedAt.Equal(crashAt) {
		t.Errorf("the finished row changed: %s", describe(row))
	}
	if r.res.Counts[report.Succeeded] != 2 || r.res.Counts[report.InDoubt] != 1 || r.res.Counts[report.Failed] != 1 {
		t.Errorf("this run's counts %v, want 2 succeeded, 1 in_doubt, 1 failed", r.res.Counts)
	}
	settled := r.row(t, 0)
	if settled.Outcome != report.InDoubt || !strings.Contains(settled.ErrorSummary, mayHaveApplied) {
		t.Errorf("%s: want in_doubt, %q", describe(settled), mayHaveApplied)
	}
	if settled.Attempts != 1 || !settled.StartedAt.Equal(crashAt) || settled.UserID != uid(1) {
		t.Errorf("%s: want attempts 1 (from the journal), started_at %s, user_id %s; got started_at %s",
			describe(settled), crashAt, uid(1), settled.StartedAt)
	}
	for _, k := range []int{2, 3} {
		if row := r.row(t, k); row.Outcome != report.Succeeded || row.Attempts != 1 {
			t.Errorf("%s: want succeeded in 1 attempt", describe(row))
		}
	}
	if dup := r.row(t, 4); dup.Outcome != report.Failed || dup.ErrorCode != report.CodeDuplicateUser {
		t.Errorf("%s: want failed %s (line %d already did this)", describe(dup), report.CodeDuplicateUser, lineOf(1))
	}
	for _, id := range []string{uid(1), uid(2)} {
		if es := orgActions(e.org, id); len(es) != 0 {
			t.Errorf("%s: %d action requests on resume, want none", id, len(es))
		}
	}
	if u, _ := e.org.User(uid(1)); u.Password != passwordOf(1) {
		t.Errorf("the in-doubt change_password was sent again")
	}
	if r.state.Done.Count() != len(rows) {
		t.Errorf("checkpoint holds %d outcomes, want %d", r.state.Done.Count(), len(rows))
	}
	if len(r.state.LastAttempt) != 0 {
		t.Errorf("checkpoint still has open attempts: %v", r.state.LastAttempt)
	}
	if r.res.Pending != 0 {
		t.Errorf("Pending %d, want 0", r.res.Pending)
	}
}
