package main

// `credbatch verify REPORT` (SPEC.md "Verify"): settle the rows a run
// could not — in_doubt, or failed after a request that may have applied —
// from the evidence Okta keeps (package verify), and write OUT, the report
// with verdict and evidence added, and with --rerun-manifest the manifest
// rows to run again. Only GETs are sent. Everything that can be refused is
// refused before the first request: the org must be the report's, the
// checkpoint whole, the manifest the run's, OUT and the rerun manifest new.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
	"github.com/credbatch/credbatch/runner/checkpoint"
	"github.com/credbatch/credbatch/runner/pace"
	"github.com/credbatch/credbatch/verify"
)

// verifyClockEnv shifts verify's clock by a Go duration: tests use it to
// let --settle-after pass without waiting. Only tests set it; credbatch
// warns when it is set.
const verifyClockEnv = "CREDBATCH_TEST_VERIFY_CLOCK_SHIFT"

// scopeLogsRead is the OAuth scope the System Log needs.
const scopeLogsRead = "okta.logs.read"

type verifyOpts struct {
	orgURL, tokenFile, authMode string
	timeout                     time.Duration
	out, rerunManifest          string
	checkpointPath, manifest    string
	settleAfter                 time.Duration
	rate                        float64
	maxShare                    int
}

func newVerifyCmd(e *env) *cobra.Command {
	o := &verifyOpts{}
	c := &cobra.Command{
		Use:   "verify REPORT",
		Short: "Settle in_doubt rows from Okta's evidence (GETs only)",
		Long: `Give every row of REPORT whose request may have reached Okta without an
answer (in_doubt; failed with CB_NETWORK, CB_TIMEOUT or a 5xx) a verdict from
what Okta keeps: GET /api/v1/users/{id} (passwordChanged, status and
statusChanged, the recovery question) and the System Log (GET /api/v1/logs).

  applied      Okta shows the change at or after the attempt
  not_applied  nothing shows it, every source was read, and --settle-after
               has passed since the attempt (the System Log lags)
  unproven     anything else; the evidence says why, and when to run again

OUT (default REPORT-stem.verified.csv; .jsonl by its extension) is the report
with the columns verdict,evidence added: a new file, mode 0600.
--rerun-manifest M writes the manifest rows proven not_applied, and those of
secret-issuing actions whose temp password or reset link nobody holds.

Only GETs are sent. OAuth needs the okta.logs.read scope.

Exit status: 0 every row settled; 1 some rows stay unproven; 2 usage,
configuration, a corrupt checkpoint, or another org's report (no file written).`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runVerify(e, o, args[0]) },
	}
	f := c.Flags()
	f.StringVarP(&o.out, "out", "o", "", "OUT: the report with verdict,evidence added, .csv or .jsonl (default REPORT-stem.verified.csv)")
	f.DurationVar(&o.settleAfter, "settle-after", verify.DefaultSettleAfter, "call a row not_applied only this long after its last attempt (the System Log is eventually consistent)")
	f.StringVar(&o.rerunManifest, "rerun-manifest", "", "write the manifest rows to run again (not_applied, and lost temp passwords or reset links) to this new file")
	f.StringVar(&o.checkpointPath, "checkpoint", "", "the run's checkpoint (default REPORT.checkpoint)")
	f.StringVar(&o.manifest, "manifest", "", "the run's manifest, if it moved (its SHA-256 must match)")
	f.StringVar(&o.orgURL, "org-url", "", "the Okta org, https://example.okta.com (env OKTA_CLIENT_ORGURL); must be the report's")
	f.StringVar(&o.tokenFile, "token-file", "", "read the API token from this file (else env OKTA_CLIENT_TOKEN; never a flag value)")
	f.StringVar(&o.authMode, "auth-mode", "", "SSWS, Bearer or PrivateKey (env OKTA_CLIENT_AUTHORIZATIONMODE; default SSWS)")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "one request's time limit")
	f.Float64Var(&o.rate, "rate", 10, "requests per second at most; 0 removes this cap")
	f.IntVar(&o.maxShare, "max-share", 50, "1-100: the share of each rate-limit window everyone's use may reach")
	return c
}

