package main

import (
	"fmt"
	"io"

	"github.com/credbatch/credbatch/jobs"
)

// printPlan writes a validated manifest's counts per action and, in an
// administrator's words, what users will experience (the confirmation of
// run, and check), each line after prefix.
func printPlan(w io.Writer, prefix string, sum *jobs.Summary) {
	for _, a := range jobs.Actions {
		if n := sum.PerAction[a]; n > 0 {
			fmt.Fprintf(w, "%s  %-36s %d\n", prefix, a, n)
		}
	}
	for _, l := range effectLines(sum.Effects) {
		fmt.Fprintf(w, "%s%s\n", prefix, l)
	}
}

// effectLines are the lines that say what users will experience.
func effectLines(e jobs.Effects) []string {
	var out []string
	if e.Emails > 0 {
		out = append(out, fmt.Sprintf("Okta will email %d %s", e.Emails, plural(e.Emails, "user", "users")))
	}
	if e.Revoked > 0 {
		out = append(out, fmt.Sprintf("%d %s sessions will be revoked", e.Revoked, plural(e.Revoked, "user's", "users'")))
	}
	if e.TempPasswords > 0 {
		out = append(out, fmt.Sprintf("%d %s a temporary password in the report", e.TempPasswords, plural(e.TempPasswords, "user gets", "users get")))
	}
	if e.ResetLinks > 0 {
		out = append(out, fmt.Sprintf("%d reset %s in the report, for you to hand out", e.ResetLinks, plural(e.ResetLinks, "link lands", "links land")))
	}
	return out
}
