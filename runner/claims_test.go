package runner

import (
	"math/rand/v2"
	"testing"
)

// TestClaimsLikeAMap: the table answers as a map would, through growth from
// the smallest size, replacement, line 0, and keys 0 and 2^64-1.
func TestClaimsLikeAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	c := NewClaims(0)
	want := map[uint64]int{}
	keys := []uint64{0, 1<<64 - 1}
	for range 50_000 {
		keys = append(keys, rng.Uint64())
	}
	for i, k := range keys {
		c.Claim(k, i)
		want[k] = i
	}
	for i := 0; i < len(keys); i += 7 { // replaced by a later line
		c.Claim(keys[i], 1_000_000+i)
		want[keys[i]] = 1_000_000 + i
	}
	if c.Len() != len(want) {
		t.Errorf("Len = %d, want %d", c.Len(), len(want))
	}
	for k, line := range want {
		if got, ok := c.Line(k); !ok || got != line {
			t.Fatalf("Line(%#x) = %d, %v; want %d", k, got, ok, line)
		}
	}
	for range 50_000 {
		k := rng.Uint64()
		if _, claimed := want[k]; claimed {
			continue
		}
		if got, ok := c.Line(k); ok {
			t.Fatalf("Line(%#x) = %d for a key never claimed", k, got)
		}
	}
}

// TestClaimsWrapAround: keys whose slot is the table's last one probe on
// from its first.
func TestClaimsWrapAround(t *testing.T) {
	c := NewClaims(8)
	last := 3 * (c.size() - 1)
	var keys []uint64
	for k := uint64(0); len(keys) < 3; k++ {
		if c.slot(k) == last {
			keys = append(keys, k)
		}
	}
	for i, k := range keys {
		c.Claim(k, 10+i)
	}
	for i, k := range keys {
		if got, ok := c.Line(k); !ok || got != 10+i {
			t.Errorf("Line(%d) = %d, %v; want %d", k, got, ok, 10+i)
		}
	}
	if c.slots[2] == 0 || c.slots[5] == 0 {
		t.Errorf("the keys after the last slot's did not go to the first slots")
	}
}

// TestClaimsFootprint: a table sized for a million claims takes them
// without growing, in 12 bytes a slot at most 80 % full (15 MiB; a
// map[uint64]int took 36 MiB).
func TestClaimsFootprint(t *testing.T) {
	const n = 1_000_000
	c := NewClaims(n)
	size := c.size()
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range n {
		c.Claim(rng.Uint64(), i+2)
	}
	if c.size() != size {
		t.Errorf("the table grew from %d to %d slots", size, c.size())
	}
	if bytes := len(c.slots) * 4; bytes > 15*(1<<20) {
		t.Errorf("a million claims take %.1f MiB, want at most 15", float64(bytes)/(1<<20))
	}
}
