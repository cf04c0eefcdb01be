package export

import (
	"bufio"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// ErrBusy is wrapped when another credbatch holds OUT.partial.
var ErrBusy = errors.New("another credbatch manifest is writing this file")

// ErrPartialChanged is wrapped when OUT.partial does not hold what its
// state file says was written: it was changed or replaced since.
var ErrPartialChanged = errors.New("the partial manifest does not match its state file")

// partial is OUT.partial, open and locked, with the SHA-256 of what it
// holds so far.
type partial struct {
	path   string
	f      *os.File
	hash   hash.Hash
	length int64
}

// lockFile takes f's exclusive advisory lock without waiting.
func lockFile(f *os.File) error {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("%s: %w", f.Name(), ErrBusy)
		}
		return fmt.Errorf("%s: locking: %w", f.Name(), err)
	}
	return nil
}

// createPartial creates path, new (never over a file), mode 0600, locked.
func createPartial(path string) (*partial, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, err
	}
	if err := syncDir(dirOf(path)); err != nil {
		f.Close()
		return nil, err
	}
	return &partial{path: path, f: f, hash: sha256.New()}, nil
}

// userSet holds the IDs written so far: each user once. An Okta ID (20
// characters) is kept as a fixed array, which the garbage collector does
// not scan.
type userSet struct {
	ids   map[[20]byte]struct{}
	other map[string]struct{}
}

func newUserSet() *userSet {
	return &userSet{ids: map[[20]byte]struct{}{}, other: map[string]struct{}{}}
}

// add records id and reports whether it is new.
func (s *userSet) add(id string) bool {
	if len(id) == 20 {
		k := [20]byte([]byte(id))
		if _, ok := s.ids[k]; ok {
			return false
		}
		s.ids[k] = struct{}{}
		return true
	}
	if _, ok := s.other[id]; ok {
		return false
	}
	s.other[id] = struct{}{}
	return true
}

func (s *userSet) len() int { return len(s.ids) + len(s.other) }

// openPartial reopens OUT.partial for a resume: it must hold at least the
// Length bytes st says were written, with st's SHA-256, as rows of the
// header enc writes; what follows them (rows of a page whose state was
// never saved) is cut. It returns the file, the users written and their
// counts by status.
func openPartial(path string, st *State, enc *encoder) (*partial, *userSet, map[string]int, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, nil, err
	}
	fail := func(err error) (*partial, *userSet, map[string]int, error) {
		f.Close()
		return nil, nil, nil, err
	}
	if err := lockFile(f); err != nil {
		return fail(err)
	}
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if fi.Size() < st.Length {
		return fail(fmt.Errorf("%s: %w: %d bytes, the state says %d were written", path, ErrPartialChanged, fi.Size(), st.Length))
	}
	p := &partial{path: path, f: f, hash: sha256.New(), length: st.Length}
	users, counts, err := readRows(io.TeeReader(io.LimitReader(f, st.Length), p.hash), enc)
	if err != nil {
		return fail(fmt.Errorf("%s: %w: %v", path, ErrPartialChanged, err))
	}
	if got := hex.EncodeToString(p.hash.Sum(nil)); got != st.SHA256 || users.len() != st.Written {
		return fail(fmt.Errorf("%s: %w: its first %d bytes hold %d rows and another SHA-256 than the %d rows saved", path, ErrPartialChanged, st.Length, users.len(), st.Written))
	}
	if fi.Size() > st.Length {
		if err := f.Truncate(st.Length); err != nil {
			return fail(err)
		}
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	if _, err := f.Seek(st.Length, io.SeekStart); err != nil {
		return fail(err)
	}
	return p, users, counts, nil
}

// readRows reads the rows of a partial manifest (all of r, which must be
// consumed whole so that the hash covers it): the users and their counts
// by status. A duplicate user is an error.
func readRows(r io.Reader, enc *encoder) (*userSet, map[string]int, error) {
	users, counts := newUserSet(), map[string]int{}
	add := func(n int, id, status string) error {
		if !users.add(id) {
			return fmt.Errorf("row %d: the user %s a second time", n, id)
		}
		counts[status]++
		return nil
	}
	if enc.format == JSONL {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 8<<20)
		for n := 1; sc.Scan(); n++ {
			var row jsonRow
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil || row.User == "" {
				return nil, nil, fmt.Errorf("line %d is not a row of this export", n)
			}
			if err := add(n, row.User, row.Status); err != nil {
				return nil, nil, err
			}
		}
		return users, counts, sc.Err()
	}
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = len(enc.names)
	for n := 0; ; n++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return users, counts, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if n == 0 {
			if !slices.Equal(rec, enc.names) {
				return nil, nil, errors.New("its header is not this export's")
			}
			continue
		}
		if err := add(n, rec[0], rec[5]); err != nil {
			return nil, nil, err
		}
	}
}

// write appends b and makes it durable.
func (p *partial) write(b []byte) error {
	if _, err := p.f.Write(b); err != nil {
		return err
	}
	if err := p.f.Sync(); err != nil {
		return err
	}
	p.hash.Write(b)
	p.length += int64(len(b))
	return nil
}

// sum is the hex SHA-256 of what the file holds.
func (p *partial) sum() string { return hex.EncodeToString(p.hash.Sum(nil)) }

func (p *partial) close() error { return p.f.Close() }
