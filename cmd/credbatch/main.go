// Command credbatch runs Okta credential operations in bulk: one operation
// per row of a CSV or JSONL manifest, paced to the org's rate limits,
// resumable from its checkpoint, with a report of every outcome.
//
// See README.md for the manual; ../shared/SPEC.md is the contract.
package main

import (
	"os"
	"runtime"
)

func main() {
	atLeastTwoProcs(os.Getenv("GOMAXPROCS"))
	os.Exit(Main())
}

// atLeastTwoProcs gives the Go scheduler two Ps when it would have one (a
// one-CPU container, or taskset), unless GOMAXPROCS is set. The checkpoint's
// fsync holds its thread for a millisecond or more; with a single P every
// worker waits with it until the runtime notices and hands the P on, so a
// run on one CPU sent about a third fewer requests per second
// (bench/throughput.sh pins credbatch to one core).
func atLeastTwoProcs(env string) {
	if env == "" && runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
}
