//go:build crashpoints

package export

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// Crash points let the kill tests stop the real binary at exact instants of
// an export, as kill -9 or a power cut would: the process kills itself with
// SIGKILL the Nth time it reaches the named point. They exist only in a
// binary built with -tags crashpoints (the kill tests of cmd/credbatch build
// one; a release build has the no-op crash of nocrashpoint.go), armed by
// CREDBATCH_TEST_CRASH=POINT:N, the variable runner's crash points read.
//
//	export-after-rows   a page's rows durable in OUT.partial, its state not saved
//	export-after-state  the page's state saved, the next page not yet asked for
//	export-after-link   OUT linked to the complete OUT.partial, which is not yet removed
const crashEnv = "CREDBATCH_TEST_CRASH"

var (
	crashPoint string
	crashAt    int64
	crashSeen  atomic.Int64
)

func init() {
	p, n, ok := strings.Cut(os.Getenv(crashEnv), ":")
	if !ok || !strings.HasPrefix(p, "export-") {
		return
	}
	if at, err := strconv.ParseInt(n, 10, 64); err == nil && at >= 1 {
		crashPoint, crashAt = p, at
	}
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
