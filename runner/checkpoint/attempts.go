package checkpoint

import (
	"errors"
	"fmt"
	"io"
)

// AttemptRecord is one attempt record as ReplayAttempts yields it or, with
// Release set, a release record: the line's attempts so far did not apply
// (only Line is set then).
type AttemptRecord struct {
	Attempt
	Release bool
}

// ReplayAttempts calls fn for every attempt and release record that was
// durable when it began, in file order, finished lines included (Open's
// State keeps attempts only for the lines without an outcome). It reads
// the file as Replay does: positional reads, memory that does not grow
// with the file. `credbatch verify` uses it for the time of the attempts
// that may have applied. It stops at fn's first error and returns it
// wrapped, and must finish before Close.
func (j *Journal) ReplayAttempts(fn func(AttemptRecord) error) error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return fmt.Errorf("%s: %w", j.path, ErrClosed)
	}
	end := j.off
	j.mu.Unlock()

	fr := newFrameReader(io.NewSectionReader(j.f, 0, end), end)
	first := true
	names := interner{}
	for {
		body, err := fr.next()
		if err == io.EOF {
			return nil
		}
		var rec record
		if err == nil {
			if rec, err = decodeBody(body, first, names); err != nil {
				err = errFrameRecord
			}
		}
		if err != nil {
			if !errors.Is(err, errBadFrame) {
				return fmt.Errorf("replay %s at byte %d: %w", j.path, fr.off, err)
			}
			return fmt.Errorf("replay: %w", &CorruptError{Path: j.path, Offset: fr.off, Next: -1, Size: end, Reason: err.Error()})
		}
		first = false
		var ar AttemptRecord
		switch rec.kind {
		case 'A':
			ar.Attempt = rec.attempt
			ar.UserID = string(rec.user) // rec.user lies in the read buffer
		case 'R':
			ar.Line, ar.Release = rec.release, true
		default:
			continue
		}
		if err := fn(ar); err != nil {
			return fmt.Errorf("replay %s: line %d: %w", j.path, ar.Line, err)
		}
	}
}
