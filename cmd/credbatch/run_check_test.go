package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// runOpts.check refuses each out-of-range flag with a usage error (exit 2)
// that names it, before anything is read: the manifest named here does not
// exist, so a flag that passes check meets the manifest's error instead,
// and the org (an address nothing answers on) is never asked.
func TestRunFlagRules(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"OKTA_CLIENT_ORGURL": "https://example.okta.com", "OKTA_CLIENT_TOKEN": "00abcdefghijklmnopqrstuvwxyz0123456789ABCD"}
	missing := filepath.Join(t.TempDir(), "missing.csv")
	for _, c := range []struct {
		args []string
		want string // in the error; "missing.csv" when check passes
	}{
		{[]string{"--workers", "0"}, "--workers 0: want 1 to 256"},
		{[]string{"--workers", "257"}, "--workers 257: want 1 to 256"},
		{[]string{"--workers", "1"}, "missing.csv"},
		{[]string{"--workers", "256"}, "missing.csv"},
		{[]string{"--rate", "-1"}, "--rate -1: want 0 or more"},
		{[]string{"--rate", "0"}, "missing.csv"},
		{[]string{"--burst", "0"}, "--burst 0: want at least 1"},
		{[]string{"--burst", "1"}, "missing.csv"},
		{[]string{"--max-share", "0"}, "--max-share 0: want 1 to 100"},
		{[]string{"--max-share", "101"}, "--max-share 101: want 1 to 100"},
		{[]string{"--max-share", "1"}, "missing.csv"},
		{[]string{"--max-share", "100"}, "missing.csv"},
		{[]string{"--max-retries", "-1"}, "--max-retries -1: want 0 or more"},
		{[]string{"--max-retries", "0"}, "missing.csv"},
		{[]string{"--timeout", "0s"}, "--timeout 0s: want a positive duration"},
		{[]string{"--timeout", "1ms"}, "missing.csv"},
		{[]string{"--max-wait", "0s"}, "--max-wait 0s: want a positive duration"},
		{[]string{"--max-wait", "-1m"}, "--max-wait -1m0s: want a positive duration"},
		{[]string{"--max-wait", "1s"}, "missing.csv"},
		{[]string{"--halt-on", "0"}, `--halt-on "0": want a count of at least 1`},
		{[]string{"--halt-on", "101%"}, `--halt-on "101%": want a percentage from 0 to 100`},
		{[]string{"--halt-on", "1"}, "missing.csv"},
		{[]string{"--halt-on", "100%"}, "missing.csv"},
		{[]string{"--action", "expire"}, `--action "expire"`},
		{[]string{"--encrypt-to", ","}, "--encrypt-to: no recipient given"},
		{[]string{"--exclude", filepath.Join(t.TempDir(), "none.txt")}, "--exclude: "},
	} {
		e, _, _ := rcEnv(vars)
		err := execute(e, append([]string{"run", missing, "--yes"}, c.args...))
		if code := exitCode(err); code != exitUsage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: exit %d, %v; want exit 2 and %q", c.args, code, err, c.want)
		}
	}
}

// The rules that concern the command as a whole: off a terminal --yes is
// needed (a dry run asks nothing), and a manifest on standard input needs
// --report and --yes.
func TestRunCommandRules(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"OKTA_CLIENT_ORGURL": "https://example.okta.com", "OKTA_CLIENT_TOKEN": "00abcdefghijklmnopqrstuvwxyz0123456789ABCD"}
	missing := filepath.Join(t.TempDir(), "missing.csv")
	report := filepath.Join(t.TempDir(), "r.csv")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", missing}, "standard input is not a terminal"},
		{[]string{"run", missing, "--dry-run"}, "missing.csv"},
		{[]string{"run", "-", "--yes"}, "a manifest on standard input needs --report and --yes"},
		{[]string{"run", "-", "--report", report, "--dry-run"}, "a manifest on standard input needs --report and --yes"},
	} {
		e, _, _ := rcEnv(vars)
		err := execute(e, c.args)
		if code := exitCode(err); code != exitUsage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: exit %d, %v; want exit 2 and %q", c.args, code, err, c.want)
		}
	}
}
