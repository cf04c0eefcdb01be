package main

import (
	"os"
	"runtime/debug"
)

// The garbage collector during a run: collect when the Go runtime's memory
// reaches gcBase plus gcPerRow bytes a manifest row (debug.SetMemoryLimit),
// and not before (GOGC off).
//
// Why, measured on this project's 2-CPU machine (100,000 expire_password
// rows at --workers 32 --rate 0 against the emulator, CPU of the credbatch
// process a job, medians of 4 alternating rounds; bench/memory.sh's
// 1,000,000 rows for the peak):
//
//   - a run allocates ~7 KB a job but keeps little alive (its claims, 15
//     bytes a row: runner.Claims; a few MB else). Go's default (GOGC 100)
//     collects such a heap every few MB: 64.0 µs a job, against 56.9 µs with
//     internal/gctune (which this replaces: it set GOGC from the live heap
//     after every collection, from a finalizer, live + 40 MiB at most) and
//     58.0 µs with this limit;
//   - gctune let the million-row run reach 75 MiB of RSS (its heap grew to
//     live + 40 MiB); Go's default, 50 MiB; this limit, 54 MiB (47 MiB for
//     the runtime, the rest the binary's own pages).
const (
	gcBase   = 32 << 20 // what a run's workers, buffers and garbage between collections need
	gcPerRow = 16       // what a run keeps a row (claims, bitsets)
)

// gcForRun sets the collector for a run of rows manifest rows, unless GOGC
// or GOMEMLIMIT is set in the environment (the user's choice is kept), and
// returns what puts back the settings it found.
func gcForRun(rows int) (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	limit := debug.SetMemoryLimit(gcBase + gcPerRow*int64(max(rows, 0)))
	percent := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}
