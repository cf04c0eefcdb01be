//go:build crashpoints

package runner

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// Crash points let the kill tests stop the real binary at exact instants of
// a run, as a power cut would: the process kills itself with SIGKILL (no
// deferred code, no flush) the Nth time it reaches the named point. They
// exist only in a binary built with -tags crashpoints (the kill tests of
// cmd/credbatch build one); a release build has the no-op crash of
// nocrashpoint.go. They are armed by the environment variable
// CREDBATCH_TEST_CRASH=POINT:N; without it, crash is a single load.
//
// Points, in the order a password-checking row meets them:
//
//	before-attempt   before the attempt record is written
//	after-attempt    attempt record durable, request not yet sent
//	after-response   the answer is in, the outcome not yet durable
//	after-outcome    the outcome durable, the report row not yet written
//	after-report     the report row written and flushed
const crashEnv = "CREDBATCH_TEST_CRASH"

var (
	crashPoint string
	crashAt    int64
	crashSeen  atomic.Int64
)

func init() {
	v := os.Getenv(crashEnv)
	if v == "" {
		return
	}
	p, n, ok := strings.Cut(v, ":")
	if !ok {
		return
	}
	at, err := strconv.ParseInt(n, 10, 64)
	if err != nil || at < 1 {
		return
	}
	crashPoint, crashAt = p, at
}

// crash kills the process at the armed point's Nth visit.
func crash(point string) {
	if crashAt == 0 || point != crashPoint {
		return
	}
	if crashSeen.Add(1) == crashAt {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
