package runner

import (
	"context"
	"errors"
	"fmt"

	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner/checkpoint"
	"github.com/credbatch/credbatch/runner/pace"
)

// executor is one executor: it sends the rows' actions (or records what
// was decided) and hands their outcomes to the recorder through q.
func (r *Runner) executor(feed, hard context.Context, in <-chan *task, q recQueue) error {
	for t := range in {
		if err := r.execute(feed, hard, t, q); err != nil {
			return err
		}
	}
	return nil
}

// execute sends the row's action (or records what was decided) and records
// the outcome. It returns an error only for a local failure.
func (r *Runner) execute(feed, hard context.Context, t *task, q recQueue) error {
	defer func() {
		if !t.queued {
			r.finish(t, q.slots) // not recorded: release the user's next row now
		}
	}()
	err := r.executeRow(feed, hard, t, q)
	if errors.Is(err, errTripped) {
		return nil // pending
	}
	return err
}

// executeRow waits until the user's previous row is durable, then records
// the row's outcome if it was decided without sending (or, in a dry run,
// predicted), or else sends its action.
func (r *Runner) executeRow(feed, hard context.Context, t *task, q recQueue) error {
	if t.prev != nil {
		select {
		case <-t.prev:
		case <-hard.Done():
			return nil
		}
	}
	if t.row != nil {
		return r.record(q, t, t.row)
	}
	if t.settle {
		return r.record(q, t, r.decide(t, report.InDoubt, "", "an earlier attempt may have applied: the run stopped while the request was on the wire, and this action is not safe to repeat; check the user in Okta"))
	}
	if r.opt.DryRun {
		o, reason := report.WouldSucceed, ""
		if ok, why := dryRunVerdict(t.job.Action, t.user); !ok {
			o, reason = report.WouldFail, why
		}
		row := r.decide(t, o, "", reason)
		row.UserStatus = t.user.Status
		r.mu.Lock()
		r.statusCount[t.user.Status]++
		r.mu.Unlock()
		return r.record(q, t, row)
	}
	return r.sendAction(feed, hard, t, q)
}

// sendAction sends the row's action, its attempts recorded in the journal,
// and hands its outcome to the recorder. A row stopped before its verdict
// stays pending; its attempts are released when none may have applied.
func (r *Runner) sendAction(feed, hard context.Context, t *task, q recQueue) error {
	if feed.Err() != nil {
		return nil // pending
	}
	j := &t.job
	rep := repeatable(j.Action)
	// Attempts of password-checking actions are durable before the POST (a
	// crash then resumes in_doubt, never as a second attempt); those of the
	// repeatable ones are noted without waiting, only so the report's
	// attempts and started_at cover every run.
	journalAttempt := func(n int) error {
		a := checkpoint.Attempt{Line: j.Line, UserID: t.userID, N: t.attempts + n, At: r.now()}
		var err error
		if rep {
			err = r.in.Journal.Note(a)
		} else {
			err = r.in.Journal.Attempt(a)
		}
		if err != nil {
			return fmt.Errorf("%w: recording an attempt: %w", ErrLocal, err)
		}
		return nil
	}
	// Most rows hold a slot from before their first attempt until their
	// outcome is durable (holdsSlot): a crash leaves at most --workers of
	// them answered but unrecorded. expire_password and clear_sessions rows
	// move on at once; the recorder's batch and queue bound how many wait.
	if holdsSlot(j.Action) {
		select {
		case q.slots <- struct{}{}:
			t.slot = true
		case <-feed.Done():
			return nil // pending
		}
	}
	res := r.send(feed, hard, request{
		bucket:     pace.Post,
		repeatable: rep,
		call: func(ctx context.Context, o okta.CallOptions) (*okta.Response, error) {
			return callAction(ctx, r.in.Client, j, t.userID, o)
		},
		beforeAttempt:         journalAttempt,
		watch403:              true,
		earlierMayHaveApplied: t.priorApplied,
	})
	if res.localErr != nil {
		r.halt.stopFeeding(res.localErr)
		return res.localErr
	}
	release := func() error {
		if res.sent > 0 && !res.mayHaveApplied {
			// Answered without effect (401, 503, 429, a 4xx, never
			// written): the row is plainly pending, and a resume sends it.
			if err := r.in.Journal.Release(j.Line); err != nil {
				err = fmt.Errorf("%w: recording line %d as pending: %w", ErrLocal, j.Line, err)
				r.halt.stopFeeding(err)
				return err
			}
		}
		return nil
	}
	if res.pending {
		return release()
	}
	err := r.record(q, t, r.answered(t, &res))
	if errors.Is(err, errTripped) {
		if rerr := release(); rerr != nil {
			return rerr
		}
	}
	return err
}

