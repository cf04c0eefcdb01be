package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credbatch/credbatch/report"
)

// A hand-out list (LayoutHandout) writes and reads back its source and note
// in both formats, and says which layout it is.
func TestHandoutLayout(t *testing.T) {
	want := trickyRows()
	for i := range want {
		want[i].Source = "run " + string(rune('a'+i)) + ".report.csv"
		want[i].Note = "the secret is from \"r1\", line 2;\nit still stands"
	}
	if got := strings.Join(report.LayoutHandout.Columns(), ","); got != strings.Join(report.Columns, ",")+",source,note" {
		t.Errorf("LayoutHandout columns: %s", got)
	}
	dir := t.TempDir()
	for _, f := range []report.Format{report.CSV, report.JSONL} {
		var buf bytes.Buffer
		w := report.NewLayoutWriter(&buf, f, report.LayoutHandout)
		if err := w.WriteHeader(); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if err := w.Write(&want[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if f == report.CSV && !strings.HasPrefix(buf.String(), strings.Join(report.LayoutHandout.Columns(), ",")+"\n") {
			t.Errorf("CSV header: %q", strings.SplitN(buf.String(), "\n", 2)[0])
		}
		got := decode(t, f, buf.Bytes())
		exp := want
		if f == report.CSV {
			exp = csvReadsAs(want)
		}
		if len(got) != len(exp) {
			t.Fatalf("%v: %d rows", f, len(got))
		}
		for i := range exp {
			if d := diffRow(&got[i], &exp[i]); d != "" || got[i].Source != exp[i].Source || got[i].Note != strings.ReplaceAll(exp[i].Note, "\r\n", "\n") {
				t.Errorf("%v row %d: %s; source %q note %q", f, i, d, got[i].Source, got[i].Note)
			}
		}
		path := filepath.Join(dir, "latest."+f.String())
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		if l, err := report.LayoutOf(path); err != nil || l != report.LayoutHandout {
			t.Errorf("%v: LayoutOf = %v, %v; want LayoutHandout", f, l, err)
		}
		// a plain report is LayoutFull, an old one LayoutV1
		plain := filepath.Join(dir, "plain."+f.String())
		os.WriteFile(plain, encode(t, f, trickyRows()), 0o600)
		if l, err := report.LayoutOf(plain); err != nil || l != report.LayoutFull {
			t.Errorf("%v: LayoutOf(plain) = %v, %v", f, l, err)
		}
	}
	old := filepath.Join(dir, "old.csv")
	os.WriteFile(old, v1Report(t, withoutNames(trickyRows()), "\n"), 0o600)
	if l, err := report.LayoutOf(old); err != nil || l != report.LayoutV1 {
		t.Errorf("LayoutOf(old) = %v, %v", l, err)
	}
	// NewWriter is LayoutFull: a hand-out row's own cells are not in it
	var buf bytes.Buffer
	w := report.NewWriter(&buf, report.CSV)
	w.Write(&want[0])
	w.Flush()
	if strings.Contains(buf.String(), "run a") {
		t.Errorf("a LayoutFull row carries the source: %q", buf.String())
	}
}
