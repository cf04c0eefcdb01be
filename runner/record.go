package runner

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/credbatch/credbatch/internal/crashpoint"
	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

// recQueue is what the executors share with the recorder: the queue of
// finished rows, and the slots of the rows sent and not yet durable (at most
// Workers: see holdsSlot).
type recQueue struct {
	rows  chan recItem
	slots chan struct{}
}

// recItem is a finished row on its way to the recorder.
type recItem struct {
	row     *report.Row
	payload *[]byte // the row's journal payload, from payloads
	t       *task
}

// payloads recycles the rows' journal payloads (the JSONL encoding of the
// row): the recorder gives each back once the journal has copied it. 512
// bytes hold a usual row at once (growing from nil took ~7 allocations).
var payloads = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// putPayload gives p back, zeroed (a payload may hold a temporary password
// or a reset link), unless an odd row made it large.
func putPayload(p *[]byte) {
	if cap(*p) <= 8<<10 {
		clear(*p)
		*p = (*p)[:0]
		payloads.Put(p)
	}
}

// record hands a finished row to the recorder, which makes it durable and
// then appends it to the report. The executor moves on at once: the row
// counts as done, and the user's next row may start, only once durable.
func (r *Runner) record(q recQueue, t *task, row *report.Row) error {
	if se := r.trips(row); se != nil {
		// The row that trips the stop stays pending (SPEC.md, exit 3):
		// the same command sends it again once the cause is fixed.
		r.halt.stop(se)
		return errTripped
	}
	if row.FinishedAt.IsZero() {
		row.FinishedAt = r.now()
	}
	if err := r.seal(row); err != nil {
		err = fmt.Errorf("%w: line %d: %w", ErrLocal, row.Line, err)
		// Like a failed journal write: abandon everything, the row pending.
		r.halt.abandon(err)
		return err
	}
	p := payloads.Get().(*[]byte)
	*p = report.AppendRow((*p)[:0], row, report.JSONL)
	it := recItem{row: row, payload: p, t: t}
	// The recorder drains q.rows until every executor is done, even after
	// a failure, so this send always completes: a decided row is never
	// dropped.
	q.rows <- it
	t.queued = true
	return nil
}

// seal replaces the row's secrets with Options.Seal's output, if set.
func (r *Runner) seal(row *report.Row) error {
	if r.opt.Seal == nil {
		return nil
	}
	for _, f := range []*secret.String{&row.TempPassword, &row.ResetURL} {
		if f.Reveal() == "" {
			continue
		}
		v, err := r.opt.Seal(*f)
		if err != nil {
			return fmt.Errorf("sealing a secret (--encrypt-to): %w", err)
		}
		*f = v
	}
	return nil
}

// errTripped says the row tripped --halt-on and was left pending.
var errTripped = errors.New("row tripped --halt-on")

// trips reports whether recording this row as failed or in doubt would reach
// --halt-on. Only the first such row trips; rows that were on the wire and
// finish afterwards are recorded as usual.
func (r *Runner) trips(row *report.Row) *StopError {
	r.mu.Lock()
	defer r.mu.Unlock()
	bad := row.Outcome == report.Failed || row.Outcome == report.InDoubt
	if !bad || r.tripped || (r.opt.HaltOn <= 0 && r.opt.HaltOnPct <= 0) {
		r.decided++
		if bad {
			r.ended++
		}
		return nil
	}
	ended, total := r.ended+1, r.decided+1
	hint := "look at the failed rows in the report, fix the cause, then rerun the same command to resume (the row that tripped the stop is still pending)"
	switch {
	case r.opt.HaltOn > 0 && ended >= r.opt.HaltOn:
		r.tripped = true
		return &StopError{Reason: fmt.Sprintf("--halt-on %d reached: %d rows failed or are in doubt", r.opt.HaltOn, ended), Hint: hint}
	case r.opt.HaltOnPct > 0 && total >= 20 && float64(ended)*100 >= r.opt.HaltOnPct*float64(total):
		r.tripped = true
		return &StopError{Reason: fmt.Sprintf("--halt-on %g%% reached: %d of %d rows failed or are in doubt", r.opt.HaltOnPct, ended, total), Hint: hint}
	}
	r.ended, r.decided = ended, total
	return nil
}

