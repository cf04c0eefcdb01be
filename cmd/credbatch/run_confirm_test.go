package main

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
)

// The confirmation on a terminal (SPEC.md "Command line"): run says what
// will happen and asks; only "y" or "yes" goes on. Nothing is created and
// no credential request is sent before the answer, and a signal that
// arrives while the question waits leaves nothing behind either.

// confirmFixture is an emulator org and a two-row manifest in a directory.
type confirmFixture struct {
	org      *emulator.Org
	url, dir string
	manifest string
}

func newConfirmFixture(t *testing.T) *confirmFixture {
	t.Helper()
	org := emulator.New(emulator.Config{Seed: 5, Users: 4})
	srv := httptest.NewServer(org) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	f := &confirmFixture{org: org, url: srv.URL}
	f.dir = t.TempDir()
	f.manifest = filepath.Join(f.dir, "m.csv")
	users := org.Users()
	rows := "user,action\n" + users[1].ID + ",expire_password\n" + users[2].ID + ",expire_password\n"
	if err := os.WriteFile(f.manifest, []byte(rows), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// run runs `credbatch run MANIFEST` in-process as on a terminal, stdin
// answering the question; onLine, when not nil, sees each line of stderr
// as it is written.
func (f *confirmFixture) run(stdin io.Reader, feed context.Context, onLine func(string), args ...string) (string, error) {
	stderr := &lineWatcher{onLine: onLine}
	e := &env{
		stdin: stdin, stdout: io.Discard, stderr: stderr,
		getenv: func(k string) string {
			return map[string]string{"OKTA_CLIENT_ORGURL": f.url, "OKTA_CLIENT_TOKEN": f.org.Token()}[k]
		},
		isTerminal: func() bool { return true },
		feed:       feed, hard: context.Background(),
	}
	err := execute(e, append([]string{"run", f.manifest, "--rate", "0"}, args...))
	printError(stderr, err)
	return stderr.String(), err
}

// lineWatcher is a stderr that keeps what was written and shows each
// write to onLine (credbatch writes its lines whole).
type lineWatcher struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	onLine func(string)
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.onLine != nil {
		w.onLine(string(p))
	}
	return w.buf.Write(p)
}

func (w *lineWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// credentialRequests counts the requests that were not a lookup.
func (f *confirmFixture) credentialRequests() int {
	n := 0
	for _, l := range f.org.Log() {
		if l.Op != emulator.OpGetMe && l.Op != emulator.OpGetUser {
			n++
		}
	}
	return n
}

// files lists the directory's files but the manifest.
func (f *confirmFixture) files(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.Name() != "m.csv" {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestConfirmationDeclinedCreatesNothing(t *testing.T) {
	t.Parallel()
	for _, answer := range []string{"n\n", "\n", "", "nope\n"} {
		f := newConfirmFixture(t)
		out, err := f.run(strings.NewReader(answer), context.Background(), nil)
		if code := exitCode(err); code != exitUsage || !strings.Contains(out, "not confirmed: nothing was sent and no file was created") {
			t.Errorf("answer %q: exit %d; want 2 and 'not confirmed'; output:\n%s", answer, code, out)
		}
		for _, want := range []string{
			"org:      " + f.url + " (from OKTA_CLIENT_ORGURL)",
			"token of: ",
			"manifest: " + f.manifest + " (2 rows)",
			"expire_password",
			"report:   " + filepath.Join(f.dir, "m.report.csv"),
			"credbatch: Run these credential changes against " + f.url + "? [y/N]",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("answer %q: the confirmation does not say %q:\n%s", answer, want, out)
			}
		}
		if got := f.files(t); len(got) != 0 {
			t.Errorf("answer %q: files were created: %v", answer, got)
		}
		if n := f.credentialRequests(); n != 0 {
			t.Errorf("answer %q: %d credential requests were sent, want none", answer, n)
		}
	}
}

func TestConfirmationAcceptedRuns(t *testing.T) {
	t.Parallel()
	for _, answer := range []string{"y\n", "YES\n"} {
		f := newConfirmFixture(t)
		out, err := f.run(strings.NewReader(answer), context.Background(), nil)
		if err != nil || !strings.Contains(out, "done: 2 of 2 rows: succeeded 2") {
			t.Errorf("answer %q: %v; want the run done; output:\n%s", answer, err, out)
		}
		if n := f.credentialRequests(); n != 2 {
			t.Errorf("answer %q: %d credential requests, want 2", answer, n)
		}
	}
}

// signalAtPrompt is a terminal on which Ctrl-C is pressed and then "y"
// typed: its first Read ends the feed, then answers yes.
type signalAtPrompt struct {
	once sync.Once
	stop context.CancelCauseFunc
	r    io.Reader
}

func (s *signalAtPrompt) Read(p []byte) (int, error) {
	s.once.Do(func() { s.stop(&signalError{code: exitInterrupted}) })
	return s.r.Read(p)
}

// A signal that arrives while the question waits, or (with --yes) while
// the confirmation is printed, ends the command before any file is
// created and before any credential request is sent.
func TestSignalAtConfirmationCreatesNothing(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		stdin func(stop context.CancelCauseFunc) io.Reader
		line  string // the stderr line at which the signal comes; "" for none
		args  []string
	}{
		{"at the question, with a y typed too", func(stop context.CancelCauseFunc) io.Reader {
			return &signalAtPrompt{stop: stop, r: strings.NewReader("y\n")}
		}, "", nil},
		{"at the question, nothing typed", func(context.CancelCauseFunc) io.Reader {
			r, w := io.Pipe() // a terminal nobody types on
			t.Cleanup(func() { w.Close() })
			return r
		}, "credbatch: Run these credential changes", nil},
		{"as --yes prints the report line", func(context.CancelCauseFunc) io.Reader {
			return strings.NewReader("")
		}, "credbatch: report:   ", []string{"--yes"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newConfirmFixture(t)
			feed, stop := context.WithCancelCause(context.Background())
			defer stop(nil)
			onLine := func(l string) {
				if c.line != "" && strings.HasPrefix(l, c.line) {
					stop(&signalError{code: exitInterrupted})
				}
			}
			type result struct {
				out string
				err error
			}
			done := make(chan result, 1)
			go func() {
				out, err := f.run(c.stdin(stop), feed, onLine, c.args...)
				done <- result{out, err}
			}()
			var out string
			var err error
			select {
			case r := <-done:
				out, err = r.out, r.err
			case <-time.After(15 * time.Second): // a watchdog, not a measurement
				t.Fatal("the command still waits for an answer after the signal")
			}
			if code := exitCode(err); code != exitInterrupted || !strings.Contains(out, "interrupted before the run started") {
				t.Errorf("exit %d; want 130, interrupted before the run started; output:\n%s", code, out)
			}
			if got := f.files(t); len(got) != 0 {
				t.Errorf("files were created: %v", got)
			}
			if n := f.credentialRequests(); n != 0 {
				t.Errorf("%d credential requests were sent, want none", n)
			}
		})
	}
}