func runVerify(e *env, o *verifyOpts, reportPath string) error {
	// 1. Settings and paths, before anything is read or sent.
	switch {
	case o.settleAfter < 0:
		return usagef("e.g. --settle-after 10m", "--settle-after %s: want 0 or more", o.settleAfter)
	case o.timeout <= 0:
		return usagef("", "--timeout %s: want a positive duration", o.timeout)
	case o.maxShare < 1 || o.maxShare > 100:
		return usagef("", "--max-share %d: want 1 to 100", o.maxShare)
	case o.rate < 0:
		return usagef("0 removes the cap", "--rate %g: want 0 or more", o.rate)
	}
	if _, err := report.FormatOf(reportPath); err != nil {
		return usagef("pass the report a run wrote (.csv or .jsonl)", "%w", err)
	}
	if _, err := os.Stat(reportPath); err != nil {
		return usagef("", "the report: %w", err)
	}
	out := o.out
	if out == "" {
		out = verify.DefaultOutPath(reportPath)
	}
	if _, err := report.FormatOf(out); err != nil {
		return usagef("name OUT .csv or .jsonl", "-o %s: %w", out, err)
	}
	for _, p := range []string{out, o.rerunManifest} {
		if p == "" {
			continue
		}
		if _, err := os.Lstat(p); err == nil {
			return usagef("choose another name, or move the old file away", "%s: %w: verify never overwrites a file", p, fs.ErrExist)
		}
		if st, err := os.Stat(filepath.Dir(p)); err != nil || !st.IsDir() {
			return usagef("create the directory first", "%s: the directory %s does not exist", p, filepath.Dir(p))
		}
	}
	if o.rerunManifest != "" && filepath.Clean(o.rerunManifest) == filepath.Clean(out) {
		return usagef("", "--rerun-manifest and -o name the same file %s", out)
	}
	clock, err := verifyClock(e)
	if err != nil {
		return err
	}
	cfg, err := loadClientConfig(e, &runOpts{orgURL: o.orgURL, tokenFile: o.tokenFile, authMode: o.authMode, timeout: o.timeout}, oktaConfigFiles(e))
	if err != nil {
		return err
	}
	if cfg, err = withLogsScope(e, cfg); err != nil {
		return err
	}
	client, err := okta.New(cfg)
	if err != nil {
		return usagef("", "%w", err)
	}

	// 2. The report (first pass: the rows that need a verdict).
	plan := verify.NewPlan()
	rows, bad, seen := 0, 0, checkpoint.NewBitset(0)
	if err := report.ReadFile(reportPath, func(r *report.Row) error {
		rows++
		if r.Line < 1 || r.Line > checkpoint.MaxLine || seen.Has(r.Line) {
			bad++
			return nil
		}
		seen.Set(r.Line)
		plan.AddTarget(r)
		return nil
	}); err != nil {
		return usagef("rerun the original command: it completes and repairs the report from its checkpoint", "reading the report %s: %w", reportPath, err)
	}
	if bad > 0 {
		return usagef("rerun the original command: it completes and repairs the report from its checkpoint",
			"%s: %d rows repeat a manifest line or name an impossible one: the report is damaged", reportPath, bad)
	}

	// 3. The checkpoint: the run's org, its attempt records.
	cp := o.checkpointPath
	if cp == "" {
		cp = reportPath + ".checkpoint"
	}
	if _, err := os.Stat(cp); err != nil {
		return usagef("pass --checkpoint PATH if the run used another one", "cannot find the run's checkpoint: %w", err)
	}
	j, st, err := checkpoint.OpenReadOnly(cp)
	if err != nil {
		if errors.Is(err, checkpoint.ErrLocked) {
			return usagef("wait for the run to end (or stop it), then verify", "%s: %w", cp, errRunInProgress)
		}
		if errors.Is(err, checkpoint.ErrCorrupt) {
			return err
		}
		return usagef("", "reading the checkpoint %s: %w", cp, err)
	}
	defer j.Close()
	if st.Damage != nil {
		return st.Damage // refused: the attempts after the damage cannot be read
	}
	hdr := st.Header
	if hdr.DryRun {
		return usagef("verify the report of a real run", "%s is a dry run's report: it changed nothing", reportPath)
	}
	if hdr.OrgURL != cfg.OrgURL {
		return usagef("pass --org-url "+hdr.OrgURL+" (with a token of that org)",
			"the report %s is of the org %s, not %s: verify asks the org the run changed", reportPath, hdr.OrgURL, cfg.OrgURL)
	}
	if err := j.ReplayAttempts(func(a checkpoint.AttemptRecord) error { plan.AddAttempt(a); return nil }); err != nil {
		return err
	}

	// 4. The manifest: send_email and the new question of each target,
	// and the rows --rerun-manifest copies.
	targets := plan.Targets()
	var m *jobs.Manifest
	if len(targets) > 0 || o.rerunManifest != "" {
		if m, err = runManifest(reportPath, hdr, o.manifest, cp); err != nil {
			return err
		}
		if o.rerunManifest != "" {
			if f, err := jobs.FormatOf(o.rerunManifest); err != nil || f != m.Format {
				return usagef("name it "+strings.TrimSuffix(o.rerunManifest, filepath.Ext(o.rerunManifest))+manifestExt(m),
					"--rerun-manifest %s: the manifest is %s, so the rerun manifest must be too", o.rerunManifest, strings.TrimPrefix(manifestExt(m), "."))
			}
		}
	}
	if len(targets) > 0 {
		if err := readTargetRows(m, hdr, plan); err != nil {
			return err
		}
		// Second pass: the other rows of the targets' users.
		if err := report.ReadFile(reportPath, func(r *report.Row) error { plan.AddOther(r); return nil }); err != nil {
			return usagef("", "reading the report %s: %w", reportPath, err)
		}
	}

	// 5. Okta: the org and the token, then the evidence.
	var res = &verify.Result{}
	if len(targets) > 0 {
		if _, err := checkOrg(e.feed, client, cfg.OrgURL); err != nil {
			if e.feed.Err() != nil {
				return interruptedBefore(e)
			}
			return err
		}
		infof(e.stderr, "verifying %d %s of %s against %s", len(targets), plural(len(targets), "row", "rows"), reportPath, cfg.OrgURL)
		res, err = verify.Run(e.feed, verify.Options{
			Client: client, Pacer: pace.New(pace.Config{Rate: o.rate, Burst: 1, MaxShare: o.maxShare, Workers: 1}),
			Now: clock, SettleAfter: o.settleAfter,
		}, plan)
		switch {
		case e.feed.Err() != nil:
			return fmt.Errorf("verify stopped before writing anything; run it again: %w", context.Cause(e.feed))
		case errors.Is(err, verify.ErrLogsForbidden):
			return usagef(logsHint(cfg), "%w", err)
		case err != nil:
			return err
		}
	}

	// 6. OUT, then the rerun manifest.
	n, err := verify.WriteOut(out, reportPath, res.Decisions)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return usagef("choose another name", "%s: %w", out, err)
		}
		return fmt.Errorf("%w: writing %s: %w", runner.ErrLocal, out, err)
	}
	return verifySummary(e, o, m, hdr, out, n, res)
}

