package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/credbatch/credbatch/emulator"
	"golang.org/x/sys/unix"
)

// stopper cancels a feed context when the org has answered n listing
// requests, as a Ctrl-C while page n is on the wire would; onRequest runs
// before each listing request is served (with its number).
type stopper struct {
	n         atomic.Int64
	at        int64
	cancel    context.CancelFunc
	onRequest func(n int64)
}

func (s *stopper) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/users") {
			h.ServeHTTP(w, r)
			return
		}
		n := s.n.Add(1)
		if s.onRequest != nil {
			s.onRequest(n)
		}
		h.ServeHTTP(w, r)
		if n == s.at && s.cancel != nil {
			s.cancel()
		}
	})
}

// reference runs the export uninterrupted against a fresh org of the same
// seed and returns the manifest's bytes.
func reference(t *testing.T, cfg emulator.Config, op opts) []byte {
	t.Helper()
	o := newOrg(t, cfg, nil)
	op.out = outPath(t, "reference"+filepath.Ext(op.out))
	o.run(t, op)
	b, err := os.ReadFile(op.out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestResumeAfterStop: stopped while page 3 is on the wire, the export
// saves page 3 and stops; the same command resumes from the saved next
// link, fetching no page twice, and ends with the file an uninterrupted
// export writes.
func TestResumeAfterStop(t *testing.T) {
	cfg := emulator.Config{Users: 1300}
	for _, ext := range []string{".csv", ".jsonl"} {
		t.Run(ext, func(t *testing.T) {
			feed, cancel := context.WithCancelCause(context.Background())
			s := &stopper{at: 3, cancel: func() { cancel(errors.New("interrupted")) }}
			o := newOrg(t, cfg, s.wrap)
			out := outPath(t, "m"+ext)
			op := opts{src: Source{Kind: FromAll}, out: out, feed: feed}
			x, _, err := o.open(t, op)
			if err != nil {
				t.Fatal(err)
			}
			res, err := x.Run()
			if !errors.Is(err, ErrStopped) || res == nil || res.Pages != 3 {
				t.Fatalf("Run: %+v, %v; want stopped after 3 pages", res, err)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatal("OUT exists after a stop")
			}
			st, err := loadState(out + ".partial.state")
			if err != nil || st == nil || st.Pages != 3 || st.Done {
				t.Fatalf("state %+v, %v", st, err)
			}
			saved := st.Next
			first := len(o.listingRequests())

			op.feed = nil
			x, _, err = o.open(t, op)
			if err != nil {
				t.Fatal(err)
			}
			if x.Resuming() == nil {
				t.Fatal("not resuming")
			}
			res, err = x.Run()
			if err != nil || !res.Resumed {
				t.Fatalf("resume: %+v, %v", res, err)
			}
			reqs := o.listingRequests()
			if got := reqs[first]; got != strings.TrimPrefix(saved, o.url) {
				t.Errorf("the resume asked first for %q, the saved next link is %q", got, saved)
			}
			seen := map[string]bool{}
			for _, r := range reqs {
				if seen[r] {
					t.Errorf("page %s fetched twice", r)
				}
				seen[r] = true
			}
			got, _ := os.ReadFile(out)
			if want := reference(t, cfg, op); !bytes.Equal(got, want) {
				t.Errorf("the resumed manifest differs from an uninterrupted one (%d and %d bytes)", len(got), len(want))
			}
		})
	}
}

// TestResumeCutsUnsavedPage: killed after a page's rows were written but
// before its state was saved (here: the state put back to the one before
// that page), the resume cuts those rows, fetches that page again, and
// ends with the uninterrupted file: no user twice.
func TestResumeCutsUnsavedPage(t *testing.T) {
	cfg := emulator.Config{Users: 1300}
	feed, cancel := context.WithCancelCause(context.Background())
	out := outPath(t, "m.csv")
	var before []byte
	s := &stopper{at: 4, cancel: func() { cancel(errors.New("interrupted")) }}
	s.onRequest = func(n int64) {
		if n == 4 { // the state of page 3 is saved; page 4 is asked for
			before, _ = os.ReadFile(out + ".partial.state")
		}
	}
	o := newOrg(t, cfg, s.wrap)
	op := opts{src: Source{Kind: FromAll}, out: out, feed: feed}
	x, _, err := o.open(t, op)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Run(); !errors.Is(err, ErrStopped) {
		t.Fatalf("Run: %v", err)
	}
	if err := os.WriteFile(out+".partial.state", before, 0o600); err != nil {
		t.Fatal(err)
	}
	// and a torn half row after page 4's rows, as a crash mid-write leaves
	// (longer than the pages still to come: nothing may cover it up)
	f, _ := os.OpenFile(out+".partial", os.O_WRONLY|os.O_APPEND, 0)
	_, _ = f.WriteString("00uTORN,half" + strings.Repeat("x", 1<<20))
	f.Close()
	n := len(o.listingRequests())
	op.feed = nil
	res := o.run(t, op)
	if got := o.listingRequests()[n]; !strings.Contains(got, "after=") || res.Written != len(o.usersWhere(nil, notDeprovisioned)) {
		t.Errorf("first request of the resume %q, result %+v", got, res)
	}
	got, _ := os.ReadFile(out)
	if want := reference(t, cfg, op); !bytes.Equal(got, want) {
		t.Errorf("the resumed manifest differs from an uninterrupted one (%d and %d bytes)", len(got), len(want))
	}
}

// stoppedExport leaves an export stopped after two pages and returns its
// org and options.
func stoppedExport(t *testing.T, ext string) (*testOrg, opts) {
	t.Helper()
	feed, cancel := context.WithCancelCause(context.Background())
	s := &stopper{at: 2, cancel: func() { cancel(errors.New("interrupted")) }}
	o := newOrg(t, emulator.Config{Users: 1000}, s.wrap)
	op := opts{src: Source{Kind: FromAll}, out: outPath(t, "m"+ext), feed: feed}
	x, _, err := o.open(t, op)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Run(); !errors.Is(err, ErrStopped) {
		t.Fatalf("Run: %v", err)
	}
	op.feed = nil
	return o, op
}

// TestResumeRefusesOtherSettings: a rerun with another source, statuses,
// format-compatible columns or org is refused, naming what differs, and
// changes nothing.
func TestResumeRefusesOtherSettings(t *testing.T) {
	o, op := stoppedExport(t, ".csv")
	state, _ := os.ReadFile(op.out + ".partial.state")
	f := false
	for _, tc := range []struct {
		name string
		op   func(opts) opts
		want string
	}{
		{"source", func(p opts) opts { p.src = Source{Kind: FromFilter, Value: `status eq "ACTIVE"`}; return p }, `source is "all" there but "filter" now`},
		{"statuses", func(p opts) opts { p.keep, _ = KeepStatuses("ACTIVE", false); return p }, "--status is"},
		{"action", func(p opts) opts { p.cols = Columns{Action: "reset_password", SendEmail: &f}; return p }, `--action is "" there but "reset_password" now`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := o.open(t, tc.op(op))
			var se *SettingsError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v; want a SettingsError with %q", err, tc.want)
			}
			if now, _ := os.ReadFile(op.out + ".partial.state"); !bytes.Equal(now, state) {
				t.Error("the state file changed")
			}
		})
	}
}

