package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

// optBool is a tri-state boolean flag: unset, true or false.
type optBool struct{ v *bool }

func (o *optBool) String() string {
	if o.v == nil {
		return ""
	}
	return strconv.FormatBool(*o.v)
}
func (o *optBool) Set(s string) error {
	switch strings.ToLower(s) {
	case "true":
		t := true
		o.v = &t
	case "false":
		f := false
		o.v = &f
	default:
		return fmt.Errorf("want true or false, not %q", s)
	}
	return nil
}
func (o *optBool) Type() string     { return "bool" }
func (o *optBool) IsBoolFlag() bool { return true }

// rowDefaults are the flags that fill empty manifest cells; run and
// validate both take them.
type rowDefaults struct {
	action                            string
	sendEmail, revokeSessions, strict optBool
}

func (d *rowDefaults) register(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&d.action, "action", "", "the action of rows that name none")
	f.Var(&d.sendEmail, "send-email", "send_email for rows that leave it empty (reset_password needs it: a mass email or a file of links is always a choice)")
	f.Var(&d.revokeSessions, "revoke-sessions", "revoke_sessions for rows that leave it empty")
	f.Var(&d.strict, "strict", "strict (password policy check) for change_password rows that leave it empty")
	f.Lookup("send-email").NoOptDefVal = "true"
	f.Lookup("revoke-sessions").NoOptDefVal = "true"
	f.Lookup("strict").NoOptDefVal = "true"
}

func (d *rowDefaults) jobs() (jobs.Defaults, error) {
	var out jobs.Defaults
	if d.action != "" {
		a, err := jobs.ParseAction(d.action)
		if err != nil {
			return out, usagef("actions: "+actionList(), "--action %q: %w", d.action, err)
		}
		out.Action = a
	}
	out.SendEmail, out.RevokeSessions, out.Strict = d.sendEmail.v, d.revokeSessions.v, d.strict.v
	return out, nil
}

func actionList() string {
	var s []string
	for _, a := range jobs.Actions {
		s = append(s, string(a))
	}
	return strings.Join(s, ", ")
}

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

