package main

import (
	"strings"
	"testing"
	"time"

	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
	"github.com/credbatch/credbatch/runner/pace"
)

// A pause that ends on another day names the date; one that ends today
// names only the time of day.
func TestPauseTextNamesTheDateOfAnotherDay(t *testing.T) {
	now := time.Date(2026, 12, 5, 23, 50, 0, 0, time.Local)
	pause := func(until time.Time) runner.Progress {
		return runner.Progress{Paused: []pace.PauseInfo{{Bucket: pace.Post, Until: until, Reason: "rate limit", Limit: 600}}}
	}
	today := pauseText(pause(now.Add(5*time.Minute)), now)
	if !strings.Contains(today, "until 23:55:00:") || strings.Contains(today, "2026-12-05") {
		t.Errorf("a pause ending today: %q, want the time of day only", today)
	}
	tomorrow := pauseText(pause(now.Add(20*time.Minute)), now)
	if !strings.Contains(tomorrow, "until 2026-12-06 00:10:00") {
		t.Errorf("a pause ending tomorrow: %q, want its date", tomorrow)
	}
}

// Progress after a resume counts the whole run: rows and outcomes of the
// earlier runs included, with how many were finished before this one.
func TestProgressTextCountsTheWholeRun(t *testing.T) {
	p := runner.Progress{
		Done: 11, Total: 110, Before: 96,
		Counts: map[report.Outcome]int64{report.Succeeded: 100, report.Failed: 5, report.Skipped: 2},
	}
	got := progressText(p)
	want := "107/206 rows (96 before this run): succeeded 100, failed 5, in_doubt 0, skipped 2"
	if got != want {
		t.Errorf("progressText = %q\nwant           %q", got, want)
	}
	p = runner.Progress{Done: 3, Total: 10, DryRun: true, Counts: map[report.Outcome]int64{report.WouldSucceed: 2, report.WouldFail: 1}}
	if got, want := progressText(p), "3/10 rows: would_succeed 2, would_fail 1"; got != want {
		t.Errorf("dry run: %q, want %q", got, want)
	}
}