// TestResumeRefusesChangedPartial: a partial manifest that no longer holds
// what its state says (a byte changed, or cut short) is refused.
func TestResumeRefusesChangedPartial(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(b []byte) []byte
	}{
		{"a byte changed", func(b []byte) []byte { b[len(b)/2] ^= 1; return b }},
		{"cut short", func(b []byte) []byte { return b[:len(b)-10] }},
		{"a row removed and the length kept", func(b []byte) []byte {
			i := bytes.IndexByte(b, '\n') + 1
			j := i + bytes.IndexByte(b[i:], '\n') + 1
			return append(append(b[:i:i], b[j:]...), bytes.Repeat([]byte("x"), j-i)...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, op := stoppedExport(t, ".csv")
			p := op.out + ".partial"
			b, _ := os.ReadFile(p)
			if err := os.WriteFile(p, tc.change(b), 0o600); err != nil {
				t.Fatal(err)
			}
			changed, _ := os.ReadFile(p)
			x, _, err := o.open(t, op)
			if err == nil {
				_, err = x.Run()
			}
			if !errors.Is(err, ErrPartialChanged) {
				t.Fatalf("resume: %v, want ErrPartialChanged", err)
			}
			if now, _ := os.ReadFile(p); !bytes.Equal(now, changed) {
				t.Error("the partial manifest was changed by the refusal")
			}
		})
	}
}

