package jobs

import (
	"fmt"
	"hash/maphash"
	"os"
)

// hashKey hashes a (user key, action) pair for duplicate detection. It is a
// variable so tests can force collisions.
var hashKey = func(userKey string, a Action) uint64 {
	var h maphash.Hash
	h.SetSeed(hashSeed)
	h.WriteString(userKey)
	h.WriteByte(0)
	h.WriteString(string(a))
	return h.Sum64()
}

var hashSeed = maphash.MakeSeed()

// rowRef locates a row in the file.
type rowRef struct {
	off  int64
	line int
}

// dupDetector finds repeated (user key, action) pairs, keeping one hash per
// pair; a hash hit is confirmed by rereading the earlier row from the file.
type dupDetector struct {
	m     *Manifest
	s     *scanner
	d     Defaults
	seen  map[uint64]rowRef
	exact map[string]rowRef // pairs whose hash collided with a different pair
	f     *os.File          // opened on the first hash hit
}

func newDupDetector(m *Manifest, s *scanner, d Defaults) *dupDetector {
	return &dupDetector{m: m, s: s, d: d, seen: make(map[uint64]rowRef)}
}

func (dd *dupDetector) close() {
	if dd.f != nil {
		_ = dd.f.Close()
	}
}

// check records r's pair and returns the line of an earlier row with the
// same pair, or 0.
func (dd *dupDetector) check(key string, a Action, r *rawRow) (int, error) {
	h := hashKey(key, a)
	ref, hit := dd.seen[h]
	if !hit {
		dd.seen[h] = rowRef{off: r.start, line: r.line}
		return 0, nil
	}
	if dd.f == nil {
		f, err := os.Open(dd.m.Path)
		if err != nil {
			return 0, fmt.Errorf("validate manifest: reread: %w", err)
		}
		dd.f = f
	}
	old, err := dd.s.rowAt(dd.f, ref.off)
	if err != nil {
		return 0, fmt.Errorf("validate manifest: reread line %d of %s: %w", ref.line, dd.m.Path, err)
	}
	if old != nil {
		if oj := build(dd.m.Path, old, dd.d, func(*LineError) {}); oj != nil && oj.Action == a && oj.User != "" && oj.UserKey() == key {
			return ref.line, nil
		}
	}
	// A different pair with the same hash: fall back to exact keys.
	if dd.exact == nil {
		dd.exact = make(map[string]rowRef)
	}
	ek := key + "\x00" + string(a)
	if ref, ok := dd.exact[ek]; ok {
		return ref.line, nil
	}
	dd.exact[ek] = rowRef{off: r.start, line: r.line}
	return 0, nil
}
