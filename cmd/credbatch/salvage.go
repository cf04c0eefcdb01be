package main

// A damaged checkpoint (SPEC.md "Checkpoint and resume"): every command that
// reads one refuses it (exit 2), names the file and the byte offset, and
// says what to do; nothing is sent and the file is not changed.
// `credbatch report REPORT --salvage OUT` is the way out when there is no
// backup: it writes what the checkpoint still holds as a new report (OUT)
// and the manifest rows with no outcome in it as OUT-stem.unsettled.EXT,
// for a human to review. It reads the checkpoint only (a shared lock, no
// write) and sends nothing.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

// salvageFlags are the report flags --salvage goes with; any other is refused.
var salvageFlags = map[string]bool{"salvage": true, "checkpoint": true, "manifest": true}

// unsettledClass names the file of the rows with no outcome: OUT-stem.unsettled.EXT.
const unsettledClass = "unsettled"

// salvageReport is `credbatch report REPORT --salvage OUT`. The checkpoint
// is REPORT.checkpoint (or --checkpoint), the manifest the one its header
// names (or --manifest; its SHA-256 must match). OUT and the unsettled file
// are created 0600 and never over an existing file; on any failure neither
// is left behind.
func salvageReport(e *env, reportPath, out string, o *nextOpts, flags *pflag.FlagSet) error {
	var other []string
	flags.Visit(func(f *pflag.Flag) {
		if !salvageFlags[f.Name] {
			other = append(other, "--"+f.Name)
		}
	})
	if len(other) > 0 {
		return usagef("salvage first, then summarise or split the salvaged report on its own",
			"--salvage goes only with --checkpoint and --manifest, not with %s", strings.Join(other, ", "))
	}
	if strings.HasSuffix(out, string(filepath.Separator)) {
		return usagef("e.g. --salvage salvaged.csv", "--salvage %s: want a file name, not a directory", out)
	}
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		return usagef("e.g. --salvage "+filepath.Join(out, "salvaged.csv"), "--salvage %s is a directory: want a file name", out)
	}
	if st, err := os.Stat(filepath.Dir(out)); err != nil || !st.IsDir() {
		return usagef("create the directory first", "--salvage %s: the directory %s does not exist", out, filepath.Dir(out))
	}
	format, err := report.FormatOf(out)
	if err != nil {
		return usagef("name it .csv or .jsonl", "--salvage %s: %w", out, err)
	}
	cp := o.checkpointPath
	if cp == "" {
		cp = reportPath + ".checkpoint"
	}
	if _, err := os.Stat(cp); err != nil {
		return usagef("pass --checkpoint PATH if the run used another one",
			"cannot find the run's checkpoint: %w", err)
	}
	j, st, err := checkpoint.OpenReadOnly(cp)
	switch {
	case errors.Is(err, checkpoint.ErrLocked):
		return usagef("wait for the run to end (or stop it), then ask again", "%s: %w", cp, errRunInProgress)
	case errors.Is(err, checkpoint.ErrCorrupt):
		return err // its header is gone: nothing can be read
	case err != nil:
		return usagef("", "reading the checkpoint %s: %w", cp, err)
	}
	defer j.Close()

	m, err := locateManifest(reportPath, st.Header, o.manifestPath)
	if err != nil {
		return err
	}
	sha, _, err := m.Fingerprint()
	if err != nil {
		return usagef("", "reading the manifest %s: %w", m.Path, err)
	}
	if sha != st.Header.ManifestSHA256 {
		return usagef("restore the manifest the run used: the rows to review must be the ones the run had",
			"%s: %w (its SHA-256 is not the one recorded in %s)", m.Path, errManifestChanged, cp)
	}
	// The rows with no outcome in the readable part, and of them those
	// with a request recorded as sent.
	unsettled := checkpoint.NewBitset(st.Header.Rows + 2)
	total, attempted := 0, 0
	if _, err := m.CopyRows(func(line int) bool {
		total++
		if !st.Done.Has(line) {
			unsettled.Set(line)
			if st.Attempts[line] > 0 {
				attempted++
			}
		}
		return false
	}, io.Discard); err != nil {
		return usagef("", "reading the manifest %s: %w", m.Path, err)
	}
	unsettledPath := failedManifestPath(out, unsettledClass, manifestExt(m))
	for _, p := range []string{out, unsettledPath} {
		if _, err := os.Lstat(p); err == nil {
			return usagef("choose another name, or move the old file away", "%s: %w: salvage never overwrites a file", p, fs.ErrExist)
		}
	}

	rows, err := writeSalvagedReport(j, out, format)
	if err != nil {
		return err
	}
	n := 0
	if unsettled.Count() > 0 {
		if n, err = writeManifestCopy(m, unsettledPath, unsettled); err == nil && n != unsettled.Count() {
			_ = os.Remove(unsettledPath)
			err = fmt.Errorf("copied %d rows, want %d", n, unsettled.Count())
		}
		if err != nil {
			_ = os.Remove(out)
			if errors.Is(err, fs.ErrExist) {
				return usagef("choose another name", "%s: %w", unsettledPath, err)
			}
			return fmt.Errorf("%w: writing %s: %w", runner.ErrLocal, unsettledPath, err)
		}
	}

	w := e.stderr
	if d := st.Damage; d != nil {
		infof(w, "%s is damaged at byte %d of %d (%s): its %d records before that byte were read",
			cp, d.Offset, d.Size, d.Reason, st.Records)
	} else if st.TruncatedBytes > 0 {
		infof(w, "%s is not damaged: all %d of its records were read (its last %d bytes are a torn tail from a crash, which a rerun cuts)",
			cp, st.Records, st.TruncatedBytes)
	} else {
		infof(w, "%s is not damaged: all %d of its records were read", cp, st.Records)
	}
	infof(w, "wrote %s: %d %s, the outcomes the checkpoint still holds (with any temp passwords and reset links: keep it as safe as the report)",
		out, rows, plural(rows, "row", "rows"))
	if n == 0 {
		infof(w, "every one of the manifest's %d rows has an outcome there: no unsettled rows", total)
	} else {
		infof(w, "wrote %s: %d of the manifest's %d rows have no outcome there", unsettledPath, n, total)
		warnf(w, "do not run %s as it is: some of its rows may have been applied (%s); check each user in Okta (its System Log) first, and move the rows that already took effect out",
			unsettledPath, unsettledWhy(st, attempted))
		if k := inReport(reportPath, unsettled); k > 0 {
			warnf(w, "%d of them %s a row in %s: %s finished; see %s outcome there",
				k, plural(k, "has", "have"), reportPath, plural(k, "it", "they"), plural(k, "its", "their"))
		}
	}
	infof(w, "nothing was sent, and the checkpoint was not changed")
	return nil
}

