package main

// A damaged checkpoint (SPEC.md "Checkpoint and resume"): every command that
// reads one refuses it (exit 2), names the file and the byte offset, and
// says what to do; nothing is sent and the file is not changed.

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/credbatch/credbatch/runner/checkpoint"
)

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
	fmt.Fprintf(w, "credbatch: hint: restore it from a backup, then rerun the same command\n")
}
