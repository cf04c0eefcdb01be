package jobs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credbatch/credbatch/internal/secret"
)

// jobView is a Job with its secrets revealed, for comparisons.
type jobView struct {
	Line                                 int
	User                                 string
	UserIsID                             bool
	Action                               Action
	SendEmail, RevokeSessions, Strict    string
	Old, New, Password, Answer, Question string
}

func view(j *Job) jobView {
	return jobView{j.Line, j.User, j.UserIsID, j.Action, boolStr(j.SendEmail), boolStr(j.RevokeSessions), boolStr(j.Strict),
		j.OldPassword.Reveal(), j.NewPassword.Reveal(), j.Password.Reveal(), j.RecoveryAnswer.Reveal(), j.RecoveryQuestion}
}

// everyAction is one valid row per action; want is the jobs it must give.
var everyActionCSV = `user,action,send_email,revoke_sessions,strict,old_password,new_password,password,recovery_question,recovery_answer
00uABCDEFGHIJ0123456,expire_password,,,,,,,,
Bob@Example.com,expire_password_with_temp_password,,TRUE,,,,,,
carol,reset_password,false,false,,,,,,
dave,forgot_password,,,,,,,,
erin,forgot_password_set_new_password,true,,,,N3w pass!,,,blue
frank,change_password,,,true,0ld,N3w,,,
grace,change_recovery_question,,,,,,Cur!,  Favourite colour?  , green 
heidi,clear_sessions,,,,,,,,
`

var everyActionJSONL = `{"user":"00uABCDEFGHIJ0123456","action":"expire_password"}
{"login":"Bob@Example.com","action":"expire_password_with_temp_password","revoke_sessions":"TRUE"}
{"user":"carol","action":"reset_password","send_email":false,"revoke_sessions":false}
{"user":"dave","action":"forgot_password","send_email":null}
{"user":"erin","action":"forgot_password_set_new_password","send_email":true,"new_password":"N3w pass!","recovery_answer":"blue"}
{"user":"frank","action":"change_password","strict":"true","old_password":"0ld","new_password":"N3w"}
{"user":"grace","action":"change_recovery_question","password":"Cur!","recovery_question":"  Favourite colour?  ","recovery_answer":" green "}
{"USER":"heidi","Action":"Clear_Sessions"}
`

func everyActionWant(firstLine int) []jobView {
	return []jobView{
		{firstLine + 0, "00uABCDEFGHIJ0123456", true, ExpirePassword, "nil", "nil", "nil", "", "", "", "", ""},
		{firstLine + 1, "Bob@Example.com", false, ExpirePasswordWithTempPassword, "nil", "true", "nil", "", "", "", "", ""},
		{firstLine + 2, "carol", false, ResetPassword, "false", "false", "nil", "", "", "", "", ""},
		{firstLine + 3, "dave", false, ForgotPassword, "nil", "nil", "nil", "", "", "", "", ""},
		{firstLine + 4, "erin", false, ForgotPasswordSetNewPassword, "true", "nil", "nil", "", "N3w pass!", "", "blue", ""},
		{firstLine + 5, "frank", false, ChangePassword, "nil", "nil", "true", "0ld", "N3w", "", "", ""},
		{firstLine + 6, "grace", false, ChangeRecoveryQuestion, "nil", "nil", "nil", "", "", "Cur!", " green ", "Favourite colour?"},
		{firstLine + 7, "heidi", false, ClearSessions, "nil", "nil", "nil", "", "", "", "", ""},
	}
}

func checkJobs(t *testing.T, got []*Job, want []jobView) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d jobs, want %d", len(got), len(want))
	}
	for i := range want {
		if g := view(got[i]); g != want[i] {
			t.Errorf("job %d:\n got %+v\nwant %+v", i, g, want[i])
		}
	}
}

