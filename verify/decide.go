package verify

import (
	"fmt"
	"strings"
	"time"

	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/report"
)

// Verdict is what the evidence shows of a row's attempts.
type Verdict string

// The verdicts.
const (
	Applied    Verdict = "applied"     // Okta shows a change at or after the attempt
	NotApplied Verdict = "not_applied" // every source consulted, nothing found, --settle-after passed
	Unproven   Verdict = "unproven"    // anything else
)

// RequestLife is how long after its start an attempt may still be
// applied by Okta (a request Okta took before the client gave up on it):
// evidence later than the last attempt plus this (and the clock offset)
// is another change's.
const RequestLife = 2 * time.Minute

// Case is everything Decide looks at for one target.
type Case struct {
	Target *Target
	Offset Offset
	// User is GET /api/v1/users/{id}'s answer; nil when it was not read,
	// with UserErr saying why.
	User    *okta.UserEvidence
	UserErr string
	// LogConsulted: the System Log was queried for this user and the
	// action's event type over the attempt's window; Events are what it
	// listed (of that type, about that user). LogErr: why the query failed.
	LogConsulted bool
	Events       []okta.LogEvent
	LogErr       string
	Others       []Other // the user's rows in the report (this one included)
	Now          time.Time
	SettleAfter  time.Duration
}

// Decision is a target's verdict, in words.
type Decision struct {
	Line     int
	Verdict  Verdict
	Evidence string
	// RetryAt: for an unproven row, when running verify again may settle
	// it (zero: it will not).
	RetryAt time.Time
	// Rerun: the row belongs in --rerun-manifest, for RerunReason.
	Rerun       bool
	RerunReason string
}

// kind is what one source says of the attempt.
type kind int

const (
	absent    kind = iota // this source keeps nothing about the action
	none                  // nothing changed in the attempt's window
	shows                 // a change at or after the attempt
	masked                // a later or other change hides the attempt's
	ambiguous             // a change in the window that may be another's
	failed                // the source could not be read
	skipped               // not consulted (another source already showed it)
)

type finding struct {
	kind  kind
	words string
}

// Decide gives a target its verdict. It is a pure function of the case.
//
//   - applied: the user object or the System Log shows the change at or
//     after the attempt (not before the attempt's start plus the smallest
//     possible clock offset), within RequestLife of the last attempt, and
//     no other row of the run could have made it;
//   - not_applied: every source that keeps evidence of the action was read
//     and shows nothing in the attempt's window, and --settle-after has
//     passed since the last attempt (the System Log is eventually
//     consistent, and a request may be applied late);
//   - unproven otherwise, saying why and when to run verify again.
func Decide(c Case) Decision {
	d, words := decide(c)
	d.Rerun, d.RerunReason = rerun(c.Target, d.Verdict)
	if d.Rerun {
		words = append(words, "rerun: "+d.RerunReason)
	}
	d.Evidence = strings.Join(words, "; ")
	return d
}

func decide(c Case) (Decision, []string) {
	t := c.Target
	d := Decision{Line: t.Line, Verdict: Unproven}
	switch {
	case t.UserID == "":
		return d, []string{"the report names no user ID for this row"}
	case actionPath(t.Action) == "":
		return d, []string{fmt.Sprintf("verify does not know the action %q", t.Action)}
	case t.First.IsZero():
		return d, []string{"the report and the checkpoint hold no attempt time for this row"}
	case !c.Offset.Known():
		return d, []string{c.Offset.String() + ": Okta's times cannot be compared with the attempt's"}
	}
	words := []string{fmt.Sprintf("attempt %s to %s (%s, this host's clock)", stamp(t.First), stamp(t.Last), attemptSource(t))}
	uf, lf := userFinding(c), logFinding(c)
	for _, f := range []finding{uf, lf} {
		if f.words != "" {
			words = append(words, f.words)
		}
	}
	words = append(words, c.Offset.String())
	settleAt := t.Last.Add(c.SettleAfter)
	switch {
	case uf.kind == shows || lf.kind == shows:
		d.Verdict = Applied
	case uf.kind == ambiguous || lf.kind == ambiguous:
		words = append(words, "cannot tell: check the user in Okta")
	case uf.kind == failed || lf.kind == failed:
		d.RetryAt = c.Now
		words = append(words, "a source could not be read: run verify again")
	case !conclusive(t.Action, uf, lf):
		words = append(words, "cannot tell from what Okta keeps")
	case c.Now.Before(settleAt):
		d.RetryAt = settleAt
		words = append(words, fmt.Sprintf("nothing shows it applied yet, but the System Log lags and a request may apply late: run verify again after %s (--settle-after %s)", stamp(settleAt), c.SettleAfter))
	default:
		d.Verdict = NotApplied
	}
	return d, words
}

