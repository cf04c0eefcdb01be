package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/examples"
	"github.com/credbatch/credbatch/report"
)

var errDemoMismatch = errors.New("an example did not give its expected outcomes")

func newDemoCmd(e *env) *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run the examples against the built-in Okta emulator (no Okta org needed)",
		Long: `Start the Okta emulator in-process on 127.0.0.1 and run every manifest of
examples/ against a fresh demo org: a dry-run audit first, then the real runs.
Never prompts. Prints where the reports are.

Exit status: 0 when every example gave its expected outcomes, 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error { return runDemo(e, dir) },
	}
	c.Flags().StringVar(&dir, "dir", "", "where to write the demo's manifests and reports (default: a new temporary directory)")
	return c
}

// demoOrg serves a fresh demo org on loopback until stop is called.
func demoOrg() (url string, org *emulator.Org, stop func(), err error) {
	users, err := emulator.LoadUsers(bytes.NewReader(mustRead("users.json")))
	if err != nil {
		return "", nil, nil, fmt.Errorf("demo users: %w", err)
	}
	org = emulator.New(emulator.Config{Seed: 42, UserList: users})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, err
	}
	srv := &http.Server{Handler: org, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return "http://" + ln.Addr().String(), org, stop, nil
}

func mustRead(name string) []byte {
	b, err := examples.FS.ReadFile(name)
	if err != nil {
		panic("examples: " + err.Error()) // embedded at build time: cannot happen
	}
	return b
}

func runDemo(e *env, dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "credbatch-demo-")
		if err != nil {
			return err
		}
		dir = d
	} else {
		// Each demo gets a directory of its own: its reports are never
		// overwritten, and a second demo is not taken for a resume.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		d, err := os.MkdirTemp(dir, "demo-")
		if err != nil {
			return err
		}
		dir = d
	}
	infof(e.stderr, "demo: writing manifests and reports to %s", dir)
	failed := 0
	steps := len(examples.All) + 1
	for i, ex := range examples.All {
		if err := e.feed.Err(); err != nil {
			return context.Cause(e.feed)
		}
		fmt.Fprintln(e.stderr)
		infof(e.stderr, "demo %d/%d: %s", i+1, steps, ex.About)
		ok, err := runExample(e, dir, ex, i == 0)
		if err != nil {
			return err
		}
		if !ok {
			failed++
		}
	}
	if err := e.feed.Err(); err != nil {
		return context.Cause(e.feed)
	}
	fmt.Fprintln(e.stderr)
	infof(e.stderr, "demo %d/%d: incident from the org: the members of the group Contractors become the manifest, then get temp passwords with their sessions revoked", steps, steps)
	ok, err := runGroupExport(e, dir)
	if err != nil {
		return err
	}
	if !ok {
		failed++
	}
	fmt.Fprintln(e.stderr)
	if failed > 0 {
		infof(e.stderr, "demo: %d example(s) did not give their expected outcomes; reports are in %s", failed, dir)
		return errDemoMismatch
	}
	infof(e.stderr, "demo: every example gave its expected outcomes; reports (mode 0600, they hold the temp passwords and reset links) are in %s", dir)
	infof(e.stderr, "demo: summarise one with: credbatch report %s", filepath.Join(dir, strings.TrimSuffix(examples.All[0].Manifest, filepath.Ext(examples.All[0].Manifest))+".report.csv"))
	return nil
}

// runExample runs one example against a fresh org and checks its outcomes.
func runExample(e *env, dir string, ex examples.Example, withDryRun bool) (bool, error) {
	url, org, stop, err := demoOrg()
	if err != nil {
		return false, err
	}
	defer stop()
	manifest := filepath.Join(dir, ex.Manifest)
	if err := os.WriteFile(manifest, mustRead(ex.Manifest), 0o600); err != nil {
		return false, err
	}
	args := []string{"--org-url", url, "--yes", "--rate", "50", "--workers", "4"}
	for i := 0; i < len(ex.Args); i++ {
		args = append(args, ex.Args[i])
		if ex.Args[i] == "--exclude" && i+1 < len(ex.Args) {
			p := filepath.Join(dir, ex.Args[i+1])
			if err := os.WriteFile(p, mustRead(ex.Args[i+1]), 0o600); err != nil {
				return false, err
			}
			args = append(args, p)
			i++
		}
	}
	sub := demoEnv(e, org)
	if withDryRun {
		infof(e.stderr, "$ credbatch run %s --dry-run", ex.Manifest)
		err := execute(sub, append([]string{"run", manifest, "--dry-run"}, args...))
		if err != nil && !errors.Is(err, errRowsFailed) {
			printError(e.stderr, err)
			return false, err
		}
	}
	infof(e.stderr, "$ credbatch run %s %s", ex.Manifest, strings.Join(ex.Args, " "))
	err = execute(sub, append([]string{"run", manifest}, args...))
	if err != nil && !errors.Is(err, errRowsFailed) {
		return false, err
	}
	return checkExpected(e, defaultReportPath(manifest, false), ex.Expected)
}

// demoEnv is the environment of the demo's commands against org.
func demoEnv(e *env, org *emulator.Org) *env {
	return &env{
		stdin: strings.NewReader(""), stdout: e.stderr, stderr: e.stderr,
		getenv: func(k string) string {
			if k == "OKTA_CLIENT_TOKEN" {
				return org.Token()
			}
			return ""
		},
		isTerminal: func() bool { return false },
		feed:       e.feed, hard: e.hard,
	}
}

// runGroupExport builds the incident manifest from a group of a fresh demo
// org, runs it, and checks that every member the manifest should hold (not
// DEPROVISIONED) got a temp password, and no one else.
func runGroupExport(e *env, dir string) (bool, error) {
	url, org, stop, err := demoOrg()
	if err != nil {
		return false, err
	}
	defer stop()
	const name = "contractors-incident.csv"
	manifest := filepath.Join(dir, name)
	sub := demoEnv(e, org)
	exportArgs := []string{"--group", "Contractors", "--action", "expire_password_with_temp_password", "--revoke-sessions=true", "-o", name}
	infof(e.stderr, "$ credbatch manifest %s", strings.Join(exportArgs, " "))
	exportArgs[len(exportArgs)-1] = manifest
	if err := execute(sub, append(append([]string{"manifest"}, exportArgs...), "--org-url", url, "--rate", "50")); err != nil {
		printError(e.stderr, err)
		return false, err
	}
	infof(e.stderr, "$ credbatch run %s", name)
	err = execute(sub, []string{"run", manifest, "--org-url", url, "--yes", "--rate", "50", "--workers", "4"})
	if err != nil && !errors.Is(err, errRowsFailed) {
		return false, err
	}
	members, _ := org.GroupMembers("Contractors")
	want := map[string]bool{}
	for _, id := range members {
		if u, ok := org.User(id); ok && u.Status != emulator.StatusDeprovisioned {
			want[id] = true
		}
	}
	got := map[string]bool{}
	ok := true
	err = report.ReadFile(defaultReportPath(manifest, false), func(r *report.Row) error {
		got[r.UserID] = true
		if r.Outcome != report.Succeeded || r.TempPassword.IsZero() || !want[r.UserID] {
			ok = false
			infof(e.stderr, "demo: line %d (%s): %s %s, not a member's temp password", r.Line, r.UserID, r.Outcome, r.ErrorCode)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	if len(got) != len(want) || len(want) == 0 {
		ok = false
		infof(e.stderr, "demo: %d report rows for the group's %d members", len(got), len(want))
	}
	if ok {
		infof(e.stderr, "demo: all %d members of Contractors got a temp password", len(want))
	}
	return ok, nil
}

// checkExpected compares a report with the example's expected outcomes.
func checkExpected(e *env, reportPath, expectedName string) (bool, error) {
	want := map[int]string{}
	sc := bufio.NewScanner(bytes.NewReader(mustRead(expectedName)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		line, err := strconv.Atoi(f[0])
		if err != nil {
			return false, fmt.Errorf("%s: %q: %w", expectedName, sc.Text(), err)
		}
		want[line] = strings.Join(f[1:], " ")
	}
	got := map[int]string{}
	err := report.ReadFile(reportPath, func(r *report.Row) error {
		s := string(r.Outcome)
		if r.ErrorCode != "" {
			s += " " + r.ErrorCode
		}
		got[r.Line] = s
		return nil
	})
	if err != nil {
		return false, err
	}
	ok := len(got) == len(want)
	for line, w := range want {
		if got[line] != w {
			ok = false
			infof(e.stderr, "demo: line %d: expected %q, got %q", line, w, got[line])
		}
	}
	if ok {
		infof(e.stderr, "demo: all %d rows gave their expected outcomes", len(want))
	}
	return ok, nil
}