// defaultSyncGap spaces the recorder's fsyncs (Options.SyncGap): at most one
// begins per gap, so a fast run makes ~100 rows durable per fsync, not ~30
// (an fsync cost ~0.4 ms of CPU here), while a slow one still syncs each row
// as it comes.
const defaultSyncGap = 5 * time.Millisecond

// recorder is the one goroutine that records: it takes every finished row
// queued (waiting up to SyncGap after the last fsync began for more, unless
// a worker waits on it), makes the batch durable in the checkpoint with one
// fsync, then counts the rows as done, releases their users' next rows and appends them
// to the report, flushing whenever the queue runs empty.
func (r *Runner) recorder(q recQueue) error {
	var firstErr error
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
			// A failed journal write abandons everything (SPEC.md).
			r.halt.abandon(err)
		}
	}
	batch := make([]recItem, 0, 256)
	outs := make([]checkpoint.Outcome, 0, 256)
	var lastSync time.Time
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer linger.Stop()
	for it := range q.rows {
		batch = append(batch[:0], it)
		// Take what is queued; then, if the last fsync began less than
		// SyncGap ago, go on collecting until then, unless every slot
		// is held (workers wait on this fsync) or the batch is full.
		linger.Reset(max(r.opt.SyncGap-time.Since(lastSync), 0))
	collect:
		for len(batch) < cap(batch) {
			select {
			case more, ok := <-q.rows:
				if !ok {
					break collect
				}
				batch = append(batch, more)
				continue
			default:
			}
			if len(q.slots) == cap(q.slots) {
				break
			}
			select {
			case more, ok := <-q.rows:
				if !ok {
					break collect
				}
				batch = append(batch, more)
			case <-linger.C:
				break collect
			}
		}
		linger.Stop()
		lastSync = time.Now()
		if firstErr == nil {
			outs = outs[:0]
			for _, b := range batch {
				outs = append(outs, checkpoint.Outcome{Line: b.row.Line, Outcome: string(b.row.Outcome), Payload: *b.payload})
			}
			if err := r.in.Journal.Outcomes(outs); err != nil {
				fail(fmt.Errorf("%w: recording the outcomes of %d rows: %w", ErrLocal, len(outs), err))
			} else {
				crashpoint.Hit("after-outcome")
			}
			clear(outs)
		}
		for _, b := range batch {
			putPayload(b.payload)
			if firstErr == nil {
				r.done.Add(1)
				r.mu.Lock()
				r.counts[b.row.Outcome]++
				if b.row.ErrorCode != "" {
					r.byCode[b.row.ErrorCode]++
				}
				if b.row.Outcome == report.WouldFail && b.row.ErrorSummary != "" {
					r.byReason[b.row.ErrorSummary]++
				}
				r.mu.Unlock()
			}
			r.finish(b.t, q.slots)
			if firstErr == nil {
				if err := r.in.Report.Write(b.row); err != nil {
					fail(fmt.Errorf("%w: writing the report: %w", ErrLocal, err))
				}
			}
		}
		if firstErr == nil && len(q.rows) == 0 {
			if err := r.in.Report.Flush(); err != nil {
				fail(fmt.Errorf("%w: writing the report: %w", ErrLocal, err))
				continue
			}
			crashpoint.Hit("after-report")
		}
	}
	if firstErr == nil {
		if err := r.in.Report.Flush(); err != nil {
			fail(fmt.Errorf("%w: writing the report: %w", ErrLocal, err))
		}
	}
	return firstErr
}
