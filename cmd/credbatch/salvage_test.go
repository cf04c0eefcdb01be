package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/credbatch/credbatch/report"
)

// outcomeLines lists, in journal order, the lines of the outcome records
// among the given frames of journal b.
func outcomeLines(t *testing.T, b []byte, fr [][2]int) []int {
	t.Helper()
	var lines []int
	for _, f := range fr {
		body := b[f[0]:f[1]]
		body = body[bytes.IndexByte(body, '\t')+1+8+1:]
		if !bytes.HasPrefix(body, []byte("O\t")) {
			continue
		}
		rest := body[2:]
		n, err := strconv.Atoi(string(rest[:bytes.IndexByte(rest, '\t')]))
		if err != nil {
			t.Fatalf("outcome record without a line: %v", err)
		}
		lines = append(lines, n)
	}
	return lines
}

// TestSalvage: the way out of a damaged checkpoint without a backup. After
// a finished run whose checkpoint is damaged in the middle (and whose report
// was moved aside, as in issue 13), rerunning still refuses and sends
// nothing; `report REPORT --salvage OUT` exits 0 having written OUT, a new
// report (0600) with exactly the outcomes recorded before the damage, the
// same rows the run wrote, and OUT-stem.unsettled.csv (0600) with the
// original manifest rows of every other line, byte for byte; it warns that
// some may have been applied, sends nothing, prints no secret and leaves the
// checkpoint as it was. A second salvage to the same OUT is refused, and so
// are other report flags with it.
func TestSalvage(t *testing.T) {
	t.Parallel()
	f := newCrashFixture(t, 30)
	if first := f.run(t, ""); first.killed || first.code != 0 {
		t.Fatalf("the first run ended with %s, want exit 0; output:\n%s", first, first.out)
	}
	ran := map[int]*report.Row{}
	for _, r := range readRows(t, f.reportPath) {
		ran[r.Line] = r
	}
	good, err := os.ReadFile(f.checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	fr := frames(t, good)
	k := len(fr) / 2
	bad := bytes.Clone(good)
	bad[fr[k][0]+1] ^= 0x40 // the second byte of frame k (its length, or the tab after it)
	if err := os.WriteFile(f.checkpoint, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	kept := outcomeLines(t, good, fr[1:k]) // frame 0 is the header
	if len(kept) == 0 || len(kept) >= len(f.rows) {
		t.Fatalf("%d outcomes before the damage: the test proves little", len(kept))
	}
	aside := f.reportPath + ".aside"
	if err := os.Rename(f.reportPath, aside); err != nil {
		t.Fatal(err)
	}
	sent := f.requestsSent()
	if rerun := f.run(t, ""); rerun.killed || rerun.code != 2 || f.requestsSent() != sent {
		t.Fatalf("rerun with the report moved aside: %s, %d requests; want exit 2, none; output:\n%s", rerun, f.requestsSent()-sent, rerun.out)
	}
	if _, err := os.Stat(f.reportPath); err == nil {
		t.Fatalf("the refused rerun created a report")
	}
	if err := os.Rename(aside, f.reportPath); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(f.dir, "salvaged.csv")
	unsettled := filepath.Join(f.dir, "salvaged.unsettled.csv")
	if end := f.exec(t, "report", f.reportPath, "--salvage", out, "--json"); end.code != 2 {
		t.Errorf("--salvage with --json: %s, want exit 2; output:\n%s", end, end.out)
	}
	for _, p := range []string{out, unsettled} {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("a refused salvage created %s", p)
		}
	}
	before := dirState(t, f.dir)
	end := f.exec(t, "report", f.reportPath, "--salvage", out)
	if end.code != 0 {
		t.Fatalf("--salvage: %s, want exit 0; output:\n%s", end, end.out)
	}
	if n := f.requestsSent(); n != sent {
		t.Errorf("--salvage sent %d requests", n-sent)
	}
	if b, _ := os.ReadFile(f.checkpoint); !bytes.Equal(b, bad) {
		t.Errorf("--salvage changed the checkpoint")
	}
	for _, want := range []string{out, unsettled, "may have been applied", "nothing was sent"} {
		if !strings.Contains(end.out, want) {
			t.Errorf("--salvage's output does not say %q:\n%s", want, end.out)
		}
	}
	for _, s := range f.secrets() {
		if strings.Contains(end.out, s) {
			t.Errorf("--salvage printed a secret (%d characters)", len(s))
		}
	}
	for _, p := range []string{out, unsettled} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", p, err, st)
		}
	}

	// OUT: the outcomes before the damage, in journal order, as the run wrote them.
	rows := readRows(t, out)
	if len(rows) != len(kept) {
		t.Fatalf("%s has %d rows, want the %d outcomes before the damage", out, len(rows), len(kept))
	}
	for i, r := range rows {
		want := ran[kept[i]]
		if r.Line != kept[i] || want == nil || r.Outcome != want.Outcome || r.UserID != want.UserID ||
			r.TempPassword.Reveal() != want.TempPassword.Reveal() || r.ResetURL.Reveal() != want.ResetURL.Reveal() {
			t.Errorf("salvaged row %d: line %d %s %s; want line %d as the run reported it", i, r.Line, r.Outcome, r.UserID, kept[i])
		}
	}

	// OUT-stem.unsettled.csv: the manifest's header and every other row, byte for byte.
	manifest, err := os.ReadFile(f.manifest)
	if err != nil {
		t.Fatal(err)
	}
	mlines := strings.SplitAfter(string(manifest), "\n")
	done := map[int]bool{}
	for _, l := range kept {
		done[l] = true
	}
	want := mlines[0]
	for _, cr := range f.rows {
		if !done[cr.line] {
			want += mlines[cr.line-1]
		}
	}
	if got, _ := os.ReadFile(unsettled); string(got) != want {
		t.Errorf("%s is not the manifest's header and its %d unsettled rows, byte for byte", unsettled, len(f.rows)-len(kept))
	}

	// Never over an existing file; the first salvage is left as it was.
	written := dirState(t, f.dir)
	if written == before {
		t.Fatalf("the directory did not change: nothing was written")
	}
	if again := f.exec(t, "report", f.reportPath, "--salvage", out); again.code != 2 {
		t.Errorf("a second --salvage to %s: %s, want exit 2; output:\n%s", out, again, again.out)
	}
	if dirState(t, f.dir) != written {
		t.Errorf("the refused second salvage changed a file")
	}
}

