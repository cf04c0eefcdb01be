package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/credbatch/credbatch/internal/gctune"
	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

type runOpts struct {
	rowDefaults
	orgURL, tokenFile, authMode  string
	reportPath, checkpointPath   string
	workers                      int
	rate                         float64
	burst, maxShare, maxRetries  int
	timeout, maxWait             time.Duration
	exclude, haltOn, summaryJSON string
	yes, dryRun                  bool
	matchShortNames              bool
	verbose                      bool
	progressEvery                time.Duration
	backoffMin                   time.Duration
	cpuProfile                   string
	encryptTo                    []string
}

func newRunCmd(e *env) *cobra.Command {
	o := &runOpts{}
	c := &cobra.Command{
		Use:   "run MANIFEST",
		Short: "Execute a manifest (rerun the same command to resume)",
		Long: `Execute one Okta credential operation per manifest row.

Rerun the same command to resume a stopped run: finished rows are not sent
again. With --dry-run only GET /api/v1/users/{id} is sent and each row is
reported would_succeed or would_fail.

Exit status: 0 every row succeeded, was skipped or would succeed; 1 finished,
some rows failed, are in doubt or would fail; 2 usage, configuration or manifest
error, an unreachable org or a refused token, a corrupt checkpoint (nothing
sent, no file created); 3 stopped on purpose (401, systemic 403, --halt-on,
a pause longer than --max-wait), resumable; 4 a local write failed,
resumable; 129 SIGHUP, 130 Ctrl-C and 143 SIGTERM, resumable.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runRun(e, o, args[0])
		},
	}
	o.rowDefaults.register(c)
	f := c.Flags()
	f.StringVar(&o.orgURL, "org-url", "", "the Okta org, https://example.okta.com (env OKTA_CLIENT_ORGURL)")
	f.StringVar(&o.tokenFile, "token-file", "", "read the API token from this file (else env OKTA_CLIENT_TOKEN; never a flag value)")
	f.StringVar(&o.authMode, "auth-mode", "", "SSWS, Bearer or PrivateKey (env OKTA_CLIENT_AUTHORIZATIONMODE; default SSWS)")
	f.StringVar(&o.reportPath, "report", "", "the report, .csv or .jsonl (default MANIFEST-stem.report.csv beside the manifest; .dryrun.csv in a dry run)")
	f.StringVar(&o.checkpointPath, "checkpoint", "", "the journal (default REPORT.checkpoint)")
	f.IntVar(&o.workers, "workers", 8, "requests in flight at most")
	f.Float64Var(&o.rate, "rate", 10, "requests per second at most; 0 removes this cap")
	f.IntVar(&o.burst, "burst", 1, "token-bucket burst (>= 1; ignored at rate 0)")
	f.IntVar(&o.maxShare, "max-share", 50, "1-100: the share of each rate-limit window everyone's use may reach")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "one request's time limit")
	f.DurationVar(&o.maxWait, "max-wait", 15*time.Minute, "a rate-limit pause Okta asks for that is longer than this stops the run (exit 3), naming when to resume")
	f.StringVar(&o.exclude, "exclude", "", "a file of users never to touch (one ID or login a line)")
	f.IntVar(&o.maxRetries, "max-retries", 5, "retries of one job (429, 5xx, network)")
	f.StringVar(&o.haltOn, "halt-on", "", "stop feeding once N jobs (or P% of at least 20) of this invocation failed or are in doubt")
	f.StringVar(&o.summaryJSON, "summary-json", "", "write counts, durations and settings (never secrets) as JSON to this file")
	f.StringSliceVar(&o.encryptTo, "encrypt-to", nil, "seal the temp passwords and reset links in the report and checkpoint to this age recipient (age1…; repeat or comma-separate for several); read them with report --identity --reveal")
	f.BoolVar(&o.yes, "yes", false, "skip the confirmation (required when stdin is not a terminal)")
	f.BoolVar(&o.dryRun, "dry-run", false, "audit only: GET each user, send no credential change")
	f.BoolVar(&o.matchShortNames, "match-short-names", false, "accept a login that Okta resolved by its short name (jsmith -> jsmith@corp.example); without it such rows fail CB_LOGIN_MISMATCH and nothing is sent")
	f.BoolVar(&o.verbose, "verbose", false, "debug logs on stderr (never secrets)")
	f.DurationVar(&o.progressEvery, "progress-every", 10*time.Second, "off a terminal, how often to print a progress line")
	f.DurationVar(&o.backoffMin, "backoff-min", 500*time.Millisecond, "first retry's backoff after a 5xx or network error")
	_ = f.MarkHidden("backoff-min")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run here (for bench/)")
	_ = f.MarkHidden("cpuprofile")
	return c
}

// untilInterrupted runs a blocking read of standard input (the prompt, the
// stdin copy) and returns early when Ctrl-C or SIGTERM arrives: the read is
// left behind (the process is about to exit) and the signal's cause returned.
func untilInterrupted(e *env, read func() error) error {
	done := make(chan error, 1)
	go func() { done <- read() }()
	select {
	case err := <-done:
		return err
	case <-e.feed.Done():
		return interruptedBefore(e)
	}
}

// interruptedBefore is the signal's cause, said as "nothing happened yet".
func interruptedBefore(e *env) error {
	err := context.Cause(e.feed)
	var se *signalError
	if errors.As(err, &se) {
		fmt.Fprintln(e.stderr)
		return &signalError{code: se.code, before: true}
	}
	return err
}

// absPath names a file the same way whichever directory a rerun starts in.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// clientConfig builds the Okta client's configuration the Okta way
// (config.go): flag, environment, ./.okta.yaml, ~/.okta/okta.yaml.
func clientConfig(e *env, o *runOpts) (okta.Config, error) {
	return loadClientConfig(e, o, oktaConfigFiles(e))
}

// runSetup is a run whose flags check accepted: the options, what check
// read from them, and the org's configuration and client. The steps after
// check (openOrResume, confirm, execute, summarise) are its methods.
type runSetup struct {
	e           *env
	o           *runOpts
	manifestArg string          // as given: a path, or "-" for standard input
	defaults    jobs.Defaults   // the row-default flags
	haltN       int             // --halt-on N
	haltPct     float64         // --halt-on P%
	recips      []age.Recipient // --encrypt-to
	encryptTo   string          // --encrypt-to as the checkpoint records it
	exclude     []string        // --exclude's IDs and logins
	cfg         okta.Config
	client      *okta.Client
}

// check applies every flag rule before anything is read or sent, and
// returns the first broken one as a usage error (exit 2). It reads only
// what flags and configuration name: the --exclude file, the token and the
// Okta configuration files.
func (o *runOpts) check(e *env, manifestArg string) (*runSetup, error) {
	if o.workers < 1 || o.workers > 256 {
		return nil, usagef("", "--workers %d: want 1 to 256", o.workers)
	}
	if o.rate < 0 {
		return nil, usagef("0 removes the cap", "--rate %g: want 0 or more", o.rate)
	}
	if o.burst < 1 {
		return nil, usagef("", "--burst %d: want at least 1", o.burst)
	}
	if o.maxShare < 1 || o.maxShare > 100 {
		return nil, usagef("", "--max-share %d: want 1 to 100", o.maxShare)
	}
	if o.maxRetries < 0 {
		return nil, usagef("", "--max-retries %d: want 0 or more", o.maxRetries)
	}
	if o.timeout <= 0 {
		return nil, usagef("", "--timeout %s: want a positive duration", o.timeout)
	}
	if o.maxWait <= 0 {
		return nil, usagef("e.g. --max-wait 15m", "--max-wait %s: want a positive duration", o.maxWait)
	}
	s := &runSetup{e: e, o: o, manifestArg: manifestArg}
	var err error
	if s.haltN, s.haltPct, err = parseHaltOn(o.haltOn); err != nil {
		return nil, err
	}
	if s.defaults, err = o.rowDefaults.jobs(); err != nil {
		return nil, err
	}
	if s.recips, s.encryptTo, err = parseRecipients(o.encryptTo); err != nil {
		return nil, err
	}
	if s.cfg, err = clientConfig(e, o); err != nil {
		return nil, err
	}
	// The client is built now, so a configuration it refuses is found
	// before any file is created.
	if s.client, err = okta.New(s.cfg); err != nil {
		return nil, usagef("", "%w", err)
	}
	if !o.yes && !e.isTerminal() && !o.dryRun {
		return nil, usagef("pass --yes to run without a terminal", "standard input is not a terminal, so credbatch cannot ask for confirmation")
	}
	if s.exclude, err = readExclude(o.exclude); err != nil {
		return nil, err
	}
	if manifestArg == "-" && (o.reportPath == "" || !o.yes) {
		return nil, usagef("e.g. credbatch run - --report out.report.csv --yes < manifest.csv", "a manifest on standard input needs --report and --yes")
	}
	return s, nil
}

// readExclude reads --exclude: one user ID or login a line; blank lines
// and # comments are passed over.
func readExclude(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("", "--exclude: %w", err)
	}
	var exclude []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(strings.TrimSuffix(l, "\r")); l != "" && !strings.HasPrefix(l, "#") {
			exclude = append(exclude, l)
		}
	}
	return exclude, nil
}

// startCPUProfile starts --cpuprofile (for bench/); stop ends it. It comes
// first, so the profile covers the whole command.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	pf, err := os.Create(path)
	if err != nil {
		return nil, usagef("", "--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		pf.Close()
		return nil, usagef("", "--cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); pf.Close() }, nil
}

func runRun(e *env, o *runOpts, manifestArg string) error {
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	s, err := o.check(e, manifestArg)
	if err != nil {
		return err
	}
	defaults, cfg, client := s.defaults, s.cfg, s.client
	f, err := s.openOrResume()
	if err != nil {
		return err
	}
	defer f.close()
	if f.finished {
		return finalStatus(f.state.Counts)
	}

	org, err := s.reachOrg()
	if err != nil {
		return err
	}
	if err := s.confirm(f, org); err != nil {
		return err
	}

	// 5. Files: checkpoint first, then the report; both 0600, never overwritten.
	if f.stdinCopy != "" {
		if err := os.Rename(f.stdinCopy, f.manifestPath); err != nil {
			return fmt.Errorf("%w: keeping standard input as %s: %w", runner.ErrLocal, f.manifestPath, err)
		}
		if f.m, err = openManifest(f.manifestPath, true); err != nil {
			return fmt.Errorf("%w: %w", runner.ErrLocal, err)
		}
	}
	if !f.resuming {
		f.j, err = checkpoint.Create(f.cpPath, f.hdr)
		if err != nil {
			if errors.Is(err, checkpoint.ErrLocked) {
				return err
			}
			return fmt.Errorf("%w: creating the checkpoint %s: %w", runner.ErrLocal, f.cpPath, err)
		}
		f.state = &checkpoint.State{Header: f.hdr, Done: checkpoint.NewBitset(f.sum.Rows + 2), Counts: map[string]int{}}
		if f.prior, err = priorFrom(f.j, f.state, f.reportPath, f.repFormat, false); err != nil {
			return err
		}
	}
	rf, err := os.OpenFile(f.reportPath, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("%w: opening the report %s: %w", runner.ErrLocal, f.reportPath, err)
	}
	defer rf.Close()
	rw := report.NewWriter(rf, f.repFormat)

	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(newLineHandler(e.stderr, level))
	var seal func(secret.String) (secret.String, error)
	if len(s.recips) > 0 {
		seal = sealer(s.recips)
	}
	run := runner.New(runner.Options{
		Seal:    seal,
		Workers: o.workers, Rate: o.rate, Burst: o.burst, MaxShare: o.maxShare,
		MaxRetries: o.maxRetries, HaltOn: s.haltN, HaltOnPct: s.haltPct,
		DryRun: o.dryRun, Exclude: s.exclude, Logger: logger, BackoffMin: o.backoffMin,
		MatchShortNames: o.matchShortNames, OwnerID: org.ownerID(), MaxWait: o.maxWait,
		// An API token (SSWS) always belongs to a user; an access token
		// from client credentials (PrivateKey, or Bearer) may not.
		TokenMayHaveNoUser: cfg.AuthMode == okta.AuthBearer || cfg.AuthMode == okta.AuthPrivateKey,
	}, runner.Input{
		Manifest: f.m, Defaults: defaults, Rows: f.sum.Rows, Client: client,
		Journal: f.j, Report: rw, Prior: f.prior,
	})
	if f.resuming {
		infof(e.stderr, "resuming: %d of %d rows already finished", f.state.Done.Count(), f.sum.Rows)
	}
	stopProgress := progress(e.stderr, e.isTerminal(), o.progressEvery, run.Progress)
	stopTuning := gctune.Start(gctune.Default)
	start := time.Now()
	res, runErr := run.Run(e.feed, e.hard)
	stopTuning()
	stopProgress()
	js := f.j.Stats()
	logger.Debug("checkpoint", "records", js.Records, "fsyncs", js.Syncs)
	if err := rf.Sync(); err != nil && runErr == nil {
		runErr = fmt.Errorf("%w: syncing the report: %w", runner.ErrLocal, err)
	}

	// 6. The summary: counts over the whole report, across resumes.
	total := map[string]int{}
	for k, v := range f.state.Counts {
		total[k] += v
	}
	for k, v := range res.Counts {
		total[string(k)] += v
	}
	printSummary(e, f.reportPath, total, res, time.Since(start), o.dryRun, f.sum.Rows, pacing{rate: o.rate, maxShare: o.maxShare})
	if o.summaryJSON != "" {
		if err := writeSummaryJSON(o.summaryJSON, cfg.OrgURL, f.sum, manifestArg, f.reportPath, total, res, time.Since(start), runErr, o.dryRun, pacing{rate: o.rate, maxShare: o.maxShare}); err != nil {
			warnf(e.stderr, "could not write --summary-json: %v", err)
		}
	}
	if runErr != nil {
		return runErr
	}
	return finalStatus(total)
}

// finalStatus is exit 0 or 1 from the whole report's counts.
func finalStatus(counts map[string]int) error {
	if counts[string(report.Failed)]+counts[string(report.InDoubt)]+counts[string(report.WouldFail)] > 0 {
		return errRowsFailed
	}
	return nil
}