// conclusive reports whether the sources' silence proves the attempt did
// not apply: the System Log (for an action Okta logs) saw nothing, and the
// user object either saw nothing or cannot see the window (a later change
// hides it); for an action Okta does not log, the user object saw nothing.
func conclusive(a jobs.Action, uf, lf finding) bool {
	if eventType(a) != "" {
		return lf.kind == none && (uf.kind == none || uf.kind == masked || uf.kind == absent)
	}
	return uf.kind == none
}

func attemptSource(t *Target) string {
	if t.FromCheckpoint {
		return "the checkpoint's attempt records"
	}
	return "the report's started_at and finished_at"
}

// stamp writes a time as the report does: RFC 3339 UTC, milliseconds.
func stamp(t time.Time) string { return t.UTC().Format(report.TimeLayout) }

// window is the span of Okta time in which the attempt's change can lie:
// from the attempt's start plus the smallest possible offset to the last
// attempt plus RequestLife plus the largest.
func (c *Case) window() (from, to time.Time) {
	return c.Target.First.Add(c.Offset.Lo), c.Target.Last.Add(RequestLife).Add(c.Offset.Hi)
}

type zone int

const (
	before zone = iota
	within
	later
)

// zone places an Okta time against the attempt: at or after the
// attempt's earliest possible start (in Okta's time) is within; a time
// before it is before, whatever the offset.
func (c *Case) zone(e time.Time) zone {
	from, to := c.window()
	switch {
	case e.Before(from):
		return before
	case e.After(to):
		return later
	}
	return within
}

// otherRow finds another row of the run, of an action that moves field,
// that could have made a change at Okta time e.
func (c *Case) otherRow(e time.Time, moves func(jobs.Action) bool) *Other {
	for i := range c.Others {
		o := &c.Others[i]
		if o.Line == c.Target.Line || !moves(o.Action) {
			continue
		}
		end := o.Finished.Add(c.Offset.Hi)
		if !o.Answered {
			end = end.Add(RequestLife)
		}
		if !e.Before(o.Started.Add(c.Offset.Lo)) && !e.After(end) {
			return o
		}
	}
	return nil
}

// rerun says whether the row goes to --rerun-manifest, and why: rows
// proven not_applied, and the secret-issuing rows whose secret nobody
// holds (applied, or unproven: a rerun issues a new one either way).
func rerun(t *Target, v Verdict) (bool, string) {
	secret := lostSecret(t)
	switch {
	case v == NotApplied:
		return true, "not applied"
	case secret != "" && v == Applied:
		return true, "applied, but nobody holds its " + secret + ": a rerun issues a new one"
	case secret != "" && v == Unproven:
		return true, "applied or not, nobody holds a " + secret + " from it: a rerun issues a new one"
	}
	return false, ""
}

// lostSecret names the secret a failed or in-doubt row of a
// secret-issuing action lost ("" when it issues none, or emails it).
func lostSecret(t *Target) string {
	switch t.Action {
	case jobs.ExpirePasswordWithTempPassword:
		return "temp password"
	case jobs.ResetPassword:
		if t.SendEmail != nil && !*t.SendEmail {
			return "reset link"
		}
	case jobs.ForgotPassword:
		if t.SendEmail != nil && !*t.SendEmail { // forgot_password emails by default
			return "reset link"
		}
	}
	return ""
}
