package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/credbatch/credbatch/export"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/runner"
	"github.com/credbatch/credbatch/runner/pace"
)

type manifestOpts struct {
	group, search, filter, app string
	all                        bool
	out                        string
	status                     string
	includeDeprovisioned       bool
	rowDefaults
	orgURL, tokenFile, authMode string
	rate                        float64
	burst, maxShare, maxRetries int
	timeout, maxWait            time.Duration
	progressEvery, backoffMin   time.Duration
}

func newManifestCmd(e *env) *cobra.Command {
	o := &manifestOpts{}
	c := &cobra.Command{
		Use:   "manifest SOURCE -o OUT.csv|OUT.jsonl",
		Short: "Build a manifest from the org: a group's members, a search, a filter, an app's users, everyone",
		Long: `Build a reviewable manifest from the org itself. SOURCE is one of:

  --group ID|NAME   the group's members (a name must be exactly one group's name)
  --search EXPR     GET /api/v1/users?search=EXPR (any profile attribute)
  --filter EXPR     GET /api/v1/users?filter=EXPR (status, lastUpdated, id, profile.login/email/firstName/lastName)
  --app APP_ID      the users assigned to the app
  --all             every user

Each user becomes one row: user (the Okta ID), login, email, first_name,
last_name, status, then action and the row defaults with --action.
DEPROVISIONED users are left out unless --include-deprovisioned. OUT is new
(never overwritten), mode 0600, written as OUT.partial and renamed when
complete. Listing users is paced in the credential operations' rate-limit
bucket with --max-share, like a run. Interrupted, the same command resumes.

Exit status: 0 written; 1 nothing to write, or a failure after the export
began (rerun to resume); 2 usage or configuration error, an expression Okta
refuses, an unknown or ambiguous group, an existing OUT (no file created);
3 stopped (401, a rate-limit pause beyond --max-wait); 4 a local write
failed; 130 Ctrl-C and 143 SIGTERM (rerun to resume).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error { return runManifestExport(e, o) },
	}
	f := c.Flags()
	f.StringVar(&o.group, "group", "", "a group's members: its ID (00g…) or its exact name")
	f.StringVar(&o.search, "search", "", `users matching a search expression, e.g. 'profile.department eq "Finance"'`)
	f.StringVar(&o.filter, "filter", "", `users matching a filter expression, e.g. 'status eq "LOCKED_OUT"'`)
	f.StringVar(&o.app, "app", "", "the users assigned to an app: its ID (0oa…)")
	f.BoolVar(&o.all, "all", false, "every user")
	f.StringVarP(&o.out, "output", "o", "", "the manifest to write, .csv or .jsonl (new; mode 0600)")
	f.StringVar(&o.status, "status", "", "keep only users of these statuses (comma-separated: "+strings.Join(export.UserStatuses, ", ")+")")
	f.BoolVar(&o.includeDeprovisioned, "include-deprovisioned", false, "keep DEPROVISIONED users too")
	f.StringVar(&o.action, "action", "", "add an action column with this action on every row")
	f.Var(&o.sendEmail, "send-email", "with --action: add a send_email column with this value (reset_password needs it)")
	f.Var(&o.revokeSessions, "revoke-sessions", "with --action: add a revoke_sessions column with this value")
	f.Var(&o.strict, "strict", "with --action change_password: add a strict column with this value")
	f.Lookup("send-email").NoOptDefVal = "true"
	f.Lookup("revoke-sessions").NoOptDefVal = "true"
	f.Lookup("strict").NoOptDefVal = "true"
	f.StringVar(&o.orgURL, "org-url", "", "the Okta org, https://example.okta.com (env OKTA_CLIENT_ORGURL)")
	f.StringVar(&o.tokenFile, "token-file", "", "read the API token from this file (else env OKTA_CLIENT_TOKEN; never a flag value)")
	f.StringVar(&o.authMode, "auth-mode", "", "SSWS, Bearer or PrivateKey (env OKTA_CLIENT_AUTHORIZATIONMODE; default SSWS)")
	f.Float64Var(&o.rate, "rate", 10, "requests per second at most; 0 removes this cap")
	f.IntVar(&o.burst, "burst", 1, "token-bucket burst (>= 1; ignored at rate 0)")
	f.IntVar(&o.maxShare, "max-share", 50, "1-100: the share of each rate-limit window everyone's use may reach")
	f.IntVar(&o.maxRetries, "max-retries", 5, "retries of one page (429, 5xx, network)")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "one request's time limit")
	f.DurationVar(&o.maxWait, "max-wait", pace.DefaultMaxWait, "a rate-limit pause longer than this stops the export (exit 3)")
	f.DurationVar(&o.progressEvery, "progress-every", 10*time.Second, "how often to print a progress line")
	f.DurationVar(&o.backoffMin, "backoff-min", 500*time.Millisecond, "first retry's backoff after a 5xx or network error")
	_ = f.MarkHidden("backoff-min")
	return c
}

// source reads the SOURCE flags: exactly one.
func (o *manifestOpts) source(keep export.Statuses) (export.Source, error) {
	var srcs []export.Source
	for _, s := range []struct {
		kind export.Kind
		v    string
		set  bool
	}{
		{export.FromGroup, o.group, o.group != ""}, {export.FromSearch, o.search, o.search != ""},
		{export.FromFilter, o.filter, o.filter != ""}, {export.FromApp, o.app, o.app != ""},
		{export.FromAll, "", o.all},
	} {
		if s.set {
			srcs = append(srcs, export.Source{Kind: s.kind, Value: strings.TrimSpace(s.v)})
		}
	}
	const hint = "give exactly one of --group ID|NAME, --search EXPR, --filter EXPR, --app APP_ID, --all"
	switch {
	case len(srcs) == 0:
		return export.Source{}, usagef(hint, "no source: which users should the manifest hold?")
	case len(srcs) > 1:
		return export.Source{}, usagef(hint, "%d sources given: a manifest has one", len(srcs))
	}
	s := srcs[0]
	if s.Kind != export.FromAll && s.Value == "" {
		return s, usagef(hint, "--%s is empty", s.Kind)
	}
	if s.Kind == export.FromAll {
		s.StatusFilter = export.AllStatusFilter(keep)
	}
	return s, nil
}

// columns checks --action and the row defaults by the jobs package's rules:
// the manifest written must pass validate and run as it is.
func (o *manifestOpts) columns() (export.Columns, error) {
	d, err := o.rowDefaults.jobs()
	if err != nil {
		return export.Columns{}, err
	}
	flags := []struct {
		flag, col string
		v         *bool
	}{{"--send-email", "send_email", d.SendEmail}, {"--revoke-sessions", "revoke_sessions", d.RevokeSessions}, {"--strict", "strict", d.Strict}}
	if d.Action == "" {
		for _, f := range flags {
			if f.v != nil {
				return export.Columns{}, usagef("add --action, or leave "+f.flag+" to the run", "%s fills a column of the action's rows, and no --action was given", f.flag)
			}
		}
		return export.Columns{}, nil
	}
	for _, f := range flags {
		switch req := d.Action.Takes(f.col); {
		case f.v != nil && req == jobs.Refused:
			return export.Columns{}, usagef("leave "+f.flag+" out", "%s does not take %s", d.Action, f.col)
		case f.v == nil && req == jobs.Required:
			return export.Columns{}, usagef(fmt.Sprintf("pass %s=true (Okta emails the link) or %s=false (the link goes to the report)", f.flag, f.flag),
				"%s has no default for %s: a mass email or a file of links is always a choice", d.Action, f.col)
		}
	}
	for _, col := range []string{"old_password", "new_password", "password", "recovery_question", "recovery_answer"} {
		if d.Action.Takes(col) == jobs.Required {
			return export.Columns{}, usagef("build the manifest without --action, then add the action and that column for each user",
				"%s needs %s for each user, which the org does not give", d.Action, col)
		}
	}
	return export.Columns{Action: string(d.Action), SendEmail: d.SendEmail, RevokeSessions: d.RevokeSessions, Strict: d.Strict}, nil
}

func runManifestExport(e *env, o *manifestOpts) error {
	// 1. Settings, all checked before anything is read or sent.
	if o.out == "" {
		return usagef("e.g. credbatch manifest --group Contractors -o contractors.csv", "no -o OUT: name the manifest to write")
	}
	if _, err := export.FormatOf(o.out); err != nil {
		return usagef("name it .csv or .jsonl", "-o %s: the format goes by the extension", o.out)
	}
	switch {
	case o.rate < 0:
		return usagef("0 removes the cap", "--rate %g: want 0 or more", o.rate)
	case o.burst < 1:
		return usagef("", "--burst %d: want at least 1", o.burst)
	case o.maxShare < 1 || o.maxShare > 100:
		return usagef("", "--max-share %d: want 1 to 100", o.maxShare)
	case o.maxRetries < 0:
		return usagef("", "--max-retries %d: want 0 or more", o.maxRetries)
	case o.timeout <= 0:
		return usagef("", "--timeout %s: want a positive duration", o.timeout)
	case o.progressEvery <= 0:
		return usagef("", "--progress-every %s: want a positive duration", o.progressEvery)
	}
	keep, err := export.KeepStatuses(o.status, o.includeDeprovisioned)
	if err != nil {
		return usagef("", "--status: %w", err)
	}
	src, err := o.source(keep)
	if err != nil {
		return err
	}
	cols, err := o.columns()
	if err != nil {
		return err
	}
	if err := checkOutputPaths(o.out, o.out+".partial", o.out+".partial.state"); err != nil {
		return err
	}
	cfg, err := loadClientConfig(e, &runOpts{orgURL: o.orgURL, tokenFile: o.tokenFile, authMode: o.authMode, timeout: o.timeout}, oktaConfigFiles(e))
	if err != nil {
		return err
	}
	client, err := okta.New(cfg)
	if err != nil {
		return usagef("", "%w", err)
	}

	// 2. The files: a resume, or a new export (nothing is created yet).
	fetcher := &export.Fetcher{
		Pacer:      pace.New(pace.Config{Rate: o.rate, Burst: o.burst, MaxShare: o.maxShare, Workers: 1, MaxWait: o.maxWait}),
		MaxRetries: o.maxRetries, BackoffMin: o.backoffMin, BackoffMax: 30 * time.Second,
		Feed: e.feed, Hard: e.hard,
	}
	x, err := export.Open(export.Config{Client: client, Fetcher: fetcher, OrgURL: cfg.OrgURL, Source: src,
		Out: o.out, Columns: cols, Keep: keep, ToolVersion: version})
	if err != nil {
		return manifestError(e, o.out, err, false)
	}

	// 3. The org must answer and take the token.
	if _, err := checkOrg(e.feed, client, cfg.OrgURL); err != nil {
		if e.feed.Err() != nil {
			return interruptedBefore(e)
		}
		return err
	}
	infof(e.stderr, "org: %s", cfg.OrgURL)
	if st := x.Resuming(); st != nil {
		infof(e.stderr, "resuming %s: %d %s saved, %d users written", o.out+".partial", st.Pages, plural(st.Pages, "page", "pages"), st.Written)
	}
	start := time.Now()
	stop := manifestProgress(e.stderr, o.progressEvery, x, fetcher, start)
	res, runErr := x.Run()
	stop()
	if res != nil {
		printManifestSummary(e.stderr, o.out, cfg.OrgURL, res, fetcher, time.Since(start), runErr)
	}
	if runErr != nil {
		return manifestError(e, o.out, runErr, x.Resuming() != nil || res != nil)
	}
	return nil
}

// manifestError says what an export's error means and how it ends (exit.go
// maps the kinds). begun: OUT.partial may exist.
func manifestError(e *env, out string, err error, begun bool) error {
	var ge *export.GroupError
	var re *export.RefusedError
	var se *export.SettingsError
	startOver := fmt.Sprintf("remove %s.partial and %s.partial.state to start over", out, out)
	switch {
	case errors.Is(err, export.ErrStopped):
		if cause := context.Cause(e.feed); cause != nil {
			return cause
		}
		return err
	case errors.As(err, &ge):
		if len(ge.Candidates) > 1 {
			return usagef("name the group by its ID: --group 00g…", "%v", err)
		}
		return usagef("check the name (Okta compares it whole, ignoring case), or give the group's ID", "%v", err)
	case errors.As(err, &re):
		hint := "check the token's rights"
		switch re.Err.HTTPStatus {
		case 400:
			hint = `check the expression: e.g. --search 'profile.department eq "Finance"' or --filter 'status eq "LOCKED_OUT"' (see Okta's list users documentation)`
		case 403:
			hint = "the token cannot read this listing: it needs okta.users.read (and okta.groups.read or okta.apps.read for --group and --app), or an admin role that can read them"
		case 404:
			hint = "check the ID"
		}
		if re.Before {
			return usagef(hint+"; no file was created", "the org refused the listing: %v", re.Err)
		}
		return fmt.Errorf("the org refused a page of the listing: %w (the export so far is in %s.partial; rerun to retry, or %s)", re.Err, out, startOver)
	case errors.As(err, &se):
		return usagef("rerun with the settings the export started with, or "+startOver, "%v", err)
	case errors.Is(err, export.ErrExists):
		return usagef("choose another -o, or move the old file away", "%v", err)
	case errors.Is(err, export.ErrOrphanPartial), errors.Is(err, export.ErrPartialChanged), errors.Is(err, export.ErrStateDamaged):
		return usagef(startOver, "%v", err)
	case errors.Is(err, export.ErrBusy):
		return usagef("wait for the other credbatch manifest to end", "%v", err)
	case errors.Is(err, export.ErrLocal):
		return fmt.Errorf("%w: %w", runner.ErrLocal, err)
	case errors.Is(err, pace.ErrWaitTooLong):
		return fmt.Errorf("%w: %w (rerun the same command to resume)", runner.ErrStopped, err)
	case errors.Is(err, okta.ErrUnauthorized):
		return fmt.Errorf("%w; set a valid OKTA_CLIENT_TOKEN (or --token-file), then rerun the same command to resume", err)
	case errors.Is(err, export.ErrEmpty):
		return err
	}
	if begun {
		return fmt.Errorf("%w (rerun the same command to resume)", err)
	}
	return err
}

