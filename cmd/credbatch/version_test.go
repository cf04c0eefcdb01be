package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// A binary built in a checkout with VCS stamping says which revision it was
// built from, in `credbatch version` and in `--version`.
func TestVersionShowsTheRevision(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rev, err := exec.CommandContext(ctx, "git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v (the tests run in a git checkout)", err)
	}
	bin := filepath.Join(t.TempDir(), "credbatch")
	if out, err := exec.CommandContext(ctx, "go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, err := exec.CommandContext(ctx, bin, args...).Output()
		if err != nil {
			t.Fatalf("credbatch %s: %v", args[0], err)
		}
		got := string(out)
		if !strings.Contains(got, "revision "+strings.TrimSpace(string(rev))) {
			t.Errorf("credbatch %s printed %q, want the revision %s", args[0], got, strings.TrimSpace(string(rev)))
		}
		if !strings.Contains(got, "go1.") {
			t.Errorf("credbatch %s printed %q, want the Go version", args[0], got)
		}
	}
}

// The generated man pages and Markdown cover every command and every flag.
func TestDocsCoverEveryCommandAndFlag(t *testing.T) {
	dir := t.TempDir()
	for _, kind := range []string{"man", "markdown"} {
		e, _, errb := rcEnv(nil)
		if err := execute(e, []string{"docs", kind, filepath.Join(dir, kind)}); err != nil {
			t.Fatalf("docs %s: %v\n%s", kind, err, errb)
		}
	}
	var root *cobra.Command
	e, _, _ := rcEnv(nil)
	root = newRootCmd(e)
	var walk func(c *cobra.Command)
	checked := 0
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		base := strings.ReplaceAll(c.CommandPath(), " ", "_")
		man := strings.ReplaceAll(c.CommandPath(), " ", "-") + ".1"
		for _, page := range []string{filepath.Join(dir, "markdown", base+".md"), filepath.Join(dir, "man", man)} {
			b, err := os.ReadFile(page)
			if err != nil {
				t.Errorf("command %q has no page: %v", c.CommandPath(), err)
				continue
			}
			text := strings.ReplaceAll(string(b), `\-`, "-")
			c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
				if !f.Hidden && !strings.Contains(text, "--"+f.Name) {
					t.Errorf("%s does not document --%s", page, f.Name)
				}
			})
			checked++
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if checked < 2*8 {
		t.Errorf("only %d pages checked: the walk missed commands", checked)
	}
}
