package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
)

// pacing is the run's --rate and --max-share, which the dry run's estimate
// of the real run's duration depends on. run passes it to printSummary and
// writeSummaryJSON; without it the estimate is left out rather than guessed.
type pacing struct {
	rate     float64 // --rate: requests per second at most; 0 = no cap
	maxShare int     // --max-share: percent of each rate-limit window
}

// assumedOktaLimit is the rate limit the estimate assumes for each of the two
// buckets credbatch tracks (credential requests, GET /api/v1/users/{id}):
// requests per minute. 600 is Okta's documented default for the
// /api/v1/users endpoints in many orgs; an org's own limits may be higher
// (add-ons, DynamicScale) or lower, so the result is only an estimate.
const assumedOktaLimit = 600

// estimate is a dry run's forecast of the real run of the same manifest.
type estimate struct {
	Rows        int     `json:"rows"`                // rows the real run would finish (the dry run's rows)
	Credential  int     `json:"credential_requests"` // rows that would reach their action (one request each)
	Lookups     int     `json:"user_lookups"`        // GET /api/v1/users: one per login row, plus /users/me
	Requests    int     `json:"requests"`            // Credential + Lookups
	Rate        float64 `json:"rate"`                // --rate (0: no cap)
	MaxShare    int     `json:"max_share"`           // --max-share
	AssumedLim  int     `json:"assumed_okta_limit_per_minute"`
	EffectiveRS float64 `json:"effective_requests_per_second"`
	Seconds     float64 `json:"seconds"`
	Note        string  `json:"note"`
}

