package main

import (
	"strings"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
)

// The --max-share flag reaches the pacer through the command: a run at
// --max-share 50 against 1 s windows of 20 credential requests keeps every
// window at or under 11 (half, and the first answer's one of slack), and at
// --max-share 100 it goes past that. A command that dropped the flag (or
// passed the default) fails one of the two.
func TestMaxShareFlagReachesThePacer(t *testing.T) {
	const limit, n = 20, 40
	users := activeUsers(3, n)
	checkShareKept(t, limit, func(share string) []emulator.WindowStat {
		org, url := serveOrg(t, emulator.Config{UserList: users, PostLimit: limit, Window: time.Second})
		mp := expireManifest(t, users)
		e, _, errb := rcEnv(map[string]string{"OKTA_CLIENT_TOKEN": scriptToken})
		if err := execute(e, []string{"run", mp, "--org-url", url, "--yes", "--rate", "0", "--workers", "8", "--max-share", share}); err != nil {
			t.Fatalf("--max-share %s: %v\n%s", share, err, errb)
		}
		return org.Windows()
	})
}

// --max-wait reaches the runner: against windows of 10 days with 3 requests
// each, the 429 that follows asks for a pause far longer than --max-wait 1m,
// so the run stops with exit 3 naming when Okta asked to resume, and the
// unsent rows stay pending for the same command.
func TestMaxWaitFlagStopsTheRun(t *testing.T) {
	users := activeUsers(3, 7)
	_, url := serveOrg(t, emulator.Config{UserList: users, PostLimit: 3, Window: 240 * time.Hour, RetryAfter: true})
	mp := expireManifest(t, users)
	e, _, errb := rcEnv(map[string]string{"OKTA_CLIENT_TOKEN": scriptToken})
	err := execute(e, []string{"run", mp, "--org-url", url, "--yes", "--rate", "0", "--workers", "1", "--max-share", "100", "--max-wait", "1m"})
	if exitCode(err) != exitStopped {
		t.Fatalf("exit %d (%v), want 3\n%s", exitCode(err), err, errb)
	}
	if !strings.Contains(err.Error(), "longer than --max-wait 1m0s") || !strings.Contains(err.Error(), "Okta asked to wait until 20") {
		t.Errorf("the stop does not name the pause and --max-wait: %v", err)
	}
	if !strings.Contains(errb.String(), "rows still pending: rerun the same command to resume") {
		t.Errorf("stderr does not say the run is resumable:\n%s", errb)
	}
}
