package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/credbatch/credbatch/emulator"
)

type mockOpts struct {
	addr, usersFile, tokenFile, logFile string
	users                               int
	seed                                int64
	postLimit, getLimit, concurrency    int
	groupLimit, appLimit, logLimit      int
	logDelay                            time.Duration
	window, latency, jitter             time.Duration
	fail5xx, drop, neighbour            float64
	retryAfter, retryAfterDate          bool
	repeatHeaders, omitDate             bool
}

func newMockCmd(e *env) *cobra.Command {
	o := &mockOpts{}
	c := &cobra.Command{
		Use:   "mock",
		Short: "Serve the built-in Okta emulator on loopback (for demos, tests and benchmarks)",
		Long: `Serve an in-memory Okta org on a loopback address. It prints its URL on
stdout, writes a working API token to --token-file (mode 0600) and serves until
Ctrl-C or SIGTERM. GET /_emulator/log and /_emulator/stats show what it did.

Use it with:  OKTA_CLIENT_TOKEN=$(cat TOKENFILE) credbatch run --org-url URL …`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error { return runMock(e, o) },
	}
	f := c.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8089", "loopback address to listen on (port 0 picks a free one)")
	f.IntVar(&o.users, "users", 100, "users to generate")
	f.Int64Var(&o.seed, "seed", 1, "seed for users, secrets and faults")
	f.StringVar(&o.usersFile, "users-file", "", "load users (and groups and apps) from this JSON file instead of generating them (see go doc ./emulator)")
	f.StringVar(&o.tokenFile, "token-file", "credbatch-mock.token", "where to write the emulator's API token (mode 0600)")
	f.StringVar(&o.logFile, "log", "", "on exit, write the request log here as JSONL")
	f.IntVar(&o.postLimit, "limit", 0, "requests per window in the /api/v1/users bucket: credential operations and user listings (0 = unlimited)")
	f.IntVar(&o.getLimit, "get-limit", 0, "GET /api/v1/users/{id} requests per window (0 = unlimited)")
	f.IntVar(&o.groupLimit, "group-limit", 0, "/api/v1/groups requests per window (0 = unlimited)")
	f.IntVar(&o.appLimit, "app-limit", 0, "/api/v1/apps requests per window (0 = unlimited)")
	f.IntVar(&o.logLimit, "log-limit", 0, "/api/v1/logs (System Log) requests per window (0 = unlimited; Okta: 20-120 a minute)")
	f.DurationVar(&o.logDelay, "log-delay", 0, "how long a System Log event takes to become visible to GET /api/v1/logs")
	f.DurationVar(&o.window, "window", time.Minute, "rate-limit window")
	f.IntVar(&o.concurrency, "concurrency", 0, "concurrent requests before a concurrency 429 (0 = no limit)")
	f.BoolVar(&o.retryAfter, "retry-after", false, "send Retry-After (seconds) on 429s")
	f.BoolVar(&o.retryAfterDate, "retry-after-date", false, "send Retry-After as an HTTP-date on 429s")
	f.BoolVar(&o.repeatHeaders, "repeat-headers", false, "send each X-Rate-Limit-* header twice")
	f.BoolVar(&o.omitDate, "omit-date", false, "send no Date header")
	f.Float64Var(&o.fail5xx, "fail-5xx", 0, "share of credential requests answered 5xx before applying")
	f.Float64Var(&o.drop, "drop", 0, "share of credential requests applied, then dropped without an answer")
	f.Float64Var(&o.neighbour, "neighbour", 0, "requests per second of another integration, counted in the /api/v1/users bucket though nobody sends them")
	f.DurationVar(&o.latency, "latency", 0, "added latency per request")
	f.DurationVar(&o.jitter, "jitter", 0, "random extra latency up to this")
	return c
}

func runMock(e *env, o *mockOpts) error {
	if o.neighbour < 0 {
		return usagef("e.g. --neighbour 6", "--neighbour %v: a rate cannot be negative", o.neighbour)
	}
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return usagef("e.g. --addr 127.0.0.1:8089", "--addr %q: %v", o.addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usagef("use 127.0.0.1 or [::1]", "--addr %s: the emulator listens on loopback addresses only", o.addr)
	}
	cfg := emulator.Config{
		Seed: o.seed, Users: o.users,
		PostLimit: o.postLimit, GetLimit: o.getLimit, GroupLimit: o.groupLimit, AppLimit: o.appLimit,
		LogLimit: o.logLimit, LogDelay: o.logDelay, Window: o.window,
		ConcurrencyLimit: o.concurrency, RetryAfter: o.retryAfter, RetryAfterHTTPDate: o.retryAfterDate,
		RepeatRateHeaders: o.repeatHeaders, OmitDate: o.omitDate,
		Fail5xxRate: o.fail5xx, DropRate: o.drop, Latency: o.latency, Jitter: o.jitter, Neighbour: o.neighbour,
	}
	if o.usersFile != "" {
		f, err := os.Open(o.usersFile)
		if err != nil {
			return usagef("", "--users-file: %w", err)
		}
		dir, err := emulator.LoadDirectory(f)
		f.Close()
		if err != nil {
			return usagef("", "--users-file %s: %w", o.usersFile, err)
		}
		cfg.UserList, cfg.Groups, cfg.Apps = dir.Users, dir.Groups, dir.Apps
	}
	org := emulator.New(cfg)
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return usagef("choose another --addr port", "listening on %s: %w", o.addr, err)
	}
	_ = os.Remove(o.tokenFile)
	if err := os.WriteFile(o.tokenFile, []byte(org.Token()+"\n"), 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("writing --token-file: %w", err)
	}
	srv := &http.Server{Handler: org, ReadHeaderTimeout: 10 * time.Second}
	url := "http://" + ln.Addr().String()
	fmt.Fprintln(e.stdout, url)
	infof(e.stderr, "emulator listening on %s with %d users, %d groups, %d apps; API token in %s (mode 0600)",
		url, len(org.Users()), len(org.Groups()), len(org.Apps()), o.tokenFile)
	infof(e.stderr, "try: OKTA_CLIENT_TOKEN=$(cat %s) credbatch run --org-url %s MANIFEST", o.tokenFile, url)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-e.feed.Done():
	}
	org.Close() // lets go of requests held by --latency, so Shutdown is quick
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	if o.logFile != "" {
		f, err := os.OpenFile(o.logFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("writing --log: %w", err)
		}
		if err := org.WriteLog(f); err != nil {
			f.Close()
			return fmt.Errorf("writing --log: %w", err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("writing --log: %w", err)
		}
	}
	infof(e.stderr, "emulator stopped")
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