// TestResumeBusy: while another process holds OUT.partial's lock, a rerun
// is refused.
func TestResumeBusy(t *testing.T) {
	o, op := stoppedExport(t, ".jsonl")
	f, err := os.Open(op.out + ".partial")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A lock on another open file description, as another process has.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	x, _, err := o.open(t, op)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Run(); !errors.Is(err, ErrBusy) {
		t.Fatalf("Run: %v, want ErrBusy", err)
	}
}

// TestOrphanPartial: OUT.partial holding data without a state file is
// refused; an empty one (killed before its first state) is started over.
func TestOrphanPartial(t *testing.T) {
	o := newOrg(t, emulator.Config{Users: 30}, nil)
	out := outPath(t, "m.csv")
	if err := os.WriteFile(out+".partial", []byte("user\n00u1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := o.open(t, opts{src: Source{Kind: FromAll}, out: out}); !errors.Is(err, ErrOrphanPartial) {
		t.Fatalf("Open: %v, want ErrOrphanPartial", err)
	}
	if err := os.WriteFile(out+".partial", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	o.run(t, opts{src: Source{Kind: FromAll}, out: out})
	o.wantUsers(t, "after an empty orphan", readManifest(t, out), o.usersWhere(nil, notDeprovisioned))
}

// TestFinishInterrupted: killed once the state said done, before OUT
// existed, or after OUT was linked but before OUT.partial was removed, the
// rerun completes OUT without asking Okta for anything.
func TestFinishInterrupted(t *testing.T) {
	for _, linked := range []bool{false, true} {
		o := newOrg(t, emulator.Config{Users: 300}, nil)
		op := opts{src: Source{Kind: FromAll}, out: outPath(t, "m.csv")}
		x, _, err := o.open(t, op)
		if err != nil {
			t.Fatal(err)
		}
		o.run(t, op)
		want, _ := os.ReadFile(op.out)
		sum := sha256.Sum256(want)
		st := &State{Format: stateFormat, Settings: x.settings, Done: true, Pages: 2, Listed: 294,
			Written: len(readManifest(t, op.out)), Length: int64(len(want)), SHA256: hex.EncodeToString(sum[:])}
		st.Listed = st.Written
		if err := saveState(op.out+".partial.state", st); err != nil {
			t.Fatal(err)
		}
		if linked {
			err = os.Link(op.out, op.out+".partial")
		} else {
			err = os.Rename(op.out, op.out+".partial")
		}
		if err != nil {
			t.Fatal(err)
		}
		n := len(o.requests())
		res := o.run(t, op)
		got, _ := os.ReadFile(op.out)
		if !bytes.Equal(got, want) || len(o.requests()) != n || res.Written != st.Written {
			t.Errorf("linked %v: manifest equal %v, %d requests, result %+v", linked, bytes.Equal(got, want), len(o.requests())-n, res)
		}
		noFiles(t, op.out+".x") // nothing named after it
		for _, p := range []string{op.out + ".partial", op.out + ".partial.state"} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("linked %v: %s left behind", linked, p)
			}
		}
	}
}

// TestOutAppearsMeanwhile: a file created at OUT while the export ran is
// never replaced; the complete export stays in OUT.partial.
func TestOutAppearsMeanwhile(t *testing.T) {
	out := outPath(t, "m.csv")
	s := &stopper{at: -1}
	s.onRequest = func(n int64) {
		if n == 2 {
			_ = os.WriteFile(out, []byte("someone else's\n"), 0o600)
		}
	}
	o := newOrg(t, emulator.Config{Users: 500}, s.wrap)
	x, _, err := o.open(t, opts{src: Source{Kind: FromAll}, out: out})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Run(); !errors.Is(err, ErrExists) {
		t.Fatalf("Run: %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "someone else's\n" {
		t.Errorf("OUT was replaced: %q", b)
	}
	if got := readManifest(t, out+".partial"); len(got) != len(o.usersWhere(nil, notDeprovisioned)) {
		t.Errorf("the partial manifest holds %d rows", len(got))
	}
}
