package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

// runFiles is what openOrResume found: the manifest, where the report and
// the checkpoint go, and, for a resume, the checkpoint open (its lock held)
// with the report settled against it. execute adds a new run's checkpoint.
type runFiles struct {
	m            *jobs.Manifest
	manifestPath string // the manifest the checkpoint names: REPORT.manifest for standard input
	stdinCopy    string // REPORT.manifest.partial until execute keeps it; "" when standard input was not read
	reportPath   string
	repFormat    report.Format
	cpPath       string
	sum          *jobs.Summary
	hdr          checkpoint.Header   // this command's; a resume's matches the checkpoint's
	j            *checkpoint.Journal // the resume's; a new run's once execute creates it
	state        *checkpoint.State   // what the checkpoint holds; nil for a new run until execute
	resuming     bool
	finished     bool // a resume of a run that had finished every row; its report is complete
	prior        runner.Prior
	claims       *runner.Claims // the finished rows' claims, read with the journal (collectClaims)
}

// close releases what openOrResume and execute took: the checkpoint's lock,
// and standard input's copy unless the run kept it.
func (f *runFiles) close() {
	if f.j != nil {
		f.j.Close()
	}
	if f.stdinCopy != "" {
		os.Remove(f.stdinCopy)
	}
}

// openOrResume reads the manifest and chooses: a new run, a resume of the
// run the checkpoint records, or a run that already finished. It sends
// nothing; it writes only standard input's copy and, for a resume, the
// report, completed from the journal. A damaged checkpoint is refused here
// (exit 2), and so is a checkpoint shorter than its report (resume): both
// before the org is asked. On an error what it took is released.
func (s *runSetup) openOrResume() (_ *runFiles, err error) {
	f := &runFiles{}
	defer func() {
		if err != nil {
			f.close() // the stdin copy removed, the checkpoint's lock released
		}
	}()
	if err := s.openManifestArg(f); err != nil {
		return nil, err
	}
	if err := s.outputPaths(f); err != nil {
		return nil, err
	}
	if err := f.openCheckpoint(); err != nil {
		return nil, err
	}
	// A resume whose manifest has the SHA-256 the checkpoint recorded was
	// validated by the run that started it: it is not validated again (a
	// million rows start at once).
	if f.sum == nil {
		if f.sum, err = f.m.Validate(s.defaults); err != nil {
			return nil, err
		}
		if f.stdinCopy == "" {
			warnReadablePasswords(s.e, f.manifestPath, f.sum)
		}
	}
	f.hdr = s.header(f)
	if f.state != nil {
		if err := s.resume(f); err != nil {
			return nil, err
		}
		return f, nil
	}
	if _, err := os.Stat(f.reportPath); err == nil {
		return nil, usagef("choose another --report, or move the old report away",
			"%s already exists and is not this run's own resume (no checkpoint %s): a report is never overwritten", f.reportPath, f.cpPath)
	}
	return f, nil
}

// resume takes up the run the checkpoint records, when this command is
// the one that started it (the headers match). A run that had finished
// every row only has its report completed (f.finished); any other has
// its report made to agree with the journal, and is refused when the
// report holds rows the checkpoint lacks (priorFrom).
func (s *runSetup) resume(f *runFiles) error {
	if diffs := f.state.Header.Diff(f.hdr); len(diffs) > 0 {
		var lines []string
		for _, d := range diffs {
			lines = append(lines, fmt.Sprintf("%s is %q in the checkpoint but %q now", d.Field, d.Checkpoint, d.Now))
		}
		return usagef("rerun with the settings the run started with, or start a new run with another --report",
			"this command does not match the run recorded in %s: %s", f.cpPath, strings.Join(lines, "; "))
	}
	f.resuming = true
	if f.state.Done.Count() >= f.sum.Rows {
		if err := completeReport(f.j, f.reportPath, f.repFormat); err != nil {
			return err
		}
		infof(s.e.stderr, "this run already finished; its report is %s", f.reportPath)
		f.finished = true
		return nil
	}
	var err error
	f.prior, err = priorFrom(f.j, f.state, f.claims, f.reportPath, f.repFormat, true)
	return err
}

