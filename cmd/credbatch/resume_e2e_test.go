package main

// Issue 13: a report that holds rows its checkpoint lacks is refused, never
// resolved by sending again; a report moved aside is rebuilt from the
// checkpoint, never by sending again. The real binary against the emulator.

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// cutCheckpoint truncates the checkpoint at the end of one of its frames,
// keeping keep outcome records: what restoring an older copy of it does.
func (f *crashFixture) cutCheckpoint(t *testing.T, keep int) {
	t.Helper()
	b, err := os.ReadFile(f.checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	fr := frames(t, b)
	for i := 1; i < len(fr); i++ {
		if len(outcomeLines(t, b, fr[1:i+1])) == keep {
			if err := os.Truncate(f.checkpoint, int64(fr[i][1])); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("the checkpoint holds fewer than %d outcomes", keep)
}

// TestShortCheckpointRefused: the checkpoint holds fewer outcomes than the
// report has rows (an older copy restored over it), in a finished run and
// in one stopped half way: the rerun exits 2, says the checkpoint is the
// short one and names both files and counts, sends no request and changes
// no file. Today's code said "mismatched", and moving the report aside then
// sent the finished rows again.
func TestShortCheckpointRefused(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		crash string // "" runs to the end
	}{
		{"finished", ""},
		{"stopped half way", "after-report:12"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newCrashFixture(t, 24)
			first := f.run(t, c.crash)
			if (c.crash == "" && first.code != 0) || (c.crash != "" && !first.killed) {
				t.Fatalf("the first run ended with %s; output:\n%s", first, first.out)
			}
			rows := len(readRows(t, f.reportPath))
			if rows < 8 {
				t.Fatalf("the report has %d rows: too few to cut the checkpoint under it", rows)
			}
			keep := rows - 5
			f.cutCheckpoint(t, keep)
			before, sent := dirState(t, f.dir), f.requestsSent()
			end := f.run(t, "")
			if end.killed || end.code != 2 {
				t.Errorf("the rerun ended with %s, want exit 2; output:\n%s", end, end.out)
			}
			for _, want := range []string{
				"the checkpoint is the short one", f.checkpoint, f.reportPath,
				fmt.Sprintf("holds %d rows", rows), fmt.Sprintf("only %d outcomes", keep),
				"hint: do not delete or move the report", "--salvage",
			} {
				if !strings.Contains(end.out, want) {
					t.Errorf("the refusal does not say %q:\n%s", want, end.out)
				}
			}
			if n := f.requestsSent(); n != sent {
				t.Errorf("the refused rerun sent %d requests, want none", n-sent)
			}
			if after := dirState(t, f.dir); after != before {
				t.Errorf("the refused rerun changed a file:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}
