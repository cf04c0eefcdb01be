package verify

import (
	"sort"
	"time"

	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

// NeedsVerdict reports whether a report row needs a verdict: every
// in_doubt row, and the rows that failed with CB_NETWORK, CB_TIMEOUT or a
// 5xx after something was sent (the request may have reached Okta and
// applied). Every other row is copied to OUT as it is.
func NeedsVerdict(r *report.Row) bool {
	switch r.Outcome {
	case report.InDoubt:
		return true
	case report.Failed:
		if r.Attempts == 0 && r.StartedAt.IsZero() {
			return false // nothing was sent
		}
		return r.ErrorCode == report.CodeNetwork || r.ErrorCode == report.CodeTimeout ||
			r.HTTPStatus >= 500 && r.HTTPStatus <= 599
	}
	return false
}

// Target is one row that needs a verdict, with what verify knows of its
// attempts. Times are the run's local clock.
type Target struct {
	Line   int
	User   string // the manifest's user value, for messages
	UserID string // the Okta ID the row acted on ("" when unknown)
	Action jobs.Action
	// First is the start of the first attempt that may have applied: the
	// first attempt record after the line's last release record (earlier
	// attempts were answered without effect), else the report's
	// started_at. Last is the last attempt record, else finished_at, else
	// started_at.
	First, Last time.Time
	// FromCheckpoint: First and Last come from the checkpoint's attempt
	// records (else from the report's started_at and finished_at).
	FromCheckpoint bool
	// From the manifest row (with the run's row defaults): send_email
	// (nil: not given; forgot_password then emails) and
	// change_recovery_question's new question.
	SendEmail *bool
	Question  string
}

// Other is a row of the same user as a target (any outcome, targets
// included): a change it made may look like the target's.
type Other struct {
	Line              int
	Action            jobs.Action
	Started, Finished time.Time // the report's started_at and finished_at (local)
	Answered          bool      // it succeeded: nothing of it applied after finished_at
}

// Plan gathers, over passes of a report and of its checkpoint, the rows
// that need a verdict and what their users' other rows did.
type Plan struct {
	byLine map[int]*Target
	others map[string][]Other // user ID -> every sent row of that user
	recs   map[int][]checkpoint.AttemptRecord
}

// NewPlan returns an empty plan.
func NewPlan() *Plan {
	return &Plan{byLine: map[int]*Target{}, others: map[string][]Other{}, recs: map[int][]checkpoint.AttemptRecord{}}
}

// AddTarget is the first pass: it keeps r when it needs a verdict and
// reports whether it did. An action verify does not know is kept too
// (Decide says it cannot tell).
func (p *Plan) AddTarget(r *report.Row) bool {
	if !NeedsVerdict(r) {
		return false
	}
	p.byLine[r.Line] = &Target{Line: r.Line, User: r.User, UserID: r.UserID, Action: jobs.Action(r.Action),
		First: r.StartedAt, Last: lastOf(r)}
	if r.UserID != "" {
		if _, ok := p.others[r.UserID]; !ok {
			p.others[r.UserID] = nil
		}
	}
	return true
}

func lastOf(r *report.Row) time.Time {
	if !r.FinishedAt.IsZero() {
		return r.FinishedAt
	}
	return r.StartedAt
}

// AddOther is the second pass: every row of a target's user that sent
// something is kept as an Other.
func (p *Plan) AddOther(r *report.Row) {
	list, ok := p.others[r.UserID]
	if !ok || r.UserID == "" || r.StartedAt.IsZero() {
		return
	}
	p.others[r.UserID] = append(list, Other{Line: r.Line, Action: jobs.Action(r.Action),
		Started: r.StartedAt, Finished: lastOf(r), Answered: r.Outcome == report.Succeeded})
}

// AddAttempt takes one checkpoint record (checkpoint.Journal.ReplayAttempts),
// keeping those of the targets' lines.
func (p *Plan) AddAttempt(a checkpoint.AttemptRecord) {
	if _, ok := p.byLine[a.Line]; ok {
		p.recs[a.Line] = append(p.recs[a.Line], a)
	}
}

// SetManifestRow records what the manifest row of a target says.
func (p *Plan) SetManifestRow(line int, sendEmail *bool, question string) {
	if t, ok := p.byLine[line]; ok {
		t.SendEmail, t.Question = sendEmail, question
	}
}

// Wants reports whether line is a target's (for reading the manifest).
func (p *Plan) Wants(line int) bool {
	_, ok := p.byLine[line]
	return ok
}

// Targets returns the targets in line order, their attempt times taken
// from the checkpoint's records where it has some.
func (p *Plan) Targets() []*Target {
	out := make([]*Target, 0, len(p.byLine))
	for line, t := range p.byLine {
		if first, last, ok := attemptWindow(p.recs[line]); ok {
			t.First, t.Last, t.FromCheckpoint = first, last, true
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// Others returns the rows of userID's user that sent something.
func (p *Plan) Others(userID string) []Other { return p.others[userID] }

// attemptWindow reads a line's records (in file order): the first and
// last attempt after the last release record.
func attemptWindow(recs []checkpoint.AttemptRecord) (first, last time.Time, ok bool) {
	for _, a := range recs {
		if a.Release {
			first, last, ok = time.Time{}, time.Time{}, false
			continue
		}
		if !ok {
			first, ok = a.At, true
		}
		last = a.At
	}
	return first, last, ok
}
