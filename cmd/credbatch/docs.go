package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newDocsCmd generates man pages or Markdown from the command tree, so the
// manual never drifts from the flags: `credbatch docs man DIR`.
func newDocsCmd(e *env, root *cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   "docs",
		Short: "Generate man pages or Markdown for every command",
	}
	write := func(kind string, gen func(dir string) error) *cobra.Command {
		return &cobra.Command{
			Use:   kind + " DIR",
			Short: "Write " + kind + " pages of every command into DIR (created if missing)",
			Args:  cobra.ExactArgs(1),
			RunE: func(_ *cobra.Command, args []string) error {
				dir := args[0]
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return usagef("", "docs: %w", err)
				}
				root.DisableAutoGenTag = true
				if err := gen(dir); err != nil {
					return fmt.Errorf("writing %s pages into %s: %w", kind, dir, err)
				}
				infof(e.stderr, "%s pages written to %s", kind, dir)
				return nil
			},
		}
	}
	c.AddCommand(
		write("man", func(dir string) error {
			return doc.GenManTree(root, &doc.GenManHeader{Title: "CREDBATCH", Section: "1", Source: "credbatch " + version}, dir)
		}),
		write("markdown", func(dir string) error { return doc.GenMarkdownTree(root, dir) }),
	)
	return c
}
