package checkpoint

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func testHeader() Header {
	return Header{
		ToolVersion:    "v0.0.0-test",
		OrgURL:         "https://example.okta.com",
		ManifestPath:   "/tmp/users.csv",
		ManifestSHA256: strings.Repeat("ab", 32),
		ManifestSize:   1234,
		Rows:           40,
		Action:         "reset_password",
		SendEmail:      "false",
		ReportPath:     "/tmp/users.report.csv",
		ReportFormat:   "csv",
	}
}

// payload returns a report row holding a fake secret, unique per line.
func payload(line int) []byte {
	return fmt.Appendf(nil, "%d,user%d@example.com,00u%017d,reset_password,succeeded,200,,,,TempPw-%d-s3cr3t\n,,", line, line, line, line)
}

func mustCreate(t testing.TB, path string, h Header) *Journal {
	t.Helper()
	j, err := Create(path, h)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return j
}

func mustOpen(t testing.TB, path string) (*Journal, *State) {
	t.Helper()
	j, st, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return j, st
}

func replayAll(t testing.TB, j *Journal) []Outcome {
	t.Helper()
	var out []Outcome
	if err := j.Replay(func(o Outcome) error {
		o.Payload = bytes.Clone(o.Payload) // valid only during the call
		out = append(out, o)
		return nil
	}); err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return out
}

func TestCreateOpenRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.checkpoint")
	h := testHeader()
	j := mustCreate(t, path, h)
	at := time.Date(2025, 3, 4, 5, 6, 7, 891011121, time.UTC)
	steps := []func() error{
		func() error { return j.Attempt(Attempt{Line: 2, UserID: "00uAAAAAAAAAAAAAAAAA", N: 1, At: at}) },
		func() error { return j.Outcome(Outcome{Line: 2, Outcome: "succeeded", Payload: payload(2)}) },
		func() error { return j.Outcome(Outcome{Line: 3, Outcome: "failed", Payload: payload(3)}) },
		// line 4: two attempts, no outcome: in flight at the "crash".
		func() error { return j.Attempt(Attempt{Line: 4, UserID: "00uBBBBBBBBBBBBBBBBB", N: 1, At: at}) },
		func() error {
			return j.Attempt(Attempt{Line: 4, UserID: "user\twith\ntabs", N: 2, At: at.Add(time.Second)})
		},
		func() error { return j.Outcome(Outcome{Line: 5, Outcome: "succeeded", Payload: nil}) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if s := j.Stats(); s.Records != int64(len(steps)) {
		t.Errorf("Stats().Records = %d, want %d", s.Records, len(steps))
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	j2, st := mustOpen(t, path)
	defer j2.Close()
	wantH := h
	wantH.Format = FormatVersion
	if st.Header != wantH {
		t.Errorf("header = %+v, want %+v", st.Header, wantH)
	}
	if st.Records != len(steps) || st.TruncatedBytes != 0 || st.Outcomes != 3 {
		t.Errorf("Records, TruncatedBytes, Outcomes = %d, %d, %d; want %d, 0, 3", st.Records, st.TruncatedBytes, st.Outcomes, len(steps))
	}
	for line, want := range map[int]bool{1: false, 2: true, 3: true, 4: false, 5: true, 6: false, 1000: false} {
		if st.Done.Has(line) != want {
			t.Errorf("Done.Has(%d) = %v, want %v", line, !want, want)
		}
	}
	if st.Done.Count() != 3 {
		t.Errorf("Done.Count() = %d, want 3", st.Done.Count())
	}
	if want := map[string]int{"succeeded": 2, "failed": 1}; !reflect.DeepEqual(st.Counts, want) {
		t.Errorf("Counts = %v, want %v", st.Counts, want)
	}
	// Only unfinished lines keep their attempt count (a finished row has
	// its count in its report row), so state stays small for big runs.
	if want := map[int]int{4: 2}; !reflect.DeepEqual(st.Attempts, want) {
		t.Errorf("Attempts = %v, want %v", st.Attempts, want)
	}
	if want := map[int]time.Time{4: at}; !reflect.DeepEqual(st.FirstAttempt, want) {
		t.Errorf("FirstAttempt = %v, want %v", st.FirstAttempt, want)
	}
	wantLast := map[int]Attempt{4: {Line: 4, UserID: "user\twith\ntabs", N: 2, At: at.Add(time.Second)}}
	if !reflect.DeepEqual(st.LastAttempt, wantLast) {
		t.Errorf("LastAttempt = %v, want %v", st.LastAttempt, wantLast)
	}
	got := replayAll(t, j2)
	want := []Outcome{
		{Line: 2, Outcome: "succeeded", Payload: payload(2)},
		{Line: 3, Outcome: "failed", Payload: payload(3)},
		{Line: 5, Outcome: "succeeded", Payload: nil},
	}
	if !sameOutcomes(got, want) {
		t.Errorf("Replay = %s, want %s", describe(got), describe(want))
	}

	// Appending after reopen lands after the old records.
	if err := j2.Outcome(Outcome{Line: 4, Outcome: "in_doubt", Payload: payload(4)}); err != nil {
		t.Fatalf("Outcome after reopen: %v", err)
	}
	if got := replayAll(t, j2); len(got) != 4 || got[3].Line != 4 {
		t.Errorf("after append, Replay = %s", describe(got))
	}
}

func TestCreateRefusesExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.checkpoint")
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Create(path, testHeader())
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create on an existing file: err = %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Errorf("existing file changed to %q", b)
	}
}

func TestCreateRefusesOtherFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.checkpoint")
	h := testHeader()
	h.Format = FormatVersion + 1
	if _, err := Create(path, h); !errors.Is(err, ErrFormat) {
		t.Fatalf("err = %v, want ErrFormat", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused Create left a file: %v", err)
	}
}

func TestFileMode0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.checkpoint")
	j := mustCreate(t, path, testHeader())
	defer j.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode = %v, want 0600", perm)
	}
}

func TestLockedWithinProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.checkpoint")
	j := mustCreate(t, path, testHeader())
	if err := j.Outcome(Outcome{Line: 2, Outcome: "succeeded", Payload: payload(2)}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if _, _, err := Open(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open while the first Journal is open: err = %v, want ErrLocked", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Errorf("a refused Open changed the file")
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j2, _ := mustOpen(t, path) // the lock was released
	if _, _, err := Open(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("Open while a reopened Journal holds it: err = %v, want ErrLocked", err)
	}
	if err := j2.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestHeaderDiff(t *testing.T) {
	base := testHeader()
	base.Format = FormatVersion
	tests := []struct {
		name   string
		change func(h *Header)
		want   []Mismatch
	}{
		{"identical: resume allowed", func(h *Header) {}, nil},
		{"tool version is not compared", func(h *Header) { h.ToolVersion = "v9" }, nil},
		{"manifest path is not compared (a manifest may move)", func(h *Header) { h.ManifestPath = "/elsewhere.csv" }, nil},
		{"org URL", func(h *Header) { h.OrgURL = "https://other.okta.com" },
			[]Mismatch{{"org URL", "https://example.okta.com", "https://other.okta.com"}}},
		{"manifest edited", func(h *Header) { h.ManifestSHA256 = strings.Repeat("cd", 32); h.ManifestSize = 1300; h.Rows = 41 },
			[]Mismatch{
				{"manifest SHA-256", strings.Repeat("ab", 32), strings.Repeat("cd", 32)},
				{"manifest size", "1234", "1300"},
				{"manifest rows", "40", "41"},
			}},
		{"dry run and real run never share", func(h *Header) { h.DryRun = true },
			[]Mismatch{{"--dry-run", "false", "true"}}},
		{"flag given then, not now", func(h *Header) { h.SendEmail = "" },
			[]Mismatch{{"--send-email", "false", "(not given)"}}},
		{"flag not given then, given now", func(h *Header) { h.RevokeSessions = "true"; h.Strict = "false" },
			[]Mismatch{{"--revoke-sessions", "(not given)", "true"}, {"--strict", "(not given)", "false"}}},
		{"action", func(h *Header) { h.Action = "expire_password" },
			[]Mismatch{{"--action", "reset_password", "expire_password"}}},
		{"report", func(h *Header) { h.ReportPath = "/tmp/x.jsonl"; h.ReportFormat = "jsonl" },
			[]Mismatch{{"--report", "/tmp/users.report.csv", "/tmp/x.jsonl"}, {"report format", "csv", "jsonl"}}},
		{"format", func(h *Header) { h.Format = 2 },
			[]Mismatch{{"checkpoint format", "1", "2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := base
			tt.change(&now)
			got := base.Diff(now)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Diff = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRefusedRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.checkpoint")
	j := mustCreate(t, path, testHeader())
	if err := j.Outcome(Outcome{Line: 7, Outcome: "succeeded"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		call func() error
		want error
	}{
		{"negative line outcome", func() error { return j.Outcome(Outcome{Line: -1, Outcome: "failed"}) }, ErrInvalidRecord},
		{"negative line attempt", func() error { return j.Attempt(Attempt{Line: -1}) }, ErrInvalidRecord},
		{"line past MaxLine", func() error { return j.Outcome(Outcome{Line: MaxLine + 1, Outcome: "failed"}) }, ErrInvalidRecord},
		{"empty outcome", func() error { return j.Outcome(Outcome{Line: 8}) }, ErrInvalidRecord},
		{"outcome with a tab", func() error { return j.Outcome(Outcome{Line: 8, Outcome: "a\tb"}) }, ErrInvalidRecord},
		{"second outcome for a line", func() error { return j.Outcome(Outcome{Line: 7, Outcome: "failed"}) }, ErrDuplicateOutcome},
	}
	for _, c := range cases {
		if err := c.call(); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Outcome(Outcome{Line: 9, Outcome: "failed"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Outcome after Close: err = %v, want ErrClosed", err)
	}
	if err := j.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// A line done in an earlier run is still refused after reopening.
	j2, st := mustOpen(t, path)
	defer j2.Close()
	if st.Records != 1 {
		t.Errorf("refused records were written: Records = %d, want 1", st.Records)
	}
	if err := j2.Outcome(Outcome{Line: 7, Outcome: "failed"}); !errors.Is(err, ErrDuplicateOutcome) {
		t.Errorf("outcome for a line done in an earlier run: err = %v, want ErrDuplicateOutcome", err)
	}
}

func TestOpenRefusesWhatIsNotACheckpoint(t *testing.T) {
	dir := t.TempDir()
	other := appendFrame(nil, append([]byte("H\t"), []byte(`{"format":2}`)...))
	cases := []struct {
		name    string
		content []byte
		want    error
	}{
		{"empty file", nil, ErrCorrupt},
		{"a CSV manifest", []byte("user,action\nalice@example.com,reset_password\n"), ErrCorrupt},
		{"torn header", appendFrame(nil, []byte("H\t{\"format\":1}"))[:10], ErrCorrupt},
		{"outcome before any header", appendFrame(nil, []byte("O\t2\tsucceeded\t")), ErrCorrupt},
		{"future format", other, ErrFormat},
	}
	for i, c := range cases {
		path := filepath.Join(dir, fmt.Sprintf("f%d", i))
		if err := os.WriteFile(path, c.content, 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := Open(path)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if b, _ := os.ReadFile(path); !bytes.Equal(b, c.content) {
			t.Errorf("%s: a refused Open changed the file", c.name)
		}
	}
}

func TestBitset(t *testing.T) {
	var zero Bitset
	if zero.Has(0) || zero.Count() != 0 {
		t.Errorf("zero Bitset is not empty")
	}
	b := NewBitset(10)
	for _, i := range []int{0, 1, 63, 64, 65, 9, 1000, 1 << 20, 64} {
		b.Set(i)
	}
	for _, i := range []int{0, 1, 9, 63, 64, 65, 1000, 1 << 20} {
		if !b.Has(i) {
			t.Errorf("Has(%d) = false after Set", i)
		}
	}
	for _, i := range []int{-1, 2, 62, 66, 999, 1001, 1<<20 - 1, 1<<20 + 1, 1 << 30} {
		if b.Has(i) {
			t.Errorf("Has(%d) = true, never Set", i)
		}
	}
	if b.Count() != 8 || b.recount() != 8 {
		t.Errorf("Count() = %d (recount %d), want 8", b.Count(), b.recount())
	}
}

// sameOutcomes compares outcomes, treating a nil and an empty payload alike.
func sameOutcomes(a, b []Outcome) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Line != b[i].Line || a[i].Outcome != b[i].Outcome || !bytes.Equal(a[i].Payload, b[i].Payload) {
			return false
		}
	}
	return true
}

// describe prints outcomes without their payloads, which hold secrets.
func describe(outs []Outcome) string {
	var sb strings.Builder
	for _, o := range outs {
		fmt.Fprintf(&sb, "{line %d %s payload %d bytes crc %08x} ", o.Line, o.Outcome, len(o.Payload), crc32.Checksum(o.Payload, castagnoli))
	}
	return sb.String()
}

// gatedWriter wraps the file; its Sync can be held until the test releases
// it, and it can be told to fail.
type gatedWriter struct {
	f        *os.File
	mu       sync.Mutex
	gate     chan struct{} // when non-nil, the first Sync waits on it
	failW    error
	failSync error
	writes   int
}

func (g *gatedWriter) WriteAt(p []byte, off int64) (int, error) {
	g.mu.Lock()
	g.writes++
	err := g.failW
	g.mu.Unlock()
	if err != nil {
		// Model a torn write: half the bytes reach the file.
		n, _ := g.f.WriteAt(p[:len(p)/2], off)
		return n, err
	}
	return g.f.WriteAt(p, off)
}

func (g *gatedWriter) Sync() error {
	g.mu.Lock()
	gate := g.gate
	g.gate = nil
	g.mu.Unlock()
	if gate != nil {
		<-gate
	}
	g.mu.Lock()
	err := g.failSync
	g.mu.Unlock()
	if err != nil {
		return err
	}
	return g.f.Sync()
}

// TestExtremeValuesRoundTrip: every value the encoder writes reads back, so
// no record with a valid checksum is ever mistaken for a corrupt tail.
func TestExtremeValuesRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.checkpoint")
	j := mustCreate(t, path, Header{}) // an all-empty header
	attempts := []Attempt{
		{Line: 0}, // zero time, empty user
		{Line: 1, N: -1, At: time.Unix(0, math.MinInt64)},
		{Line: MaxLine - 1, N: math.MaxInt, At: time.Unix(0, math.MaxInt64), UserID: "\x00\xff\n"},
	}
	for _, a := range attempts {
		if err := j.Attempt(a); err != nil {
			t.Fatalf("Attempt(%+v): %v", a, err)
		}
	}
	if err := j.Outcome(Outcome{Line: MaxLine, Outcome: "ok", Payload: bytes.Repeat([]byte{0, '\n', '\t'}, 1000)}); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j2, st := mustOpen(t, path)
	defer j2.Close()
	if st.Records != len(attempts)+1 || st.TruncatedBytes != 0 {
		t.Fatalf("Records %d, Truncated %d; want %d, 0", st.Records, st.TruncatedBytes, len(attempts)+1)
	}
	for _, a := range attempts {
		got := st.LastAttempt[a.Line]
		if got.N != a.N || got.UserID != a.UserID || got.At.UnixNano() != a.At.UnixNano() {
			t.Errorf("attempt for line %d read back as %+v", a.Line, got)
		}
	}
	if !st.Done.Has(MaxLine) || st.Header.Format != FormatVersion {
		t.Errorf("outcome for line MaxLine or header format lost: %v %d", st.Done.Has(MaxLine), st.Header.Format)
	}
}

// A release record takes a line out of LastAttempt: its attempts were
// answered without effect, so a resume sends the row instead of settling it.
func TestReleaseClearsInFlightAttempt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.checkpoint")
	j, err := Create(path, Header{OrgURL: "https://example.okta.com", Rows: 3})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1700000000, 0).UTC()
	for _, line := range []int{2, 3, 4} {
		if err := j.Attempt(Attempt{Line: line, UserID: "00u1", N: 1, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Release(2); err != nil {
		t.Fatal(err)
	}
	// Line 4: released, then attempted again: in flight once more.
	if err := j.Release(4); err != nil {
		t.Fatal(err)
	}
	if err := j.Attempt(Attempt{Line: 4, UserID: "00u1", N: 2, At: at.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j, st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, ok := st.LastAttempt[2]; ok {
		t.Error("line 2 was released but is still in flight")
	}
	if _, ok := st.LastAttempt[3]; !ok {
		t.Error("line 3 lost its in-flight attempt")
	}
	if st.Attempts[2] != 1 {
		t.Errorf("line 2 attempts = %d, want 1 (a release keeps the count)", st.Attempts[2])
	}
	if a, ok := st.LastAttempt[4]; !ok || a.N != 2 || st.Attempts[4] != 2 || !st.FirstAttempt[4].Equal(at) {
		t.Errorf("line 4 (attempt, release, attempt): last %+v (in flight %v), %d attempts, first %v; want the second in flight, 2, %v",
			a, ok, st.Attempts[4], st.FirstAttempt[4], at)
	}
}

// Outcomes makes a batch durable with one fsync, and refuses a batch with a
// line already done without writing any of it.
func TestOutcomesBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.checkpoint")
	j, err := Create(path, Header{OrgURL: "https://example.okta.com", Rows: 10})
	if err != nil {
		t.Fatal(err)
	}
	before := j.Stats().Syncs
	batch := []Outcome{{Line: 2, Outcome: "succeeded", Payload: []byte("a")}, {Line: 3, Outcome: "failed", Payload: []byte("b\nc")}, {Line: 4, Outcome: "succeeded"}}
	if err := j.Outcomes(batch); err != nil {
		t.Fatal(err)
	}
	if got := j.Stats().Syncs - before; got != 1 {
		t.Errorf("a batch of 3 took %d fsyncs, want 1", got)
	}
	if err := j.Outcomes([]Outcome{{Line: 5, Outcome: "succeeded"}, {Line: 3, Outcome: "succeeded"}}); !errors.Is(err, ErrDuplicateOutcome) {
		t.Fatalf("duplicate in batch: err = %v, want ErrDuplicateOutcome", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j, st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if st.Done.Count() != 3 || st.Done.Has(5) {
		t.Fatalf("done = %d rows (line 5 done: %v), want lines 2-4 only", st.Done.Count(), st.Done.Has(5))
	}
	var payloads []string
	if err := j.Replay(func(o Outcome) error { payloads = append(payloads, string(o.Payload)); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(payloads, "|") != "a|b\nc|" {
		t.Errorf("payloads = %q", payloads)
	}
}

// A noted attempt is not waited for, but reaches the disk with the next
// durable record or at Close, and a resume sees it with its first time.
func TestNoteReachesDiskAtClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n.checkpoint")
	j, err := Create(path, Header{OrgURL: "https://example.okta.com", Rows: 3})
	if err != nil {
		t.Fatal(err)
	}
	first := time.Unix(1700000000, 0).UTC()
	if err := j.Note(Attempt{Line: 2, UserID: "00u2", N: 1, At: first}); err != nil {
		t.Fatal(err)
	}
	if err := j.Note(Attempt{Line: 2, UserID: "00u2", N: 2, At: first.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j, st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if st.Attempts[2] != 2 || !st.FirstAttempt[2].Equal(first) || st.LastAttempt[2].N != 2 {
		t.Fatalf("attempts %d, first %v, last %+v; want 2, %v, N=2", st.Attempts[2], st.FirstAttempt[2], st.LastAttempt[2], first)
	}
}

// A frame whose checksum holds but whose record does not decode (say a kind
// from a newer build) was written whole: it is no torn tail, even at the end
// of the file. Open refuses it (never cutting a record it cannot read) and
// changes nothing; OpenReadOnly reads the records before it.
func TestUndecodableFrameIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "u.checkpoint")
	j, err := Create(path, Header{OrgURL: "https://example.okta.com", Rows: 5})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Outcome(Outcome{Line: 2, Outcome: "succeeded"}); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(appendFrame(nil, []byte("X\tjunk"))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Open(path)
	var ce *CorruptError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Offset != fi.Size() || ce.Next != -1 {
		t.Fatalf("Open = %v; want a *CorruptError at byte %d", err, fi.Size())
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Fatal("a refused Open changed the file")
	}
	j, st, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if st.Damage == nil || st.Damage.Offset != fi.Size() || !st.Done.Has(2) || st.Records != 1 {
		t.Fatalf("OpenReadOnly: damage %v, line 2 done %v, records %d; want the damage at %d and line 2", st.Damage, st.Done.Has(2), st.Records, fi.Size())
	}
}

// TestBodyLongerThanTheReadBuffer: a record longer than the reader's 1 MiB
// buffer is read whole (not where it lies in the buffer), between records
// that are; cut anywhere inside, it is a torn tail.
func TestBodyLongerThanTheReadBuffer(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "big.checkpoint")
	j := mustCreate(t, path, testHeader())
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16+5) // 3 MiB and a bit
	big[len(big)/2] = '\n'
	want := []Outcome{
		{Line: 2, Outcome: "succeeded", Payload: payload(2)},
		{Line: 3, Outcome: "failed", Payload: big},
		{Line: 4, Outcome: "succeeded", Payload: payload(4)},
	}
	for _, o := range want {
		if err := j.Outcome(o); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j2, st := mustOpen(t, path)
	if st.Done.Count() != 3 || st.Outcomes != 3 || st.TruncatedBytes != 0 {
		t.Errorf("Open: %d done, %d outcomes, %d bytes cut; want 3, 3, 0", st.Done.Count(), st.Outcomes, st.TruncatedBytes)
	}
	if got := replayAll(t, j2); !sameOutcomes(got, want) {
		t.Errorf("Replay = %s, want %s", describe(got), describe(want))
	}
	j2.Close()

	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	end := int64(bytes.Index(whole, big)) + int64(len(big)) + 1 // the big frame's end
	for _, cut := range []int64{end - int64(len(big)) + 7, end - int64(len(big))/2, end - 1} {
		p := filepath.Join(dir, fmt.Sprintf("cut%d.checkpoint", cut))
		if err := os.WriteFile(p, whole[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		j3, st, err := Open(p)
		if err != nil {
			t.Fatalf("cut at %d: Open: %v", cut, err)
		}
		if st.Done.Count() != 1 || st.TruncatedBytes == 0 {
			t.Errorf("cut at %d: %d done, %d bytes cut; want 1 and the torn record cut", cut, st.Done.Count(), st.TruncatedBytes)
		}
		if got := replayAll(t, j3); !sameOutcomes(got, want[:1]) {
			t.Errorf("cut at %d: Replay = %s", cut, describe(got))
		}
		j3.Close()
	}
}

// TestReplayFrom: ReplayFrom(k) streams the outcome records after the k-th,
// wherever k falls against the places Open noted (every 1,024th outcome),
// with attempts between them, outcomes appended after Open included, and
// counts them all.
func TestReplayFrom(t *testing.T) {
	path := filepath.Join(t.TempDir(), "from.checkpoint")
	j := mustCreate(t, path, testHeader())
	const n = 3000
	var batch []Outcome
	for i := range n {
		line := i + 2
		if i%3 == 0 {
			if err := j.Note(Attempt{Line: line, UserID: "00uAAAAAAAAAAAAAAAAA", N: 1, At: time.Unix(1, 0)}); err != nil {
				t.Fatal(err)
			}
		}
		batch = append(batch, Outcome{Line: line, Outcome: "succeeded", Payload: payload(line)})
		if len(batch) == 100 {
			if err := j.Outcomes(batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j2, st := mustOpen(t, path)
	defer j2.Close()
	if st.Outcomes != n {
		t.Fatalf("Outcomes = %d, want %d", st.Outcomes, n)
	}
	check := func(k, total int) {
		t.Helper()
		var lines []int
		got, err := j2.ReplayFrom(k, func(o Outcome) error {
			if string(o.Payload) != string(payload(o.Line)) {
				return fmt.Errorf("line %d: wrong payload", o.Line)
			}
			lines = append(lines, o.Line)
			return nil
		})
		if err != nil || got != total {
			t.Fatalf("ReplayFrom(%d) = %d, %v; want %d outcomes", k, got, err, total)
		}
		want := max(total-k, 0)
		if len(lines) != want || (want > 0 && (lines[0] != k+2 || lines[want-1] != total+1)) {
			t.Errorf("ReplayFrom(%d): %d outcomes (lines %v...), want %d from line %d", k, len(lines), lines[:min(len(lines), 3)], want, k+2)
		}
	}
	for _, k := range []int{0, 1, 1023, 1024, 1025, 2047, 2048, 2049, 2999, 3000, 3001, 9999} {
		check(k, n)
	}
	// Outcomes recorded after Open are past the last place it noted.
	for line := n + 2; line < n+7; line++ {
		if err := j2.Outcome(Outcome{Line: line, Outcome: "failed", Payload: payload(line)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []int{2500, 3000, 3003, 3005} {
		check(k, n+5)
	}
}

// TestOpenEach: OpenEach hands over, with the header first, the outcome
// records Replay streams, in the same order, and none of a torn tail it
// cuts; a nil function gets nothing handed.
func TestOpenEach(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "each.checkpoint")
	h := testHeader()
	j := mustCreate(t, path, h)
	for line := 2; line < 40; line++ {
		if line%3 == 0 {
			if err := j.Attempt(Attempt{Line: line, UserID: "00uAAAAAAAAAAAAAAAAA", N: 1, At: time.Unix(1, 0)}); err != nil {
				t.Fatal(err)
			}
		}
		if line%5 != 0 { // every fifth line stays without an outcome
			if err := j.Outcome(Outcome{Line: line, Outcome: "succeeded", Payload: payload(line)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	var gotHeader Header
	var got []Outcome
	ends := 0
	j2, st, err := OpenEach(path, func(h Header) (func(Outcome), func()) {
		gotHeader = h
		return func(o Outcome) {
			if ends > 0 {
				t.Error("an outcome handed over after end")
			}
			o.Payload = bytes.Clone(o.Payload) // valid only during the call
			got = append(got, o)
		}, func() { ends++ }
	})
	if err != nil {
		t.Fatal(err)
	}
	want := replayAll(t, j2)
	j2.Close()
	if gotHeader.OrgURL != h.OrgURL || gotHeader.Rows != h.Rows {
		t.Errorf("header handed over %+v, want %+v", gotHeader, h)
	}
	if len(want) != st.Done.Count() || !sameOutcomes(got, want) || ends != 1 {
		t.Errorf("handed over %s (end called %d times), want Replay's %s and end once", describe(got), ends, describe(want))
	}

	// Torn in its last outcome: the ones before it, and not that one.
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	torn := filepath.Join(dir, "torn.checkpoint")
	if err := os.WriteFile(torn, whole[:len(whole)-5], 0o600); err != nil {
		t.Fatal(err)
	}
	got = nil
	j3, st, err := OpenEach(torn, func(Header) (func(Outcome), func()) {
		return func(o Outcome) {
			got = append(got, Outcome{Line: o.Line, Outcome: o.Outcome, Payload: bytes.Clone(o.Payload)})
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	j3.Close()
	if st.TruncatedBytes == 0 || !sameOutcomes(got, want[:len(want)-1]) {
		t.Errorf("torn: %d bytes cut, handed over %s; want the tail cut and %s", st.TruncatedBytes, describe(got), describe(want[:len(want)-1]))
	}
	j4, _, err := OpenEach(path, func(Header) (func(Outcome), func()) { return nil, nil })
	if err != nil {
		t.Fatal(err)
	}
	j4.Close()

	// Refused (a whole frame after a damaged one): end is still called.
	bad := bytes.Clone(whole)
	bad[len(bad)/2] ^= 0x20
	damaged := filepath.Join(dir, "damaged.checkpoint")
	if err := os.WriteFile(damaged, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	ends = 0
	if _, _, err := OpenEach(damaged, func(Header) (func(Outcome), func()) { return func(Outcome) {}, func() { ends++ } }); !errors.Is(err, ErrCorrupt) || ends != 1 {
		t.Errorf("damaged: %v, end called %d times; want ErrCorrupt and end once", err, ends)
	}
}
