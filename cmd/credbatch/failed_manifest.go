package main

// The manifests `credbatch report` writes for the next step (SPEC.md
// "Report"): --failed-manifest splits the rows that did not succeed into
// OUT-stem.retryable.EXT, OUT-stem.needs-fix.EXT and OUT-stem.in-doubt.EXT,
// and the rows never sent into OUT-stem.pending.EXT; --clean-manifest keeps
// a dry run's would_succeed rows. Both find the
// original manifest through the run's checkpoint, refuse a manifest whose
// SHA-256 changed since the run, and copy the original rows byte for byte
// (jobs.Manifest.CopyRows), so each file is a valid manifest that runs as it
// is. The files hold the manifest's passwords: they are created O_EXCL with
// mode 0600, and only their paths and row counts are printed.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

// errManifestChanged is wrapped when the manifest's SHA-256 is not the one
// the run recorded.
var errManifestChanged = errors.New("the manifest changed since the run")

// errRunInProgress is wrapped when a run still holds the checkpoint.
var errRunInProgress = errors.New("a credbatch run is still using this report's checkpoint")

// nextOpts are the report command's flags for the next-step manifests.
type nextOpts struct {
	failedManifest string // OUT: OUT-stem.CLASS.EXT
	cleanManifest  string // OUT exactly
	checkpointPath string // default REPORT.checkpoint
	manifestPath   string // override the manifest path recorded in the checkpoint
}

func (o *nextOpts) wanted() bool { return o.failedManifest != "" || o.cleanManifest != "" }

// reportLines is what one pass over a report learns: the summary, and the
// manifest lines of each retry class and of the would_succeed rows.
type reportLines struct {
	sum     *report.Summary
	all     *checkpoint.Bitset
	classes map[report.RetryClass]*checkpoint.Bitset
	clean   *checkpoint.Bitset
	// reasons holds the lines of the retryable rows that may have applied,
	// by report.Reason: what the retryable file's readers must know.
	reasons map[string][]int
	// badLines counts rows whose line is impossible or repeated: such a
	// report cannot drive a next step (the summary still counts them).
	badLines int
	// handout: the file is a hand-out list (its rows name their source)
	handout bool
}

