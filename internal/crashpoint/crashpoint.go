//go:build crashpoints

// Package crashpoint lets the kill tests stop the real binary at exact
// instants, as kill -9 or a power cut would: the process kills itself with
// SIGKILL (no deferred code, no flush) the Nth time it reaches the named
// point. The points exist only in a binary built with -tags crashpoints (the
// kill tests of cmd/credbatch build one); a release build has the no-op Hit
// of nocrashpoint.go, and neither reads the environment nor can kill itself.
// A point is armed by CREDBATCH_TEST_CRASH=POINT:N; without it, Hit is a
// single load.
//
// The points are named where they stand: the runner's (before-attempt,
// after-attempt, after-response, after-outcome, after-report) and the
// export's (export-after-rows, export-after-state, export-after-link).
package crashpoint

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// Env is the variable that arms a point.
const Env = "CREDBATCH_TEST_CRASH"

var (
	point string
	at    int64
	seen  atomic.Int64
)

func init() {
	p, n, ok := strings.Cut(os.Getenv(Env), ":")
	if !ok {
		return
	}
	if v, err := strconv.ParseInt(n, 10, 64); err == nil && v >= 1 {
		point, at = p, v
	}
}

// Hit kills the process at the armed point's Nth visit.
func Hit(name string) {
	if at == 0 || name != point {
		return
	}
	if seen.Add(1) == at {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
