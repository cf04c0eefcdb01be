package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/report"
)

// A closed stdout and stderr (credbatch run … 2>&1 | head -1, the reader
// gone) never kill a run: the output is dropped, every row is sent and
// recorded, and the exit status is the run's own. Without SIGPIPE ignored,
// the first write to the closed pipe kills the process (status -1, signal
// "broken pipe") and rows stay pending.
func TestClosedOutputDoesNotKillTheRun(t *testing.T) {
	bin := credbatchBinary(t)
	users := activeUsers(7, 39)
	_, url := serveOrg(t, emulator.Config{Seed: 7, UserList: users})
	manifest := expireManifest(t, users)
	dir := filepath.Dir(manifest)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // the reader is gone before the first line is written

	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", manifest, "--org-url", url, "--yes",
		"--rate", "0", "--progress-every", "1ms", "--verbose")
	cmd.Env = append(os.Environ(), "OKTA_CLIENT_TOKEN="+scriptToken)
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Run()
	w.Close()
	if ctx.Err() != nil {
		t.Fatalf("the run did not end within %s", runLimit)
	}
	runErr := err
	var rows []report.Row
	if err := report.ReadFile(filepath.Join(dir, "m.report.csv"), func(r *report.Row) error {
		rows = append(rows, *r)
		return nil
	}); err != nil {
		t.Fatalf("reading the report: %v", err)
	}
	if len(rows) != len(users)-1 {
		t.Fatalf("report has %d rows, want %d", len(rows), len(users)-1)
	}
	for _, row := range rows {
		if row.Outcome != report.Succeeded {
			t.Errorf("line %d: %s %s, want succeeded", row.Line, row.Outcome, row.ErrorCode)
		}
	}
	if runErr != nil {
		t.Fatalf("run with closed stdout and stderr: %v (state %v), want exit 0", runErr, cmd.ProcessState)
	}
}
