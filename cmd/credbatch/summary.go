package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/runner"
)

func printSummary(e *env, reportPath string, total map[string]int, res *runner.Result, wall time.Duration, dry bool, rows int) {
	w := e.stderr
	var parts []string
	for _, k := range sortedKeys(total) {
		parts = append(parts, fmt.Sprintf("%s %d", k, total[k]))
	}
	done := 0
	for _, v := range total {
		done += v
	}
	infof(w, "done: %d of %d rows: %s", done, rows, strings.Join(parts, ", "))
	if len(res.ByCode) > 0 {
		var codes []string
		for _, k := range sortedKeys(res.ByCode) {
			codes = append(codes, fmt.Sprintf("%s %d", k, res.ByCode[k]))
		}
		infof(w, "errors this run: %s", strings.Join(codes, ", "))
	}
	if dry && len(res.StatusCount) > 0 {
		var st []string
		for _, k := range sortedKeys(res.StatusCount) {
			st = append(st, fmt.Sprintf("%s %d", k, res.StatusCount[k]))
		}
		infof(w, "users by status: %s", strings.Join(st, ", "))
	}
	infof(w, "this run: %s wall time, %d requests, %d rate-limited (429)", wall.Round(time.Millisecond), res.Requests, res.RateLimited)
	if res.Pending > 0 {
		infof(w, "%d rows still pending: rerun the same command to resume", res.Pending)
	}
	infof(w, "report: %s", reportPath)
}

// writeSummaryJSON writes --summary-json: counts, durations, requests,
// 429s, org, manifest SHA-256, tool version, exit reason — never secrets.
func writeSummaryJSON(path, org string, sum *jobs.Summary, manifest, reportPath string, total map[string]int, res *runner.Result, wall time.Duration, runErr error, dry bool) error {
	reason := "finished"
	if runErr != nil {
		reason = runErr.Error()
	}
	code := exitCode(runErr)
	if runErr == nil {
		code = exitCode(finalStatus(total, nil))
	}
	out := map[string]any{
		"tool_version":    version,
		"org_url":         org,
		"manifest":        manifest,
		"manifest_sha256": sum.SHA256,
		"rows":            sum.Rows,
		"dry_run":         dry,
		"report":          reportPath,
		"outcomes":        total,
		"error_codes":     res.ByCode,
		"requests":        res.Requests,
		"rate_limited":    res.RateLimited,
		"pending":         res.Pending,
		"wall_seconds":    wall.Seconds(),
		"exit_status":     code,
		"exit_reason":     reason,
	}
	if dry {
		out["users_by_status"] = res.StatusCount
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}