// readReportLines reads the report once (strictly) and classifies its rows.
func readReportLines(path string) (*reportLines, error) {
	rl := &reportLines{
		sum: &report.Summary{},
		all: checkpoint.NewBitset(0), clean: checkpoint.NewBitset(0), reasons: map[string][]int{},
		classes: map[report.RetryClass]*checkpoint.Bitset{
			report.ClassRetryable: checkpoint.NewBitset(0),
			report.ClassNeedsFix:  checkpoint.NewBitset(0),
			report.ClassInDoubt:   checkpoint.NewBitset(0),
		},
	}
	err := report.ReadFile(path, func(r *report.Row) error {
		rl.sum.Add(r)
		rl.handout = rl.handout || r.Source != ""
		if r.Line < 1 || r.Line > checkpoint.MaxLine || rl.all.Has(r.Line) {
			rl.badLines++
			return nil
		}
		rl.all.Set(r.Line)
		if c := report.Classify(r); c != report.ClassNone {
			rl.classes[c].Set(r.Line)
		}
		if why := report.Reason(r); why != "" {
			rl.reasons[why] = append(rl.reasons[why], r.Line)
		}
		if r.Outcome == report.WouldSucceed {
			rl.clean.Set(r.Line)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the report %s: %w", path, err)
	}
	return rl, nil
}

// openRunCheckpoint opens the run's checkpoint to read its header, taking
// its lock: a run still in progress holds it, and is refused. The caller
// closes the journal when done (holding the lock meanwhile keeps a resume
// from starting under it).
func openRunCheckpoint(path string) (*checkpoint.Journal, *checkpoint.State, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, nil, usagef("pass --checkpoint PATH if the run used another one",
			"cannot find the run's checkpoint: %w", err)
	}
	j, st, err := checkpoint.Open(path)
	if err != nil {
		if errors.Is(err, checkpoint.ErrLocked) {
			return nil, nil, usagef("wait for the run to end (or stop it), then ask again",
				"%s: %w", path, errRunInProgress)
		}
		return nil, nil, usagef("", "reading the checkpoint %s: %w", path, err)
	}
	return j, st, nil
}

// locateManifest finds the run's manifest: --manifest when given, else the
// path the checkpoint recorded, as it is or, when it is relative, from the
// directory the run was started in (inferred from the report's recorded
// path). A standard-input run's manifest is REPORT.manifest, always CSV.
func locateManifest(reportPath string, hdr checkpoint.Header, override string) (*jobs.Manifest, error) {
	// A run from standard input read REPORT.manifest (CSV, whatever its
	// name says). Both paths are absolute in headers written since the
	// report path was made absolute; Clean covers the older ones.
	stdin := hdr.ReportPath != "" && filepath.Clean(hdr.ManifestPath) == filepath.Clean(hdr.ReportPath)+".manifest"
	candidates := []string{override}
	if override == "" {
		candidates = []string{hdr.ManifestPath}
		if !filepath.IsAbs(hdr.ManifestPath) && hdr.ReportPath != "" && !filepath.IsAbs(hdr.ReportPath) {
			if abs, err := filepath.Abs(reportPath); err == nil {
				rel := string(filepath.Separator) + filepath.Clean(hdr.ReportPath)
				if runDir, ok := strings.CutSuffix(abs, rel); ok {
					candidates = append(candidates, filepath.Join(runDir, hdr.ManifestPath))
				}
			}
		}
		if stdin {
			candidates = append(candidates, reportPath+".manifest")
		}
	}
	var firstErr error
	for _, p := range candidates {
		st, err := os.Stat(p)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if !st.Mode().IsRegular() {
			return nil, usagef("", "the manifest %s is not a regular file", p)
		}
		if (stdin && override == "") || strings.HasSuffix(p, ".manifest") {
			return &jobs.Manifest{Path: p, Format: jobs.CSV}, nil
		}
		m, err := jobs.Open(p)
		if err != nil {
			return nil, usagef("", "the run's manifest: %w", err)
		}
		return m, nil
	}
	return nil, usagef("pass --manifest PATH if the manifest moved (its SHA-256 must still match)",
		"cannot find the run's manifest %s: %w", candidates[0], firstErr)
}

// runManifest finds the manifest of the run whose checkpoint cp holds hdr
// (locateManifest), and refuses it when it changed since the run.
func runManifest(reportPath string, hdr checkpoint.Header, override, cp string) (*jobs.Manifest, error) {
	m, err := locateManifest(reportPath, hdr, override)
	if err != nil {
		return nil, err
	}
	sha, _, err := m.Fingerprint()
	if err != nil {
		return nil, usagef("", "reading the manifest %s: %w", m.Path, err)
	}
	if sha != hdr.ManifestSHA256 {
		return nil, usagef("the rows would no longer be the ones the report describes: restore the manifest the run used",
			"%s: %w (its SHA-256 is not the one recorded in %s)", m.Path, errManifestChanged, cp)
	}
	return m, nil
}

// manifestExt is the extension of the files written for m: its own.
func manifestExt(m *jobs.Manifest) string {
	ext := filepath.Ext(m.Path)
	if _, err := jobs.FormatOf(m.Path); err != nil {
		// a standard-input copy (REPORT.manifest) is CSV
		return ".csv"
	}
	return ext
}

// failedManifestPath is OUT-stem.CLASS.EXT.
func failedManifestPath(out, class, ext string) string {
	stem := strings.TrimSuffix(out, filepath.Ext(out))
	return stem + "." + class + ext
}

// plannedFile is one manifest to write: the lines to copy.
type plannedFile struct {
	path    string
	keep    *checkpoint.Bitset
	rows    int
	label   string           // what to do with it, for the message
	reasons map[string][]int // lines of its rows that need a word more, by reason
}

// writeNextManifests writes the files --failed-manifest and
// --clean-manifest ask for and reports them on stderr (paths, counts, lines
// and reasons only). It never writes a file over an existing one. run is
// the report's checkpoint, open.
func writeNextManifests(e *env, reportPath string, rl *reportLines, o *nextOpts, run *reportRun) error {
	for _, p := range []struct{ flag, v string }{{"--failed-manifest", o.failedManifest}, {"--clean-manifest", o.cleanManifest}} {
		if p.v == "" {
			continue
		}
		if strings.HasSuffix(p.v, string(filepath.Separator)) {
			return usagef("e.g. "+p.flag+" retry.csv", "%s %s: want a file name, not a directory", p.flag, p.v)
		}
		if st, err := os.Stat(p.v); err == nil && st.IsDir() {
			return usagef("e.g. "+p.flag+" "+filepath.Join(p.v, "retry.csv"), "%s %s is a directory: want a file name", p.flag, p.v)
		}
		if st, err := os.Stat(filepath.Dir(p.v)); err != nil || !st.IsDir() {
			return usagef("create the directory first", "%s %s: the directory %s does not exist", p.flag, p.v, filepath.Dir(p.v))
		}
	}
	if rl.badLines > 0 {
		return usagef("rerun the original command: it completes and repairs the report from its checkpoint",
			"%s: %d rows repeat a manifest line or name an impossible one: the report is damaged", reportPath, rl.badLines)
	}
	cp, st := run.path, run.st
	hdr := st.Header
	if o.cleanManifest != "" && !hdr.DryRun {
		return usagef("run the manifest with --dry-run first, then pass its .dryrun report",
			"--clean-manifest takes a dry run's report, and %s is a real run's", reportPath)
	}
	m, err := runManifest(reportPath, hdr, o.manifestPath, cp)
	if err != nil {
		return err
	}

	// One pass over the manifest: how many of its rows the report holds.
	// Every report row must name a manifest row (else the checkpoint is not
	// this report's). Of the rest, the pending file takes those never sent:
	// a row the checkpoint finished (the report lacks it after a crash) or
	// sent (an attempt that may have applied) is the original command's to
	// settle, never a new run's.
	p := pendingLines{never: checkpoint.NewBitset(0)}
	inReport := 0
	if _, err := m.CopyRows(func(line int) bool {
		switch _, sent := st.LastAttempt[line]; {
		case rl.all.Has(line):
			inReport++
		case st.Done.Has(line):
			p.finished++
		case sent:
			p.sent = append(p.sent, line)
		default:
			p.never.Set(line)
		}
		return false
	}, io.Discard); err != nil {
		return usagef("", "reading the manifest %s: %w", m.Path, err)
	}
	if n := rl.all.Count(); inReport != n {
		return usagef("pass the --checkpoint of the run that wrote this report",
			"%d of the report's rows name no row of the manifest %s: the checkpoint %s is not this report's", n-inReport, m.Path, cp)
	}

	ext := manifestExt(m)
	var plan []plannedFile
	if out := o.failedManifest; out != "" {
		for _, c := range []struct {
			class report.RetryClass
			label string
		}{
			{report.ClassRetryable, "429, 5xx or no answer: run it as it is"},
			{report.ClassNeedsFix, "fix the rows or the users first"},
			{report.ClassInDoubt, "check these users in Okta first: an earlier attempt may have applied"},
		} {
			if n := rl.classes[c.class].Count(); n > 0 {
				f := plannedFile{path: failedManifestPath(out, c.class.String(), ext), keep: rl.classes[c.class], rows: n, label: c.label}
				if c.class == report.ClassRetryable {
					f.reasons = rl.reasons
				}
				plan = append(plan, f)
			}
		}
		if n := p.never.Count(); n > 0 {
			plan = append(plan, plannedFile{path: failedManifestPath(out, "pending", ext), keep: p.never, rows: n,
				label: fmt.Sprintf("never sent: rerun the original command to finish %s; run this file instead only if that run is abandoned, or %s would be sent twice",
					plural(n, "it", "them"), plural(n, "it", "they"))})
		}
		if len(plan) == 0 {
			infof(e.stderr, "no row failed, would fail, is in doubt or is pending: no failed manifest written")
		}
	}
	if out := o.cleanManifest; out != "" {
		if f, err := jobs.FormatOf(out); err != nil || f != m.Format {
			return usagef("name it "+strings.TrimSuffix(out, filepath.Ext(out))+ext,
				"--clean-manifest %s: the manifest is %s, so the clean manifest must be too", out, strings.TrimPrefix(ext, "."))
		}
		if n := rl.clean.Count(); n > 0 {
			plan = append(plan, plannedFile{path: out, keep: rl.clean, rows: n, label: "would succeed: ready to run"})
		} else {
			infof(e.stderr, "no row would succeed: no clean manifest written")
		}
	}
	for _, p := range plan {
		if _, err := os.Lstat(p.path); err == nil {
			return usagef("choose another name, or move the old file away",
				"%s: %w: a manifest is never overwritten", p.path, fs.ErrExist)
		}
	}
	var written []string
	for _, p := range plan {
		n, err := writeManifestCopy(m, p.path, p.keep)
		if err == nil && n != p.rows {
			err = fmt.Errorf("copied %d rows, want %d", n, p.rows)
			_ = os.Remove(p.path)
		}
		if err != nil {
			for _, w := range written {
				_ = os.Remove(w)
			}
			if errors.Is(err, fs.ErrExist) {
				return usagef("choose another name", "%s: %w", p.path, err)
			}
			return fmt.Errorf("%w: writing %s: %w", runner.ErrLocal, p.path, err)
		}
		written = append(written, p.path)
		infof(e.stderr, "wrote %s: %d %s (%s)", p.path, p.rows, plural(p.rows, "row", "rows"), p.label)
		for _, why := range []string{report.ReasonSecretLost, report.ReasonRepeatable} {
			if lines := p.reasons[why]; len(lines) > 0 {
				infof(e.stderr, "  %d of them (%s): %s", len(lines), lineList(lines), why)
			}
		}
	}
	if len(written) > 0 {
		if flags := rowDefaultFlags(hdr); flags != "" {
			infof(e.stderr, "run them with the row defaults of the original run: %s", flags)
		}
	}
	if o.failedManifest != "" {
		if p.finished > 0 {
			warnf(e.stderr, "%d pending %s finished in the checkpoint but not yet in the report: rerun the original command to complete the report (it sends nothing for %s)",
				p.finished, plural(p.finished, "row", "rows"), plural(p.finished, "it", "them"))
		}
		if n := len(p.sent); n > 0 {
			warnf(e.stderr, "%d pending %s (%s) %s sent before the run stopped and may have applied: rerun the original command, which repeats %s or marks %s in doubt by the action's rule; %s in no file",
				n, plural(n, "row", "rows"), lineList(p.sent), plural(n, "was", "were"), plural(n, "it", "them"), plural(n, "it", "them"), plural(n, "it is", "they are"))
		}
	}
	return nil
}

// pendingLines sorts the manifest rows a report lacks.
type pendingLines struct {
	never    *checkpoint.Bitset // never sent: the pending file
	finished int                // finished in the checkpoint, missing from the report
	sent     []int              // an attempt on record that may have applied
}

// lineList names manifest lines, in order, ten at most: "line 4", "lines
// 4, 9 and 12", "lines 2, 3, 5, 7, 11, 13, 17, 19, 23, 29 and 37 more".
func lineList(lines []int) string {
	lines = slices.Sorted(slices.Values(lines))
	const most = 10
	var b strings.Builder
	b.WriteString(plural(len(lines), "line ", "lines "))
	for i, l := range lines {
		if i == most {
			fmt.Fprintf(&b, " and %d more", len(lines)-most)
			break
		}
		switch {
		case i == 0:
		case i == len(lines)-1:
			b.WriteString(" and ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(l))
	}
	return b.String()
}

// rowDefaultFlags are the original run's row-default flags, as typed.
func rowDefaultFlags(h checkpoint.Header) string {
	var f []string
	if h.Action != "" {
		f = append(f, "--action "+h.Action)
	}
	for _, b := range []struct{ name, v string }{{"send-email", h.SendEmail}, {"revoke-sessions", h.RevokeSessions}, {"strict", h.Strict}} {
		if b.v != "" {
			f = append(f, "--"+b.name+"="+b.v)
		}
	}
	return strings.Join(f, " ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// writeManifestCopy creates path (O_EXCL, mode 0600 whatever the umask)
// and copies into it the manifest's header and the rows keep holds. On any
// error the file is removed.
func writeManifestCopy(m *jobs.Manifest, path string, keep *checkpoint.Bitset) (n int, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 64<<10)
	n, err = m.CopyRows(keep.Has, w)
	if err != nil {
		return n, err
	}
	if err := w.Flush(); err != nil {
		return n, err
	}
	return n, f.Sync()
}