// unsettledWhy says why rows with no readable outcome may have been applied.
func unsettledWhy(st *checkpoint.State, attempted int) string {
	var why []string
	if st.Damage != nil {
		why = append(why, fmt.Sprintf("the records from byte %d on, which may hold their outcomes, could not be read", st.Damage.Offset))
	}
	if attempted > 0 {
		why = append(why, fmt.Sprintf("%d had a request recorded as sent", attempted))
	}
	if len(why) == 0 {
		why = append(why, "a request may have left just before the run stopped")
	}
	return strings.Join(why, "; ")
}

// inReport counts the lines of set the report at path has a row for; 0 when
// the report is missing or unreadable (it is only a note).
func inReport(path string, set *checkpoint.Bitset) int {
	if _, err := os.Stat(path); err != nil {
		return 0
	}
	seen := checkpoint.NewBitset(0)
	k := 0
	err := report.ReadFile(path, func(r *report.Row) error {
		if r.Line >= 0 && r.Line <= checkpoint.MaxLine && set.Has(r.Line) && !seen.Has(r.Line) {
			seen.Set(r.Line)
			k++
		}
		return nil
	})
	if err != nil {
		return 0
	}
	return k
}

// writeSalvagedReport writes the outcomes of j's readable prefix (first
// record of each line) to a new report at path; on failure it removes it.
func writeSalvagedReport(j *checkpoint.Journal, path string, f report.Format) (rows int, err error) {
	rf, err := report.Create(path)
	if err != nil {
		if errors.Is(err, report.ErrExists) {
			return 0, usagef("choose another name", "%w", err)
		}
		return 0, fmt.Errorf("%w: %w", runner.ErrLocal, err)
	}
	defer func() {
		if cerr := rf.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("%w: writing %s: %w", runner.ErrLocal, path, cerr)
		}
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	w := report.NewWriter(rf, f)
	if err := w.WriteHeader(); err != nil {
		return 0, fmt.Errorf("%w: writing %s: %w", runner.ErrLocal, path, err)
	}
	seen := checkpoint.NewBitset(0)
	err = j.Replay(func(o checkpoint.Outcome) error {
		if seen.Has(o.Line) {
			return nil
		}
		seen.Set(o.Line)
		rows++
		return decodePayload(o.Payload, func(r *report.Row) error { return w.Write(r) })
	})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = rf.Sync()
	}
	if err != nil {
		return 0, fmt.Errorf("%w: writing %s from %s: %w", runner.ErrLocal, path, j.Path(), err)
	}
	return rows, nil
}

