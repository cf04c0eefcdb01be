package jobs

import (
	"fmt"
	"hash/maphash"
	"os"
	"slices"
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

// dupDetector finds repeated (user key, action) pairs in two passes. While
// Validate reads the manifest it keeps only each pair's 64-bit hash, 8
// bytes a row, in 256 buckets by the hash's top byte (so no large slice is
// ever copied to grow). Sorting each bucket then finds the hashes met more
// than once: none in a manifest without duplicates, which is read once. When
// there are some, a second pass reads the manifest again and compares the
// rows with those hashes by their exact pairs, which tells a duplicate from
// a collision and finds the line of its first row. (A map from each hash to
// its row's offset and line, to reread the earlier row at once, took 53 MiB
// at a million rows: bench/memory.sh's peak.)
type dupDetector struct {
	buckets [256][]uint64
}

// add records one row's pair.
func (dd *dupDetector) add(key string, a Action) {
	h := hashKey(key, a)
	dd.buckets[h>>56] = append(dd.buckets[h>>56], h)
}

// repeated returns the hashes added more than once, or nil, and frees the
// buckets.
func (dd *dupDetector) repeated() map[uint64]bool {
	var rep map[uint64]bool
	for i, b := range dd.buckets {
		slices.Sort(b)
		for k := 1; k < len(b); k++ {
			if b[k] == b[k-1] {
				if rep == nil {
					rep = map[uint64]bool{}
				}
				rep[b[k]] = true
			}
		}
		dd.buckets[i] = nil
	}
	return rep
}

// duplicates reads the manifest again and returns, in file order, an error
// for each row whose pair (among those whose hash is in suspects) an earlier
// row has. Rows are read as Validate read them; their other problems were
// reported then.
func (m *Manifest) duplicates(d Defaults, suspects map[uint64]bool) ([]*LineError, error) {
	f, err := os.Open(m.Path)
	if err != nil {
		return nil, fmt.Errorf("validate manifest: reread: %w", err)
	}
	defer f.Close()
	var (
		out   []*LineError
		first = map[string]int{} // exact pair -> the line of its first row
		j     Job
	)
	ignore := func(*LineError) {}
	s := newScanner(m, d.Action != "", ignore)
	err = s.scan(f, func(r *rawRow) error {
		if !fill(&j, m.Path, r, d, ignore) || !j.Action.valid() || j.User == "" {
			return nil
		}
		key := j.UserKey()
		if !suspects[hashKey(key, j.Action)] {
			return nil
		}
		pair := key + "\x00" + string(j.Action)
		line, seen := first[pair]
		if !seen {
			first[pair] = r.line
			return nil
		}
		out = append(out, &LineError{
			File: m.Path, Line: r.line, Column: r.colName(colUser),
			Msg:  fmt.Sprintf("duplicate (user, action) pair: line %d has the same user and action %s", line, j.Action),
			Hint: "keep one of the two rows; to repeat an action, run a second manifest",
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("validate manifest: reread %s: %w", m.Path, err)
	}
	return out, nil
}

// mergeByLine adds more (in line order) to errs (whose List is in line
// order) as if each had been added when its line was read, after the
// problems found on that line then: the first MaxListed stay listed. (A
// problem errs counted but did not list lies on or after the last listed
// line, so one of more that would have come after it sorts last and is cut.)
func mergeByLine(errs *Errors, more []*LineError) {
	errs.Total += len(more)
	list := make([]*LineError, 0, len(errs.List)+len(more))
	i := 0
	for _, e := range more {
		for i < len(errs.List) && errs.List[i].Line <= e.Line {
			list = append(list, errs.List[i])
			i++
		}
		list = append(list, e)
	}
	list = append(list, errs.List[i:]...)
	errs.List = list[:min(len(list), MaxListed)]
}
