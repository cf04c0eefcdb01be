package jobs

import (
	"runtime/debug"
	"testing"
)

// TestValidateRestoresGCTarget: Validate gives back the GC target that was
// set before it, whether that was higher, lower or off (gctune.Lower's own
// tests cover the lowering).
func TestValidateRestoresGCTarget(t *testing.T) {
	t.Setenv("GOGC", "")
	m := writeManifest(t, "m.csv", "user,action\n00u00000000000000001,expire_password\n")
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	for _, before := range []int{100, 400, 20, -1} {
		debug.SetGCPercent(before)
		if _, err := m.Validate(Defaults{}); err != nil {
			t.Fatal(err)
		}
		if after := debug.SetGCPercent(before); after != before {
			t.Errorf("GOGC %d: %d after Validate", before, after)
		}
	}
}
