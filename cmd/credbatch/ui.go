package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
)

// Terminal rules: data goes to files (and stdout when asked); everything
// else goes to stderr as "credbatch: …" lines. Nothing printed here carries
// a secret: the values printed are counts, paths, the org URL and codes.

func stdinIsTerminal() bool {
	return term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stderr.Fd()))
}

func infof(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "credbatch: "+format+"\n", args...)
}

func warnf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "credbatch: warning: "+format+"\n", args...)
}

// confirm asks a yes/no question on the terminal; only "y" or "yes" agrees.
func confirm(in io.Reader, out io.Writer, question string) bool {
	fmt.Fprintf(out, "%s [y/N] ", question)
	line, _ := bufio.NewReader(in).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}

// sortedKeys returns a map's keys in order, for stable output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// progress shows the run's progress on stderr: a bar on a terminal, a plain
// line every interval otherwise. stop ends it.
func progress(w io.Writer, tty bool, interval time.Duration, snap func() runner.Progress) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		var bar *progressbar.ProgressBar
		if tty {
			p := snap()
			bar = progressbar.NewOptions64(p.Before+p.Total,
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription("credbatch"),
				progressbar.OptionShowCount(),
				progressbar.OptionShowIts(),
				progressbar.OptionSetItsString("rows"),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(200*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
			interval = 250 * time.Millisecond
		}
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				if bar != nil {
					p := snap()
					_ = bar.Set64(p.Before + p.Done)
					_ = bar.Finish()
				}
				return
			case <-tick.C:
				p := snap()
				pause := pauseText(p, time.Now())
				if bar != nil {
					bar.ChangeMax64(p.Before + p.Total)
					bar.Describe("credbatch " + countsText(p) + pause)
					_ = bar.Set64(p.Before + p.Done)
					continue
				}
				el := time.Since(start)
				rate := float64(p.Done) / el.Seconds()
				eta := "unknown"
				if rate > 0 && p.Total >= p.Done {
					eta = (time.Duration(float64(p.Total-p.Done)/rate) * time.Second).Round(time.Second).String()
				}
				infof(w, "progress: %s; %.1f rows/s, %d requests, %d rate-limited, ETA %s%s",
					progressText(p), rate, p.Requests, p.RateLimited, eta, pause)
			}
		}
	}()
	return func() { close(done); <-finished }
}

// progressText is the whole run's rows and outcomes so far: after a resume
// "107/206 rows (96 before this run): succeeded 100, failed 7", counted as
// the final line counts them.
func progressText(p runner.Progress) string {
	s := fmt.Sprintf("%d/%d rows", p.Before+p.Done, p.Before+p.Total)
	if p.Before > 0 {
		s += fmt.Sprintf(" (%d before this run)", p.Before)
	}
	if c := countsText(p); c != "" {
		s += ": " + c
	}
	return s
}

// countsText is "succeeded N, failed N, in_doubt N" and any other outcome
// met so far, in a fixed order.
func countsText(p runner.Progress) string {
	var parts []string
	for _, o := range []report.Outcome{report.Succeeded, report.Failed, report.InDoubt, report.Skipped, report.WouldSucceed, report.WouldFail} {
		always := !p.DryRun && (o == report.Succeeded || o == report.Failed || o == report.InDoubt)
		if n := p.Counts[o]; n > 0 || always {
			parts = append(parts, fmt.Sprintf("%s %d", o, n))
		}
	}
	return strings.Join(parts, ", ")
}

// pauseText says which buckets wait, until when and why.
func pauseText(p runner.Progress, now time.Time) string {
	if len(p.Paused) == 0 {
		return ""
	}
	var parts []string
	for _, pi := range p.Paused {
		parts = append(parts, fmt.Sprintf("%s paused until %s: %s, %d/%d left",
			pi.Bucket, untilText(pi.Until, now), pi.Reason, pi.Remaining, pi.Limit))
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// untilText is the local time of day, with the date in front when it falls
// on another day than now (a pause past midnight must not read as minutes).
func untilText(until, now time.Time) string {
	until, now = until.Local(), now.Local()
	if y, m, d := until.Date(); y != now.Year() || m != now.Month() || d != now.Day() {
		return until.Format("2006-01-02 15:04:05 MST")
	}
	return until.Format("15:04:05")
}
