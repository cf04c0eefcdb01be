package runner

import "math/bits"

// Claims holds the (user ID, action) pairs rows claimed, each under its
// ClaimKey (a 64-bit hash of the pair) with the manifest line of the row
// that claimed it: a later row with the same pair is a duplicate after
// resolution (users.go's sequence). It is not safe for concurrent use.
//
// A run claims one pair a row, so at a million rows this is the largest
// thing a run keeps. It is an open-addressing table (linear probing) of 12
// bytes a slot, sized once for the rows the run may claim and at most 80 %
// full: a million claims take 15 MiB, where a map[uint64]int took 36 MiB
// (bench/memory.sh).
type Claims struct {
	// slots holds three words a slot, so that a probe touches one place:
	// the key's low and high halves, then the claiming line + 1 (0 marks a
	// free slot).
	slots []uint32
	n     int
}

// maxLoad is the share of slots that may be used, in percent.
const maxLoad = 80

// NewClaims returns an empty table with room for n claims before it grows.
func NewClaims(n int) *Claims {
	size := max(n, 8)*100/maxLoad + 1
	return &Claims{slots: make([]uint32, 3*size)}
}

// Len returns the number of pairs claimed.
func (c *Claims) Len() int { return c.n }

// size returns the number of slots.
func (c *Claims) size() int { return len(c.slots) / 3 }

// slot returns where key lives, or the free slot where it would go (the
// index of its first word).
func (c *Claims) slot(key uint64) int {
	// The key is a hash already; mixing it once more and taking the high
	// half of a product maps it onto any table size evenly.
	hi, _ := bits.Mul64(key*0x9e3779b97f4a7c15, uint64(c.size()))
	lo, up := uint32(key), uint32(key>>32)
	for i := 3 * int(hi); ; {
		s := c.slots[i : i+3 : i+3]
		if s[2] == 0 || s[0] == lo && s[1] == up {
			return i
		}
		if i += 3; i == len(c.slots) {
			i = 0
		}
	}
}

// Line returns the line of the row that claimed key.
func (c *Claims) Line(key uint64) (line int, ok bool) {
	l := c.slots[c.slot(key)+2]
	if l == 0 {
		return 0, false
	}
	return int(l) - 1, true
}

// Claim records that the row on line claimed key, in place of any earlier
// line. Lines are 0 to checkpoint.MaxLine.
func (c *Claims) Claim(key uint64, line int) {
	i := c.slot(key)
	if c.slots[i+2] == 0 {
		if (c.n+1)*100 > c.size()*maxLoad {
			c.grow()
			i = c.slot(key)
		}
		c.n++
		c.slots[i], c.slots[i+1] = uint32(key), uint32(key>>32)
	}
	c.slots[i+2] = uint32(line) + 1
}

// grow moves the claims to a table twice the size.
func (c *Claims) grow() {
	old := c.slots
	*c = *NewClaims(2 * c.n)
	for i := 0; i < len(old); i += 3 {
		if old[i+2] != 0 {
			key := uint64(old[i]) | uint64(old[i+1])<<32
			j := c.slot(key)
			copy(c.slots[j:j+3], old[i:i+3])
			c.n++
		}
	}
}
