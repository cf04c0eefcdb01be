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
// append are the journal's from the (K+1)th on, which ReplayFrom reaches
// without reading the ones before.
func completeReport(j *checkpoint.Journal, path string, f report.Format) error {
	have, err := prepareReport(path, f)
	if err != nil {
		return err
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("%w: opening the report %s: %w", runner.ErrLocal, path, err)
	}
	defer out.Close()
	w := report.NewWriter(out, f)
	seen, err := j.ReplayFrom(have, func(o checkpoint.Outcome) error {
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

// prepareReport creates the report if the crash came before it, or cuts its
// torn tail, and returns how many whole rows it holds.
func prepareReport(path string, f report.Format) (int, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return 0, createReport(path, f)
	}
	have, err := report.Repair(path)
	if err != nil {
		return 0, fmt.Errorf("%w: repairing the report %s: %w", runner.ErrLocal, path, err)
	}
	return have, nil
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

// collectClaims is what checkpoint.OpenEach hands the journal's outcomes
// to: the (user ID, action) pairs finished rows claimed (claimOf) go into
// f.claims, sized for the manifest's rows (the runner adds this run's to
// it), in the pass that opens the journal, and priorFrom hands them to the
// runner. The outcomes are read on the calling goroutine and their claims
// made on another, in batches, since a claim is a random access into a
// table of 15 MiB at a million rows (~200 ns while the journal streams
// through the caches). On bench/resume.sh's state (a million finished rows)
// the first request came 1.19 s after the start when a second pass over
// the journal collected the claims, 0.98 s with them in this pass, 0.79 s
// with them made on their own goroutine (medians of 3).
func (f *runFiles) collectClaims(h checkpoint.Header) (func(checkpoint.Outcome), func()) {
	const batchLen = 4096
	type claim struct {
		key  uint64
		line int
	}
	claims := runner.NewClaims(h.Rows)
	full := make(chan []claim, 4)
	empty := make(chan []claim, 4)
	for range cap(empty) {
		empty <- make([]claim, 0, batchLen)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range full {
			for _, c := range b {
				claims.Claim(c.key, c.line)
			}
			empty <- b[:0]
		}
	}()
	batch := <-empty
	each := func(o checkpoint.Outcome) {
		if key, ok := claimOf(report.Outcome(o.Outcome), o.Payload); ok {
			if batch = append(batch, claim{key, o.Line}); len(batch) == batchLen {
				full <- batch
				batch = <-empty
			}
		}
	}
	end := func() {
		full <- batch
		close(full)
		<-done
		f.claims = claims
	}
	return each, end
}

// priorFrom prepares the report file and tells the runner what earlier runs
// of this checkpoint finished: the report is completed from the journal, and
// claims are those the finished rows made (collectClaims).
func priorFrom(j *checkpoint.Journal, st *checkpoint.State, claims *runner.Claims, reportPath string, f report.Format, resuming bool) (runner.Prior, error) {
	if !resuming {
		return runner.Prior{}, createReport(reportPath, f)
	}
	if err := completeReport(j, reportPath, f); err != nil {
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

// The keys of the payload fields a claim is made of, as the report's JSONL
// encoder writes them.
var (
	userIDField    = []byte(`"user_id":"`)
	actionField    = []byte(`"action":"`)
	errorCodeField = []byte(`"error_code":"`)
)

// claimOf returns the claim a finished row makes, from its outcome and its
// payload (its report row, JSONL): the ClaimKey of its user ID and action,
// unless it was skipped, has no user ID, or failed before claiming its user
// (a login that resolved to someone else, a duplicate: codes the runner
// gives only to a failed or would_fail row, so only theirs are looked for).
// It reads the fields where they lie and allocates nothing: a million-row
// resume calls it a million times.
func claimOf(o report.Outcome, payload []byte) (uint64, bool) {
	if o == report.Skipped {
		return 0, false
	}
	userID := jsonString(payload, userIDField)
	if len(userID) == 0 {
		return 0, false
	}
	if o == report.Failed || o == report.WouldFail {
		if code := jsonString(payload, errorCodeField); string(code) == report.CodeLoginMismatch || string(code) == report.CodeDuplicateUser {
			return 0, false
		}
	}
	return runner.ClaimKey(string(userID), string(jsonString(payload, actionField))), true
}

// jsonString returns the value of the string field whose key (and opening
// quote) is key, or nil when it is absent or holds an escape (which user IDs,
// actions and error codes never do). It is report.JSONField without the
// allocations.
func jsonString(line, key []byte) []byte {
	i := bytes.Index(line, key)
	if i < 0 {
		return nil
	}
	v := line[i+len(key):]
	k := bytes.IndexByte(v, '"')
	if k < 0 || bytes.IndexByte(v[:k], '\\') >= 0 {
		return nil
	}
	return v[:k]
}
