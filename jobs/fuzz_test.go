package jobs

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzManifest feeds arbitrary bytes as a CSV and as a JSONL manifest:
// nothing panics, every LineError names the file and a line ≥ 1, and a
// manifest that validates streams as many jobs as it has rows.
func FuzzManifest(f *testing.F) {
	for _, seed := range []string{
		everyActionCSV,
		everyActionJSONL,
		"",
		"user,action\n",
		"\uFEFFuser,action\r\na,expire_password\r\n",
		"user,action,recovery_question\na,change_recovery_question,\"x\ny\"\n",
		"user,action\n\"a,expire_password\n",
		"user,action\na\"b,expire_password\n",
		"user,login,action,x\na,b,c\n",
		`{"user":"a","action":"reset_password","send_email":"true"}` + "\n\n{",
		`{"user":1,"action":null,"strict":2}`,
		"[]\nnull\n\"x\"\n",
		"user;action;recovery_question\r\na;change_recovery_question;\"x;\ny\"\r\n",
		"\"user\"\t\"action\"\na\texpire_password\n",
		"user;action,strict\n",
		"user,action\n.,expire_password\n..,clear_sessions\na/b,expire_password\n",
		string(toUTF16("user\taction\r\nb\u00e9\U0001F436\texpire_password\r\n", false)),
		string(toUTF16(`{"user":"a","action":"clear_sessions"}`+"\n", true)),
		"\xff\xfeu\x00\x00\xd8,\x00",
		"\xff\xfe\x00\x00",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		for _, name := range []string{"m.csv", "m.jsonl"} {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			m, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := m.Validate(Defaults{})
			if sum == nil {
				t.Fatalf("%s: no Summary (error %v)", name, err)
			}
			var errs *Errors
			if err != nil && asErrors(err, &errs) {
				if errs.Total < len(errs.List) || len(errs.List) > MaxListed {
					t.Fatalf("%s: Total %d, listed %d", name, errs.Total, len(errs.List))
				}
				for _, le := range errs.List {
					if le.Line < 1 || le.File != path {
						t.Fatalf("%s: bad LineError %#v", name, le)
					}
				}
			}
			n := 0
			eachErr := m.Each(Defaults{}, func(j *Job) error {
				if j.Line < 1 {
					t.Fatalf("%s: job on line %d", name, j.Line)
				}
				n++
				return nil
			})
			if err == nil && (eachErr != nil || n != sum.Rows) {
				t.Fatalf("%s: valid manifest: Each = %v after %d of %d rows", name, eachErr, n, sum.Rows)
			}
			if _, err := m.CopyRows(func(line int) bool { return line%2 == 0 }, discard{}); err != nil {
				t.Fatalf("%s: CopyRows: %v", name, err)
			}
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
