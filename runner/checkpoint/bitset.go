package checkpoint

import "math/bits"

// Bitset is a set of non-negative integers (manifest line numbers) stored one
// bit each, in 4 KiB chunks allocated on first use: a million finished rows
// cost about 125 KB, and one huge line number costs one chunk plus an index
// entry per 32,768 numbers below it. The zero value is an empty set. A Bitset
// is not safe for concurrent use.
type Bitset struct {
	chunks []*chunk
	n      int
}

const (
	chunkWords = 512
	chunkBits  = chunkWords * 64
)

type chunk [chunkWords]uint64

// NewBitset returns an empty set with its index sized for 0..n-1.
func NewBitset(n int) *Bitset {
	if n < 0 {
		n = 0
	}
	return &Bitset{chunks: make([]*chunk, 0, (n+chunkBits-1)/chunkBits)}
}

// Set adds i to the set. It panics when i is negative.
func (b *Bitset) Set(i int) {
	if i < 0 {
		panic("checkpoint: Bitset.Set of a negative index")
	}
	c := i / chunkBits
	if c >= len(b.chunks) {
		b.chunks = append(b.chunks, make([]*chunk, c+1-len(b.chunks))...)
	}
	ch := b.chunks[c]
	if ch == nil {
		ch = new(chunk)
		b.chunks[c] = ch
	}
	r := i % chunkBits
	m := uint64(1) << (uint(r) % 64)
	if ch[r/64]&m == 0 {
		ch[r/64] |= m
		b.n++
	}
}

// Has reports whether i is in the set. A negative i is never in it.
func (b *Bitset) Has(i int) bool {
	if b == nil || i < 0 {
		return false
	}
	c := i / chunkBits
	if c >= len(b.chunks) || b.chunks[c] == nil {
		return false
	}
	r := i % chunkBits
	return b.chunks[c][r/64]&(uint64(1)<<(uint(r)%64)) != 0
}

// Count returns how many integers are in the set.
func (b *Bitset) Count() int {
	if b == nil {
		return 0
	}
	return b.n
}

// clone returns an independent copy.
func (b *Bitset) clone() *Bitset {
	c := &Bitset{chunks: make([]*chunk, len(b.chunks)), n: b.n}
	for i, ch := range b.chunks {
		if ch != nil {
			cp := *ch
			c.chunks[i] = &cp
		}
	}
	return c
}

// recount recomputes the count from the bits (tests check the cached one).
func (b *Bitset) recount() int {
	n := 0
	for _, ch := range b.chunks {
		if ch == nil {
			continue
		}
		for _, w := range ch {
			n += bits.OnesCount64(w)
		}
	}
	return n
}
