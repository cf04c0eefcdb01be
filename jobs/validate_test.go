package jobs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

type wantErr struct {
	line int
	col  string
	msg  string // a substring of Msg
	hint string // a substring of Hint, when set
}

func TestValidateErrors(t *testing.T) {
	cases := []struct {
		name, file, content string
		d                   Defaults
		want                []wantErr
	}{
		// CSV: header problems are on line 1.
		{"unknown column", "m.csv", "user,action,colour\nalice,expire_password,red\n", Defaults{},
			[]wantErr{{1, "colour", "unknown column", "columns: user"}}},
		{"unknown column with a secret-like name is not echoed", "m.csv", "user,action,Hunter2!\nalice,expire_password,x\n", Defaults{},
			[]wantErr{{1, "#3 (its name is not shown)", "unknown column", ""}}},
		{"two user columns", "m.csv", "user,id,action\na,b,expire_password\n", Defaults{},
			[]wantErr{{1, "id", "second user column (the first is user)", "keep one of user, user_id and id"}}},
		{"two login columns", "m.csv", "login,LOGIN,action\na,b,expire_password\n", Defaults{},
			[]wantErr{{1, "LOGIN", "second user column (the first is login)", "keep one"}}},
		{"two informational login columns", "m.csv", "user,login,Login,action\na,b,c,expire_password\n", Defaults{},
			[]wantErr{{1, "Login", "the column appears twice", "keep one"}}},
		{"a column twice", "m.csv", "user,action,strict,STRICT\na,change_password,,\n", Defaults{},
			[]wantErr{{1, "STRICT", "appears twice", ""}, {2, "old_password", "requires", ""}, {2, "new_password", "requires", ""}}},
		{"no user column", "m.csv", "action\nexpire_password\n", Defaults{},
			[]wantErr{{1, "user", "no user column", ""}}},
		{"no action column and no --action", "m.csv", "user\nalice\nbob\n", Defaults{},
			[]wantErr{{1, "action", "no action column", "--action"}}},
		{"not a header", "m.csv", "alice,expire_password,Hunter2!\n", Defaults{},
			[]wantErr{{1, "", "not a header", ""}}},
		{"empty file", "m.csv", "", Defaults{},
			[]wantErr{{1, "", "empty", ""}}},
		{"header only: no rows", "m.csv", "user,action\n", Defaults{},
			[]wantErr{{1, "", "no rows", ""}}},
		// CSV: row problems.
		{"unknown action", "m.csv", "user,action\nalice,expire_pasword\n", Defaults{},
			[]wantErr{{2, "action", `unknown action`, "did you mean expire_password? actions: expire_password, "}}},
		// a passphrase that only looks like a word is never quoted
		{"password in the action column", "m.csv", "user,action\nalice,correct-horse-battery-staple\n", Defaults{},
			[]wantErr{{2, "action", `unknown action`, "actions: expire_password, "}}},
		// JSONL: the same key twice is refused, not resolved to the last
		{"jsonl duplicate key", "m.jsonl", `{"user":"alice@example.com","action":"expire_password","user":"bob@example.com"}` + "\n", Defaults{},
			[]wantErr{{1, "user", "the key appears twice", "keep one"}}},
		{"missing user", "m.csv", "user,action\n  ,expire_password\n", Defaults{},
			[]wantErr{{2, "user", "missing user", ""}}},
		{"missing action", "m.csv", "user,action\nalice,\n", Defaults{},
			[]wantErr{{2, "action", "missing action", "--action"}}},
		{"change_password lacks both passwords", "m.csv", "user,action,old_password,new_password\nalice,change_password,,\n", Defaults{},
			[]wantErr{{2, "old_password", "change_password requires old_password", ""}, {2, "new_password", "requires new_password", ""}}},
		{"reset_password without send_email", "m.csv", "user,action\nalice,reset_password\n", Defaults{},
			[]wantErr{{2, "send_email", "reset_password requires send_email", "--send-email"}}},
		{"forgot_password_set_new_password lacks answer", "m.csv", "user,action,new_password\nalice,forgot_password_set_new_password,N3w!\n", Defaults{},
			[]wantErr{{2, "recovery_answer", "requires recovery_answer", ""}}},
		{"change_recovery_question lacks all three", "m.csv", "user,action\nalice,change_recovery_question\n", Defaults{},
			[]wantErr{{2, "password", "requires password", ""}, {2, "recovery_question", "requires recovery_question", ""}, {2, "recovery_answer", "requires recovery_answer", ""}}},
		{"expire_password refuses revoke_sessions", "m.csv", "user,action,revoke_sessions\nalice,expire_password,true\n", Defaults{},
			[]wantErr{{2, "revoke_sessions", "expire_password does not take revoke_sessions",
				"expire_password does not revoke sessions: use expire_password_with_temp_password --revoke-sessions=true"}}},
		{"clear_sessions refuses everything", "m.csv", "user,action,send_email,revoke_sessions,strict,old_password,new_password,password,recovery_question,recovery_answer\nalice,clear_sessions,true,true,true,a,b,c,d,e\n", Defaults{},
			[]wantErr{{2, "send_email", "does not take", "clear_sessions"}, {2, "revoke_sessions", "does not take", "always revokes"},
				{2, "strict", "", ""}, {2, "old_password", "", ""}, {2, "new_password", "", ""}, {2, "password", "", ""},
				{2, "recovery_question", "", ""}, {2, "recovery_answer", "", ""}}},
		{"change_password refuses password", "m.csv", "user,action,old_password,new_password,password\nalice,change_password,a,b,c\n", Defaults{},
			[]wantErr{{2, "password", "does not take password", "old_password and new_password"}}},
		{"forgot_password refuses strict", "m.csv", "user,action,strict\nalice,forgot_password,false\n", Defaults{},
			[]wantErr{{2, "strict", "does not take strict", "only to change_password"}}},
		{"bad boolean", "m.csv", "user,action,send_email\nalice,forgot_password,yes\n", Defaults{},
			[]wantErr{{2, "send_email", "not a boolean", "true or false"}}},
		{"duplicate pair", "m.csv", "user,action\nalice,expire_password\nbob,expire_password\nalice,expire_password\n", Defaults{},
			[]wantErr{{4, "user", "line 2", ""}}},
		{"duplicate login differs in case", "m.csv", "login,action\nAlice@Example.com,clear_sessions\nalice@example.COM,clear_sessions\n", Defaults{},
			[]wantErr{{3, "login", "duplicate (user, action) pair: line 2", ""}}},
		{"duplicate through --action", "m.csv", "user,action\nalice,\nalice,expire_password\n", Defaults{Action: ExpirePassword},
			[]wantErr{{3, "user", "line 2", ""}}},
		{"unterminated quote", "m.csv", "user,action\nbob,expire_password\n\"alice,expire_password\n", Defaults{},
			[]wantErr{{3, "", "quote", ""}}},
		{"bare quote", "m.csv", "user,action\nal\"ice,expire_password\nbob,expire_password\n", Defaults{},
			[]wantErr{{2, "", "bare", ""}}},
		{"too many fields", "m.csv", "user,action\nalice,expire_password,x\nbob,expire_password\n", Defaults{},
			[]wantErr{{2, "", "3 fields; the header has 2", ""}}},
		{"too few fields", "m.csv", "user,action,send_email\nalice,forgot_password\n", Defaults{},
			[]wantErr{{2, "", "2 fields; the header has 3", ""}}},
		{"errors after a multi-line field keep their lines", "m.csv", "user,action,recovery_question\nalice,change_recovery_question,\"line one\nline two\"\nbob,nope,\n", Defaults{},
			[]wantErr{{2, "password", "", ""}, {2, "recovery_answer", "", ""}, {4, "action", "unknown action", ""}}},
		// JSONL: every problem is on its object's line.
		{"jsonl unknown key", "m.jsonl", `{"user":"a","action":"expire_password","colour":"red"}` + "\n", Defaults{},
			[]wantErr{{1, "colour", "unknown column", ""}}},
		{"jsonl malformed line", "m.jsonl", `{"user":"a","action":"expire_password"}` + "\n" + `{"user":"b","action":` + "\n", Defaults{},
			[]wantErr{{2, "", "malformed JSON", ""}}},
		{"jsonl not an object", "m.jsonl", "\n[1,2]\n", Defaults{},
			[]wantErr{{2, "", "not a JSON object", ""}}},
		{"jsonl number for a boolean", "m.jsonl", `{"user":"a","action":"forgot_password","send_email":1}`, Defaults{},
			[]wantErr{{1, "send_email", "not a boolean", ""}}},
		{"jsonl bad boolean string", "m.jsonl", `{"user":"a","action":"forgot_password","send_email":"maybe"}`, Defaults{},
			[]wantErr{{1, "send_email", "not a boolean", ""}}},
		{"jsonl number for a user", "m.jsonl", `{"user":5,"action":"expire_password"}`, Defaults{},
			[]wantErr{{1, "user", "not a string", ""}, {1, "user", "missing user", ""}}},
		{"jsonl null is empty", "m.jsonl", `{"user":null,"action":"expire_password"}`, Defaults{},
			[]wantErr{{1, "user", "missing user", ""}}},
		{"jsonl missing action", "m.jsonl", `{"user":"a"}`, Defaults{},
			[]wantErr{{1, "action", "missing action", "--action"}}},
		{"jsonl two user keys", "m.jsonl", `{"id":"a","user":"b","action":"expire_password"}`, Defaults{},
			[]wantErr{{1, "user", "second user key (the other is id)", ""}}},
		{"jsonl duplicate across blank lines", "m.jsonl", `{"user":"00uABCDEFGHIJ0123456","action":"clear_sessions"}` + "\n\n" + `{"id":"00uABCDEFGHIJ0123456","action":"CLEAR_SESSIONS"}` + "\n", Defaults{},
			[]wantErr{{3, "id", "line 1", ""}}},
		{"jsonl refused column", "m.jsonl", `{"user":"a","action":"forgot_password","revoke_sessions":true}`, Defaults{},
			[]wantErr{{1, "revoke_sessions", "does not take revoke_sessions", "clear_sessions row"}}},
		{"jsonl required column", "m.jsonl", `{"user":"a","action":"reset_password","send_email":null}`, Defaults{},
			[]wantErr{{1, "send_email", "requires send_email", ""}}},
		{"jsonl no rows", "m.jsonl", "\n  \n", Defaults{},
			[]wantErr{{2, "", "no rows", ""}}},
		{"jsonl empty file", "m.jsonl", "", Defaults{},
			[]wantErr{{1, "", "no rows", ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := writeManifest(t, c.file, c.content)
			_, err := m.Validate(c.d)
			if err == nil {
				t.Fatal("Validate succeeded; want errors")
			}
			got := lineErrors(t, err)
			if len(got) != len(c.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(got), len(c.want), err)
			}
			for i, w := range c.want {
				g := got[i]
				if g.File != m.Path || g.Line != w.line || g.Column != w.col ||
					!strings.Contains(g.Msg, w.msg) || !strings.Contains(g.Hint, w.hint) {
					t.Errorf("error %d = %#v\nwant line %d column %q msg ~%q hint ~%q", i, g, w.line, w.col, w.msg, w.hint)
				}
				prefix := fmt.Sprintf("%s:%d: ", m.Path, w.line)
				if w.col != "" {
					prefix += "column " + w.col + ": "
				}
				if !strings.HasPrefix(g.Error(), prefix) {
					t.Errorf("Error() = %q, want prefix %q", g.Error(), prefix)
				}
			}
		})
	}
}