func TestEveryActionValid(t *testing.T) {
	for _, c := range []struct {
		name, content string
		firstLine     int
	}{
		{"m.csv", everyActionCSV, 2},
		{"m.jsonl", everyActionJSONL, 1},
		{"m.ndjson", everyActionJSONL, 1},
		{"bom-crlf.csv", "\uFEFF" + strings.ReplaceAll(everyActionCSV, "\n", "\r\n"), 2},
		{"bom-crlf.jsonl", "\uFEFF" + strings.ReplaceAll(everyActionJSONL, "\n", "\r\n"), 1},
		{"no-final-newline.csv", strings.TrimSuffix(everyActionCSV, "\n"), 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := writeManifest(t, c.name, c.content)
			sum, err := m.Validate(Defaults{})
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if sum.Rows != 8 || !sum.HasPasswords || sum.Size != int64(len(c.content)) {
				t.Errorf("Summary = %+v", sum)
			}
			for _, a := range Actions {
				if sum.PerAction[a] != 1 {
					t.Errorf("PerAction[%s] = %d, want 1", a, sum.PerAction[a])
				}
			}
			hash, size, err := m.Fingerprint()
			if err != nil || hash != sum.SHA256 || size != sum.Size {
				t.Errorf("Fingerprint = %s, %d, %v; Summary %s, %d", hash, size, err, sum.SHA256, sum.Size)
			}
			checkJobs(t, collect(t, m, Defaults{}), everyActionWant(c.firstLine))
		})
	}
}

func TestHasPasswordsFalse(t *testing.T) {
	m := writeManifest(t, "m.csv", "user,action,old_password\na,expire_password,\n")
	sum, err := m.Validate(Defaults{})
	if err != nil || sum.HasPasswords {
		t.Errorf("Summary %+v, %v; want no passwords", sum, err)
	}
}

func TestDefaults(t *testing.T) {
	content := `user,action,send_email,revoke_sessions,strict,old_password,new_password
a,reset_password,,,,,
b,reset_password,false,true,,,
c,expire_password,,,,,
d,expire_password_with_temp_password,,,,,
e,change_password,,false,,x,y
f,forgot_password,,,,,
g,,,,,,
`
	d := Defaults{Action: ClearSessions, SendEmail: ptr(true), RevokeSessions: ptr(true), Strict: ptr(false)}
	want := []struct {
		user                 string
		action               Action
		send, revoke, strict string
	}{
		{"a", ResetPassword, "true", "true", "nil"},                 // defaults fill both columns it takes
		{"b", ResetPassword, "false", "true", "nil"},                // the row wins
		{"c", ExpirePassword, "nil", "nil", "nil"},                  // refuses all three: no default applied
		{"d", ExpirePasswordWithTempPassword, "nil", "true", "nil"}, // takes revoke only
		{"e", ChangePassword, "nil", "false", "false"},              // the row's false wins; strict from the flag
		{"f", ForgotPassword, "true", "nil", "nil"},                 // send_email only
		{"g", ClearSessions, "nil", "nil", "nil"},                   // the --action default
	}
	m := writeManifest(t, "m.csv", content)
	got := collect(t, m, d)
	if len(got) != len(want) {
		t.Fatalf("%d jobs", len(got))
	}
	for i, w := range want {
		j := got[i]
		if j.User != w.user || j.Action != w.action || boolStr(j.SendEmail) != w.send || boolStr(j.RevokeSessions) != w.revoke || boolStr(j.Strict) != w.strict {
			t.Errorf("job %d = %s %s send=%s revoke=%s strict=%s; want %+v", i, j.User, j.Action,
				boolStr(j.SendEmail), boolStr(j.RevokeSessions), boolStr(j.Strict), w)
		}
	}
	// Each job has its own booleans: changing one changes no other.
	*got[0].SendEmail = false
	if !*got[5].SendEmail || !*d.SendEmail {
		t.Error("jobs share a boolean with each other or with Defaults")
	}

	// Without an action column, --action gives every row its action.
	m = writeManifest(t, "m.jsonl", `{"user":"a"}`+"\n"+`{"user":"b","action":""}`+"\n")
	for _, j := range collect(t, m, Defaults{Action: ExpirePassword}) {
		if j.Action != ExpirePassword {
			t.Errorf("%s: action %q", j.User, j.Action)
		}
	}
	m = writeManifest(t, "m.csv", "user\na\nb\n")
	if n := len(collect(t, m, Defaults{Action: ClearSessions})); n != 2 {
		t.Errorf("%d jobs, want 2", n)
	}
}

