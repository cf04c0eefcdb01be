package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/okta"
)

// runOpts are run's flags as given; check reads them.
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

// runRun is the run command, in its steps. Their order is the contract
// (SPEC.md): check refuses bad flags before anything is read;
// openOrResume refuses a damaged checkpoint (exit 2) and settles a resume's
// report against its journal, refusing a short checkpoint, before the org
// is asked, so a refused resume sends nothing; the org check and the
// confirmation come before execute creates any file; every refusal removes
// standard input's copy (runFiles.close).
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

	r, err := s.execute(f, org)
	if err != nil {
		return err
	}
	return s.summarise(f, r)
}

// runSetup is a run whose flags check accepted: the options, what check
// read from them, and the org's configuration and client. The steps after
// check (openOrResume, reachOrg, confirm, execute, summarise) are its
// methods.
type runSetup struct {
	e           *env
	o           *runOpts
	manifestArg string            // as given: a path, or "-" for standard input
	defaults    jobs.Defaults     // the row-default flags
	haltN       int               // --halt-on N
	haltPct     float64           // --halt-on P%
	recips      []age.Recipient   // --encrypt-to
	encryptTo   string            // --encrypt-to as the checkpoint records it
	exclude     []string          // --exclude's IDs and logins
	excludeAt   map[string]string // where each stands in the --exclude file (exclude.go)
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
	if s.exclude, s.excludeAt, err = readExclude(o.exclude); err != nil {
		return nil, err
	}
	if manifestArg == "-" && (o.reportPath == "" || !o.yes) {
		return nil, usagef("e.g. credbatch run - --report out.report.csv --yes < manifest.csv", "a manifest on standard input needs --report and --yes")
	}
	return s, nil
}

// clientConfig builds the Okta client's configuration the Okta way
// (config.go): flag, environment, ./.okta.yaml, ~/.okta/okta.yaml.
func clientConfig(e *env, o *runOpts) (okta.Config, error) {
	return loadClientConfig(e, o, oktaConfigFiles(e))
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
