package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/credbatch/credbatch/jobs"
)

func newValidateCmd(e *env) *cobra.Command {
	d := &rowDefaults{}
	c := &cobra.Command{
		Use:   "validate MANIFEST",
		Short: "Check a manifest offline; sends nothing",
		Long: `Check a manifest the way run does before it sends anything: every row, every
column, with the same row-default flags. Sends nothing and creates no file.

Exit status: 0 the manifest is valid; 2 it is not (every error is listed with
its file, line and column: the first 20 and a count).`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			defaults, err := d.jobs()
			if err != nil {
				return err
			}
			if args[0] == "-" {
				return usagef("validate the file itself", "validate reads a file, not standard input")
			}
			m, err := jobs.Open(args[0])
			if err != nil {
				return usagef("", "%w", err)
			}
			sum, err := m.Validate(defaults)
			if err != nil {
				return err
			}
			warnReadablePasswords(e, args[0], sum)
			var parts []string
			for _, a := range jobs.Actions {
				if n := sum.PerAction[a]; n > 0 {
					parts = append(parts, fmt.Sprintf("%s %d", a, n))
				}
			}
			fmt.Fprintf(e.stdout, "%s: valid: %d rows (%s)\n", args[0], sum.Rows, strings.Join(parts, ", "))
			return nil
		},
	}
	d.register(c)
	return c
}

// warnReadablePasswords warns when a manifest holding passwords can be read
// by other users (SPEC.md "Manifest").
func warnReadablePasswords(e *env, path string, sum *jobs.Summary) {
	if !sum.HasPasswords {
		return
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		warnf(e.stderr, "%s holds passwords and other users can read it (mode %04o): chmod 600 it", path, st.Mode().Perm())
	}
}