// manifestProgress prints a progress line every interval until stop.
func manifestProgress(w io.Writer, every time.Duration, x *export.Export, f *export.Fetcher, start time.Time) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p := x.Progress()
				line := fmt.Sprintf("page %d: %d users listed, %d written, %d requests, %.1f requests/min",
					p.Pages, p.Listed, p.Written, f.Requests(), float64(f.Requests())/time.Since(start).Minutes())
				for _, pi := range f.Pacer.Paused() {
					line += fmt.Sprintf("; %s bucket paused until %s (%s, %d/%d left)", pi.Bucket, pi.Until.Format("15:04:05"), pi.Reason, pi.Remaining, pi.Limit)
				}
				infof(w, "%s", line)
			}
		}
	}()
	return func() { close(done); <-finished }
}

// printManifestSummary ends with the counts by status and the exact
// source, for the incident ticket.
func printManifestSummary(w io.Writer, out, org string, res *export.Result, f *export.Fetcher, wall time.Duration, runErr error) {
	switch {
	case runErr == nil:
		infof(w, "manifest: %s: %d users (mode 0600)", out, res.Written)
	case res.Pages > 0:
		infof(w, "finished so far: %d %s, %d users written to %s.partial", res.Pages, plural(res.Pages, "page", "pages"), res.Written, out)
	}
	infof(w, "%d %s, %d users listed, %d %s, %d 429s, %s", res.Pages, plural(res.Pages, "page", "pages"), res.Listed,
		f.Requests(), plural(int(f.Requests()), "request", "requests"), f.RateLimited(), wall.Round(time.Millisecond))
	if len(res.LeftOut) > 0 {
		var parts []string
		for _, k := range sortedKeys(res.LeftOut) {
			parts = append(parts, fmt.Sprintf("%d %s", res.LeftOut[k], k))
		}
		infof(w, "left out: %s", strings.Join(parts, ", "))
	}
	if res.Written == 0 {
		infof(w, "by status: none written")
	} else {
		infof(w, "by status:")
	}
	for _, st := range export.UserStatuses {
		if n := res.ByStatus[st]; n > 0 {
			infof(w, "  %-17s %d", st, n)
		}
	}
	infof(w, "source: %s in %s", res.Source, org)
}