// openManifestArg opens the manifest the command names. Standard input
// ("-") is copied to REPORT.manifest.partial, which execute renames to
// REPORT.manifest once the run starts, so that a resume reads the same rows;
// a resume reads that copy and does not read standard input.
func (s *runSetup) openManifestArg(f *runFiles) error {
	e, o := s.e, s.o
	f.manifestPath = s.manifestArg
	if s.manifestArg == "-" {
		f.manifestPath = o.reportPath + ".manifest"
		cp := o.checkpointFor(o.reportPath)
		_, cpErr := os.Stat(cp)
		_, mErr := os.Stat(f.manifestPath)
		switch {
		case cpErr == nil && mErr == nil:
			// A resume reads the copy the run started with.
		case mErr == nil:
			return usagef("move it away, or choose another --report",
				"%s exists but %s does not: it is not this run's resume, and standard input is not read", f.manifestPath, cp)
		default:
			partial := f.manifestPath + ".partial"
			_ = os.Remove(partial)
			if err := untilInterrupted(e, func() error { return jobs.CopyStdin(e.stdin, partial) }); err != nil {
				_ = os.Remove(partial)
				if e.feed.Err() != nil {
					return err
				}
				return fmt.Errorf("%w: copying standard input: %w", runner.ErrLocal, err)
			}
			f.stdinCopy = partial
		}
	}
	readPath := f.manifestPath
	if f.stdinCopy != "" {
		readPath = f.stdinCopy
	}
	m, err := openManifest(readPath, s.manifestArg == "-")
	if err != nil {
		return usagef("", "%w", err)
	}
	f.m = m
	return nil
}

// outputPaths names the report and the checkpoint, and refuses, before any
// file is created, a report format it cannot write or a path it cannot
// create (checkOutputPaths).
func (s *runSetup) outputPaths(f *runFiles) error {
	o := s.o
	f.reportPath = o.reportPath
	if f.reportPath == "" {
		f.reportPath = defaultReportPath(f.manifestPath, o.dryRun)
	}
	var err error
	if f.repFormat, err = report.FormatOf(f.reportPath); err != nil {
		return usagef("name the report .csv or .jsonl", "--report %s: %w", f.reportPath, err)
	}
	f.cpPath = o.checkpointFor(f.reportPath)
	return checkOutputPaths(f.reportPath, f.cpPath)
}

// checkpointFor is --checkpoint, or REPORT.checkpoint by default.
func (o *runOpts) checkpointFor(reportPath string) string {
	if o.checkpointPath != "" {
		return o.checkpointPath
	}
	return reportPath + ".checkpoint"
}

// openCheckpoint opens the checkpoint when there is one, taking its lock:
// a damaged one is refused (exit 2) before anything is sent. When the
// manifest is the one the checkpoint recorded, the row count is taken from
// the checkpoint (f.sum) instead of validating again.
func (f *runFiles) openCheckpoint() error {
	if _, err := os.Stat(f.cpPath); err != nil {
		return nil
	}
	j, state, err := checkpoint.OpenEach(f.cpPath, f.collectClaims)
	if err != nil {
		if errors.Is(err, checkpoint.ErrLocked) {
			return fmt.Errorf("%s: %w", f.cpPath, err)
		}
		return openFailure(f.cpPath, err)
	}
	f.j, f.state = j, state
	sha, size, err := f.m.Fingerprint()
	if err != nil {
		return usagef("", "manifest: %w", err)
	}
	if sha == state.Header.ManifestSHA256 && size == state.Header.ManifestSize {
		f.sum = &jobs.Summary{Rows: state.Header.Rows, SHA256: sha, Size: size}
	}
	return nil
}

// header is the checkpoint header of this command: a new run writes it,
// and a resume must match the one its checkpoint holds.
func (s *runSetup) header(f *runFiles) checkpoint.Header {
	d := s.defaults
	return checkpoint.Header{
		Format: checkpoint.FormatVersion, ToolVersion: version,
		OrgURL: s.cfg.OrgURL, ManifestPath: absPath(f.manifestPath),
		ManifestSHA256: f.sum.SHA256, ManifestSize: f.sum.Size, Rows: f.sum.Rows,
		DryRun: s.o.dryRun, Action: string(d.Action),
		SendEmail: boolSetting(d.SendEmail), RevokeSessions: boolSetting(d.RevokeSessions), Strict: boolSetting(d.Strict),
		ReportPath: absPath(f.reportPath), ReportFormat: strings.TrimPrefix(filepath.Ext(f.reportPath), "."),
		EncryptTo: s.encryptTo,
	}
}

// openManifest opens a manifest by its extension, or a copy of standard
// input (REPORT.manifest, always CSV).
func openManifest(path string, fromStdin bool) (*jobs.Manifest, error) {
	if !fromStdin {
		return jobs.Open(path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return &jobs.Manifest{Path: path, Format: jobs.CSV}, nil
}

// defaultReportPath is MANIFEST-stem.report.csv beside the manifest, or
// .dryrun.csv in a dry run, so a dry run and a real run never share files.
func defaultReportPath(manifest string, dry bool) string {
	dir, base := filepath.Split(manifest)
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	if dry {
		return filepath.Join(dir, stem+".dryrun.csv")
	}
	return filepath.Join(dir, stem+".report.csv")
}

// absPath names a file the same way whichever directory a rerun starts in.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
