package runner_test

import (
	"encoding/csv"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

// loopback is an emulated org on 127.0.0.1 and a validated manifest with one
// row of one action for each of its users but the token's owner, for tests
// and benchmarks that drive runner.Run directly.
type loopback struct {
	org    *emulator.Org
	srv    *httptest.Server
	m      *jobs.Manifest
	rows   int
	client *okta.Client
}

// newLoopback starts the org (closed by the caller through srv.Close) and
// writes the manifest into dir.
func newLoopback(tb testing.TB, cfg emulator.Config, action jobs.Action, dir string) *loopback {
	tb.Helper()
	return newLoopbackVia(tb, cfg, action, dir, nil)
}

// newLoopbackVia is newLoopback with the org's handler wrapped by wrap (when
// not nil), to watch or delay what reaches it.
func newLoopbackVia(tb testing.TB, cfg emulator.Config, action jobs.Action, dir string, wrap func(http.Handler) http.Handler) *loopback {
	tb.Helper()
	lb := &loopback{org: emulator.New(cfg)}
	var h http.Handler = lb.org
	if wrap != nil {
		h = wrap(h)
	}
	lb.srv = httptest.NewServer(h)
	// One valid row of action per user but the owner (rowFor: the
	// credentials each user was created with).
	var sb strings.Builder
	w := csv.NewWriter(&sb)
	_ = w.Write(manifestColumns)
	for _, u := range cfg.UserList[1:] {
		_ = w.Write(rowFor(action, u).cells())
	}
	if w.Flush(); w.Error() != nil {
		tb.Fatal(w.Error())
	}
	manifest := filepath.Join(dir, "m.csv")
	if err := os.WriteFile(manifest, []byte(sb.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	var err error
	if lb.m, err = jobs.Open(manifest); err != nil {
		tb.Fatal(err)
	}
	sum, err := lb.m.Validate(jobs.Defaults{})
	if err != nil {
		tb.Fatal(err)
	}
	lb.rows = sum.Rows
	if lb.client, err = okta.New(okta.Config{OrgURL: lb.srv.URL, Token: secret.New(lb.org.Token())}); err != nil {
		tb.Fatal(err)
	}
	return lb
}

// checkpoint creates a real checkpoint for lb's org at dir/name.
func (lb *loopback) checkpoint(tb testing.TB, dir, name string) *checkpoint.Journal {
	tb.Helper()
	cp, err := checkpoint.Create(filepath.Join(dir, name), checkpoint.Header{OrgURL: lb.srv.URL, Rows: lb.rows})
	if err != nil {
		tb.Fatal(err)
	}
	return cp
}

// runner returns a Runner over lb's manifest and client that records into j
// and writes its CSV report to rep.
func (lb *loopback) runner(opt runner.Options, j runner.Journal, rep io.Writer) *runner.Runner {
	return runner.New(opt, runner.Input{
		Manifest: lb.m, Rows: lb.rows, Client: lb.client, Journal: j, Report: report.NewWriter(rep, report.CSV),
	})
}
