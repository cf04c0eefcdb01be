package jobs

import (
	"runtime/debug"
	"testing"
)

// TestValidateRestoresGCTarget: Validate lowers GOGC to validateGCPercent
// while it runs and gives back what was set before, whether that was
// higher, lower or off; a lower setting is never raised.
func TestValidateRestoresGCTarget(t *testing.T) {
	t.Setenv("GOGC", "")
	m := writeManifest(t, "m.csv", "user,action\n00u00000000000000001,expire_password\n")
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	for _, before := range []int{100, 400, 20, -1} {
		debug.SetGCPercent(before)
		restore := lowerGCTarget()
		during := debug.SetGCPercent(-2) // reads the target (any negative value means off)
		debug.SetGCPercent(during)
		restore()
		if want := min(before, validateGCPercent); before >= 0 && during != want || before < 0 && during >= 0 {
			t.Errorf("GOGC %d: %d while validating, want %d", before, during, want)
		}
		if _, err := m.Validate(Defaults{}); err != nil {
			t.Fatal(err)
		}
		if after := debug.SetGCPercent(before); after != before {
			t.Errorf("GOGC %d: %d after Validate", before, after)
		}
	}
	// GOGC=off in the environment: the target is not touched, not even for
	// a moment (which would start a collection); 200 here stands for
	// whatever the program set since.
	t.Setenv("GOGC", "off")
	debug.SetGCPercent(200)
	restore := lowerGCTarget()
	during := debug.SetGCPercent(200)
	restore()
	if during != 200 {
		t.Errorf("GOGC=off in the environment: %d while validating, want it untouched (200)", during)
	}
}