func TestMultiLineFieldLines(t *testing.T) {
	content := "user,action,password,recovery_question,recovery_answer\r\n" +
		"a,change_recovery_question,p,\"What was\r\nyour first\r\npet?\",rex\r\n" + // lines 2-4
		"\r\n" + // a blank line (5) is skipped
		"b,change_recovery_question,p,\"one\nline \"\"two\"\"\",x\r\n" + // lines 6-7
		"c,clear_sessions,,,\r\n" // line 8
	m := writeManifest(t, "m.csv", content)
	got := collect(t, m, Defaults{})
	lines := []int{2, 6, 8}
	if len(got) != 3 {
		t.Fatalf("%d jobs", len(got))
	}
	for i, j := range got {
		if j.Line != lines[i] {
			t.Errorf("job %s on line %d, want %d", j.User, j.Line, lines[i])
		}
	}
	if q := got[0].RecoveryQuestion; q != "What was\nyour first\npet?" {
		t.Errorf("question %q", q)
	}
	if q := got[1].RecoveryQuestion; q != `one`+"\n"+`line "two"` {
		t.Errorf("question %q", q)
	}
}

func TestDuplicateHashCollision(t *testing.T) {
	orig := hashKey
	t.Cleanup(func() { hashKey = orig })
	hashKey = func(string, Action) uint64 { return 42 } // every pair collides

	cases := []struct {
		name, content string
		want          []wantErr
	}{
		{"csv", "user,action\n" +
			"alice,expire_password\n" + // 2
			"bob,expire_password\n" + // 3: collides with 2, not a duplicate
			"alice,clear_sessions\n" + // 4: collides, not a duplicate
			"BOB,expire_password\n" + // 5: duplicate of 3 (through the exact fallback)
			"ALICE,expire_password\n" + // 6: duplicate of 2 (confirmed by its exact pair)
			"00uABCDEFGHIJ0123456,clear_sessions\n" + // 7
			"00uabcdefghij0123456,clear_sessions\n", // 8: IDs are case-sensitive: not a duplicate
			[]wantErr{{5, "user", "line 3", ""}, {6, "user", "line 2", ""}}},
		{"jsonl", `{"user":"alice","action":"expire_password"}` + "\n" +
			`{"user":"bob","action":"expire_password"}` + "\n\n" +
			`{"user":"bob","action":"expire_password"}` + "\n" +
			`{"user":"carol","action":"expire_password"}` + "\n",
			[]wantErr{{4, "user", "line 2", ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := writeManifest(t, "m."+c.name, c.content)
			_, err := m.Validate(Defaults{})
			got := lineErrors(t, err)
			if len(got) != len(c.want) {
				t.Fatalf("got %v; want %d errors", err, len(c.want))
			}
			for i, w := range c.want {
				if got[i].Line != w.line || got[i].Column != w.col || !strings.Contains(got[i].Msg, w.msg) {
					t.Errorf("error %d = %v; want line %d %s ~%q", i, got[i], w.line, w.col, w.msg)
				}
			}
		})
	}
}

func TestCopyRowsRoundTrip(t *testing.T) {
	for _, c := range []struct{ name, content string }{
		{"m.csv", everyActionCSV},
		{"crlf.csv", "\uFEFF" + strings.ReplaceAll(everyActionCSV, "\n", "\r\n")},
		{"multiline.csv", "user,action,password,recovery_question,recovery_answer\n" +
			"a,change_recovery_question,p,\"q\non two lines\",x\n" +
			"b,expire_password,,,\n" +
			"c,change_recovery_question,p,\"also\r\ntwo\",y"}, // no final newline
		{"m.jsonl", everyActionJSONL},
		{"blanks.jsonl", "\n" + strings.ReplaceAll(everyActionJSONL, "\n", "\r\n\n")},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := writeManifest(t, c.name, c.content)
			all := collect(t, m, Defaults{})
			for _, parity := range []int{0, 1} {
				keep := func(line int) bool {
					for i, j := range all {
						if j.Line == line {
							return i%2 == parity
						}
					}
					t.Errorf("keep called with line %d, which starts no row", line)
					return false
				}
				var out bytes.Buffer
				n, err := m.CopyRows(keep, &out)
				if err != nil {
					t.Fatal(err)
				}
				var want []jobView
				for i, j := range all {
					if i%2 == parity {
						want = append(want, view(j))
					}
				}
				if n != len(want) {
					t.Errorf("CopyRows copied %d rows, want %d", n, len(want))
				}
				if !bytes.Contains([]byte(c.content), out.Bytes()[min(out.Len(), 3):min(out.Len(), 20)]) {
					t.Errorf("copy does not start with the original bytes: %q", out.String())
				}
				copied := writeManifest(t, c.name, out.String())
				got := collect(t, copied, Defaults{})
				if len(got) != len(want) {
					t.Fatalf("copy gives %d jobs, want %d:\n%s", len(got), len(want), out.String())
				}
				for i := range got {
					g := view(got[i])
					g.Line = want[i].Line // lines move in the copy
					if g != want[i] {
						t.Errorf("copied job %d = %+v, want %+v", i, g, want[i])
					}
				}
			}
		})
	}
}

