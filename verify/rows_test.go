package verify

import (
	"testing"
	"time"

	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

func TestNeedsVerdict(t *testing.T) {
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, tc := range []struct {
		name string
		row  report.Row
		want bool
	}{
		{"in_doubt", report.Row{Outcome: report.InDoubt, Attempts: 1, StartedAt: at}, true},
		{"failed CB_NETWORK", report.Row{Outcome: report.Failed, ErrorCode: report.CodeNetwork, Attempts: 6, StartedAt: at}, true},
		{"failed CB_TIMEOUT", report.Row{Outcome: report.Failed, ErrorCode: report.CodeTimeout, Attempts: 6, StartedAt: at}, true},
		{"failed 500", report.Row{Outcome: report.Failed, HTTPStatus: 500, ErrorCode: "E0000009", Attempts: 6, StartedAt: at}, true},
		{"failed 504", report.Row{Outcome: report.Failed, HTTPStatus: 504, Attempts: 6, StartedAt: at}, true},
		{"failed 429", report.Row{Outcome: report.Failed, HTTPStatus: 429, ErrorCode: "E0000047", Attempts: 6, StartedAt: at}, false},
		{"failed 403", report.Row{Outcome: report.Failed, HTTPStatus: 403, ErrorCode: "E0000014", Attempts: 1, StartedAt: at}, false},
		{"failed CB_NETWORK, nothing sent", report.Row{Outcome: report.Failed, ErrorCode: report.CodeNetwork}, false},
		{"failed CB_LOGIN_MISMATCH", report.Row{Outcome: report.Failed, ErrorCode: report.CodeLoginMismatch}, false},
		{"succeeded", report.Row{Outcome: report.Succeeded, HTTPStatus: 200, Attempts: 1, StartedAt: at}, false},
		{"skipped", report.Row{Outcome: report.Skipped}, false},
		{"would_fail", report.Row{Outcome: report.WouldFail}, false},
	} {
		if got := NeedsVerdict(&tc.row); got != tc.want {
			t.Errorf("%s: NeedsVerdict = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A target's attempt window comes from the checkpoint's records after the
// line's last release (earlier attempts were answered without effect),
// else from the report; the other rows of its user are kept, and its
// manifest row's send_email and question.
func TestPlan(t *testing.T) {
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	const u1, u2 = "00uplan0000000000001", "00uplan0000000000002"
	rows := []*report.Row{
		{Line: 2, UserID: u1, Action: "change_password", Outcome: report.InDoubt, Attempts: 3, StartedAt: at, FinishedAt: at.Add(time.Hour)},
		{Line: 3, UserID: u1, Action: "expire_password", Outcome: report.Succeeded, Attempts: 1, StartedAt: at.Add(-time.Minute), FinishedAt: at.Add(-time.Minute + time.Second)},
		{Line: 4, UserID: u2, Action: "reset_password", Outcome: report.Failed, ErrorCode: report.CodeTimeout, Attempts: 6, StartedAt: at, FinishedAt: at.Add(3 * time.Minute)},
		{Line: 5, UserID: "00uplan0000000000003", Action: "expire_password", Outcome: report.Succeeded, Attempts: 1, StartedAt: at},
		{Line: 6, UserID: u2, Action: "clear_sessions", Outcome: report.Failed, ErrorCode: report.CodeLoginMismatch},
	}
	p := NewPlan()
	for _, r := range rows {
		p.AddTarget(r)
	}
	for _, r := range rows {
		p.AddOther(r)
	}
	for _, a := range []checkpoint.AttemptRecord{
		{Attempt: checkpoint.Attempt{Line: 2, N: 1, At: at}},
		{Attempt: checkpoint.Attempt{Line: 2}, Release: true},
		{Attempt: checkpoint.Attempt{Line: 2, N: 2, At: at.Add(30 * time.Minute)}},
		{Attempt: checkpoint.Attempt{Line: 2, N: 3, At: at.Add(30*time.Minute + time.Second)}},
		{Attempt: checkpoint.Attempt{Line: 5, N: 1, At: at}}, // not a target
	} {
		p.AddAttempt(a)
	}
	if !p.Wants(2) || !p.Wants(4) || p.Wants(3) || p.Wants(6) {
		t.Errorf("Wants: 2 %v, 4 %v, 3 %v, 6 %v", p.Wants(2), p.Wants(4), p.Wants(3), p.Wants(6))
	}
	p.SetManifestRow(4, bptr(false), "")
	p.SetManifestRow(3, bptr(true), "ignored")
	ts := p.Targets()
	if len(ts) != 2 || ts[0].Line != 2 || ts[1].Line != 4 {
		t.Fatalf("targets %+v", ts)
	}
	if a := ts[0]; !a.FromCheckpoint || !a.First.Equal(at.Add(30*time.Minute)) || !a.Last.Equal(at.Add(30*time.Minute+time.Second)) ||
		a.Action != jobs.ChangePassword || a.UserID != u1 {
		t.Errorf("line 2: %+v, want its attempts after the release", a)
	}
	if b := ts[1]; b.FromCheckpoint || !b.First.Equal(at) || !b.Last.Equal(at.Add(3*time.Minute)) || b.SendEmail == nil || *b.SendEmail {
		t.Errorf("line 4: %+v, want the report's times and send_email false", b)
	}
	if o := p.Others(u1); len(o) != 2 || o[1].Line != 3 || !o[1].Answered || o[0].Answered {
		t.Errorf("others of %s: %+v", u1, o)
	}
	if o := p.Others(u2); len(o) != 1 || o[0].Line != 4 {
		t.Errorf("others of %s: %+v (a row that sent nothing is no other)", u2, o)
	}
	if o := p.Others("00uplan0000000000003"); len(o) != 0 {
		t.Errorf("a user with no target has others: %+v", o)
	}
}
