// Command credbatch runs Okta credential operations in bulk: one operation
// per row of a CSV or JSONL manifest, paced to the org's rate limits,
// resumable from its checkpoint, with a report of every outcome.
//
// See README.md for the manual and ARCHITECTURE.md for the map; the product contract is SPEC.md, kept beside the repository.
package main

import (
	"os"
)

func main() { os.Exit(Main()) }
