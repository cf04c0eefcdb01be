package checkpoint

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
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

// FuzzJournalRecover: a journal cut at any byte, with any byte changed,
// recovers to a prefix of whole records — or, when the header itself is
// damaged, is refused with ErrCorrupt and left untouched.
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
		if xor != 0 && len(content) > 0 {
			p := int64(pos) % int64(len(content))
			content[p] ^= xor
			valid = min(valid, p) // the frame holding p is damaged
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
		checkRecovered(t, s, content, k, end)
	})
}