// verifySummary writes the rerun manifest and says what verify found
// (counts, paths, times: never a secret); exit 1 when a row stays unproven.
func verifySummary(e *env, o *verifyOpts, m *jobs.Manifest, hdr checkpoint.Header, out string, rows int, res *verify.Result) error {
	count := map[verify.Verdict]int{}
	var retry time.Time
	for _, d := range res.Decisions {
		count[d.Verdict]++
		if d.Verdict == verify.Unproven && d.RetryAt.After(retry) {
			retry = d.RetryAt
		}
	}
	infof(e.stderr, "verdicts: applied %d, not_applied %d, unproven %d", count[verify.Applied], count[verify.NotApplied], count[verify.Unproven])
	if res.Offset.Known() {
		infof(e.stderr, "%s", res.Offset)
	}
	infof(e.stderr, "wrote %s: %d %s (the report with verdict,evidence)", out, rows, plural(rows, "row", "rows"))
	if o.rerunManifest != "" {
		lines := verify.RerunLines(res.Decisions)
		if lines.Count() == 0 {
			infof(e.stderr, "no row to run again: no rerun manifest written")
		} else {
			n, err := writeManifestCopy(m, o.rerunManifest, lines)
			if err == nil && n != lines.Count() {
				_ = os.Remove(o.rerunManifest)
				err = fmt.Errorf("copied %d rows, want %d", n, lines.Count())
			}
			if err != nil {
				return fmt.Errorf("%w: writing %s: %w", runner.ErrLocal, o.rerunManifest, err)
			}
			infof(e.stderr, "wrote %s: %d %s to run again (not applied, or a temp password or reset link nobody holds)", o.rerunManifest, n, plural(n, "row", "rows"))
			if flags := rowDefaultFlags(hdr); flags != "" {
				infof(e.stderr, "run it with the row defaults of the original run: %s", flags)
			}
		}
	}
	if count[verify.Unproven] == 0 {
		return nil
	}
	if !retry.IsZero() {
		infof(e.stderr, "some rows may settle later: run verify again after %s", retry.UTC().Format(report.TimeLayout))
	}
	return errRowsFailed
}

