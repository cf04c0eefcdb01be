package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

// Exit statuses (SPEC.md "Command line"). When several apply, the first in
// this list wins: usage, interrupted, local failure, stopped, failures, ok.
const (
	exitOK          = 0
	exitFailures    = 1   // finished; some rows failed, are in doubt, or would fail
	exitUsage       = 2   // usage, configuration or manifest error: nothing sent, no file created
	exitStopped     = 3   // stopped on purpose: 401, systemic 403, --halt-on
	exitLocal       = 4   // a local write failed: resumable
	exitHangup      = 129 // SIGHUP: the terminal or SSH session went away
	exitInterrupted = 130
	exitTerminated  = 143
)

// usageError is misuse found before anything was sent.
type usageError struct {
	err   error
	hints []string
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(hint string, format string, args ...any) error {
	e := &usageError{err: fmt.Errorf(format, args...)}
	if hint != "" {
		e.hints = append(e.hints, hint)
	}
	return e
}

// signalError is the cause of the feed context's end on SIGINT, SIGTERM or SIGHUP.
type signalError struct {
	code   int
	before bool // arrived before anything was created or sent
}

func (e *signalError) Error() string {
	if e.before {
		return "interrupted before the run started: nothing was sent and no file was created"
	}
	switch e.code {
	case exitTerminated:
		return "terminated (SIGTERM): requests on the wire were finished and recorded; rerun the same command to resume"
	case exitHangup:
		return "hung up (SIGHUP: the terminal or SSH session went away): requests on the wire were finished and recorded; rerun the same command to resume"
	}
	return "interrupted (Ctrl-C): requests on the wire were finished and recorded; rerun the same command to resume"
}

// errRowsFailed reports a finished run in which some rows did not succeed.
var errRowsFailed = errors.New("some rows failed, are in doubt, or would fail")

// exitCode is the one place an error becomes an exit status.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
	var les *jobs.Errors
	var le *jobs.LineError
	var se *signalError
	switch {
	case errors.As(err, &ue), errors.As(err, &les), errors.As(err, &le),
		errors.Is(err, jobs.ErrFlagUnused), errors.Is(err, checkpoint.ErrLocked),
		errors.Is(err, report.ErrExists), errors.Is(err, checkpoint.ErrCorrupt):
		return exitUsage
	case errors.As(err, &se):
		return se.code
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.Is(err, runner.ErrLocal), errors.Is(err, checkpoint.ErrJournal):
		return exitLocal
	case errors.Is(err, runner.ErrStopped), errors.Is(err, okta.ErrUnauthorized):
		return exitStopped
	}
	return exitFailures
}

// printError writes an error by the terminal rules: "credbatch: error: …"
// then "credbatch: hint: …" lines. Errors never carry secret values.
func printError(w io.Writer, err error) {
	if err == nil || errors.Is(err, errRowsFailed) {
		return
	}
	fmt.Fprintf(w, "credbatch: error: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		for _, h := range ue.hints {
			fmt.Fprintf(w, "credbatch: hint: %s\n", h)
		}
	}
	var st *runner.StopError
	if errors.As(err, &st) && st.Hint != "" {
		fmt.Fprintf(w, "credbatch: hint: %s\n", st.Hint)
	}
	if errors.Is(err, checkpoint.ErrLocked) {
		fmt.Fprintf(w, "credbatch: hint: another credbatch run holds this checkpoint; wait for it to end (or use another --report)\n")
	}
	printCorruptHint(w, err)
}

var _ = os.Stderr
