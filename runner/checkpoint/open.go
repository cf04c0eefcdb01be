package checkpoint

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Open opens an existing checkpoint for resuming: it takes the lock first
// (ErrLocked), reads the header, replays every record into a State, and
// leaves the journal positioned to append after the last valid record.
//
// A torn tail (what a crash in the middle of an append leaves: a last frame
// cut short or failing its checksum, with no frame that reads back whole
// anywhere after it; see recover.go) is truncated and the file fsynced.
// Any other damage — a bad frame with a whole frame somewhere after it, a
// frame that reads back whole but does not decode, or a header that does not
// read back — is refused with a *CorruptError (errors.Is ErrCorrupt) naming
// the byte offset, and the file is left byte for byte as it was. A header of
// another format version fails with ErrFormat; a failing read is returned as
// it is, and nothing is cut.
func Open(path string) (*Journal, *State, error) {
	return OpenEach(path, nil)
}

// OpenEach is Open that also hands every outcome record it reads to fn, in
// file order, as Replay would (each Payload valid during the call), so that
// a caller needing something of every finished row gets it from the one
// pass that reads the journal: a resume collects the finished rows' claims
// so. each is called with the header before the first record and returns
// fn (nil: nothing is handed over) and end (may be nil), which is called
// once the pass is over, whatever OpenEach then returns; neither is called
// when the header does not read back. When OpenEach fails, what fn was
// handed came from a journal that is not opened.
func OpenEach(path string, each func(Header) (fn func(Outcome), end func())) (*Journal, *State, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open checkpoint: %w", err)
	}
	if err := lock(f, path); err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	sc, err := readJournal(f, path, each)
	if err == nil && sc.damage != nil {
		err = sc.damage
	}
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	st, valid := sc.st, sc.valid
	if valid < sc.size {
		if err := f.Truncate(valid); err != nil {
			_ = f.Close()
			return nil, nil, fmt.Errorf("%w: truncate torn tail of %s: %w", ErrJournal, path, err)
		}
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return nil, nil, fmt.Errorf("%w: fsync %s: %w", ErrJournal, path, err)
		}
		st.TruncatedBytes = sc.size - valid
	}
	// The journal keeps its own copy of Done to refuse a second outcome.
	j := newJournal(path, f, valid, st.Done.clone())
	j.marks = sc.marks
	return j, st, nil
}

// OpenReadOnly opens a checkpoint only to read it, damaged or not, and
// never changes it: it takes a shared lock (ErrLocked while a run holds the
// checkpoint), reads the longest prefix of whole, valid records into the
// State, and sets State.Damage when the file is damaged other than by a torn
// tail (State.TruncatedBytes is then 0; after a torn tail it is what Open
// would cut). Replay streams the outcomes of that prefix; every record
// method fails with ErrReadOnly. A header that does not read back fails with
// a *CorruptError: nothing can be read without it.
func OpenReadOnly(path string) (*Journal, *State, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open checkpoint: %w", err)
	}
	if err := flock(f, path, unix.LOCK_SH); err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	sc, err := readJournal(f, path, nil)
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	sc.st.Damage = sc.damage
	if sc.damage == nil {
		sc.st.TruncatedBytes = sc.size - sc.valid
	}
	j := newJournal(path, f, sc.valid, sc.st.Done.clone())
	j.readOnly, j.marks = true, sc.marks
	return j, sc.st, nil
}
