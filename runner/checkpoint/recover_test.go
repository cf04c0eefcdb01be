package checkpoint

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sample is a journal written through the real API, with the file offset at
// which each record ends, measured with Stat after each durable call.
type sample struct {
	bytes     []byte
	headerEnd int64
	ends      []int64   // ends[i]: file size once record i was durable
	outcome   []bool    // record i is an outcome
	outcomes  []Outcome // the outcome records, in order
}

func buildSample(t testing.TB, dir string) sample {
	t.Helper()
	path := filepath.Join(dir, "sample.checkpoint")
	j := mustCreate(t, path, testHeader())
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	s := sample{headerEnd: size()}
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	for line := 2; line < 10; line++ {
		if line%3 != 0 {
			if err := j.Attempt(Attempt{Line: line, UserID: "00uXXXXXXXXXXXXXXXXX", N: 1, At: at}); err != nil {
				t.Fatal(err)
			}
			s.ends = append(s.ends, size())
			s.outcome = append(s.outcome, false)
		}
		p := payload(line)
		if line == 5 {
			p = append(p, "\t\n9\tdeadbeef\tO\t6\tx\n"...) // bytes that look like framing
		}
		o := Outcome{Line: line, Outcome: "succeeded", Payload: p}
		if err := j.Outcome(o); err != nil {
			t.Fatal(err)
		}
		s.ends = append(s.ends, size())
		s.outcome = append(s.outcome, true)
		s.outcomes = append(s.outcomes, o)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s.bytes = b
	return s
}

// wholeBefore returns how many records end at or before off, and where the
// last of them ends.
func (s sample) wholeBefore(off int64) (int, int64) {
	n, end := 0, s.headerEnd
	for i, e := range s.ends {
		if e <= off {
			n, end = i+1, e
		}
	}
	return n, end
}

// checkRecovered opens content and checks that exactly the first k records
// survive, the file is cut to their end, and appending works afterwards.
func checkRecovered(t *testing.T, s sample, content []byte, k int, end int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cut.checkpoint")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	j, st, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if st.Records != k {
		t.Fatalf("Records = %d, want %d", st.Records, k)
	}
	if st.TruncatedBytes != int64(len(content))-end {
		t.Errorf("TruncatedBytes = %d, want %d", st.TruncatedBytes, int64(len(content))-end)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != end {
		t.Errorf("file size after recovery = %d, want %d", fi.Size(), end)
	}
	var want []Outcome
	for i := range k {
		if s.outcome[i] {
			want = append(want, s.outcomes[len(want)])
		}
	}
	if got := replayAll(t, j); !sameOutcomes(got, want) {
		t.Errorf("Replay = %s, want %s", describe(got), describe(want))
	}
	if st.Done.Count() != len(want) {
		t.Errorf("Done.Count() = %d, want %d", st.Done.Count(), len(want))
	}
	extra := Outcome{Line: 1000, Outcome: "failed", Payload: []byte("after recovery")}
	if err := j.Outcome(extra); err != nil {
		t.Fatalf("Outcome after recovery: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j2, st2, err := Open(path)
	if err != nil {
		t.Fatalf("reopen after append: %v", err)
	}
	defer j2.Close()
	if st2.Records != k+1 || st2.TruncatedBytes != 0 || !st2.Done.Has(1000) {
		t.Errorf("after append and reopen: Records %d, Truncated %d, line 1000 done %v; want %d, 0, true",
			st2.Records, st2.TruncatedBytes, st2.Done.Has(1000), k+1)
	}
}

// TestTornTail cuts the journal at every byte offset inside its last three
// records, and flips every byte of its last record.
func TestTornTail(t *testing.T) {
	s := buildSample(t, t.TempDir())
	n := len(s.ends)
	from := s.ends[n-4]
	for cut := from; cut <= int64(len(s.bytes)); cut++ {
		k, end := s.wholeBefore(cut)
		ok := t.Run("", func(t *testing.T) { checkRecovered(t, s, s.bytes[:cut], k, end) })
		if !ok {
			t.Fatalf("cut at byte %d of %d failed", cut, len(s.bytes))
		}
	}
	for pos := s.ends[n-2]; pos < s.ends[n-1]; pos++ {
		b := bytes.Clone(s.bytes)
		b[pos] ^= 0x5a
		ok := t.Run("", func(t *testing.T) { checkRecovered(t, s, b, n-1, s.ends[n-2]) })
		if !ok {
			t.Fatalf("byte %d flipped: failed", pos)
		}
	}
}

// recordAt returns the index of the record holding byte off (-1: the
// header), and where that record starts and ends.
func (s sample) recordAt(off int64) (int, int64, int64) {
	if off < s.headerEnd {
		return -1, 0, s.headerEnd
	}
	start := s.headerEnd
	for i, e := range s.ends {
		if off < e {
			return i, start, e
		}
		start = e
	}
	return len(s.ends), start, int64(len(s.bytes))
}

// checkRefused writes content, checks that Open refuses it with a
// *CorruptError at offset (next: where it says a whole record follows) and
// leaves every byte as it was, and that OpenReadOnly reads exactly the
// records before offset, changes nothing and refuses to append.
func checkRefused(t *testing.T, s sample, content []byte, offset, next int64) {
	t.Helper()
	checkRefusedAt(t, filepath.Join(t.TempDir(), "bad.checkpoint"), s, content, offset, next)
}

// checkRefusedAt is checkRefused with the file at path (overwritten).
func checkRefusedAt(t *testing.T, path string, s sample, content []byte, offset, next int64) {
	t.Helper()
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	j, _, err := Open(path)
	if err == nil {
		j.Close()
		t.Fatalf("Open accepted a journal damaged at byte %d", offset)
	}
	var ce *CorruptError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) {
		t.Fatalf("Open: %v; want a *CorruptError", err)
	}
	if ce.Offset != offset || ce.Next != next || ce.Path != path || ce.Size != int64(len(content)) {
		t.Fatalf("Open: damage at %d, next %d, size %d, path %s; want %d, %d, %d, %s",
			ce.Offset, ce.Next, ce.Size, ce.Path, offset, next, len(content), path)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), fmt.Sprintf("byte %d", offset)) {
		t.Errorf("the message does not name the file and the offset: %v", err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, content) {
		t.Fatalf("a refused Open changed the file")
	}
	if offset == 0 {
		if _, _, err := OpenReadOnly(path); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("OpenReadOnly of a damaged header: %v, want ErrCorrupt", err)
		}
		return
	}
	j, st, err := OpenReadOnly(path)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	defer j.Close()
	if st.Damage == nil || st.Damage.Offset != offset || st.Damage.Next != next {
		t.Fatalf("OpenReadOnly: Damage = %v, want the one Open found", st.Damage)
	}
	k, end := s.wholeBefore(offset)
	if end != offset || st.Records != k {
		t.Fatalf("OpenReadOnly read %d records, want %d (ending at %d, the damage at %d)", st.Records, k, end, offset)
	}
	var want []Outcome
	for i := range k {
		if s.outcome[i] {
			want = append(want, s.outcomes[len(want)])
		}
	}
	if got := replayAll(t, j); !sameOutcomes(got, want) {
		t.Errorf("Replay = %s, want %s", describe(got), describe(want))
	}
	if err := j.Outcome(Outcome{Line: 1000, Outcome: "failed"}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Outcome on a read-only journal: %v, want ErrReadOnly", err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, content) {
		t.Fatalf("OpenReadOnly changed the file")
	}
}

// TestCorruptionIsRefused flips, one at a time, every byte of the header and
// of every record but the last (its length digits, checksum, tabs, body and
// newline): each time a whole record follows the damaged one, so Open must
// refuse with the damaged record's offset and change nothing.
func TestCorruptionIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := buildSample(t, dir)
	path := filepath.Join(dir, "flipped.checkpoint")
	last := s.ends[len(s.ends)-2] // the last record starts here
	for pos := int64(0); pos < last; pos++ {
		b := bytes.Clone(s.bytes)
		b[pos] ^= 0x5a
		i, start, end := s.recordAt(pos)
		next := end
		if i < 0 {
			start, next = 0, -1 // the header: nothing is looked for after it
		}
		checkRefusedAt(t, path, s, b, start, next)
		if t.Failed() {
			t.Fatalf("byte %d flipped (record %d, %d..%d): failed", pos, i, start, end)
		}
	}
}

