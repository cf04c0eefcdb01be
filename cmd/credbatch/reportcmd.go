package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

func newReportCmd(e *env) *cobra.Command {
	var asJSON bool
	var identity, reveal string
	var salvage string
	next := &nextOpts{}
	c := &cobra.Command{
		Use:   "report REPORT",
		Short: "Summarise a report (never prints secrets); write the manifests of the next step",
		Long: `Summarise a report written by run: counts by outcome, action, error code and
user status, and the first and last times. Never prints a temp password or a
reset link.

--failed-manifest OUT copies the original manifest rows that did not succeed
into OUT-stem.retryable.EXT (429, 5xx, network errors, timeouts, 409 E0000112:
run it as it is), OUT-stem.needs-fix.EXT (other 4xx, login mismatches,
duplicates, a dry run's would_fail rows) and OUT-stem.in-doubt.EXT (check the
user in Okta first), where EXT is the manifest's own extension. Only the
non-empty ones are written. --clean-manifest OUT copies a dry run's
would_succeed rows into OUT. The manifest is found through the run's checkpoint
(REPORT.checkpoint, or --checkpoint) and must not have changed since the run;
the files are created with mode 0600 and never overwrite a file. Rows still
pending are counted and warned about.

--identity FILE --reveal OUT: after a run with --encrypt-to, decrypt the
temp_password and reset_url cells with the age identities in FILE (as
age-keygen writes them) and write the whole report, in the clear, to OUT
(.csv or .jsonl; created with mode 0600, never overwriting a file). Secrets
are never printed.

Exit status: 0 every row succeeded, was skipped or would succeed; 1 some rows
failed, are in doubt or would fail; 2 the report, its checkpoint or its
manifest cannot be used (a run still in progress, a changed manifest, a file
that exists); 4 a manifest file could not be written.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if salvage != "" {
				return salvageReport(e, args[0], salvage, next, c.Flags())
			}
			if err := checkCheckpoint(args[0], next.checkpointPath); err != nil {
				return err
			}
			if (identity == "") != (reveal == "") {
				return usagef("e.g. credbatch report out.report.csv --identity key.txt --reveal revealed.csv",
					"--identity and --reveal go together")
			}
			if reveal != "" {
				if err := revealReport(args[0], identity, reveal); err != nil {
					return err
				}
			}
			rl, err := readReportLines(args[0])
			if err != nil {
				return usagef("", "%w", err)
			}
			s := rl.sum
			if asJSON {
				b, err := json.MarshalIndent(s, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s\n", b)
			} else if err := s.WriteText(e.stdout); err != nil {
				return err
			}
			if next.wanted() {
				if err := writeNextManifests(e, args[0], rl, next); err != nil {
					return err
				}
			}
			counts := map[string]int{}
			for k, v := range s.ByOutcome {
				counts[string(k)] = v
			}
			return finalStatus(counts)
		},
	}
	f := c.Flags()
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	f.StringVar(&next.failedManifest, "failed-manifest", "", "write the rows that did not succeed to OUT-stem.{retryable,needs-fix,in-doubt}.EXT")
	f.StringVar(&next.cleanManifest, "clean-manifest", "", "after a dry run: write the would_succeed rows to this manifest")
	f.StringVar(&identity, "identity", "", "with --reveal: a file of age identities (as age-keygen writes)")
	f.StringVar(&reveal, "reveal", "", "write the report with its --encrypt-to secrets decrypted to this new file (needs --identity)")
	f.StringVar(&salvage, "salvage", "", "write what the checkpoint still holds (a damaged one included) to this new report, and the manifest rows with no outcome there to OUT-stem.unsettled.EXT for a human to review; sends nothing")
	f.StringVar(&next.checkpointPath, "checkpoint", "", "the run's checkpoint (default REPORT.checkpoint)")
	f.StringVar(&next.manifestPath, "manifest", "", "the run's manifest, if it moved (default: the path the checkpoint recorded; its SHA-256 must match)")
	return c
}
