package checkpoint

import "math/bits"

// Bitset is a set of non-negative integers (manifest line numbers) stored one
// bit each, so a million finished rows cost 125 KB. It grows as needed. The
// zero value is an empty set. A Bitset is not safe for concurrent use.
type Bitset struct {
	words []uint64
	n     int
}

// NewBitset returns an empty set with room for 0..n-1 without growing.
func NewBitset(n int) *Bitset {
	if n < 0 {
		n = 0
	}
	return &Bitset{words: make([]uint64, (n+63)/64)}
}

// Set adds i to the set. It panics when i is negative.
func (b *Bitset) Set(i int) {
	if i < 0 {
		panic("checkpoint: Bitset.Set of a negative index")
	}
	w := i / 64
	if w >= len(b.words) {
		grown := make([]uint64, max(w+1, 2*len(b.words)))
		copy(grown, b.words)
		b.words = grown
	}
	m := uint64(1) << (uint(i) % 64)
	if b.words[w]&m == 0 {
		b.words[w] |= m
		b.n++
	}
}

// Has reports whether i is in the set. A negative i is never in it.
func (b *Bitset) Has(i int) bool {
	if b == nil || i < 0 {
		return false
	}
	w := i / 64
	if w >= len(b.words) {
		return false
	}
	return b.words[w]&(uint64(1)<<(uint(i)%64)) != 0
}

// Count returns how many integers are in the set.
func (b *Bitset) Count() int {
	if b == nil {
		return 0
	}
	return b.n
}

// recount recomputes n from the words (used by tests to check the cache).
func (b *Bitset) recount() int {
	c := 0
	for _, w := range b.words {
		c += bits.OnesCount64(w)
	}
	return c
}
