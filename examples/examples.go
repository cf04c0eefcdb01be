// Package examples holds manifests a user can copy, the demo org they run
// against, and the outcome each row is expected to have there. They are
// embedded so `credbatch demo` runs them from any directory.
package examples

import "embed"

// FS holds the example manifests (*.csv, *.jsonl), their expected outcomes
// (*.expected), the demo org's users (users.json) and exclusion lists (*.txt).
//
//go:embed *.csv *.jsonl *.expected *.txt users.json
var FS embed.FS

// Example is one demo step.
type Example struct {
	Manifest string   // file name in FS
	Expected string   // file name in FS: "line outcome [error_code]" lines
	Args     []string // extra run flags; paths in them name files of FS
	About    string   // one line for the demo's output
}

// All lists the examples in the order the demo runs them, each against a
// fresh demo org.
var All = []Example{
	{
		Manifest: "incident-expiry.csv", Expected: "incident-expiry.expected",
		About: "incident response: temp passwords for five users, then their sessions and tokens cleared",
	},
	{
		Manifest: "onboarding-cohort.jsonl", Expected: "onboarding-cohort.expected",
		About: "onboarding cohort: reset links collected in the report instead of emailed",
	},
	{
		Manifest: "mixed-with-failures.csv", Expected: "mixed-with-failures.expected",
		Args:  []string{"--exclude", "mixed-exclude.txt"},
		About: "mixed manifest with rows that fail by design (wrong password, wrong status, unknown user, duplicate, excluded, the token's own user)",
	},
}
