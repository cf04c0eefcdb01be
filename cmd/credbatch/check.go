package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/okta"
)

// checkOpts are check's flags: the org and token settings of run, the pace
// the estimate assumes, and the row defaults a manifest is validated with.
type checkOpts struct {
	runOpts
}

func newCheckCmd(e *env) *cobra.Command {
	o := &checkOpts{}
	c := &cobra.Command{
		Use:   "check [MANIFEST]",
		Short: "Preflight: org reachable, token accepted, whose token, scopes, rate limits, estimate; changes nothing",
		Long: `Check, before a run, everything credbatch can check without changing
anything and without creating a file: the org URL and where that setting
came from (flag, OKTA_CLIENT_ORGURL, ./.okta.yaml, ~/.okta/okta.yaml); whether
the org answers (TLS, latency); whether the token is accepted and whose it is
(GET /api/v1/users/me), or for OAuth the client, the scopes granted and which
commands they allow; the limit and remaining of the /api/v1/users bucket (GET
/api/v1/users?limit=1) and of the user-GET bucket. With MANIFEST: validated as
run would, its counts per action, what users will experience, and the run's
estimated time at --rate and --max-share under the limits just read.

Exit status: 0 a run could start; 2 it could not (the fix in one line).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			manifest := ""
			if len(args) == 1 {
				manifest = args[0]
			}
			return runCheck(e, o, manifest)
		},
	}
	o.rowDefaults.register(c)
	f := c.Flags()
	f.StringVar(&o.orgURL, "org-url", "", "the Okta org, https://example.okta.com (env OKTA_CLIENT_ORGURL)")
	f.StringVar(&o.tokenFile, "token-file", "", "read the API token from this file (else env OKTA_CLIENT_TOKEN; never a flag value)")
	f.StringVar(&o.authMode, "auth-mode", "", "SSWS, Bearer or PrivateKey (env OKTA_CLIENT_AUTHORIZATIONMODE; default SSWS)")
	f.Float64Var(&o.rate, "rate", 10, "the run's --rate, for the estimate")
	f.IntVar(&o.maxShare, "max-share", 50, "the run's --max-share, for the estimate")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "one request's time limit")
	return c
}

// scopeUse is what an OAuth scope lets credbatch do.
var scopeUse = []struct{ scope, allows string }{
	{"okta.users.manage", "run (the credential operations)"},
	{"okta.users.read", "run's lookups and dry runs, manifest --all/--search/--filter, verify"},
	{"okta.groups.read", "manifest --group"},
	{"okta.apps.read", "manifest --app"},
	{"okta.logs.read", "verify (the System Log)"},
}

func runCheck(e *env, o *checkOpts, manifestPath string) error {
	if o.maxShare < 1 || o.maxShare > 100 {
		return usagef("", "--max-share %d: want 1 to 100", o.maxShare)
	}
	if o.rate < 0 {
		return usagef("0 removes the cap", "--rate %g: want 0 or more", o.rate)
	}
	defaults, err := o.rowDefaults.jobs()
	if err != nil {
		return err
	}
	// The manifest first: offline, and a bad one needs no org to say so.
	var sum *jobs.Summary
	if manifestPath != "" {
		m, err := jobs.Open(manifestPath)
		if err != nil {
			return usagef("", "%w", err)
		}
		if sum, err = m.Validate(defaults); err != nil {
			return err
		}
	}
	cfg, err := clientConfig(e, &o.runOpts)
	if err != nil {
		return err
	}
	client, err := okta.New(cfg)
	if err != nil {
		return usagef("", "%w", err)
	}
	w := e.stdout
	fmt.Fprintf(w, "org:        %s (from %s)\n", cfg.OrgURL, orgURLSource(e, &o.runOpts))
	org, err := checkOrg(e.feed, client, cfg.OrgURL)
	if err != nil {
		if e.feed.Err() != nil {
			return interruptedBefore(e)
		}
		return err
	}
	scheme := "TLS verified"
	if strings.HasPrefix(cfg.OrgURL, "http://") {
		scheme = "plain http (loopback only)"
	}
	fmt.Fprintf(w, "reachable:  yes, %s; GET /api/v1/users/me answered in %s\n", scheme, org.Latency.Round(time.Millisecond))

	// The token: whose, and for OAuth what it may do.
	switch cfg.AuthMode {
	case okta.AuthPrivateKey:
		dpop := ""
		if client.UsesDPoP() {
			dpop = ", DPoP-bound"
		}
		fmt.Fprintf(w, "token:      accepted (PrivateKey: client %s%s)\n", cfg.ClientID, dpop)
		granted := client.GrantedScopes()
		fmt.Fprintf(w, "scopes:     %s\n", strings.Join(granted, " "))
		var missing []string
		for _, su := range scopeUse {
			if slices.Contains(granted, su.scope) {
				fmt.Fprintf(w, "  %-18s allows %s\n", su.scope, su.allows)
			} else {
				missing = append(missing, su.scope)
				fmt.Fprintf(w, "  %-18s not granted: no %s\n", su.scope, su.allows)
			}
		}
		if !slices.Contains(granted, "okta.users.manage") || !slices.Contains(granted, "okta.users.read") {
			return usagef("grant the service app okta.users.manage and okta.users.read in the Admin Console (Okta API Scopes), and list them in OKTA_CLIENT_SCOPES",
				"a run could not start: the token lacks %s", strings.Join(missing, " and "))
		}
	default:
		if org.Me != nil {
			fmt.Fprintf(w, "token:      accepted (%s), belongs to %s (%s): that user is never touched\n", cfg.AuthMode, org.Me.Login, org.Me.ID)
		} else {
			fmt.Fprintf(w, "token:      accepted (%s), belongs to no user\n", cfg.AuthMode)
		}
	}

	// The buckets: the credential one from a one-user listing (it shares
	// /api/v1/users), the user-GET one from the answer above.
	users := usersBucket(e.feed, client)
	fmt.Fprintf(w, "%s\n", bucketLine("/api/v1/users (credential operations, listings)", users))
	fmt.Fprintf(w, "%s\n", bucketLine("/api/v1/users/{id} (lookups)", org.Rate))

	if sum != nil {
		fmt.Fprintf(w, "manifest:   %s (%d rows, valid)\n", manifestPath, sum.Rows)
		printPlan(w, "            ", sum)
		fmt.Fprintf(w, "estimate:   %s\n", checkEstimate(sum, o.rate, o.maxShare, users, org.Rate))
	}
	fmt.Fprintln(w, "ok: a run could start")
	return nil
}

// usersBucket reads the /api/v1/users bucket's headers from the cheapest
// request that counts in it: a listing of one user.
func usersBucket(ctx context.Context, c *okta.Client) okta.RateInfo {
	var page []map[string]any
	pg, err := c.GetPage(ctx, "/api/v1/users?limit=1", &page, okta.CallOptions{})
	if err == nil {
		return pg.Rate
	}
	if ae, ok := errors.AsType[*okta.APIError](err); ok {
		return ae.Rate
	}
	return okta.RateInfo{}
}

// bucketLine says a bucket's limit, what is left and when it resets.
func bucketLine(name string, r okta.RateInfo) string {
	if !r.Present {
		return fmt.Sprintf("bucket %s: no rate-limit headers in the answer", name)
	}
	return fmt.Sprintf("bucket %s: limit %d, remaining %d, resets %s", name, r.Limit, r.Remaining, untilText(r.Reset, time.Now()))
}

// checkEstimate is the run's time at --rate and --max-share under the limits
// read (Okta's windows are a minute long): the credential requests in their
// bucket, the lookups in theirs, and --rate over both.
func checkEstimate(sum *jobs.Summary, rate float64, share int, users, gets okta.RateInfo) string {
	credential := 0
	for _, n := range sum.PerAction {
		credential += n
	}
	lookups := sum.Effects.Logins + 1 // and GET /api/v1/users/me
	perMinute := func(r okta.RateInfo) (float64, string) {
		if r.Present && r.Limit > 0 {
			return float64(r.Limit), fmt.Sprintf("%d", r.Limit)
		}
		return assumedOktaLimit, fmt.Sprintf("%d (assumed)", assumedOktaLimit)
	}
	ul, uls := perMinute(users)
	gl, gls := perMinute(gets)
	secs := math.Max(float64(credential)/(ul*float64(share)/100/60), float64(lookups)/(gl*float64(share)/100/60))
	if rate > 0 {
		secs = math.Max(secs, float64(credential+lookups)/rate)
	}
	d := time.Duration(secs * float64(time.Second)).Round(time.Second)
	r := "no --rate cap"
	if rate > 0 {
		r = fmt.Sprintf("--rate %g", rate)
	}
	return fmt.Sprintf("about %s for %d credential requests and %d lookups at %s and --max-share %d of %s and %s a minute (other integrations' use, latency and retries not counted)",
		d, credential, lookups, r, share, uls, gls)
}
