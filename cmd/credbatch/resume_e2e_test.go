package main

// Issue 13: a report that holds rows its checkpoint lacks is refused, never
// resolved by sending again; a report moved aside is rebuilt from the
// checkpoint, never by sending again. The real binary against the emulator.

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner/checkpoint"
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
		{"stopped half way", "after-response:18"}, // a response, not a report batch: always reached in 24 rows
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

// credentialRequests counts the emulator's credential requests (POSTs and
// DELETE sessions) per user and operation.
func (f *crashFixture) credentialRequests() map[string]int {
	n := map[string]int{}
	for _, e := range f.org.Log() {
		if isCredentialOp(e.Op) {
			n[f.userOf(e)+" "+e.Op]++
		}
	}
	return n
}

// TestMovedReportRebuilt: moving the report aside (or deleting it) and
// rerunning rebuilds it from the checkpoint and never sends a row whose
// outcome the checkpoint holds. A finished run: nothing is sent, the
// rebuilt report is byte for byte the one moved aside. A run killed half
// way (its checkpoint ahead of its report): only rows with no outcome are
// sent, and the chain ends with one row per manifest row, no
// password-checking row sent twice.
func TestMovedReportRebuilt(t *testing.T) {
	t.Parallel()
	t.Run("finished", func(t *testing.T) {
		t.Parallel()
		f := newCrashFixture(t, 30)
		first := f.run(t, "")
		if first.killed || first.code != 0 {
			t.Fatalf("the first run ended with %s, want exit 0; output:\n%s", first, first.out)
		}
		whole, err := os.ReadFile(f.reportPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(f.reportPath, f.reportPath+".aside"); err != nil {
			t.Fatal(err)
		}
		sent := f.requestsSent()
		rerun := f.run(t, "")
		if rerun.killed || rerun.code != 0 || !strings.Contains(rerun.out, "already finished") {
			t.Errorf("the rerun ended with %s, want exit 0 saying the run already finished; output:\n%s", rerun, rerun.out)
		}
		if n := f.requestsSent(); n != sent {
			t.Errorf("the rerun sent %d requests, want none", n-sent)
		}
		if rebuilt, _ := os.ReadFile(f.reportPath); !bytes.Equal(rebuilt, whole) {
			t.Errorf("the rebuilt report differs from the one moved aside (%d bytes, want %d)", len(rebuilt), len(whole))
		}
		f.checkChain(t, []runEnd{first, rerun}, 0)
	})
	for _, c := range []struct{ name, crash string }{
		{"killed after an outcome, report moved", "after-outcome:15"},
		{"killed after a report row, report deleted", "after-report:9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newCrashFixture(t, 30)
			f.rate = "50" // 20 ms apart: each outcome its own batch, so the Nth batch comes
			first := f.run(t, c.crash)
			if !first.killed {
				t.Fatalf("%s did not kill the run (%s)", c.crash, first)
			}
			j, st, err := checkpoint.OpenReadOnly(f.checkpoint)
			if err != nil {
				t.Fatal(err)
			}
			j.Close()
			done := st.Done
			if done.Count() == 0 || done.Count() >= len(f.rows) {
				t.Fatalf("%d of %d rows done after the kill: the test proves little", done.Count(), len(f.rows))
			}
			if strings.Contains(c.name, "deleted") {
				err = os.Remove(f.reportPath)
			} else {
				err = os.Rename(f.reportPath, f.reportPath+".aside")
			}
			if err != nil {
				t.Fatal(err)
			}
			before := f.credentialRequests()
			last := f.run(t, "")
			after := f.credentialRequests()
			for _, cr := range f.rows {
				k := cr.user.ID + " " + cr.op
				if done.Has(cr.line) && after[k] != before[k] {
					t.Errorf("line %d (%s) had an outcome in the checkpoint, yet the rerun sent it %d more times", cr.line, cr.action, after[k]-before[k])
				}
			}
			if last.killed || (last.code != 0 && last.code != 1) {
				t.Fatalf("the rerun ended with %s, want exit 0 or 1; output:\n%s", last, last.out)
			}
			f.checkChain(t, []runEnd{first, last}, 1)
		})
	}
}

// TestResumeKeepsEarlierClaims: a row that names by ID the user an earlier
// row named by login (same action) is a duplicate after resolution even
// when the earlier row finished in an earlier run: the resume learns the
// claims of finished rows from the checkpoint. The first run stops on
// purpose (--halt-on 1, the row after the login row fails) with the
// duplicate far beyond what was fed; the resume reports it CB_DUPLICATE_USER
// naming the login row's line and sends nothing for it.
func TestResumeKeepsEarlierClaims(t *testing.T) {
	t.Parallel()
	f := newCrashFixture(t, 1)
	u := f.users[1]
	var b strings.Builder
	b.WriteString("user,action\n")
	fmt.Fprintf(&b, "%s,expire_password\n", u.Login)        // line 2: claims u
	b.WriteString("00u99999999999999999,expire_password\n") // line 3: no such user: fails, halts
	for i := 2; i <= 60; i++ {                              // lines 4-62
		fmt.Fprintf(&b, "%s,expire_password\n", f.users[i].ID)
	}
	fmt.Fprintf(&b, "%s,expire_password\n", u.ID) // line 63: u again, by ID
	if err := os.WriteFile(f.manifest, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", f.manifest, "--org-url", f.url, "--yes", "--rate", "0", "--workers", "1"}
	sentTo := func() int {
		return f.credentialRequests()[u.ID+" "+emulator.OpExpirePassword]
	}

	first := f.exec(t, append(args, "--halt-on", "1")...)
	if first.code != 3 {
		t.Fatalf("the first run ended with %s, want exit 3 (--halt-on); output:\n%s", first, first.out)
	}
	rows := map[int]*report.Row{}
	for _, r := range readRows(t, f.reportPath) {
		rows[r.Line] = r
	}
	if r := rows[2]; r == nil || r.Outcome != report.Succeeded || r.UserID != u.ID {
		t.Fatalf("after the first run line 2 is %+v, want succeeded for %s", r, u.ID)
	}
	if rows[63] != nil || sentTo() != 1 {
		t.Fatalf("the first run reached line 63 (%d requests to %s): the test proves nothing", sentTo(), u.ID)
	}

	last := f.exec(t, args...)
	if last.code != 1 {
		t.Fatalf("the resume ended with %s, want exit 1; output:\n%s", last, last.out)
	}
	rows = map[int]*report.Row{}
	for _, r := range readRows(t, f.reportPath) {
		rows[r.Line] = r
	}
	if len(rows) != 62 {
		t.Errorf("the report has %d rows, want 62", len(rows))
	}
	r := rows[63]
	if r == nil || r.Outcome != report.Failed || r.ErrorCode != report.CodeDuplicateUser || !strings.Contains(r.ErrorSummary, "line 2") {
		t.Errorf("line 63 is %+v, want failed %s naming line 2", r, report.CodeDuplicateUser)
	}
	if n := sentTo(); n != 1 {
		t.Errorf("%s was sent expire_password %d times, want once", u.ID, n)
	}
}
