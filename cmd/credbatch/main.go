// Command credbatch runs Okta credential operations in bulk: one operation
// per row of a CSV or JSONL manifest, paced to the org's rate limits,
// resumable from its checkpoint, with a report of every outcome.
//
// See README.md for the manual; ../shared/SPEC.md is the contract.
package main

import (
	"os"
)

func main() { os.Exit(Main()) }