// estimateRealRun reads a dry run's report and estimates how long the real
// run of the same manifest would take at p's --rate and --max-share.
//
// Requests: the real run sends one credential request for every row that
// reaches its action (not skipped, user found, no login mismatch or
// duplicate: a would_fail row for the user's status is still sent, and
// fails), and one GET /api/v1/users/{login} for every row naming a login
// (IDs are not looked up), plus one GET /api/v1/users/me.
//
// Rate: every request waits on the --rate token bucket, and each of the two
// Okta buckets may use --max-share percent of its limit, assumed to be
// assumedOktaLimit a minute. So
//
//	seconds = max(requests / rate,
//	              credential / (share × limit / 60),
//	              lookups    / (share × limit / 60))
//
// (the first term is dropped at --rate 0), and the effective rate reported
// is requests / seconds: min(--rate, what the shares allow). Latency,
// --workers, retries and other integrations' use of the limits are ignored:
// it is an estimate, labelled as one.
func estimateRealRun(reportPath string, p pacing) (*estimate, error) {
	est := &estimate{Rate: p.rate, MaxShare: p.maxShare, AssumedLim: assumedOktaLimit, Lookups: 1}
	err := report.ReadFile(reportPath, func(r *report.Row) error {
		est.Rows++
		if !jobs.IsUserID(r.User) {
			est.Lookups++
		}
		if r.Outcome != report.Skipped && r.UserID != "" &&
			r.ErrorCode != report.CodeLoginMismatch && r.ErrorCode != report.CodeDuplicateUser {
			est.Credential++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("estimating from %s: %w", reportPath, err)
	}
	est.Requests = est.Credential + est.Lookups
	perBucket := float64(p.maxShare) / 100 * assumedOktaLimit / 60
	secs := 0.0
	if p.rate > 0 {
		secs = float64(est.Requests) / p.rate
	}
	if perBucket > 0 {
		secs = math.Max(secs, math.Max(float64(est.Credential), float64(est.Lookups))/perBucket)
	}
	est.Seconds = math.Round(secs*10) / 10
	if secs > 0 {
		est.EffectiveRS = math.Round(float64(est.Requests)/secs*100) / 100
	}
	est.Note = fmt.Sprintf("an estimate: assumes Okta's default limit of %d requests a minute for credential requests and for user lookups; the org's own limits, latency and retries change it", assumedOktaLimit)
	return est, nil
}

// String is the estimate for people.
func (est *estimate) String() string {
	d := time.Duration(est.Seconds * float64(time.Second)).Round(time.Second)
	rate := "no --rate cap"
	if est.Rate > 0 {
		rate = fmt.Sprintf("--rate %g", est.Rate)
	}
	return fmt.Sprintf("estimated real run: about %s for %d requests (%d credential, %d user lookups) at %s and --max-share %d, assuming Okta's default limit of %d a minute (an estimate: the org's limits may differ)",
		d, est.Requests, est.Credential, est.Lookups, rate, est.MaxShare, est.AssumedLim)
}

func printSummary(e *env, reportPath string, total map[string]int, res *runner.Result, wall time.Duration, dry bool, rows int, pace ...pacing) {
	w := e.stderr
	var parts []string
	for _, k := range sortedKeys(total) {
		parts = append(parts, fmt.Sprintf("%s %d", k, total[k]))
	}
	done := 0
	for _, v := range total {
		done += v
	}
	if done >= rows {
		infof(w, "done: %d of %d rows: %s", done, rows, strings.Join(parts, ", "))
	} else {
		// An interrupted or stopped run is not "done".
		infof(w, "finished so far: %d of %d rows: %s", done, rows, strings.Join(parts, ", "))
	}
	if len(res.ByCode) > 0 {
		var codes []string
		for _, k := range sortedKeys(res.ByCode) {
			codes = append(codes, fmt.Sprintf("%s %d", k, res.ByCode[k]))
		}
		infof(w, "errors this run: %s", strings.Join(codes, ", "))
	}
	if dry && len(res.ByReason) > 0 {
		// The reasons, most frequent first: what to fix before the real run.
		reasons := sortedKeys(res.ByReason)
		sort.SliceStable(reasons, func(i, j int) bool { return res.ByReason[reasons[i]] > res.ByReason[reasons[j]] })
		infof(w, "would fail, by reason:")
		for i, k := range reasons {
			if i == 10 {
				infof(w, "  … and %d more reasons (credbatch report %s)", len(reasons)-10, reportPath)
				break
			}
			infof(w, "  %d × %s", res.ByReason[k], k)
		}
	}
	if dry && len(res.StatusCount) > 0 {
		var st []string
		for _, k := range sortedKeys(res.StatusCount) {
			st = append(st, fmt.Sprintf("%s %d", k, res.StatusCount[k]))
		}
		infof(w, "users by status: %s", strings.Join(st, ", "))
	}
	if dry && len(pace) > 0 && res.Pending == 0 {
		if est, err := estimateRealRun(reportPath, pace[0]); err == nil {
			infof(w, "%s", est)
		}
	}
	infof(w, "this run: %s wall time, %d requests, %d rate-limited (429)", wall.Round(time.Millisecond), res.Requests, res.RateLimited)
	if res.Pending > 0 {
		infof(w, "%d rows still pending: rerun the same command to resume", res.Pending)
	}
	infof(w, "report: %s", reportPath)
}

// writeSummaryJSON writes --summary-json: counts, durations, requests,
// 429s, org, manifest SHA-256, tool version, exit reason — never secrets.
//
// Durations: wall_seconds (this invocation), started_at and finished_at
// (this invocation), and first_started_at / last_finished_at over the whole
// report, across resumes. A dry run adds users_by_status and, when run
// passes its pacing, estimate (see estimateRealRun).
func writeSummaryJSON(path, org string, sum *jobs.Summary, manifest, reportPath string, total map[string]int, res *runner.Result, wall time.Duration, runErr error, dry bool, pace ...pacing) error {
	finished := time.Now().UTC()
	reason := "finished"
	if runErr != nil {
		reason = runErr.Error()
	}
	code := exitCode(runErr)
	if runErr == nil {
		code = exitCode(finalStatus(total))
	}
	byCode := res.ByCode
	if byCode == nil {
		byCode = map[string]int{}
	}
	out := map[string]any{
		"tool_version":    version,
		"org_url":         org,
		"token_owner_id":  res.OwnerID,
		"manifest":        manifest,
		"manifest_sha256": sum.SHA256,
		"rows":            sum.Rows,
		"dry_run":         dry,
		"report":          reportPath,
		"outcomes":        total,
		"error_codes":     byCode,
		"requests":        res.Requests,
		"rate_limited":    res.RateLimited,
		"pending":         res.Pending,
		"wall_seconds":    wall.Seconds(),
		"exit_status":     code,
		"exit_reason":     reason,
	}
	out["started_at"] = finished.Add(-wall).Format(report.TimeLayout)
	out["finished_at"] = finished.Format(report.TimeLayout)
	if rs, err := report.Summarize(reportPath); err == nil {
		if !rs.First.IsZero() {
			out["first_started_at"] = rs.First.UTC().Format(report.TimeLayout)
		}
		if !rs.Last.IsZero() {
			out["last_finished_at"] = rs.Last.UTC().Format(report.TimeLayout)
		}
	}
	if dry {
		out["users_by_status"] = res.StatusCount
		if len(pace) > 0 && res.Pending == 0 {
			if est, err := estimateRealRun(reportPath, pace[0]); err == nil {
				out["estimate"] = est
			}
		}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}