// checkCheckpoint is what `credbatch report` does with the run's checkpoint
// (REPORT.checkpoint, or cpPath) before it summarises the report: when the
// checkpoint exists and is damaged, the report is refused with the damage.
// A report without its checkpoint is summarised as it is, and so is one
// whose checkpoint a run holds (that run read it whole when it opened it).
// It only reads: a shared lock, no write.
func checkCheckpoint(reportPath, cpPath string) error {
	if cpPath == "" {
		cpPath = reportPath + ".checkpoint"
	}
	if _, err := os.Lstat(cpPath); err != nil {
		return nil
	}
	j, st, err := checkpoint.OpenReadOnly(cpPath)
	if err != nil {
		if errors.Is(err, checkpoint.ErrCorrupt) {
			return err
		}
		return nil // locked by a run, unreadable, another format: not this command's to judge
	}
	defer j.Close()
	if st.Damage != nil {
		return st.Damage
	}
	return nil
}

// printCorruptHint says what to do about a damaged checkpoint (printError
// calls it for every error).
func printCorruptHint(w io.Writer, err error) {
	var ce *checkpoint.CorruptError
	if !errors.As(err, &ce) {
		return
	}
	fmt.Fprintf(w, "credbatch: hint: nothing was sent; do not delete the checkpoint to start over: a new run would send every finished row again\n")
	if ce.Offset == 0 {
		fmt.Fprintf(w, "credbatch: hint: restore it from a backup, then rerun the same command; without its header nothing in it can be read\n")
		return
	}
	fmt.Fprintf(w, "credbatch: hint: restore it from a backup, then rerun the same command; without one, write what it still holds for review: credbatch report %s --salvage OUT.csv%s\n",
		shellQuote(reportOf(ce)), checkpointFlag(ce))
}

// reportOf is the report a checkpoint belongs to, for a hint: the one its
// header names, else its own name without ".checkpoint".
func reportOf(ce *checkpoint.CorruptError) string {
	if ce.ReportPath != "" {
		return ce.ReportPath
	}
	if r, ok := strings.CutSuffix(ce.Path, ".checkpoint"); ok {
		return r
	}
	return "REPORT"
}

// checkpointFlag is " --checkpoint PATH" when the checkpoint is not the
// report's default one.
func checkpointFlag(ce *checkpoint.CorruptError) string {
	r := reportOf(ce)
	if abs, err := filepath.Abs(ce.Path); err == nil && filepath.IsAbs(r) {
		return checkpointArg(r, abs)
	}
	return checkpointArg(r, ce.Path)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-+=:,@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
