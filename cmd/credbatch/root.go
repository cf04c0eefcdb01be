package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/credbatch/credbatch/okta"
)

// defaultVersion is the version of a build that was given none.
const defaultVersion = "0.1.0-dev"

// version is set at build time with -ldflags "-X main.version=…".
var version = defaultVersion

// env is what a command reads from its surroundings; tests and the demo
// substitute their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	isTerminal     func() bool // stdin and stderr are a terminal
	// feed ends on the first Ctrl-C, SIGTERM or SIGHUP (cause: *signalError);
	// hard ends on the second Ctrl-C.
	feed, hard context.Context
}

// Main runs credbatch with os.Args and returns the exit status.
func Main() int {
	okta.Version = version
	feed, stopFeed := context.WithCancelCause(context.Background())
	hard, stopHard := context.WithCancelCause(context.Background())
	defer stopHard(nil)
	// A closed stdout or stderr (credbatch run … | head -1) must not kill a
	// run: with SIGPIPE ignored, a write to it fails with EPIPE, and output
	// that cannot be written is dropped.
	signal.Ignore(syscall.SIGPIPE)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		interrupts := 0
		for s := range sigs {
			code := exitInterrupted
			switch s {
			case syscall.SIGTERM:
				code = exitTerminated
			case syscall.SIGHUP:
				// An SSH session that drops: handled as SIGTERM.
				code = exitHangup
			default:
				interrupts++
			}
			// The first signal stops feeding; requests on the wire finish
			// and are recorded. Only a second Ctrl-C abandons them (a
			// repeated SIGTERM, as timeout(1) sends, does not).
			stopFeed(&signalError{code: code})
			if interrupts >= 2 {
				stopHard(&signalError{code: exitInterrupted})
			}
		}
	}()
	e := &env{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		getenv: os.Getenv, isTerminal: stdinIsTerminal,
		feed: feed, hard: hard,
	}
	err := execute(e, os.Args[1:])
	printError(e.stderr, err)
	return exitCode(err)
}

// execute runs one command line.
func execute(e *env, args []string) error {
	root := newRootCmd(e)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err != nil && cmd != nil && isCobraUsage(err) {
		if strings.HasPrefix(err.Error(), "accepts ") {
			if flag, val, ok := boolFlagWithSpace(args); ok {
				return usagef(fmt.Sprintf("write a boolean flag with '=': %s=%s", flag, val), "%v (%s %s reads %s as an argument)", err, flag, val, val)
			}
		}
		return usagef("see '"+cmd.CommandPath()+" --help'", "%v", err)
	}
	return err
}

// newRootCmd is the command tree.
func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "credbatch",
		Short: "Bulk Okta credential operations from a CSV or JSONL manifest",
		Long: `credbatch runs one Okta credential operation per manifest row: expire passwords,
issue temporary passwords or reset links, change passwords and recovery questions,
clear sessions. It paces itself to the org's rate limits, resumes from its
checkpoint when rerun, and records every outcome in a report (mode 0600).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       readBuildInfo().String(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.AddCommand(newRunCmd(e), newValidateCmd(e), newReportCmd(e), newCheckCmd(e), newManifestCmd(e), newVerifyCmd(e),
		newMockCmd(e), newDemoCmd(e), newVersionCmd(e), newDocsCmd(e, root))
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		if strings.Contains(err.Error(), "unknown flag: --token") && !strings.Contains(err.Error(), "--token-") {
			return usagef("a token is never a flag: use OKTA_CLIENT_TOKEN or --token-file", "%v", err)
		}
		return usagef("see '"+c.CommandPath()+" --help'", "%v", err)
	})
	return root
}

// isCobraUsage tells cobra's own argument errors (unknown command, wrong
// argument count) from the commands' errors.
func isCobraUsage(err error) bool {
	var ue *usageError
	if errors.As(err, &ue) {
		return false
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "unknown flag", "unknown shorthand"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
