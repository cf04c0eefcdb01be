package checkpoint

// Reading a journal back after a stop, and telling a torn tail (cut) from
// corruption (refused).
//
// # Torn tail or corruption
//
// The journal only ever grows by one write(2) at a time, each followed by an
// fsync that must return before the next write begins. A crash can therefore
// leave at most the last write unfinished. What an unfinished append leaves
// depends on the filesystem: nothing, a prefix of the bytes, or the new size
// with some of its blocks never written (read back as zeros, or on a few
// configurations as stale bytes). In every case the damage lies after the
// last durable byte, and no record written after it was ever durable.
//
// So recovery keeps the longest prefix of whole, valid frames and looks at
// what follows: when no frame that reads back whole (its length, checksum
// and closing newline all hold) starts anywhere after the first bad byte,
// the rest is a torn tail and Open cuts it. When one does, records were
// written after the damaged one, so the damage is not an unfinished append:
// Open refuses with a *CorruptError (ErrCorrupt), naming the byte offset,
// and leaves the file byte for byte as it was. A frame whose checksum holds
// but whose record does not decode was written whole: it is never a torn
// tail either.
//
// The rule errs on the side of refusing. An append torn with a hole (an
// unwritten block followed by a written one) is refused rather than cut,
// though the records after the hole were never durable; the operator then
// restores the file or salvages it (OpenReadOnly), and nothing is sent in
// the meantime. A payload that itself holds the bytes of a whole frame could
// make a torn tail look like corruption in the same safe direction; the
// runner's payloads (JSON report rows) hold no raw tab, so they cannot. What
// the rule cannot see is a flipped bit in the very last frame, which looks
// exactly like a torn append: it is cut, and the report, which then holds a
// row the journal lacks, is what catches it (the command refuses to resume).

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"time"
)

// CorruptError describes a checkpoint that is damaged other than by a torn
// tail, or whose header does not read back. Open and OpenReadOnly return
// it (OpenReadOnly in State.Damage when the header is whole);
// errors.Is(err, ErrCorrupt) holds for it.
type CorruptError struct {
	Path string
	// Offset is where the damage begins: the end of the readable prefix.
	// 0 means the header itself does not read back.
	Offset int64
	// Next is where the first frame that reads back whole starts after the
	// damage, or -1 (none was looked for: the header is damaged, or the frame
	// at Offset reads back whole but does not decode).
	Next int64
	// Size is the file's size.
	Size int64
	// Reason says what is wrong with the frame at Offset.
	Reason string
	// ReportPath is the report the checkpoint's header names ("" when the
	// header is damaged).
	ReportPath string
}