// answered is the row of a task whose action got a final verdict: what
// Okta's answer (or its absence) says, and the attempts of every run.
func (r *Runner) answered(t *task, res *sendResult) *report.Row {
	row := r.baseRow(t)
	row.Attempts = t.attempts + res.sent
	if row.StartedAt.IsZero() {
		row.StartedAt = res.started
	}
	switch res.verdict {
	case pace.Success:
		row.Outcome = report.Succeeded
		resp := res.resp
		row.HTTPStatus = resp.HTTPStatus
		row.OktaRequestID = resp.RequestID
		row.TempPassword = resp.TempPassword
		row.ResetURL = resp.ResetURL
		row.UserStatus = resp.UserStatus
		if row.UserStatus == "" {
			row.UserStatus = documentedStatus(t.job.Action)
		}
	case pace.InDoubt:
		row.Outcome = report.InDoubt
		fillError(row, res.err, true)
	default:
		row.Outcome = report.Failed
		fillError(row, res.err, false)
		adviseFailure(row, t, res.err)
	}
	return row
}

// adviseFailure gives a failed row what the dry run would have said: the
// user's status, and when Okta refused the action for the user's state (a
// 4xx), the reason in an administrator's words ("user is STAGED: activate
// the user instead") after Okta's own summary. It needs the user's lookup
// (rows named by login, or by ID without a login column).
func adviseFailure(row *report.Row, t *task, err error) {
	u := t.user
	if u == nil {
		return
	}
	if row.UserStatus == "" {
		row.UserStatus = u.Status
	}
	ae := asError[*okta.APIError](err)
	if ae == nil || ae.HTTPStatus < 400 || ae.HTTPStatus > 499 || ae.HTTPStatus == 401 || ae.HTTPStatus == 429 {
		return
	}
	if ok, why := dryRunVerdict(t.job.Action, u); !ok {
		row.ErrorSummary = why + " (Okta: " + row.ErrorSummary + ")"
	}
}

// decide gives the task its row, with an outcome known without sending its
// action (or, in a dry run, the one predicted), and the code and summary
// that say why (either may be empty). It returns the row.
func (r *Runner) decide(t *task, o report.Outcome, code, summary string) *report.Row {
	row := r.baseRow(t)
	row.Outcome, row.ErrorCode, row.ErrorSummary = o, code, summary
	t.row = row
	return row
}

// failure is the outcome of a row that fails without its action being sent:
// would_fail in a dry run, failed in a real one.
func (r *Runner) failure() report.Outcome {
	if r.opt.DryRun {
		return report.WouldFail
	}
	return report.Failed
}

// baseRow is the task's row before its outcome: its line, user, action, and
// the attempts and start of earlier runs.
func (r *Runner) baseRow(t *task) *report.Row {
	row := &report.Row{
		Line: t.job.Line, User: t.job.User, UserID: t.userID, Action: string(t.job.Action),
		Attempts: t.attempts, StartedAt: t.started,
		Login: t.job.Login, Email: t.job.Email, FirstName: t.job.FirstName, LastName: t.job.LastName,
	}
	// Who the user is, for the people who hand out the secrets: the
	// manifest's columns when given, else what Okta answered.
	if u := t.user; u != nil {
		if row.Login == "" {
			row.Login = u.Login
		}
		if row.Email == "" {
			row.Email = u.Email
		}
		if row.FirstName == "" && row.LastName == "" {
			row.FirstName, row.LastName = u.FirstName, u.LastName
		}
	}
	return row
}
