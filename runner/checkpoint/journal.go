package checkpoint

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// syncWriter is what the journal appends through: the checkpoint file, or a
// fake in tests that makes writes or fsyncs fail.
type syncWriter interface {
	WriteAt(p []byte, off int64) (int, error)
	Sync() error
}

// Journal is an open checkpoint, locked for this process. Attempt and Outcome
// may be called from many goroutines at once; they share writes and fsyncs.
type Journal struct {
	path string
	f    *os.File
	w    syncWriter // f, unless a test replaced it

	mu       sync.Mutex
	cond     sync.Cond // signalled when a flush ends
	pending  []byte    // frames appended since the last flush began
	spare    []byte    // the other buffer, reused
	scratch  []byte    // a record's body before it is framed, reused
	seq      uint64    // records appended to pending, ever
	durable  uint64    // records on disk (written and fsynced)
	off      int64     // file size covered by durable records
	flushing bool      // a leader is writing and fsyncing
	err      error     // set once a write or fsync failed: the journal is poisoned
	closed   bool
	readOnly bool    // opened by OpenReadOnly: no record may be written
	done     *Bitset // lines with an outcome appended (durable or pending)
	marks    []int64 // where outcome records 0, outcomeMark, 2×outcomeMark... start (those Open read)

	// Counters, read through Stats.
	syncs   int64
	records int64
}

// Stats are counters of a Journal's writes since it was created or opened.
type Stats struct {
	Records int64 // attempt and outcome records made durable
	Syncs   int64 // fsyncs issued for them (group commit keeps this below Records)
}

// Stats returns the journal's counters.
func (j *Journal) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return Stats{Records: j.records, Syncs: j.syncs}
}

// Path returns the checkpoint's path.
func (j *Journal) Path() string { return j.path }

// lock takes the exclusive flock a run holds.
func lock(f *os.File, path string) error { return flock(f, path, unix.LOCK_EX) }

// flock takes how (LOCK_EX or LOCK_SH) without waiting: ErrLocked when a
// conflicting lock is held.
func flock(f *os.File, path string, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return fmt.Errorf("%s: %w", path, ErrLocked)
		default:
			return fmt.Errorf("lock checkpoint %s: %w", path, err)
		}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Create creates a new checkpoint at path (O_CREATE|O_EXCL, mode 0600: it
// fails when the file exists), locks it (ErrLocked), writes the header and
// fsyncs the file and its directory. h.Format is set to FormatVersion when
// zero; any other version is refused with ErrFormat. A failure after the file
// was created removes it again; write and fsync failures wrap ErrJournal.
func Create(path string, h Header) (*Journal, error) {
	if h.Format == 0 {
		h.Format = FormatVersion
	}
	if h.Format != FormatVersion {
		return nil, fmt.Errorf("create checkpoint %s: format %d: %w", path, h.Format, ErrFormat)
	}
	body, err := headerBody(h)
	if err != nil {
		return nil, err
	}
	// The header is written and fsynced under a temporary name, then linked
	// to path (which fails if path exists, as O_EXCL would): a crash at any
	// instant leaves either no checkpoint or one with a whole header, never
	// an empty file that a rerun could not read.
	tmp := path + ".creating"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Left by a crash inside an earlier Create, unless another Create
		// holds it right now (then its lock says so).
		if stale, serr := os.OpenFile(tmp, os.O_RDWR, 0); serr == nil {
			lerr := lock(stale, tmp)
			if lerr == nil {
				_ = os.Remove(tmp)
			}
			_ = stale.Close()
			if lerr != nil {
				return nil, lerr
			}
		}
		f, err = os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("create checkpoint: %w", err)
	}
	if err := lock(f, path); err != nil {
		_ = f.Close() // someone else holds a file we just created: leave it to them
		return nil, err
	}
	linked := false
	fail := func(err error) (*Journal, error) {
		if linked {
			_ = os.Remove(path)
		}
		_ = os.Remove(tmp)
		_ = f.Close()
		return nil, err
	}
	// The umask may have narrowed 0600 but never widens it; make sure anyway.
	if err := f.Chmod(0o600); err != nil {
		return fail(fmt.Errorf("create checkpoint %s: %w", path, err))
	}
	frame := appendFrame(nil, body)
	if _, err := f.WriteAt(frame, 0); err != nil {
		return fail(fmt.Errorf("%w: write header of %s: %w", ErrJournal, path, err))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("%w: fsync %s: %w", ErrJournal, path, err))
	}
	if err := os.Link(tmp, path); err != nil {
		_ = os.Remove(tmp)
		_ = f.Close()
		return nil, fmt.Errorf("create checkpoint: %w", err)
	}
	linked = true
	if err := os.Remove(tmp); err != nil {
		return fail(fmt.Errorf("create checkpoint %s: %w", path, err))
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fail(fmt.Errorf("%w: fsync directory of %s: %w", ErrJournal, path, err))
	}
	return newJournal(path, f, int64(len(frame)), NewBitset(h.Rows+2)), nil
}