// TestCorruptionExamples: the four kinds of damage named in issue 13, one
// each, in the middle of a real journal, plus a zeroed block in the middle
// (a hole a filesystem can leave) and whole records appended after a torn
// frame: each is refused at the right offset.
func TestCorruptionExamples(t *testing.T) {
	s := buildSample(t, t.TempDir())
	mid := 3 // a record in the middle: an attempt record or an outcome
	start, end := s.ends[mid-1], s.ends[mid]
	frame := s.bytes[start:end]
	lenDigits := int64(bytes.IndexByte(frame, '\t'))
	cases := []struct {
		name   string
		pos    int64
		offset int64
		next   int64
	}{
		{"header JSON", s.headerEnd / 2, 0, -1},
		{"header length", 0, 0, -1},
		{"a frame's length", start, start, end},
		{"a frame's checksum", start + lenDigits + 3, start, end},
		{"a frame's payload", end - 5, start, end},
		{"a frame's newline", end - 1, start, end},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(s.bytes)
			b[c.pos] ^= 0x01
			if bytes.Equal(b, s.bytes) {
				t.Fatal("nothing changed")
			}
			checkRefused(t, s, b, c.offset, c.next)
		})
	}
	t.Run("zeroed block", func(t *testing.T) {
		b := bytes.Clone(s.bytes)
		clear(b[start+7 : s.ends[mid+2]-3]) // from inside record mid to inside record mid+2
		checkRefused(t, s, b, start, s.ends[mid+2])
	})
	t.Run("records after a torn frame", func(t *testing.T) {
		// A frame cut short, then the whole journal's records again.
		b := bytes.Clone(s.bytes[:end-4])
		b = append(b, s.bytes[s.headerEnd:]...)
		checkRefused(t, s, b, start, end-4)
	})
}

