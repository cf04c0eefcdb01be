package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

// completeReport makes the report agree with the journal after a stop at
// any instant: the report is created if the crash came before it, its torn
// tail is cut, and every outcome the journal holds but the report lacks is
// appended. The journal is the record; the report follows it.
//
// The report holds a prefix of the journal's outcomes, in journal order: the
// runner's single recorder appends each batch to the report only after
// making it durable, in the same order, and this function appends the rest
// in journal order too. So after Repair keeps K whole rows, the outcomes to
// append are the journal's from the (K+1)th on. Every outcome is also passed
// to also (when not nil), in the same single pass over the journal.
func completeReport(j *checkpoint.Journal, path string, f report.Format, also func(checkpoint.Outcome)) error {
	have := 0
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := createReport(path, f); err != nil {
			return err
		}
	} else if have, err = report.Repair(path); err != nil {
		return fmt.Errorf("%w: repairing the report %s: %w", runner.ErrLocal, path, err)
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("%w: opening the report %s: %w", runner.ErrLocal, path, err)
	}
	defer out.Close()
	w := report.NewWriter(out, f)
	seen := 0
	err = j.Replay(func(o checkpoint.Outcome) error {
		seen++
		if also != nil {
			also(o)
		}
		if seen <= have {
			return nil
		}
		return decodePayload(o.Payload, func(r *report.Row) error { return w.Write(r) })
	})
	if err == nil && seen < have {
		return shortCheckpoint(path, j.Path(), have, seen)
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = out.Sync()
	}
	if err != nil {
		return fmt.Errorf("%w: completing the report %s from the checkpoint: %w", runner.ErrLocal, path, err)
	}
	return nil
}

// openFailure is the error a run returns when checkpoint.Open refuses its
// checkpoint: a damaged one as it is (exit 2, its hint printed by
// printError), any other failure as a local one.
func openFailure(cpPath string, err error) error {
	if errors.Is(err, checkpoint.ErrCorrupt) {
		return err
	}
	return fmt.Errorf("%w: opening the checkpoint %s: %w", runner.ErrLocal, cpPath, err)
}

// shortCheckpoint is the refusal of a report that holds rows its checkpoint
// lacks (SPEC.md "Checkpoint and resume"): the checkpoint lost records (a
// restored older copy, a cut), and resuming from it would send those rows
// again. It is never resolved by sending: exit 2, nothing sent.
func shortCheckpoint(reportPath, cpPath string, have, seen int) error {
	return &usageError{
		err: fmt.Errorf("the report %s holds %d rows but its checkpoint %s only %d outcomes: the checkpoint is the short one, missing %d %s the report shows finished; nothing was sent, as resuming from it would send %s again",
			reportPath, have, cpPath, seen, have-seen, plural(have-seen, "row", "rows"), plural(have-seen, "it", "them")),
		hints: []string{
			"restore the checkpoint from a backup at least as recent as the report, then rerun the same command",
			"do not delete or move the report to get past this: the rows only it records would be sent again",
			fmt.Sprintf("without such a backup: credbatch report %s --salvage OUT.csv%s writes the checkpoint's outcomes and the manifest rows it lacks, for review (the report keeps the outcomes of the rest)",
				shellQuote(reportPath), checkpointArg(reportPath, cpPath)),
		},
	}
}

// checkpointArg is " --checkpoint PATH" unless cpPath is reportPath's default.
func checkpointArg(reportPath, cpPath string) string {
	if filepath.Clean(cpPath) == filepath.Clean(reportPath)+".checkpoint" {
		return ""
	}
	return " --checkpoint " + shellQuote(cpPath)
}

// decodePayload reads the report row an outcome record carries (JSONL).
func decodePayload(p []byte, fn func(*report.Row) error) error {
	r, err := report.ParseJSONLine(bytes.TrimSuffix(p, []byte{'\n'}))
	if err != nil {
		return err
	}
	return fn(r)
}

func createReport(path string, f report.Format) error {
	rf, err := report.Create(path)
	if err != nil {
		if errors.Is(err, report.ErrExists) {
			return err
		}
		return fmt.Errorf("%w: creating the report %s: %w", runner.ErrLocal, path, err)
	}
	w := report.NewWriter(rf, f)
	err = w.WriteHeader()
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = rf.Sync()
	}
	if cerr := rf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%w: writing the report %s: %w", runner.ErrLocal, path, err)
	}
	return nil
}

// priorFrom prepares the report file and tells the runner what earlier runs
// of this checkpoint finished: one pass over the journal completes the
// report and collects the (user, action) pairs finished rows claimed.
func priorFrom(j *checkpoint.Journal, st *checkpoint.State, reportPath string, f report.Format, resuming bool) (runner.Prior, error) {
	if !resuming {
		return runner.Prior{}, createReport(reportPath, f)
	}
	claims := make(map[uint64]int, st.Done.Count())
	err := completeReport(j, reportPath, f, func(o checkpoint.Outcome) {
		if o.Outcome == string(report.Skipped) {
			return
		}
		userID := report.JSONField(o.Payload, "user_id")
		code := report.JSONField(o.Payload, "error_code")
		if userID != "" && code != report.CodeLoginMismatch && code != report.CodeDuplicateUser {
			claims[runner.ClaimKey(userID, report.JSONField(o.Payload, "action"))] = o.Line
		}
	})
	if err != nil {
		return runner.Prior{}, err
	}
	return runner.Prior{
		Done:     st.Done.Has,
		Finished: st.Done.Count(),
		Attempts: st.Attempts,
		InFlight: st.LastAttempt,
		FirstAt:  st.FirstAttempt,
		Claims:   claims,
		Counts:   st.Counts,
	}, nil
}