func newJournal(path string, f *os.File, off int64, done *Bitset) *Journal {
	j := &Journal{path: path, f: f, w: f, off: off, done: done}
	j.cond.L = &j.mu
	return j
}

// Attempt appends an attempt record and returns once it is durable. Errors:
// ErrInvalidRecord (line outside 0..MaxLine), ErrClosed, or one wrapping ErrJournal.
func (j *Journal) Attempt(a Attempt) error {
	if a.Line < 0 || a.Line > MaxLine {
		return fmt.Errorf("attempt for line %d: %w", a.Line, ErrInvalidRecord)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usable(); err != nil {
		return err
	}
	body := attemptBody(nil, a)
	return j.commitLocked(body)
}

// Note appends an attempt record without waiting for it to be durable: it
// reaches the disk with the next record that is waited for (or at Close).
// The runner notes the attempts of actions that may be repeated, so a
// resume can count them; losing the last few in a crash costs only that
// count.
func (j *Journal) Note(a Attempt) error {
	if a.Line < 0 || a.Line > MaxLine {
		return fmt.Errorf("attempt for line %d: %w", a.Line, ErrInvalidRecord)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usable(); err != nil {
		return err
	}
	j.scratch = attemptBody(j.scratch[:0], a)
	j.pending = appendFrame(j.pending, j.scratch)
	j.seq++
	return nil
}

// Release appends a release record and returns once it is durable: the
// attempts recorded so far for the line were answered and did not apply (a
// 401, a 503, a 429, a request never written), so the row is plainly pending
// again and a resume sends it instead of settling it in_doubt.
func (j *Journal) Release(line int) error {
	if line < 0 || line > MaxLine {
		return fmt.Errorf("release for line %d: %w", line, ErrInvalidRecord)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usable(); err != nil {
		return err
	}
	return j.commitLocked(releaseBody(nil, line))
}

// Outcome appends an outcome record and returns once it is durable: only then
// does the row count as done. Errors: ErrInvalidRecord (line outside 0..MaxLine,
// outcome name empty or holding a tab or newline), ErrDuplicateOutcome (the
// line already has one, from this run or an earlier one), ErrClosed, or one
// wrapping ErrJournal.
func (j *Journal) Outcome(o Outcome) error {
	if o.Line < 0 || o.Line > MaxLine || !validOutcomeName(o.Outcome) {
		return fmt.Errorf("outcome for line %d: %w", o.Line, ErrInvalidRecord)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usable(); err != nil {
		return err
	}
	if j.done.Has(o.Line) {
		return fmt.Errorf("outcome for line %d: %w", o.Line, ErrDuplicateOutcome)
	}
	j.done.Set(o.Line)
	return j.commitLocked(outcomeBody(nil, o))
}

func (j *Journal) usable() error {
	if j.readOnly {
		return fmt.Errorf("%s: %w", j.path, ErrReadOnly)
	}
	if j.err != nil {
		return j.err
	}
	if j.closed {
		return fmt.Errorf("%s: %w", j.path, ErrClosed)
	}
	return nil
}

// Outcomes appends several outcome records and returns once all are durable,
// with one write and one fsync shared with any concurrent callers: the way a
// single recorder makes a batch of finished rows durable together. The
// checks are Outcome's; on an invalid or duplicate record nothing is written.
func (j *Journal) Outcomes(outs []Outcome) error {
	for _, o := range outs {
		if o.Line < 0 || o.Line > MaxLine || !validOutcomeName(o.Outcome) {
			return fmt.Errorf("outcome for line %d: %w", o.Line, ErrInvalidRecord)
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usable(); err != nil {
		return err
	}
	seen := make(map[int]bool, len(outs))
	for _, o := range outs {
		if j.done.Has(o.Line) || seen[o.Line] {
			return fmt.Errorf("outcome for line %d: %w", o.Line, ErrDuplicateOutcome)
		}
		seen[o.Line] = true
	}
	if len(outs) == 0 {
		return nil
	}
	for _, o := range outs[:len(outs)-1] {
		j.done.Set(o.Line)
		j.scratch = outcomeBody(j.scratch[:0], o)
		j.pending = appendFrame(j.pending, j.scratch)
		j.seq++
	}
	last := outs[len(outs)-1]
	j.done.Set(last.Line)
	j.scratch = outcomeBody(j.scratch[:0], last)
	return j.commitLocked(j.scratch)
}

// commitLocked appends one record's frame to pending and waits until it is
// durable, becoming the leader that flushes when no flush is running. j.mu is
// held on entry and on return.
func (j *Journal) commitLocked(body []byte) error {
	j.pending = appendFrame(j.pending, body)
	j.seq++
	mine := j.seq
	for j.durable < mine && j.err == nil {
		if j.flushing {
			j.cond.Wait()
			continue
		}
		j.flushLocked()
	}
	if j.durable >= mine {
		return nil
	}
	return j.err
}

// flushLocked writes everything pending with one write and one fsync. It
// releases j.mu while doing I/O so other callers can queue records for the
// next flush.
func (j *Journal) flushLocked() {
	j.flushing = true
	buf, upto, off := j.pending, j.seq, j.off
	j.pending, j.spare = j.spare[:0], nil
	j.mu.Unlock()

	var err error
	if _, werr := j.w.WriteAt(buf, off); werr != nil {
		err = fmt.Errorf("%w: write %s: %w", ErrJournal, j.path, werr)
	} else if serr := j.w.Sync(); serr != nil {
		err = fmt.Errorf("%w: fsync %s: %w", ErrJournal, j.path, serr)
	}

	j.mu.Lock()
	j.syncs++
	if err != nil {
		// Poisoned: what was written may be torn, so nothing may follow it.
		j.err = err
		j.pending = nil
	} else {
		j.records += int64(upto - j.durable)
		j.durable = upto
		j.off = off + int64(len(buf))
		j.spare = buf[:0]
	}
	j.flushing = false
	j.cond.Broadcast()
}

// Replay calls fn for every outcome record that was durable when Replay
// began, in file order, reading the file from the start with positional reads
// that do not disturb appends; memory does not grow with the number of
// records. Each Outcome's Payload is valid only until fn returns (it lies in
// the read buffer): fn copies what it keeps. Replay stops at fn's first error
// and returns it wrapped. It must finish before Close.
func (j *Journal) Replay(fn func(o Outcome) error) error {
	_, err := j.replay(0, fn)
	return err
}

// ReplayFrom is Replay without the first k outcome records (fn sees the
// (k+1)th on), and returns how many outcome records there were in all. Open
// noted where every outcomeMark-th outcome record starts, so the records
// before the k-th are mostly not read: completing a report that lacks only
// the journal's last rows reads only the journal's end.
func (j *Journal) ReplayFrom(k int, fn func(o Outcome) error) (outcomes int, err error) {
	return j.replay(max(k, 0), fn)
}

// outcomeMark is how often Open notes where an outcome record starts: 8
// bytes every 1,024 rows.
const outcomeMark = 1024

func (j *Journal) replay(k int, fn func(o Outcome) error) (int, error) {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return 0, fmt.Errorf("%s: %w", j.path, ErrClosed)
	}
	end := j.off
	j.mu.Unlock()

	var from int64 // the header's offset, or a noted outcome record's
	seen := 0      // outcome records before from
	if m := min(k/outcomeMark, len(j.marks)-1); k > 0 && m >= 0 {
		from, seen = j.marks[m], m*outcomeMark
	}
	fr := newFrameReader(io.NewSectionReader(j.f, from, end-from), end-from)
	fr.off = from
	first := from == 0
	names := interner{}
	for {
		body, err := fr.next()
		if err == io.EOF {
			return seen, nil
		}
		var rec record
		if err == nil && !first && len(body) > 1 && body[1] == '\t' {
			switch {
			case body[0] == 'A' || body[0] == 'R':
				continue // not an outcome: Open decoded it, and its checksum still holds
			case body[0] == 'O' && seen < k:
				seen++
				continue // before the k-th: Open decoded it too
			}
		}
		if err == nil {
			if rec, err = decodeBody(body, first, names); err != nil {
				err = errFrameRecord
			}
		}
		if err != nil {
			// Open read these bytes whole: they changed under the journal.
			if !errors.Is(err, errBadFrame) {
				return seen, fmt.Errorf("replay %s at byte %d: %w", j.path, fr.off, err)
			}
			return seen, fmt.Errorf("replay: %w", &CorruptError{Path: j.path, Offset: fr.off, Next: -1, Size: end, Reason: err.Error()})
		}
		first = false
		if rec.kind != 'O' {
			continue
		}
		seen++
		o := rec.outcome
		if err := fn(o); err != nil {
			return seen, fmt.Errorf("replay %s: line %d: %w", j.path, o.Line, err)
		}
	}
}

// Close waits for a flush in progress, releases the lock and closes the file.
// Calls after Close fail with ErrClosed; a second Close returns nil.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	for j.flushing || (len(j.pending) > 0 && j.err == nil) {
		if !j.flushing {
			j.flushLocked() // records noted without waiting (Note)
			continue
		}
		j.cond.Wait()
	}
	j.mu.Unlock()
	uerr := unix.Flock(int(j.f.Fd()), unix.LOCK_UN)
	cerr := j.f.Close()
	if cerr != nil {
		return fmt.Errorf("close checkpoint %s: %w", j.path, cerr)
	}
	if uerr != nil {
		return fmt.Errorf("unlock checkpoint %s: %w", j.path, uerr)
	}
	return nil
}
