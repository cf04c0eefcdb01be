package jobs

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

// resep rewrites a comma-separated CSV with another separator, quoting as
// encoding/csv does (Excel's own output in a locale with ';').
func resep(t testing.TB, content string, comma rune, crlf bool) string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(content)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Comma = comma
	w.UseCRLF = crlf
	if err := w.WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestSeparatorDetected: a CSV separated by ';' or tabs (cells quoted where
// they hold the separator, a quote or a line break, as Excel writes them)
// reads as the same jobs as the comma-separated one, on the same lines.
func TestSeparatorDetected(t *testing.T) {
	// A row whose cells hold commas, semicolons, tabs and quotes.
	base := everyActionCSV + "ivan,change_password,,,,\"a,b;c\td\"\"e\",\"N3w;,\",,,\n"
	want := collect(t, writeManifest(t, "comma.csv", base), Defaults{})
	for _, c := range []struct {
		name  string
		comma rune
		crlf  bool
		bom   string
	}{
		{"semicolon", ';', false, ""},
		{"semicolon, CRLF and BOM", ';', true, "\uFEFF"},
		{"tab", '\t', false, ""},
		{"tab, CRLF", '\t', true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			content := c.bom + resep(t, base, c.comma, c.crlf)
			m := writeManifest(t, "m.csv", content)
			sum, err := m.Validate(Defaults{})
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if sum.Separator != c.comma || sum.Encoding != UTF8 {
				t.Errorf("Summary separator %q, encoding %q", sum.Separator, sum.Encoding)
			}
			got := collect(t, m, Defaults{})
			if len(got) != len(want) {
				t.Fatalf("%d jobs, want %d", len(got), len(want))
			}
			for i := range got {
				if view(got[i]) != view(want[i]) {
					t.Errorf("job %d = %+v, want %+v", i, view(got[i]), view(want[i]))
				}
			}
		})
	}
}

// TestSeparatorExcelQuotes: Excel quotes every header cell in some exports;
// read with a comma such a file was a "misplaced quote", and now reads.
func TestSeparatorExcelQuotes(t *testing.T) {
	content := "\"user\";\"action\";\"send_email\"\r\n\"alice@example.com\";\"reset_password\";\"false\"\r\n\r\n\"bob@example.com\";\"forgot_password\";\"\"\r\n"
	jobs := collect(t, writeManifest(t, "m.csv", content), Defaults{})
	if len(jobs) != 2 || jobs[0].User != "alice@example.com" || jobs[0].Line != 2 || jobs[1].Action != ForgotPassword || jobs[1].Line != 4 {
		t.Errorf("jobs %+v", jobs)
	}
	// Blank lines before the header move every line, as with commas.
	jobs = collect(t, writeManifest(t, "m.csv", "\r\n\n"+content), Defaults{})
	if len(jobs) != 2 || jobs[0].Line != 4 || jobs[1].Line != 6 {
		t.Errorf("after blank lines: jobs on lines %d, %d; want 4, 6", jobs[0].Line, jobs[1].Line)
	}
}

// TestSeparatorRefused: a header that splits into known columns on two
// separators is refused on its line, naming the separator, never with a
// quoting error; a row that does not follow the header's separator names it.
func TestSeparatorRefused(t *testing.T) {
	cases := []struct {
		name, content string
		want          []wantErr
	}{
		{"semicolon and comma", "user;action,send_email\na;reset_password,true\n",
			[]wantErr{{1, "", "this file is separated by ';', but its header also splits into known columns on ','", "one separator"}}},
		{"tab and comma", "user\taction,strict\n",
			[]wantErr{{1, "", "this file is separated by tabs, but its header also splits into known columns on ','", ""}}},
		{"semicolon and tab", "\nuser;action\tstrict\n",
			[]wantErr{{2, "", "this file is separated by ';', but its header also splits into known columns on tabs", ""}}},
		{"rows with commas under a ; header", "user;action\nalice,expire_password\n",
			[]wantErr{{2, "", "the row has 1 fields; the header has 2", "this file is separated by ';', as its header is"}}},
		{"a row with ; under a comma header", "user,action\nalice;expire_password\n",
			[]wantErr{{2, "", "the row has 1 fields; the header has 2", "this row holds ';' but the header is separated by ','"}}},
		{"a quoting error names the separator", "user;action\n\"al\"ice;expire_password\n",
			[]wantErr{{2, "", "misplaced quote", "the separator (';')"}}},
		{"a ; inside a column name of a comma-separated header", "user,action,x;y\nalice,expire_password,1\n",
			[]wantErr{{1, "#3 (its name is not shown)", "unknown column", ""}}},
		{"an unknown column in a ; header", "user;action;colour\nalice;expire_password;red\n",
			[]wantErr{{1, "colour", "unknown column", ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := writeManifest(t, "m.csv", c.content).Validate(Defaults{})
			got := lineErrors(t, err)
			if len(got) != len(c.want) {
				t.Fatalf("Validate = %v; want %d errors", err, len(c.want))
			}
			for i, w := range c.want {
				if got[i].Line != w.line || got[i].Column != w.col || !strings.Contains(got[i].Msg, w.msg) || !strings.Contains(got[i].Hint, w.hint) {
					t.Errorf("error %d = %v; want line %d column %q ~%q hint ~%q", i, got[i], w.line, w.col, w.msg, w.hint)
				}
			}
		})
	}
}

// TestSeparatorDuplicates: duplicates are confirmed by reading the
// earlier row with the file's separator.
func TestSeparatorDuplicates(t *testing.T) {
	orig := hashKey
	t.Cleanup(func() { hashKey = orig })
	hashKey = func(string, Action) uint64 { return 42 } // every pair collides: each is compared
	content := "user;action\nalice;expire_password\nbob;expire_password\n\"ALICE\";expire_password\n"
	_, err := writeManifest(t, "m.csv", content).Validate(Defaults{})
	got := lineErrors(t, err)
	if len(got) != 1 || got[0].Line != 4 || !strings.Contains(got[0].Msg, "line 2") {
		t.Errorf("Validate = %v; want line 4 a duplicate of line 2", err)
	}
}

// TestSeparatorCopyRows: the rows of a ;-separated manifest are copied as
// they are, after its header, and the copy reads the same.
func TestSeparatorCopyRows(t *testing.T) {
	content := "user;action;recovery_question;password;recovery_answer\r\n" +
		"a;clear_sessions;;;\r\n" +
		"b;change_recovery_question;\"two\r\nlines; and a , comma\";p;x\r\n" +
		"c;clear_sessions;;;\r\n"
	m := writeManifest(t, "m.csv", content)
	var out bytes.Buffer
	n, err := m.CopyRows(func(line int) bool { return line != 2 }, &out)
	if err != nil || n != 2 {
		t.Fatalf("CopyRows = %d, %v", n, err)
	}
	want := "user;action;recovery_question;password;recovery_answer\r\n" +
		"b;change_recovery_question;\"two\r\nlines; and a , comma\";p;x\r\n" +
		"c;clear_sessions;;;\r\n"
	if out.String() != want {
		t.Errorf("copy = %q, want %q", out.String(), want)
	}
}