func TestCopyRowsBytes(t *testing.T) {
	content := "User,Action\r\n\"a\",expire_password\r\nb,clear_sessions\r\n\"c\nc\",clear_sessions\r\n"
	m := writeManifest(t, "m.csv", content)
	var out bytes.Buffer
	n, err := m.CopyRows(func(line int) bool { return line != 3 }, &out)
	if err != nil || n != 2 {
		t.Fatalf("CopyRows = %d, %v", n, err)
	}
	want := "User,Action\r\n\"a\",expire_password\r\n\"c\nc\",clear_sessions\r\n"
	if out.String() != want {
		t.Errorf("copy = %q, want %q", out.String(), want)
	}
	out.Reset()
	if n, err := m.CopyRows(func(int) bool { return false }, &out); err != nil || n != 0 || out.String() != "User,Action\r\n" {
		t.Errorf("copy of no rows = %d, %v, %q; want the header alone", n, err, out.String())
	}
}

// TestSecretsNeverInErrors puts secrets in every place a manifest can hold
// them, wrongly, and checks no error string carries one.
func TestSecretsNeverInErrors(t *testing.T) {
	const s = "Hunter2-SECRET!"
	manifests := map[string]string{
		"refused.csv":     "user,action,old_password,new_password,password,recovery_answer\na,expire_password," + s + "," + s + "," + s + "," + s + "\n",
		"fields.csv":      "user,action,password\na,change_recovery_question," + s + ",extra\n",
		"quote.csv":       "user,action,password\na,change_recovery_question,\"" + s + "\n",
		"bare.csv":        "user,action,password\na,change_recovery_question,x" + s + "\"y\n",
		"action.csv":      "user,action,password\na," + s + "," + s + "\n",
		"bool.csv":        "user,action,send_email\na,forgot_password," + s + "\n",
		"noheader.csv":    "alice,change_password," + s + "," + s + "\n",
		"header.csv":      "user,action," + s + "\nalice,expire_password,x\n",
		"dup.csv":         "user,action,old_password,new_password\na,change_password," + s + ",n\na,change_password,o," + s + "\n",
		"refused.jsonl":   `{"user":"a","action":"clear_sessions","password":"` + s + `","recovery_answer":"` + s + `"}`,
		"malformed.jsonl": `{"user":"a","action":"change_password","old_password":"` + s + `,"new_password":"x"}`,
		"type.jsonl":      `{"user":"a","action":"change_password","old_password":["` + s + `"]}`,
		"badjson.jsonl":   `{"user":"a","password":"` + s + `"` + s + `}`,
	}
	for name, content := range manifests {
		t.Run(name, func(t *testing.T) {
			m := writeManifest(t, name, content)
			_, err := m.Validate(Defaults{})
			if err == nil {
				t.Fatal("Validate succeeded; want errors")
			}
			if strings.Contains(err.Error(), "Hunter2") || strings.Contains(fmt.Sprintf("%+v %#v", err, lineErrors(t, err)), "Hunter2") {
				t.Errorf("a secret reached an error: %v", err)
			}
			eachErr := m.Each(Defaults{}, func(j *Job) error {
				if strings.Contains(fmt.Sprintf("%v %+v %#v", j, j, *j), "Hunter2") {
					t.Errorf("a Job prints a secret: %+v", j)
				}
				return nil
			})
			if eachErr != nil && strings.Contains(eachErr.Error(), "Hunter2") {
				t.Errorf("a secret reached Each's error: %v", eachErr)
			}
		})
	}
	// A valid job holds the secrets, printing none.
	m := writeManifest(t, "ok.csv", "user,action,old_password,new_password\na,change_password,"+s+","+s+"\n")
	jobs := collect(t, m, Defaults{})
	if got := fmt.Sprintf("%v %+v %#v", jobs[0], jobs[0], *jobs[0]); strings.Contains(got, "Hunter2") || !strings.Contains(got, secret.Redacted) {
		t.Errorf("Job prints %s", got)
	}
	if jobs[0].OldPassword.Reveal() != s {
		t.Error("the secret was not kept")
	}
}