// readTargetRows reads the targets' manifest rows, with the run's row
// defaults: send_email, and change_recovery_question's new question.
func readTargetRows(m *jobs.Manifest, hdr checkpoint.Header, plan *verify.Plan) error {
	var d jobs.Defaults
	if hdr.Action != "" {
		a, err := jobs.ParseAction(hdr.Action)
		if err != nil {
			return usagef("", "the checkpoint's --action: %w", err)
		}
		d.Action = a
	}
	for _, b := range []struct {
		v   string
		dst **bool
	}{{hdr.SendEmail, &d.SendEmail}, {hdr.RevokeSessions, &d.RevokeSessions}, {hdr.Strict, &d.Strict}} {
		if v, err := strconv.ParseBool(b.v); err == nil {
			*b.dst = &v
		}
	}
	err := m.Each(d, func(j *jobs.Job) error {
		if plan.Wants(j.Line) {
			plan.SetManifestRow(j.Line, j.SendEmail, j.RecoveryQuestion)
		}
		return nil
	})
	if err != nil {
		return usagef("", "reading the manifest %s: %w", m.Path, err)
	}
	return nil
}

// withLogsScope makes sure a PrivateKey configuration asks for
// okta.logs.read: the default scopes (none configured) become the
// read-only okta.users.read and okta.logs.read; scopes configured without
// it are refused, naming it.
func withLogsScope(e *env, cfg okta.Config) (okta.Config, error) {
	if cfg.AuthMode != okta.AuthPrivateKey || slices.Contains(cfg.Scopes, scopeLogsRead) {
		return cfg, nil
	}
	if slices.Equal(cfg.Scopes, okta.DefaultScopes) {
		cfg.Scopes = []string{"okta.users.read", scopeLogsRead}
		return cfg, nil
	}
	return cfg, usagef("add okta.logs.read to OKTA_CLIENT_SCOPES (or okta.client.scopes) and grant it to the service app in Okta",
		"verify reads the System Log, and the scopes %s lack %s", strings.Join(cfg.Scopes, ","), scopeLogsRead)
}

func logsHint(cfg okta.Config) string {
	if cfg.AuthMode == okta.AuthSSWS {
		return "use the API token of an admin who may read the System Log (read-only admin or above)"
	}
	return "grant the okta.logs.read scope to the service app in Okta, and request it (OKTA_CLIENT_SCOPES)"
}

// verifyClock is verify's clock: this host's, shifted by verifyClockEnv in
// tests.
func verifyClock(e *env) (func() time.Time, error) {
	v := strings.TrimSpace(e.getenv(verifyClockEnv))
	if v == "" {
		return time.Now, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return nil, usagef("unset it: it is for tests", "%s=%q is not a duration", verifyClockEnv, v)
	}
	warnf(e.stderr, "%s is set: verify's clock is shifted by %s (a test setting)", verifyClockEnv, d)
	return func() time.Time { return time.Now().Add(d) }, nil
}
