package main

import "fmt"

// reachOrg checks the org (preflight.go) before any file is created: it
// must answer and take the token, so a typo in --org-url never leaves a
// checkpoint pinned to the wrong org. A signal while it waits is said as
// "nothing happened yet".
func (s *runSetup) reachOrg() (*orgCheck, error) {
	org, err := checkOrg(s.e.feed, s.client, s.cfg.OrgURL)
	if err != nil {
		if s.e.feed.Err() != nil {
			return nil, interruptedBefore(s.e)
		}
		return nil, err
	}
	return org, nil
}

// confirm says what will happen, and to whom: the org and where its URL
// came from, whose token it is, the manifest and its plan (plan.go), the
// report. On a terminal it then asks (ui.go's confirm); with --yes the
// same lines are printed and nothing is asked; a dry run does neither.
// Nothing has been created when it returns an error.
func (s *runSetup) confirm(f *runFiles, org *orgCheck) error {
	e, o := s.e, s.o
	if !o.dryRun {
		w := e.stderr
		infof(w, "org:      %s (from %s)", s.cfg.OrgURL, orgURLSource(e, o))
		if org.Me != nil {
			infof(w, "token of: %s (%s)", org.Me.Login, org.Me.ID)
		}
		infof(w, "manifest: %s (%d rows)", s.manifestArg, f.sum.Rows)
		if f.resuming {
			infof(w, "already finished: %d rows; the rest as confirmed when the run started", f.state.Done.Count())
		} else {
			printPlan(w, "credbatch: ", f.sum)
		}
		infof(w, "report:   %s", f.reportPath)
	}
	if !o.yes && !o.dryRun {
		verb := "Run"
		if f.resuming {
			verb = "Resume"
		}
		var yes bool
		if err := untilInterrupted(e, func() error {
			yes = confirm(e.stdin, e.stderr, fmt.Sprintf("credbatch: %s these credential changes against %s?", verb, s.cfg.OrgURL))
			return nil
		}); err != nil {
			return err
		}
		if !yes {
			return usagef("", "not confirmed: nothing was sent and no file was created")
		}
	}
	if e.feed.Err() != nil {
		return interruptedBefore(e) // before anything was created
	}
	return nil
}