// TestTornTailShapes: what an interrupted append can leave after the last
// durable record (nothing, a prefix of a frame, zeros where blocks were never
// written, or both) is cut, and the journal appends after it.
func TestTornTailShapes(t *testing.T) {
	s := buildSample(t, t.TempDir())
	n := len(s.ends)
	lastStart := s.ends[n-2]
	whole := s.bytes
	zeros := make([]byte, 4096)
	cases := []struct {
		name    string
		content []byte
		k       int
		end     int64
	}{
		{"zeros appended", append(bytes.Clone(whole), zeros...), n, int64(len(whole))},
		{"one zero appended", append(bytes.Clone(whole), 0), n, int64(len(whole))},
		{"a partial frame appended", append(bytes.Clone(whole), whole[s.ends[0]:s.ends[1]-9]...), n, int64(len(whole))},
		{"a partial frame, then zeros", append(append(bytes.Clone(whole), whole[s.ends[0]:s.ends[1]-9]...), zeros...), n, int64(len(whole))},
		{"a frame head only", append(bytes.Clone(whole), "123\t0a1b"...), n, int64(len(whole))},
		{"last frame cut mid-body", whole[:lastStart+20], n - 1, lastStart},
		{"last frame's tail zeroed", append(bytes.Clone(whole[:lastStart+20]), make([]byte, int64(len(whole))-lastStart-20)...), n - 1, lastStart},
		{"last frame zeroed and more zeros", append(bytes.Clone(whole[:lastStart]), zeros...), n - 1, lastStart},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkRecovered(t, s, c.content, c.k, c.end) })
	}
}

