package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

// ran is how the runner's run ended: its result, its error (a stop, a
// signal, a local failure; nil when it ran to the end) and when it began.
type ran struct {
	res   *runner.Result
	err   error
	start time.Time
}

// execute creates the files and runs: standard input's copy is kept, a new
// run's checkpoint is created and then its report (createFiles), and the
// runner sends, with its logger and the progress display. An error is a
// failure before the run began; how the run ended is in ran.err.
func (s *runSetup) execute(f *runFiles, org *orgCheck) (*ran, error) {
	e, o := s.e, s.o
	if err := f.createFiles(); err != nil {
		return nil, err
	}
	rf, err := os.OpenFile(f.reportPath, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: opening the report %s: %w", runner.ErrLocal, f.reportPath, err)
	}
	defer rf.Close()
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(newLineHandler(e.stderr, level))
	run := s.newRunner(f, org, report.NewWriter(rf, f.repFormat), logger)
	if f.resuming {
		infof(e.stderr, "resuming: %d of %d rows already finished", f.state.Done.Count(), f.sum.Rows)
	}
	stopProgress := progress(e.stderr, e.isTerminal(), o.progressEvery, run.Progress)
	restoreGC := gcForRun(f.sum.Rows)
	r := &ran{start: time.Now()}
	r.res, r.err = run.Run(e.feed, e.hard)
	restoreGC()
	stopProgress()
	js := f.j.Stats()
	logger.Debug("checkpoint", "records", js.Records, "fsyncs", js.Syncs)
	if err := rf.Sync(); err != nil && r.err == nil {
		r.err = fmt.Errorf("%w: syncing the report: %w", runner.ErrLocal, err)
	}
	return r, nil
}

// createFiles keeps standard input's copy as REPORT.manifest, then, for a
// new run, creates the checkpoint first and the report after it: both
// 0600, never overwritten. A resume's files exist already.
func (f *runFiles) createFiles() error {
	if f.stdinCopy != "" {
		if err := os.Rename(f.stdinCopy, f.manifestPath); err != nil {
			return fmt.Errorf("%w: keeping standard input as %s: %w", runner.ErrLocal, f.manifestPath, err)
		}
		var err error
		if f.m, err = openManifest(f.manifestPath, true); err != nil {
			return fmt.Errorf("%w: %w", runner.ErrLocal, err)
		}
	}
	if f.resuming {
		return nil
	}
	var err error
	f.j, err = checkpoint.Create(f.cpPath, f.hdr)
	if err != nil {
		if errors.Is(err, checkpoint.ErrLocked) {
			return err
		}
		return fmt.Errorf("%w: creating the checkpoint %s: %w", runner.ErrLocal, f.cpPath, err)
	}
	f.state = &checkpoint.State{Header: f.hdr, Done: checkpoint.NewBitset(f.sum.Rows + 2), Counts: map[string]int{}}
	f.prior, err = priorFrom(f.j, f.state, nil, f.reportPath, f.repFormat, false)
	return err
}

// newRunner wires the runner: the checked flags, the token's owner, the
// manifest, the checkpoint and the report.
func (s *runSetup) newRunner(f *runFiles, org *orgCheck, rw *report.Writer, logger *slog.Logger) *runner.Runner {
	o := s.o
	var seal func(secret.String) (secret.String, error)
	if len(s.recips) > 0 {
		seal = sealer(s.recips)
	}
	return runner.New(runner.Options{
		Seal:    seal,
		Workers: o.workers, Rate: o.rate, Burst: o.burst, MaxShare: o.maxShare,
		MaxRetries: o.maxRetries, HaltOn: s.haltN, HaltOnPct: s.haltPct,
		DryRun: o.dryRun, Exclude: s.exclude, ExcludeAt: s.excludeAt, Logger: logger, BackoffMin: o.backoffMin,
		MatchShortNames: o.matchShortNames, OwnerID: org.ownerID(), MaxWait: o.maxWait,
		// An API token (SSWS) always belongs to a user; an access token
		// from client credentials (PrivateKey, or Bearer) may not.
		TokenMayHaveNoUser: s.cfg.AuthMode == okta.AuthBearer || s.cfg.AuthMode == okta.AuthPrivateKey,
	}, runner.Input{
		Manifest: f.m, Defaults: s.defaults, Rows: f.sum.Rows, Client: s.client,
		Journal: f.j, Report: rw, Prior: f.prior,
	})
}

// summarise prints the summary, its counts over the whole report across
// resumes, writes --summary-json, and decides the exit status: how the run
// ended when it ended early, else 0 or 1 from the counts (finalStatus).
func (s *runSetup) summarise(f *runFiles, r *ran) error {
	e, o := s.e, s.o
	total := map[string]int{}
	for k, v := range f.state.Counts {
		total[k] += v
	}
	for k, v := range r.res.Counts {
		total[string(k)] += v
	}
	pace := pacing{rate: o.rate, maxShare: o.maxShare}
	printSummary(e, f.reportPath, total, r.res, time.Since(r.start), o.dryRun, f.sum.Rows, pace)
	if o.summaryJSON != "" {
		if err := writeSummaryJSON(o.summaryJSON, s.cfg.OrgURL, f.sum, s.manifestArg, f.reportPath, total, r.res, time.Since(r.start), r.err, o.dryRun, pace); err != nil {
			warnf(e.stderr, "could not write --summary-json: %v", err)
		}
	}
	if r.err != nil {
		return r.err
	}
	return finalStatus(total)
}

// finalStatus is exit 0 or 1 from the whole report's counts.
func finalStatus(counts map[string]int) error {
	if counts[string(report.Failed)]+counts[string(report.InDoubt)]+counts[string(report.WouldFail)] > 0 {
		return errRowsFailed
	}
	return nil
}
