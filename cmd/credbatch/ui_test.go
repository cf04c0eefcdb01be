package main

import (
	"strings"
	"testing"
	"time"

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
