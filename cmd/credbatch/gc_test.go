package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestGCForRun: a run of N rows collects when the runtime's memory reaches
// 32 MiB + 16 bytes a row, not before; restore puts back what was set; a
// GOGC or GOMEMLIMIT in the environment is left alone. (Not parallel: the
// settings are the process's.)
func TestGCForRun(t *testing.T) {
	settings := func() (int, int64) {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p, debug.SetMemoryLimit(-1) // a negative limit only reads it
	}
	p0, l0 := settings()
	defer func() { debug.SetGCPercent(p0); debug.SetMemoryLimit(l0) }()
	debug.SetGCPercent(150)
	debug.SetMemoryLimit(math.MaxInt64)

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	restore := gcForRun(1_000_000)
	if p, l := settings(); p != -1 || l != 32<<20+16_000_000 {
		t.Errorf("during a run of a million rows: GOGC %d, limit %d; want off, %d", p, l, 32<<20+16_000_000)
	}
	restore()
	if p, l := settings(); p != 150 || l != math.MaxInt64 {
		t.Errorf("after the run: GOGC %d, limit %d; want 150 and none as before", p, l)
	}

	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Setenv(env, "200")
		restore := gcForRun(10)
		if p, l := settings(); p != 150 || l != math.MaxInt64 {
			t.Errorf("%s set: GOGC %d, limit %d during the run; want them untouched", env, p, l)
		}
		restore()
		t.Setenv(env, "")
	}
}