// TestFindFrameAcrossWindows: findFrame finds a frame wherever it sits
// relative to its read window (head or body across the window's edge), and
// finds none in zeros or in a frame whose checksum fails.
func TestFindFrameAcrossWindows(t *testing.T) {
	frame := appendFrame(nil, []byte("O\t7\tsucceeded\t"+strings.Repeat("x", 300)))
	const window = 1 << 20
	for _, at := range []int{0, 1, 100, window - 300, window - 20, window - 5, window - 1, window, window + 1, 2*window - 7} {
		b := make([]byte, at+len(frame)+10)
		copy(b[at:], frame)
		got, err := findFrame(bytes.NewReader(b), 1, int64(len(b)))
		want := int64(at)
		if at == 0 {
			want = -1 // the search starts at byte 1
		}
		if err != nil || got != want {
			t.Errorf("frame at %d: findFrame = %d, %v; want %d", at, got, err, want)
		}
		bad := bytes.Clone(b)
		bad[at+len(frame)-2] ^= 1 // its body
		if got, err := findFrame(bytes.NewReader(bad), 0, int64(len(bad))); err != nil || got != -1 {
			t.Errorf("damaged frame at %d: findFrame = %d, %v; want -1", at, got, err)
		}
		short := b[:at+len(frame)-1] // its newline missing
		if got, err := findFrame(bytes.NewReader(short), 0, int64(len(short))); err != nil || got != -1 {
			t.Errorf("frame at %d cut short: findFrame = %d, %v; want -1", at, got, err)
		}
	}
}

// FuzzJournalRecover: a journal cut at any byte, with any byte changed, is
// either recovered to the records before the damage (the damage is in the
// last frame: a torn tail) or refused with a *CorruptError at the damaged
// record's offset and left untouched (a whole record follows the damage, or
// the header is damaged).
func FuzzJournalRecover(f *testing.F) {
	s := buildSample(f, f.TempDir())
	size := uint32(len(s.bytes))
	f.Add(size, uint32(0), byte(0))                              // intact
	f.Add(size-1, uint32(0), byte(0))                            // final newline lost
	f.Add(uint32(s.ends[3])+5, uint32(0), byte(0))               // torn in the middle
	f.Add(uint32(s.headerEnd), uint32(0), byte(0))               // header only
	f.Add(uint32(s.headerEnd)-1, uint32(0), byte(0))             // torn header
	f.Add(uint32(0), uint32(0), byte(0))                         // empty
	f.Add(size, uint32(s.ends[5])-3, byte(1))                    // corrupt record 6
	f.Add(size, uint32(s.ends[len(s.ends)-1])-1, byte(0x0a^'x')) // final newline replaced
	f.Add(size, uint32(s.ends[2]), byte('1'^'9'))                // length digit of record 3
	f.Add(size, uint32(3), byte(0xff))                           // header damaged
	f.Fuzz(func(t *testing.T, cut, pos uint32, xor byte) {
		content := bytes.Clone(s.bytes[:int64(cut)%(int64(len(s.bytes))+1)])
		valid := int64(len(content))
		damaged := false
		if xor != 0 && len(content) > 0 {
			p := int64(pos) % int64(len(content))
			content[p] ^= xor
			valid = min(valid, p) // the frame holding p is damaged
			damaged = true
		}
		if valid < s.headerEnd {
			path := filepath.Join(t.TempDir(), "bad.checkpoint")
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, _, err := Open(path); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("damaged header: err = %v, want ErrCorrupt", err)
			}
			if b, _ := os.ReadFile(path); !bytes.Equal(b, content) {
				t.Fatalf("a refused Open changed the file")
			}
			return
		}
		// Whole records strictly before the damage survive. A record that
		// ends exactly at the damaged byte's offset is whole (the damage is
		// in the next frame), hence wholeBefore(valid).
		k, end := s.wholeBefore(valid)
		if damaged && k+1 < len(s.ends) && s.ends[k+1] <= int64(len(content)) {
			// A whole record follows the damaged one: corruption.
			checkRefused(t, s, content, end, s.ends[k])
			return
		}
		checkRecovered(t, s, content, k, end)
	})
}
