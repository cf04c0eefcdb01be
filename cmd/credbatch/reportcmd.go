package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/credbatch/credbatch/report"
)

func newReportCmd(e *env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "report REPORT",
		Short: "Summarise a report (never prints secrets)",
		Long: `Summarise a report written by run: counts by outcome, action, error code and
user status, and the first and last times. Never prints a temp password or a
reset link.

Exit status: 0 every row succeeded, was skipped or would succeed; 1 some rows
failed, are in doubt or would fail; 2 the report cannot be read.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			s, err := report.Summarize(args[0])
			if err != nil {
				return usagef("", "%w", err)
			}
			if asJSON {
				b, err := json.MarshalIndent(s, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s\n", b)
			} else if err := s.WriteText(e.stdout); err != nil {
				return err
			}
			counts := map[string]int{}
			for k, v := range s.ByOutcome {
				counts[string(k)] = v
			}
			return finalStatus(counts, nil)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return c
}