func TestErrorsCappedAndCounted(t *testing.T) {
	var b strings.Builder
	b.WriteString("user,action\n")
	for i := range 25 {
		fmt.Fprintf(&b, "u%d,bogus\n", i)
	}
	m := writeManifest(t, "m.csv", b.String())
	_, err := m.Validate(Defaults{})
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v is not *Errors", err)
	}
	if errs.Total != 25 || len(errs.List) != 20 {
		t.Fatalf("Total %d, listed %d; want 25, 20", errs.Total, len(errs.List))
	}
	for i, le := range errs.List {
		if le.Line != i+2 {
			t.Errorf("List[%d].Line = %d, want %d", i, le.Line, i+2)
		}
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 21 || lines[20] != "... and 5 more errors" {
		t.Errorf("Error() ends %q (%d lines)", lines[len(lines)-1], len(lines))
	}
	if u := errs.Unwrap(); len(u) != 20 || u[0] != error(errs.List[0]) {
		t.Errorf("Unwrap gave %d errors", len(u))
	}
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 {
		t.Errorf("errors.As(*LineError) = %v", le)
	}
}

func TestLineErrorFormat(t *testing.T) {
	cases := []struct {
		e    LineError
		want string
	}{
		{LineError{File: "m.csv", Line: 3, Column: "user", Msg: "missing user"}, "m.csv:3: column user: missing user"},
		{LineError{File: "m.csv", Line: 3, Column: "user", Msg: "missing user", Hint: "add one"}, "m.csv:3: column user: missing user (hint: add one)"},
		{LineError{File: "m.jsonl", Line: 1, Msg: "malformed JSON line"}, "m.jsonl:1: malformed JSON line"},
	}
	for _, c := range cases {
		if got := c.e.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
	}
	one := &Errors{List: []*LineError{&cases[0].e}, Total: 2}
	if got, want := one.Error(), cases[0].want+"\n... and 1 more error"; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
}

