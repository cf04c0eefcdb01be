package checkpoint

import (
	"bufio"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkOutcomeParallel: 32 goroutines record outcomes at once through
// group commit, on a real file with real fsyncs. One loop iteration is 32×16
// outcomes; the metrics are records/s and fsyncs/record.
func BenchmarkOutcomeParallel(b *testing.B) {
	const workers, each = 32, 16
	j := mustCreate(b, filepath.Join(b.TempDir(), "bench.checkpoint"), testHeader())
	defer j.Close()
	var next atomic.Int64
	p := payload(123456)
	b.ReportAllocs()
	for b.Loop() {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for range each {
					line := int(next.Add(1))
					if err := j.Outcome(Outcome{Line: line, Outcome: "succeeded", Payload: p}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	s := j.Stats()
	b.ReportMetric(float64(s.Records)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(s.Syncs)/float64(s.Records), "fsyncs/record")
}

// writeBigJournal writes a journal of n outcome records (and an attempt for
// every tenth line) directly, without an fsync per record.
func writeBigJournal(b *testing.B, path string, n int) int64 {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	h := testHeader()
	h.Format, h.Rows = FormatVersion, n
	hb, err := headerBody(h)
	if err != nil {
		b.Fatal(err)
	}
	var frame, body []byte
	frame = appendFrame(frame[:0], hb)
	w.Write(frame)
	for line := 2; line < n+2; line++ {
		if line%10 == 0 {
			body = attemptBody(body[:0], Attempt{Line: line, UserID: "00uABCDEFGHIJKLMNOPQ", N: 1})
			frame = appendFrame(frame[:0], body)
			w.Write(frame)
		}
		name := "succeeded"
		if line%13 == 0 {
			name = "failed"
		}
		body = outcomeBody(body[:0], Outcome{Line: line, Outcome: name, Payload: payload(line)})
		frame = appendFrame(frame[:0], body)
		if _, err := w.Write(frame); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

// BenchmarkOpen1M opens (recovers) a journal of 1,000,000 outcomes, then
// replays every outcome, as a resume that completes its report would.
func BenchmarkOpen1M(b *testing.B) {
	const n = 1_000_000
	path := filepath.Join(b.TempDir(), "big.checkpoint")
	size := writeBigJournal(b, path, n)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		j, st, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if st.Done.Count() != n || st.TruncatedBytes != 0 || len(st.LastAttempt) != 0 {
			b.Fatalf("Open: Done %d, Truncated %d, in flight %d", st.Done.Count(), st.TruncatedBytes, len(st.LastAttempt))
		}
		seen := 0
		if err := j.Replay(func(o Outcome) error { seen++; return nil }); err != nil {
			b.Fatal(err)
		}
		if seen != n {
			b.Fatalf("Replay saw %d outcomes, want %d", seen, n)
		}
		if err := j.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenOnly1M measures Open alone on the same journal.
func BenchmarkOpenOnly1M(b *testing.B) {
	const n = 1_000_000
	path := filepath.Join(b.TempDir(), "big.checkpoint")
	b.SetBytes(writeBigJournal(b, path, n))
	b.ReportAllocs()
	for b.Loop() {
		j, st, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if st.Done.Count() != n {
			b.Fatalf("Done %d", st.Done.Count())
		}
		if err := j.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