func TestEachStopsAtFnError(t *testing.T) {
	m := writeManifest(t, "m.csv", everyActionCSV)
	stop := errors.New("stop")
	calls := 0
	err := m.Each(Defaults{}, func(j *Job) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 3 {
		t.Errorf("Each = %v after %d calls; want stop after 3", err, calls)
	}
}

func TestEachInvalidRow(t *testing.T) {
	m := writeManifest(t, "m.csv", "user,action\na,expire_password\nb,nope\nc,expire_password\n")
	var seen []string
	err := m.Each(Defaults{}, func(j *Job) error { seen = append(seen, j.User); return nil })
	var le *LineError
	if !errors.As(err, &le) || le.Line != 3 || le.Column != "action" {
		t.Fatalf("Each = %v; want the LineError of line 3", err)
	}
	if len(seen) != 1 || seen[0] != "a" {
		t.Errorf("jobs before the error: %v", seen)
	}
	m = writeManifest(t, "m.csv", "user,action,colour\na,expire_password,x\n")
	if err := m.Each(Defaults{}, func(*Job) error { t.Error("fn called"); return nil }); !errors.As(err, &le) || le.Line != 1 {
		t.Errorf("Each = %v; want the header's LineError", err)
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open("-"); err == nil {
		t.Error("Open(-) succeeded")
	}
	if _, err := Open(filepath.Join(dir, "missing.csv")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v", err)
	}
	sub := filepath.Join(dir, "d.csv")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(sub); err == nil || !strings.Contains(err.Error(), "regular") {
		t.Errorf("Open(dir) = %v", err)
	}
	txt := filepath.Join(dir, "m.txt")
	if err := os.WriteFile(txt, []byte("user,action\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(txt); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("Open(.txt) = %v", err)
	}
	m := writeManifest(t, "M.JSONL", "{}")
	if m.Format != JSONL || m.Format.String() != "jsonl" || CSV.String() != "csv" {
		t.Errorf("Format = %v", m.Format)
	}
}

func TestCopyStdin(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "r.manifest")
	if err := CopyStdin(strings.NewReader(everyActionCSV), dst); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(dst); string(b) != everyActionCSV {
		t.Error("content differs")
	}
	if err := CopyStdin(strings.NewReader("x"), dst); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second CopyStdin = %v; want ErrExist", err)
	}
	if b, _ := os.ReadFile(dst); string(b) != everyActionCSV {
		t.Error("an existing file was changed")
	}
	failing := filepath.Join(t.TempDir(), "f.manifest")
	if err := CopyStdin(errReader{}, failing); err == nil {
		t.Error("CopyStdin of a failing reader succeeded")
	}
	if _, err := os.Stat(failing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed copy left %s behind", failing)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("read failed") }

// TestEachRefillsItsJob: Each hands every row the same Job, refilled whole:
// nothing of a row with every column set survives into the next, bare one.
func TestEachRefillsItsJob(t *testing.T) {
	m := writeManifest(t, "m.csv", "user,action,old_password,new_password,strict,email,first_name\n"+
		"alice,change_password,Old-Pw-1!,New-Pw-2!,true,alice@example.com,Alice\n"+
		"bob,expire_password,,,,,\n")
	var first *Job
	var got []Job
	if err := m.Each(Defaults{}, func(j *Job) error {
		if first == nil {
			first = j
		} else if j != first {
			t.Error("Each allocated a second Job")
		}
		got = append(got, *j)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Strict == nil || got[0].OldPassword.IsZero() || got[0].Email == "" {
		t.Fatalf("jobs %+v: want alice's with its columns, then bob's", got)
	}
	if b := got[1]; b.User != "bob" || b.Line != 3 || b.Action != ExpirePassword || b.Strict != nil || !b.OldPassword.IsZero() ||
		!b.NewPassword.IsZero() || b.Email != "" || b.FirstName != "" || b.UserIsID {
		t.Errorf("bob's job %+v kept something of alice's", b)
	}
}