// TestSalvageDamagedHeader: with the header damaged nothing can be read:
// --salvage exits 2, says so, and writes nothing.
func TestSalvageDamagedHeader(t *testing.T) {
	t.Parallel()
	f := newCrashFixture(t, 5)
	if first := f.run(t, ""); first.killed || first.code != 0 {
		t.Fatalf("the first run ended with %s, want exit 0; output:\n%s", first, first.out)
	}
	b, err := os.ReadFile(f.checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	b[30] ^= 0x01
	if err := os.WriteFile(f.checkpoint, b, 0o600); err != nil {
		t.Fatal(err)
	}
	before := dirState(t, f.dir)
	end := f.exec(t, "report", f.reportPath, "--salvage", filepath.Join(f.dir, "s.csv"))
	if end.code != 2 || !strings.Contains(end.out, "byte 0") || !strings.Contains(end.out, "restore it from a backup") {
		t.Errorf("--salvage of a checkpoint without a header: %s; want exit 2 naming byte 0 and the backup; output:\n%s", end, end.out)
	}
	if dirState(t, f.dir) != before {
		t.Errorf("the refused salvage changed the directory")
	}
}

// TestSalvageUndamaged: salvaging a checkpoint that is not damaged (a run
// killed half way, with a torn tail appended) writes every outcome it holds
// and the rows still pending, says the file is not damaged, and leaves the
// torn tail for the rerun to cut.
func TestSalvageUndamaged(t *testing.T) {
	t.Parallel()
	f := newCrashFixture(t, 20)
	f.rate = "50" // 20 ms apart: each outcome its own batch, so the 6th batch comes
	if first := f.run(t, "after-report:6"); !first.killed {
		t.Fatalf("after-report:6 did not kill the run (%s)", first)
	}
	fh, err := os.OpenFile(f.checkpoint, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	const torn = "312\t0badc0de\tO\t9\tsucc" // an append cut short
	if _, err := fh.Write([]byte(torn)); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	cp, err := os.ReadFile(f.checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	whole := cp[: len(cp)-len(torn) : len(cp)-len(torn)]
	done := outcomeLines(t, whole, frames(t, whole)[1:])
	out := filepath.Join(f.dir, "s.jsonl")
	end := f.exec(t, "report", f.reportPath, "--salvage", out)
	if end.code != 0 || !strings.Contains(end.out, "is not damaged") || !strings.Contains(end.out, "torn tail") {
		t.Fatalf("--salvage: %s; want exit 0 saying the checkpoint is not damaged but has a torn tail; output:\n%s", end, end.out)
	}
	if rows := readRows(t, out); len(rows) != len(done) {
		t.Errorf("%s has %d rows, want the checkpoint's %d outcomes", out, len(rows), len(done))
	}
	b, err := os.ReadFile(filepath.Join(f.dir, "s.unsettled.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n") - 1; n != len(f.rows)-len(done) {
		t.Errorf("the unsettled manifest has %d rows, want %d", n, len(f.rows)-len(done))
	}
	if after, _ := os.ReadFile(f.checkpoint); !bytes.Equal(after, cp) {
		t.Errorf("--salvage changed the checkpoint")
	}
}