// openManifest opens a manifest by its extension, or a copy of standard
// input (REPORT.manifest, always CSV).
func openManifest(path string, fromStdin bool) (*jobs.Manifest, error) {
	if !fromStdin {
		return jobs.Open(path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return &jobs.Manifest{Path: path, Format: jobs.CSV}, nil
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

// parseHaltOn reads "N" or "P%".
func parseHaltOn(s string) (n int, pct float64, err error) {
	if s == "" {
		return 0, 0, nil
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		pct, err = strconv.ParseFloat(p, 64)
		if err != nil || pct <= 0 || pct > 100 {
			return 0, 0, usagef("e.g. --halt-on 50 or --halt-on 10%", "--halt-on %q: want a percentage from 0 to 100", s)
		}
		return 0, pct, nil
	}
	n, err = strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, 0, usagef("e.g. --halt-on 50 or --halt-on 10%", "--halt-on %q: want a count of at least 1, or a percentage", s)
	}
	return n, 0, nil
}

// defaultReportPath is MANIFEST-stem.report.csv beside the manifest, or
// .dryrun.csv in a dry run, so a dry run and a real run never share files.
func defaultReportPath(manifest string, dry bool) string {
	dir, base := filepath.Split(manifest)
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	if dry {
		return filepath.Join(dir, stem+".dryrun.csv")
	}
	return filepath.Join(dir, stem+".report.csv")
}

func boolSetting(b *bool) string {
	if b == nil {
		return ""
	}
	return strconv.FormatBool(*b)
}

func runRun(e *env, o *runOpts, manifestArg string) error {
	if o.cpuProfile != "" {
		pf, err := os.Create(o.cpuProfile)
		if err != nil {
			return usagef("", "--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			pf.Close()
			return usagef("", "--cpuprofile: %w", err)
		}
		defer func() { pprof.StopCPUProfile(); pf.Close() }()
	}
	// 1. Settings, all checked before anything is read or sent.
	if o.workers < 1 || o.workers > 256 {
		return usagef("", "--workers %d: want 1 to 256", o.workers)
	}
	if o.rate < 0 {
		return usagef("0 removes the cap", "--rate %g: want 0 or more", o.rate)
	}
	if o.burst < 1 {
		return usagef("", "--burst %d: want at least 1", o.burst)
	}
	if o.maxShare < 1 || o.maxShare > 100 {
		return usagef("", "--max-share %d: want 1 to 100", o.maxShare)
	}
	if o.maxRetries < 0 {
		return usagef("", "--max-retries %d: want 0 or more", o.maxRetries)
	}
	if o.timeout <= 0 {
		return usagef("", "--timeout %s: want a positive duration", o.timeout)
	}
	if o.maxWait <= 0 {
		return usagef("e.g. --max-wait 15m", "--max-wait %s: want a positive duration", o.maxWait)
	}
	haltN, haltPct, err := parseHaltOn(o.haltOn)
	if err != nil {
		return err
	}
	defaults, err := o.rowDefaults.jobs()
	if err != nil {
		return err
	}
	recips, encryptTo, err := parseRecipients(o.encryptTo)
	if err != nil {
		return err
	}
	cfg, err := clientConfig(e, o)
	if err != nil {
		return err
	}
	// The client is built now, so a configuration it refuses is found
	// before any file is created.
	client, err := okta.New(cfg)
	if err != nil {
		return usagef("", "%w", err)
	}
	if !o.yes && !e.isTerminal() && !o.dryRun {
		return usagef("pass --yes to run without a terminal", "standard input is not a terminal, so credbatch cannot ask for confirmation")
	}
	var exclude []string
	if o.exclude != "" {
		b, err := os.ReadFile(o.exclude)
		if err != nil {
			return usagef("", "--exclude: %w", err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(strings.TrimSuffix(l, "\r")); l != "" && !strings.HasPrefix(l, "#") {
				exclude = append(exclude, l)
			}
		}
	}

	// 2. The manifest: standard input is kept as REPORT.manifest for resumes.
	manifestPath := manifestArg
	stdinCopy := ""
	if manifestArg == "-" {
		if o.reportPath == "" || !o.yes {
			return usagef("e.g. credbatch run - --report out.report.csv --yes < manifest.csv", "a manifest on standard input needs --report and --yes")
		}
		manifestPath = o.reportPath + ".manifest"
		cp := o.checkpointPath
		if cp == "" {
			cp = o.reportPath + ".checkpoint"
		}
		_, cpErr := os.Stat(cp)
		_, mErr := os.Stat(manifestPath)
		switch {
		case cpErr == nil && mErr == nil:
			// A resume reads the copy the run started with.
		case mErr == nil:
			return usagef("move it away, or choose another --report",
				"%s exists but %s does not: it is not this run's resume, and standard input is not read", manifestPath, cp)
		default:
			stdinCopy = manifestPath + ".partial"
			_ = os.Remove(stdinCopy)
			if err := untilInterrupted(e, func() error { return jobs.CopyStdin(e.stdin, stdinCopy) }); err != nil {
				_ = os.Remove(stdinCopy)
				if e.feed.Err() != nil {
					return err
				}
				return fmt.Errorf("%w: copying standard input: %w", runner.ErrLocal, err)
			}
			defer os.Remove(stdinCopy) // renamed away once the run starts
		}
	}
	readPath := manifestPath
	if stdinCopy != "" {
		readPath = stdinCopy
	}
	m, err := openManifest(readPath, manifestArg == "-")
	if err != nil {
		return usagef("", "%w", err)
	}
	reportPath := o.reportPath
	if reportPath == "" {
		reportPath = defaultReportPath(manifestPath, o.dryRun)
	}
	repFormat, err := report.FormatOf(reportPath)
	if err != nil {
		return usagef("name the report .csv or .jsonl", "--report %s: %w", reportPath, err)
	}
	cpPath := o.checkpointPath
	if cpPath == "" {
		cpPath = reportPath + ".checkpoint"
	}
	if err := checkOutputPaths(reportPath, cpPath); err != nil {
		return err
	}

	// 3. A resume, a finished run, or a new run. A resume whose manifest
	// has the SHA-256 the checkpoint recorded was validated by the run that
	// started it: it is not validated again (a million rows start at once).
	var j *checkpoint.Journal
	var state *checkpoint.State
	var sum *jobs.Summary
	resuming := false
	if _, err := os.Stat(cpPath); err == nil {
		j, state, err = checkpoint.Open(cpPath)
		if err != nil {
			if errors.Is(err, checkpoint.ErrLocked) {
				return fmt.Errorf("%s: %w", cpPath, err)
			}
			return openFailure(cpPath, err)
		}
		defer j.Close()
		sha, size, err := m.Fingerprint()
		if err != nil {
			return usagef("", "manifest: %w", err)
		}
		if sha == state.Header.ManifestSHA256 && size == state.Header.ManifestSize {
			sum = &jobs.Summary{Rows: state.Header.Rows, SHA256: sha, Size: size}
		}
	}
	if sum == nil {
		if sum, err = m.Validate(defaults); err != nil {
			return err
		}
		if stdinCopy == "" {
			warnReadablePasswords(e, readPath, sum)
		}
	}
	hdr := checkpoint.Header{
		Format: checkpoint.FormatVersion, ToolVersion: version,
		OrgURL: cfg.OrgURL, ManifestPath: absPath(manifestPath),
		ManifestSHA256: sum.SHA256, ManifestSize: sum.Size, Rows: sum.Rows,
		DryRun: o.dryRun, Action: string(defaults.Action),
		SendEmail: boolSetting(defaults.SendEmail), RevokeSessions: boolSetting(defaults.RevokeSessions), Strict: boolSetting(defaults.Strict),
		ReportPath: absPath(reportPath), ReportFormat: strings.TrimPrefix(filepath.Ext(reportPath), "."),
		EncryptTo: encryptTo,
	}
	if state != nil {
		if diffs := state.Header.Diff(hdr); len(diffs) > 0 {
			var lines []string
			for _, d := range diffs {
				lines = append(lines, fmt.Sprintf("%s is %q in the checkpoint but %q now", d.Field, d.Checkpoint, d.Now))
			}
			return usagef("rerun with the settings the run started with, or start a new run with another --report",
				"this command does not match the run recorded in %s: %s", cpPath, strings.Join(lines, "; "))
		}
		resuming = true
		if state.Done.Count() >= sum.Rows {
			if err := completeReport(j, reportPath, repFormat, nil); err != nil {
				return err
			}
			infof(e.stderr, "this run already finished; its report is %s", reportPath)
			return finalStatus(state.Counts, nil)
		}
	} else if _, err := os.Stat(reportPath); err == nil {
		return usagef("choose another --report, or move the old report away",
			"%s already exists and is not this run's own resume (no checkpoint %s): a report is never overwritten", reportPath, cpPath)
	}

	// 4. A resume first makes its report agree with the journal (local, and
	// refused when the report holds rows the checkpoint lacks). Then the org
	// must answer and take the token before any file is created: a typo in
	// --org-url never leaves a checkpoint pinned to the wrong org. Then the
	// confirmation.
	var prior runner.Prior
	if resuming {
		if prior, err = priorFrom(j, state, reportPath, repFormat, true); err != nil {
			return err
		}
	}
	org, err := checkOrg(e.feed, client, cfg.OrgURL)
	if err != nil {
		if e.feed.Err() != nil {
			return interruptedBefore(e)
		}
		return err
	}
	if !o.dryRun {
		// What will happen, and to whom: asked on a terminal, printed the
		// same with --yes.
		w := e.stderr
		infof(w, "org:      %s (from %s)", cfg.OrgURL, orgURLSource(e, o))
		if org.Me != nil {
			infof(w, "token of: %s (%s)", org.Me.Login, org.Me.ID)
		}
		infof(w, "manifest: %s (%d rows)", manifestArg, sum.Rows)
		if resuming {
			infof(w, "already finished: %d rows; the rest as confirmed when the run started", state.Done.Count())
		} else {
			printPlan(w, sum)
		}
		infof(w, "report:   %s", reportPath)
	}
	if !o.yes && !o.dryRun {
		verb := "Run"
		if resuming {
			verb = "Resume"
		}
		var yes bool
		if err := untilInterrupted(e, func() error {
			yes = confirm(e.stdin, e.stderr, fmt.Sprintf("credbatch: %s these credential changes against %s?", verb, cfg.OrgURL))
			return nil
		}); err != nil {
			return err
		}
		if !yes {
			return usagef("", "not confirmed: nothing was sent and no file was created")
		}
	}
	if e.feed.Err() != nil {
		return interruptedBefore(e) // before anything was created
	}

	// 5. Files: checkpoint first, then the report; both 0600, never overwritten.
	if stdinCopy != "" {
		if err := os.Rename(stdinCopy, manifestPath); err != nil {
			return fmt.Errorf("%w: keeping standard input as %s: %w", runner.ErrLocal, manifestPath, err)
		}
		if m, err = openManifest(manifestPath, true); err != nil {
			return fmt.Errorf("%w: %w", runner.ErrLocal, err)
		}
	}
	if !resuming {
		j, err = checkpoint.Create(cpPath, hdr)
		if err != nil {
			if errors.Is(err, checkpoint.ErrLocked) {
				return err
			}
			return fmt.Errorf("%w: creating the checkpoint %s: %w", runner.ErrLocal, cpPath, err)
		}
		defer j.Close()
		state = &checkpoint.State{Header: hdr, Done: checkpoint.NewBitset(sum.Rows + 2), Counts: map[string]int{}}
		if prior, err = priorFrom(j, state, reportPath, repFormat, false); err != nil {
			return err
		}
	}
	rf, err := os.OpenFile(reportPath, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("%w: opening the report %s: %w", runner.ErrLocal, reportPath, err)
	}
	defer rf.Close()
	rw := report.NewWriter(rf, repFormat)

	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(newLineHandler(e.stderr, level))
	var seal func(secret.String) (secret.String, error)
	if len(recips) > 0 {
		seal = sealer(recips)
	}
	run := runner.New(runner.Options{
		Seal:    seal,
		Workers: o.workers, Rate: o.rate, Burst: o.burst, MaxShare: o.maxShare,
		MaxRetries: o.maxRetries, HaltOn: haltN, HaltOnPct: haltPct,
		DryRun: o.dryRun, Exclude: exclude, Logger: logger, BackoffMin: o.backoffMin,
		MatchShortNames: o.matchShortNames, OwnerID: org.ownerID(), MaxWait: o.maxWait,
		// An API token (SSWS) always belongs to a user; an access token
		// from client credentials (PrivateKey, or Bearer) may not.
		TokenMayHaveNoUser: cfg.AuthMode == okta.AuthBearer || cfg.AuthMode == okta.AuthPrivateKey,
	}, runner.Input{
		Manifest: m, Defaults: defaults, Rows: sum.Rows, Client: client,
		Journal: j, Report: rw, Prior: prior,
	})
	if resuming {
		infof(e.stderr, "resuming: %d of %d rows already finished", state.Done.Count(), sum.Rows)
	}
	stopProgress := progress(e.stderr, e.isTerminal(), o.progressEvery, run.Progress)
	restoreGC := gcForRun(sum.Rows)
	start := time.Now()
	res, runErr := run.Run(e.feed, e.hard)
	restoreGC()
	stopProgress()
	js := j.Stats()
	logger.Debug("checkpoint", "records", js.Records, "fsyncs", js.Syncs)
	if err := rf.Sync(); err != nil && runErr == nil {
		runErr = fmt.Errorf("%w: syncing the report: %w", runner.ErrLocal, err)
	}

	// 6. The summary: counts over the whole report, across resumes.
	total := map[string]int{}
	for k, v := range state.Counts {
		total[k] += v
	}
	for k, v := range res.Counts {
		total[string(k)] += v
	}
	printSummary(e, reportPath, total, res, time.Since(start), o.dryRun, sum.Rows, pacing{rate: o.rate, maxShare: o.maxShare})
	if o.summaryJSON != "" {
		if err := writeSummaryJSON(o.summaryJSON, cfg.OrgURL, sum, manifestArg, reportPath, total, res, time.Since(start), runErr, o.dryRun, pacing{rate: o.rate, maxShare: o.maxShare}); err != nil {
			warnf(e.stderr, "could not write --summary-json: %v", err)
		}
	}
	if runErr != nil {
		return runErr
	}
	return finalStatus(total, nil)
}

// finalStatus is exit 0 or 1 from the whole report's counts.
func finalStatus(counts map[string]int, _ error) error {
	if counts[string(report.Failed)]+counts[string(report.InDoubt)]+counts[string(report.WouldFail)] > 0 {
		return errRowsFailed
	}
	return nil
}
