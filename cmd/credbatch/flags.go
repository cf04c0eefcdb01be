package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/credbatch/credbatch/jobs"
)

// The flag types run and validate share, and the readers of flag values
// that are more than a number: what a flag accepts is said here.

// optBool is a tri-state boolean flag: unset, true or false.
type optBool struct{ v *bool }

func (o *optBool) String() string {
	if o.v == nil {
		return ""
	}
	return strconv.FormatBool(*o.v)
}
func (o *optBool) Set(s string) error {
	switch strings.ToLower(s) {
	case "true":
		t := true
		o.v = &t
	case "false":
		f := false
		o.v = &f
	default:
		return fmt.Errorf("want true or false, not %q", s)
	}
	return nil
}
func (o *optBool) Type() string     { return "bool" }
func (o *optBool) IsBoolFlag() bool { return true }

// rowDefaults are the flags that fill empty manifest cells; run and
// validate both take them.
type rowDefaults struct {
	action                            string
	sendEmail, revokeSessions, strict optBool
}

// register adds the row-default flags to c.
func (d *rowDefaults) register(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&d.action, "action", "", "the action of rows that name none")
	f.Var(&d.sendEmail, "send-email", "send_email for rows that leave it empty (reset_password needs it: a mass email or a file of links is always a choice)")
	f.Var(&d.revokeSessions, "revoke-sessions", "revoke_sessions for rows that leave it empty")
	f.Var(&d.strict, "strict", "strict (password policy check) for change_password rows that leave it empty")
	f.Lookup("send-email").NoOptDefVal = "true"
	f.Lookup("revoke-sessions").NoOptDefVal = "true"
	f.Lookup("strict").NoOptDefVal = "true"
}

// jobs is the defaults as the manifest reader takes them; an unknown
// --action is a usage error that lists the actions.
func (d *rowDefaults) jobs() (jobs.Defaults, error) {
	var out jobs.Defaults
	if d.action != "" {
		a, err := jobs.ParseAction(d.action)
		if err != nil {
			return out, usagef("actions: "+actionList(), "--action %q: %w", d.action, err)
		}
		out.Action = a
	}
	out.SendEmail, out.RevokeSessions, out.Strict = d.sendEmail.v, d.revokeSessions.v, d.strict.v
	return out, nil
}

// boolSetting is a row-default flag as the checkpoint header records it:
// "" when unset.
func boolSetting(b *bool) string {
	if b == nil {
		return ""
	}
	return strconv.FormatBool(*b)
}

// actionList is every action's name, comma-separated, for hints.
func actionList() string {
	var s []string
	for _, a := range jobs.Actions {
		s = append(s, string(a))
	}
	return strings.Join(s, ", ")
}

// parseHaltOn reads "N" or "P%".
func parseHaltOn(s string) (n int, pct float64, err error) {
	if s == "" {
		return 0, 0, nil
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		pct, err = strconv.ParseFloat(p, 64)
		if err != nil || pct <= 0 || pct > 100 {
			return 0, 0, usagef("e.g. --halt-on 50 or --halt-on 10%", "--halt-on %q: want a percentage from 0 to 100", s)
		}
		return 0, pct, nil
	}
	n, err = strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, 0, usagef("e.g. --halt-on 50 or --halt-on 10%", "--halt-on %q: want a count of at least 1, or a percentage", s)
	}
	return n, 0, nil
}

// boolFlagWithSpace finds "--send-email false": a boolean flag followed by
// a lone true or false, which the flag parser reads as an argument.
func boolFlagWithSpace(args []string) (flag, val string, ok bool) {
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "--send-email", "--revoke-sessions", "--strict", "--yes", "--dry-run", "--match-short-names", "--verbose", "--json":
			if v := strings.ToLower(args[i+1]); v == "true" || v == "false" {
				return args[i], v, true
			}
		}
	}
	return "", "", false
}
