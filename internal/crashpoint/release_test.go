package crashpoint_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// A release build (no -tags crashpoints) of credbatch carries no crash
// point: the binary does not even hold the name of the variable that arms
// them. The runner's own strings are in it, so the search can see them.
func TestReleaseBuildHasNoCrashPoints(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "credbatch")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, "github.com/credbatch/credbatch/cmd/credbatch")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatalf("reading the binary: %v", err)
	}
	if !bytes.Contains(b, []byte("stopping: no new requests will start")) {
		t.Fatalf("the binary does not hold the runner's strings: the search below cannot see anything")
	}
	if bytes.Contains(b, []byte("CREDBATCH_TEST_CRASH")) {
		t.Errorf("a release build of credbatch holds CREDBATCH_TEST_CRASH: the crash points of internal/crashpoint are compiled in")
	}
}