func (e *CorruptError) Error() string {
	switch {
	case e.Offset == 0:
		return fmt.Sprintf("%s is not a readable checkpoint: its header at byte 0 does not read back (%s); the file was left unchanged", e.Path, e.Reason)
	case e.Next >= 0:
		return fmt.Sprintf("checkpoint %s is damaged at byte %d of %d (%s), and a whole record follows at byte %d, so this is not a torn tail from a crash; the file was left unchanged",
			e.Path, e.Offset, e.Size, e.Reason, e.Next)
	}
	return fmt.Sprintf("checkpoint %s is damaged at byte %d of %d (%s); the file was left unchanged", e.Path, e.Offset, e.Size, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorrupt) hold.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// scan is what reading a journal from its start found.
type scan struct {
	st     *State
	valid  int64         // end of the readable prefix
	size   int64         // the file's size
	damage *CorruptError // nil: whole, or whole but for a torn tail after valid
	marks  []int64       // Journal.marks
}

// openLine is what the attempt records of a line without an outcome say.
type openLine struct {
	n        int       // attempt records
	first    time.Time // the first one's time
	last     Attempt   // the last one, but its UserID
	user     []byte    // the last one's user ID
	inFlight bool      // no release record after the last attempt
}

// outcomeCounts counts outcomes by name; the names are few (and interned),
// so a list beats a map's hashing on every record.
type outcomeCounts []struct {
	name string
	n    int
}

func (c *outcomeCounts) add(name string) {
	for i := range *c {
		if (*c)[i].name == name {
			(*c)[i].n++
			return
		}
	}
	*c = append(*c, struct {
		name string
		n    int
	}{name, 1})
}

// readJournal reads f from the start, handing the outcome records to what
// each returns (OpenEach's; nil: none), and calls its end before returning.
// A header that does not read back is a *CorruptError returned as the
// error; damage after it is scan.damage; a failing read is returned as it
// is (it says nothing about the content).
func readJournal(f *os.File, path string, each func(Header) (func(Outcome), func())) (scan, error) {
	fi, err := f.Stat()
	if err != nil {
		return scan{}, fmt.Errorf("open checkpoint %s: %w", path, err)
	}
	size := fi.Size()
	fr := newFrameReader(io.NewSectionReader(f, 0, size), size)
	body, err := fr.next()
	var rec record
	if err == nil {
		if rec, err = decodeBody(body, true, nil); err != nil {
			err = errFrameRecord
		}
	}
	if err != nil {
		reason := err.Error()
		switch {
		case err == io.EOF:
			reason = "the file is empty"
		case !errors.Is(err, errBadFrame):
			return scan{}, fmt.Errorf("read checkpoint %s: %w", path, err)
		}
		return scan{}, &CorruptError{Path: path, Offset: 0, Next: -1, Size: size, Reason: reason}
	}
	if rec.header.Format != FormatVersion {
		return scan{}, fmt.Errorf("%s: format %d (this build reads %d): %w", path, rec.header.Format, FormatVersion, ErrFormat)
	}
	st := &State{
		Header:       rec.header,
		Done:         NewBitset(rec.header.Rows + 2),
		Counts:       map[string]int{},
		Attempts:     map[int]int{},
		LastAttempt:  map[int]Attempt{},
		FirstAttempt: map[int]time.Time{},
	}
	var onOutcome func(Outcome)
	if each != nil {
		var end func()
		if onOutcome, end = each(st.Header); end != nil {
			defer end()
		}
	}
	names := interner{}
	// The attempts of lines without an outcome (yet): one entry a line, so
	// that the usual pair, an attempt then its outcome, costs one insert and
	// one delete; it holds only the rows in flight at each point of the file.
	open := map[int]*openLine{}
	var free []*openLine // entries of lines that got their outcome, reused
	counts := outcomeCounts{}
	valid := fr.off // end of the last whole frame that also decoded
	var bad error
	var marks []int64 // Journal.marks
	for {
		start := fr.off
		body, err := fr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if !errors.Is(err, errBadFrame) {
				return scan{}, fmt.Errorf("read checkpoint %s at byte %d: %w", path, valid, err)
			}
			bad = err
			break
		}
		rec, err := decodeBody(body, false, names)
		if err != nil {
			// Written whole (its checksum holds), so never a torn tail.
			bad = errFrameRecord
			break
		}
		valid = fr.off
		st.Records++
		switch rec.kind {
		case 'A':
			a := rec.attempt
			if !st.Done.Has(a.Line) {
				ol := open[a.Line]
				if ol == nil {
					if k := len(free); k > 0 {
						ol, free = free[k-1], free[:k-1]
						*ol = openLine{user: ol.user[:0]}
					} else {
						ol = &openLine{}
					}
					ol.first = a.At
					open[a.Line] = ol
				}
				ol.n++
				ol.last, ol.inFlight = a, true
				ol.user = append(ol.user[:0], rec.user...)
			}
		case 'R':
			if ol := open[rec.release]; ol != nil {
				ol.inFlight = false
			}
		case 'O':
			o := rec.outcome
			if st.Outcomes%outcomeMark == 0 {
				marks = append(marks, start)
			}
			st.Outcomes++
			if !st.Done.Has(o.Line) {
				st.Done.Set(o.Line)
				counts.add(o.Outcome)
			}
			if ol := open[o.Line]; ol != nil {
				delete(open, o.Line)
				free = append(free, ol)
			}
			if onOutcome != nil {
				onOutcome(o)
			}
		}
	}
	for line, ol := range open {
		st.Attempts[line] = ol.n
		st.FirstAttempt[line] = ol.first
		if ol.inFlight {
			ol.last.UserID = string(ol.user)
			st.LastAttempt[line] = ol.last
		}
	}
	for _, c := range counts {
		st.Counts[c.name] = c.n
	}
	sc := scan{st: st, valid: valid, size: size, marks: marks}
	if bad == nil {
		return sc, nil
	}
	damage := &CorruptError{Path: path, Offset: valid, Next: -1, Size: size, Reason: bad.Error(), ReportPath: st.Header.ReportPath}
	if bad != errFrameRecord {
		next, err := findFrame(f, valid+1, size)
		if err != nil {
			return scan{}, fmt.Errorf("read checkpoint %s: %w", path, err)
		}
		if next < 0 {
			return sc, nil // a torn tail
		}
		damage.Next = next
	}
	sc.damage = damage
	return sc, nil
}

// findFrame returns the offset of the first frame at or after from that
// reads back whole — a well-formed head, a body inside the file followed by
// a newline, and a matching checksum — or -1 when there is none before size.
// It reads the file once, a window at a time, and checks a checksum only
// where a well-formed head starts.
func findFrame(ra io.ReaderAt, from, size int64) (int64, error) {
	const window = 1 << 20
	buf := make([]byte, min(window+maxFrameHead, max(size-from, 0)))
	var body []byte
	for base := from; base < size; base += window {
		w := buf[:min(len(buf), int(size-base))]
		if err := readAt(ra, w, base); err != nil {
			return -1, err
		}
		for i := range min(window, len(w)) {
			if c := w[i]; c < '0' || c > '9' {
				continue
			}
			n, crc, head, ok := parseHead(w[i:])
			if !ok {
				continue
			}
			start := base + int64(i)
			if start+int64(head+n+1) > size {
				continue
			}
			var b []byte
			if i+head+n+1 <= len(w) {
				b = w[i+head : i+head+n+1]
			} else {
				if cap(body) < n+1 {
					body = make([]byte, n+1)
				}
				b = body[:n+1]
				if err := readAt(ra, b, start+int64(head)); err != nil {
					return -1, err
				}
			}
			if b[n] == '\n' && crc32.Checksum(b[:n], castagnoli) == crc {
				return start, nil
			}
		}
	}
	return -1, nil
}

// readAt fills b from off; a file that ends first (it shrank) is an error.
func readAt(ra io.ReaderAt, b []byte, off int64) error {
	n, err := ra.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("at byte %d: %w", off+int64(n), err)
}
