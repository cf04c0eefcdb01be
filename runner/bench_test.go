package runner_test

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

var benchSeq int // names each run's checkpoint

// discardJournal is a journal that keeps nothing: the baseline against which
// the real journal's durability is measured.
type discardJournal struct{}

func (discardJournal) Attempt(checkpoint.Attempt) error    { return nil }
func (discardJournal) Note(checkpoint.Attempt) error       { return nil }
func (discardJournal) Release(int) error                   { return nil }
func (discardJournal) Outcomes([]checkpoint.Outcome) error { return nil }

// BenchmarkRunJournal measures whole runs of 2,000 expire_password jobs
// against the in-process emulator over loopback (32 workers, no pacing), with
// the real checkpoint (fsync, group commit) and with a journal that keeps
// nothing. Compare the jobs/s of the two sub-benchmarks: the durability's
// cost (goal: the journal keeps at least 80%).
func BenchmarkRunJournal(b *testing.B) {
	dir := b.TempDir()
	lb := newLoopback(b, emulator.Config{UserList: activeUsers(2000), Window: 1e9}, jobs.ExpirePassword, dir)
	defer lb.srv.Close()
	for _, durable := range []bool{true, false} {
		name := "discard"
		if durable {
			name = "checkpoint"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				benchSeq++
				i := benchSeq
				var j runner.Journal = discardJournal{}
				var cp *checkpoint.Journal
				if durable {
					cp = lb.checkpoint(b, dir, fmt.Sprintf("%s-%d.checkpoint", name, i))
					j = cp
				}
				r := lb.runner(runner.Options{Workers: 32, MaxShare: 100, MaxRetries: 5}, j, io.Discard)
				res, err := r.Run(context.Background(), context.Background())
				if err != nil || res.Counts[report.Succeeded] != lb.rows {
					b.Fatalf("run: %v, %v", err, res.Counts)
				}
				if cp != nil {
					if err := cp.Close(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*lb.rows)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
}