func TestFlagUnused(t *testing.T) {
	cases := []struct {
		name    string
		content string
		d       Defaults
		flags   []string // flags the error must name; none: no ErrFlagUnused
	}{
		{"revoke for expire_password only", "user,action\na,expire_password\n", Defaults{RevokeSessions: ptr(true)}, []string{"--revoke-sessions"}},
		{"send-email for change_password only", "user,action,old_password,new_password\na,change_password,x,y\n", Defaults{SendEmail: ptr(false)}, []string{"--send-email"}},
		{"strict without change_password", "user,action\na,forgot_password\n", Defaults{Strict: ptr(true), SendEmail: ptr(true)}, []string{"--strict"}},
		{"all three unused", "user,action\na,clear_sessions\n", Defaults{Strict: ptr(true), SendEmail: ptr(true), RevokeSessions: ptr(false)},
			[]string{"--send-email", "--revoke-sessions", "--strict"}},
		{"one row takes it", "user,action\na,expire_password\nb,expire_password_with_temp_password\n", Defaults{RevokeSessions: ptr(true)}, nil},
		{"send-email satisfies reset_password", "user,action\na,reset_password\n", Defaults{SendEmail: ptr(true)}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := writeManifest(t, "m.csv", c.content)
			sum, err := m.Validate(c.d)
			if len(c.flags) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrFlagUnused) {
				t.Fatalf("error %v; want ErrFlagUnused", err)
			}
			if sum == nil || sum.Rows != 1 {
				t.Errorf("Summary %+v; want one row", sum)
			}
			for _, f := range c.flags {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("error %q does not name %s", err, f)
				}
			}
			var errs *Errors
			if errors.As(err, &errs) {
				t.Errorf("flag misuse reported as manifest errors: %v", errs)
			}
		})
	}

	// Manifest errors and flag misuse together: both findable.
	m := writeManifest(t, "m.csv", "user,action\n,expire_password\n")
	_, err := m.Validate(Defaults{Strict: ptr(true)})
	var errs *Errors
	if !errors.Is(err, ErrFlagUnused) || !errors.As(err, &errs) || errs.List[0].Line != 2 {
		t.Errorf("joined error = %v", err)
	}
}

func TestValidateUnknownDefaultAction(t *testing.T) {
	m := writeManifest(t, "m.csv", "user\na\n")
	if _, err := m.Validate(Defaults{Action: "nope"}); !errors.Is(err, ErrUnknownAction) {
		t.Errorf("Validate error = %v; want ErrUnknownAction", err)
	}
	if err := m.Each(Defaults{Action: "nope"}, func(*Job) error { return nil }); !errors.Is(err, ErrUnknownAction) {
		t.Errorf("Each error = %v; want ErrUnknownAction", err)
	}
}

// A cell in the action column is never quoted back: in a manifest whose
// columns are out of order it may be a password.
func TestUnknownActionNeverQuoted(t *testing.T) {
	m := writeManifest(t, "m.csv", "user,action\nalice,correct-horse-battery-staple\n")
	_, err := m.Validate(Defaults{})
	if err == nil || strings.Contains(err.Error(), "horse") {
		t.Fatalf("err = %v: want an error that does not quote the cell", err)
	}
}
