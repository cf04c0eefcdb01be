package main

import (
	"os"
	"testing"
)

// A kill -9 (or a power cut) inside checkpoint.Create leaves at most the
// temporary "CHECKPOINT.creating" file, never a checkpoint without a header:
// nothing was sent yet, so the same command simply starts the run.
func TestKillInsideCheckpointCreate(t *testing.T) {
	f := newCrashFixture(t, 10)
	// What such a kill leaves: the temporary file, empty or with a torn header.
	if err := os.WriteFile(f.checkpoint+".creating", []byte("12\tdead"), 0o600); err != nil {
		t.Fatal(err)
	}
	end := f.run(t, "")
	if end.killed || end.code != 0 {
		t.Fatalf("rerun after a kill inside checkpoint.Create ended with %s, want exit 0; output:\n%s", end, end.out)
	}
	f.checkChain(t, []runEnd{end}, 1)
	if _, err := os.Stat(f.checkpoint + ".creating"); !os.IsNotExist(err) {
		t.Errorf("the stale %s.creating is still there (err %v)", f.checkpoint, err)
	}
}
