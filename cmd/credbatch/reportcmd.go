package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

func newReportCmd(e *env) *cobra.Command {
	var asJSON bool
	var identity, reveal string
	var salvage string
	next := &nextOpts{}
	latest := &latestOpts{}
	c := &cobra.Command{
		Use:   "report REPORT | report R1 [R2 …] --latest OUT",
		Short: "Summarise a report (never prints secrets); write the manifests of the next step",
		Long: `Summarise a report written by run: counts by outcome, action, error code and
user status, the first and last times, and the rows still pending (the run's
manifest rows the report does not hold yet, from its checkpoint). Never prints
a temp password or a reset link.

--failed-manifest OUT copies the original manifest rows that did not succeed
into OUT-stem.retryable.EXT (429, 5xx, network errors, timeouts, 409 E0000112,
and the rows of the repeatable actions that may have applied: run it as it
is), OUT-stem.needs-fix.EXT (other 4xx, login mismatches, duplicates, a dry
run's would_fail rows) and OUT-stem.in-doubt.EXT (a password-checking action
whose answer was lost: check the user in Okta first), and the rows never sent
into OUT-stem.pending.EXT, where EXT is the manifest's own extension. Only the
non-empty ones are written. A row of expire_password_with_temp_password,
reset_password or forgot_password whose answer was lost is retryable: a
secret may have been issued and lost, and running it again issues a new one
(the reason is printed beside the file, with the rows' lines). --clean-manifest
OUT copies a dry run's would_succeed rows into OUT. The manifest is found
through the run's checkpoint (REPORT.checkpoint, or --checkpoint) and must not
have changed since the run; the files are created with mode 0600 and never
overwrite a file.

--identity FILE --reveal OUT: after a run with --encrypt-to, decrypt the
temp_password and reset_url cells with the age identities in FILE (as
age-keygen writes them) and write the whole report, in the clear, to OUT
(.csv or .jsonl; created with mode 0600, never overwriting a file). Secrets
are never printed. A hand-out list (below) is revealed the same way.

R1 [R2 …] --latest OUT: one hand-out list over a run (R1) and its reruns (the
retryable, in-doubt, pending or any other reruns, oldest first): one row per
(user, action), in R1's manifest order, with the report's columns, then
source (the report its outcome came from) and note. Rows of a rerun match
R1's by (user_id, action), else by (user, action) as written; a rerun's row
that matches none follows R1's rows. The outcome is the newest attempt's (by
finished_at). The secret is the one the newest success issued: a newer temp
password or reset link makes the older ones stop working, so an older one is
never handed out after a newer was issued (none when the newest was
emailed). A later attempt that did not apply (4xx, 429, skipped) leaves that
secret standing, and the note says so; a later attempt of a secret-issuing
action that may have applied (in_doubt, no answer, 5xx) may have issued a
newer secret nobody holds: the older one is given with a note that it may no
longer work, to run the row again. R1's rows that finished in no report are
named on stderr. Every report needs its checkpoint (REPORT.checkpoint: it
names the org; reports of different orgs, and dry runs, are refused) and R1
its manifest (unchanged; --manifest if it moved). OUT (.csv or .jsonl) is a
new file, mode 0600; --encrypt-to RECIPIENT seals its secrets with age (cells
a run already sealed are kept as they are). Exit 1 when a row's outcome is
failed or in_doubt, or a row of R1 finished nowhere.

Exit status: 0 every row succeeded, was skipped or would succeed, and none is
pending; 1 some rows failed, are in doubt, would fail or are still pending
(or a run still holds the checkpoint); 2 the report, its checkpoint or its
manifest cannot be used (a run still in progress when a manifest is asked
for, a changed manifest, a file that exists); 4 a manifest file could not be
written.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if latest.out != "" {
				for _, f := range []string{"json", "failed-manifest", "clean-manifest", "identity", "reveal", "checkpoint", "salvage"} {
					if c.Flags().Changed(f) {
						return usagef("write the hand-out list first, then run credbatch report on it", "--latest and --%s do not go together", f)
					}
				}
				latest.manifest = next.manifestPath
				return writeLatest(e, args, latest)
			}
			if len(args) > 1 {
				return usagef("e.g. credbatch report run.report.csv rerun.report.csv --latest handout.csv",
					"report takes one report, or several with --latest OUT")
			}
			if len(latest.encryptTo) > 0 {
				return usagef("", "--encrypt-to goes with --latest (a run's report is sealed by run --encrypt-to)")
			}
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
			return summariseReport(e, args[0], asJSON, next)
		},
	}
	f := c.Flags()
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	f.StringVar(&next.failedManifest, "failed-manifest", "", "write the rows that did not succeed to OUT-stem.{retryable,needs-fix,in-doubt,pending}.EXT")
	f.StringVar(&next.cleanManifest, "clean-manifest", "", "after a dry run: write the would_succeed rows to this manifest")
	f.StringVar(&identity, "identity", "", "with --reveal: a file of age identities (as age-keygen writes)")
	f.StringVar(&reveal, "reveal", "", "write the report with its --encrypt-to secrets decrypted to this new file (needs --identity)")
	f.StringVar(&salvage, "salvage", "", "write what the checkpoint still holds (a damaged one included) to this new report, and the manifest rows with no outcome there to OUT-stem.unsettled.EXT for a human to review; sends nothing")
	f.StringVar(&next.checkpointPath, "checkpoint", "", "the run's checkpoint (default REPORT.checkpoint)")
	f.StringVar(&next.manifestPath, "manifest", "", "the run's manifest (with --latest: R1's), if it moved (default: the path the checkpoint recorded; its SHA-256 must match)")
	f.StringVar(&latest.out, "latest", "", "merge R1 and its reruns into one hand-out list, this new file (.csv or .jsonl)")
	f.StringSliceVar(&latest.encryptTo, "encrypt-to", nil, "with --latest: seal the list's temp passwords and reset links to this age recipient (age1…)")
	return c
}

// summariseReport prints the summary of the report at path, with the rows
// still pending when its checkpoint tells, and writes the next-step
// manifests next asks for.
func summariseReport(e *env, path string, asJSON bool, next *nextOpts) error {
	rl, err := readReportLines(path)
	if err != nil {
		return usagef("", "%w", err)
	}
	run := &reportRun{}
	if rl.handout {
		// a hand-out list has no run: nothing is pending in it
		if next.wanted() {
			return usagef("give the report of the run (or rerun) whose rows you want", "%s is a hand-out list (report --latest), not a run's report", path)
		}
	} else if run, err = openRunFor(e, path, next); err != nil {
		return err
	}
	if run.j != nil {
		defer run.j.Close()
	}
	s := rl.sum
	if run.st != nil {
		if s.Pending = run.st.Header.Rows - rl.all.Count(); s.Pending < 0 {
			return usagef("pass the --checkpoint of the run that wrote this report",
				"%s holds %d rows, but the run of the checkpoint %s has only %d: the checkpoint is not this report's",
				path, rl.all.Count(), run.path, run.st.Header.Rows)
		}
		s.PendingKnown = true
	}
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
		if err := writeNextManifests(e, path, rl, next, run); err != nil {
			return err
		}
	}
	if s.Pending > 0 {
		warnf(e.stderr, "%d %s still pending: rerun the original command to finish %s first",
			s.Pending, plural(s.Pending, "row is", "rows are"), plural(s.Pending, "it", "them"))
	}
	if s.ByOutcome[report.Failed]+s.ByOutcome[report.InDoubt]+s.ByOutcome[report.WouldFail] > 0 || s.Pending > 0 || run.busy {
		return errRowsFailed
	}
	return nil
}

// reportRun is the run behind a report, as far as its checkpoint tells.
type reportRun struct {
	path string // the checkpoint's path
	j    *checkpoint.Journal
	st   *checkpoint.State // nil: not known (no checkpoint, or a run holds it)
	busy bool              // a run still holds the checkpoint
}

// openRunFor opens the report's checkpoint (--checkpoint, else
// REPORT.checkpoint), holding its lock until the caller closes it. The
// next-step manifests need it: any failure to open it is an error. For the
// summary alone, a checkpoint that is not there by default, or that a run
// still holds, only leaves the pending rows unknown, and says so.
func openRunFor(e *env, reportPath string, next *nextOpts) (*reportRun, error) {
	run := &reportRun{path: next.checkpointPath}
	if run.path == "" {
		run.path = reportPath + ".checkpoint"
	}
	j, st, err := openRunCheckpoint(run.path)
	switch {
	case err == nil:
		run.j, run.st = j, st
		return run, nil
	case next.wanted():
		return nil, err
	case errors.Is(err, errRunInProgress):
		warnf(e.stderr, "a credbatch run is still using %s: its rows are pending until it ends", run.path)
		run.busy = true
		return run, nil
	case errors.Is(err, fs.ErrNotExist) && next.checkpointPath == "":
		warnf(e.stderr, "cannot count the pending rows: no checkpoint %s (pass --checkpoint PATH if the run used another)", run.path)
		return run, nil
	}
	return nil, err
}
