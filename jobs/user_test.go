package jobs

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestUserCellRefused: a user cell that is . or .., or holds /, ?, #, %,
// whitespace inside, a control character or invalid UTF-8 is a LineError on
// the row's line and the user column, in CSV and in JSONL, and the message
// never quotes the cell.
func TestUserCellRefused(t *testing.T) {
	cases := []struct {
		name, user, msg string
	}{
		{"dot", ".", "the user is ."},
		{"dot dot", "..", "the user is .."},
		{"dot dot padded", "  ..  ", "the user is .."},
		{"slash", "alice/../admin", "holds a /"},
		{"leading slash", "/alice", "holds a /"},
		{"question mark", "alice?x=1", "holds a ?"},
		{"hash", "alice#frag", "holds a #"},
		{"percent", "alice%2Fbob", "holds a %"},
		{"percent encoded dot", "%2e%2e", "holds a %"},
		{"space inside", "alice smith@example.com", "whitespace inside"},
		{"two users", "alice@example.com bob@example.com", "whitespace inside"},
		{"tab inside", "alice\tsmith", "whitespace inside"},
		{"newline inside", "alice\nsmith", "whitespace inside"},
		{"no-break space inside", "alice\u00a0smith", "whitespace inside (U+00A0)"},
		{"ideographic space inside", "alice\u3000smith", "whitespace inside (U+3000)"},
		{"nul", "alice\x00", "control character (U+0000)"},
		{"bell", "al\x07ice", "control character (U+0007)"},
		{"escape", "\x1b[31malice", "control character (U+001B)"},
		{"delete", "alice\x7f", "control character (U+007F)"},
		{"C1 control", "alice\u0090x", "control character (U+0090)"},
		{"next line (a C1 control and a space)", "alice\u0085x", "whitespace inside (U+0085)"},
		{"invalid UTF-8", "alic\xe9@example.com", "not valid UTF-8"},
		{"truncated UTF-8", "alice\xc3", "not valid UTF-8"},
		{"replacement character", "alic\ufffd@example.com", "not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			csvCell := `"` + strings.ReplaceAll(c.user, `"`, `""`) + `"`
			cell, err := json.Marshal(c.user)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []struct{ name, content, col string }{
				{"m.csv", "user,action\nalice,expire_password\n" + csvCell + ",expire_password\n", "user"},
				// JSON escapes invalid UTF-8 to U+FFFD, which is refused too.
				{"m.jsonl", `{"user":"alice","action":"expire_password"}` + "\n" + `{"login":` + string(cell) + `,"action":"expire_password"}` + "\n", "login"},
			} {
				m := writeManifest(t, f.name, f.content)
				_, err := m.Validate(Defaults{})
				got := lineErrors(t, err)
				if len(got) != 1 || got[0].Line != 2 && got[0].Line != 3 || got[0].Column != f.col || !strings.Contains(got[0].Msg, c.msg) {
					t.Fatalf("%s: Validate = %v; want one error in column %s: %q", f.name, err, f.col, c.msg)
				}
				if got[0].Hint == "" {
					t.Errorf("%s: no hint: %v", f.name, got[0])
				}
				if u := strings.TrimSpace(c.user); len(u) > 2 && strings.Contains(err.Error(), u) {
					t.Errorf("%s: the error quotes the cell: %v", f.name, err)
				}
				// Each refuses the row too.
				eachErr := m.Each(Defaults{}, func(*Job) error { return nil })
				if eachErr == nil || !strings.Contains(eachErr.Error(), c.msg) {
					t.Errorf("%s: Each = %v", f.name, eachErr)
				}
			}
		})
	}
}

// TestUserCellAccepted: IDs, logins of every usual shape, non-ASCII logins
// and cells padded with white space (trimmed, as always) pass.
func TestUserCellAccepted(t *testing.T) {
	cells := map[string]string{
		"00uABCDEFGHIJ0123456":                  "00uABCDEFGHIJ0123456",
		"alice@example.com":                     "alice@example.com",
		"o'brien+ops@corp.example":              "o'brien+ops@corp.example",
		"jsmith":                                "jsmith",
		"j.smith":                               "j.smith",
		"...":                                   "...",
		".alice":                                ".alice",
		"josé.núñez@exämple.com":                "josé.núñez@exämple.com",
		"山田@example.jp":                         "山田@example.jp",
		"DOMAIN\\jsmith":                        "DOMAIN\\jsmith",
		"  padded@example.com \t":               "padded@example.com",
		"\u00a0nbsp-padded@example.com\u00a0":   "nbsp-padded@example.com",
		"a!$&*=^`{|}~_-@example.com":            "a!$&*=^`{|}~_-@example.com",
		"with\"quote@example.com":               "with\"quote@example.com",
		"comma,inside@example.com":              "comma,inside@example.com",
		"00u-not-an-id-but-a-login@example.com": "00u-not-an-id-but-a-login@example.com",
	}
	var b strings.Builder
	b.WriteString("user,action\n")
	var want []string
	for cell, trimmed := range cells {
		b.WriteString(`"` + strings.ReplaceAll(cell, `"`, `""`) + `",expire_password` + "\n")
		want = append(want, trimmed)
	}
	m := writeManifest(t, "m.csv", b.String())
	jobs := collect(t, m, Defaults{})
	if len(jobs) != len(want) {
		t.Fatalf("%d jobs, want %d", len(jobs), len(want))
	}
	for i, j := range jobs {
		if j.User != want[i] {
			t.Errorf("job %d: user %q, want %q", i, j.User, want[i])
		}
	}
}

// TestCheckUserEveryByte: every ASCII byte alone inside a login is refused
// exactly when it is a control character, white space, /, ?, # or %.
func TestCheckUserEveryByte(t *testing.T) {
	for c := range 128 {
		u := "a" + string(rune(c)) + "b"
		_, _, ok := checkUser(u)
		refused := c < 0x20 || c == 0x7f || c == ' ' || strings.ContainsRune("/?#%", rune(c))
		if ok == refused {
			t.Errorf("byte %#02x: ok = %v", c, ok)
		}
	}
}

// BenchmarkCheckUser is the per-row cost of the user rule on a login.
func BenchmarkCheckUser(b *testing.B) {
	for b.Loop() {
		if _, _, ok := checkUser("firstname.lastname@subsidiary.example.com"); !ok {
			b.Fatal("refused")
		}
	}
}

// TestSecretCellNotUTF8: a password, answer or question in another encoding
// (Windows-1252 from Excel) would reach Okta with U+FFFD in place of each
// bad byte: a wrong password that counts towards lockout. Such a cell is a
// LineError naming its column, never quoting it, in CSV and JSONL.
func TestSecretCellNotUTF8(t *testing.T) {
	cases := []struct{ name, header, row, col string }{
		{"old password", "user,action,old_password,new_password", "alice,change_password,Gr\xfc\xdf-Pw-1!,New-Pw-2!", "old_password"},
		{"new password", "user,action,old_password,new_password", "alice,change_password,Old-Pw-1!,Caf\xe9-Pw-2!", "new_password"},
		{"answer", "user,action,password,recovery_question,recovery_answer", "alice,change_recovery_question,Pw-1!,Pet?,R\xe9x", "recovery_answer"},
		{"question", "user,action,password,recovery_question,recovery_answer", "alice,change_recovery_question,Pw-1!,Caf\xe9?,Rex", "recovery_question"},
		{"replacement character", "user,action,old_password,new_password", "alice,change_password,Old-Pw-1!,Caf\ufffd-Pw-2!", "new_password"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := writeManifest(t, "m.csv", c.header+"\n"+c.row+"\n")
			_, err := m.Validate(Defaults{})
			got := lineErrors(t, err)
			if len(got) != 1 || got[0].Line != 2 || got[0].Column != c.col || !strings.Contains(got[0].Msg, "not valid UTF-8") {
				t.Fatalf("Validate = %v; want one 'not valid UTF-8' error on line 2, column %s", err, c.col)
			}
			if strings.Contains(err.Error(), "Pw-") || strings.Contains(err.Error(), "Rex") {
				t.Errorf("the error quotes a secret: %v", err)
			}
		})
	}
	// JSONL: encoding/json turns the bad byte into U+FFFD, refused too.
	m := writeManifest(t, "m.jsonl", "{\"user\":\"alice\",\"action\":\"change_password\",\"old_password\":\"Old-Pw-1!\",\"new_password\":\"Caf\xe9-Pw-2!\"}\n")
	if got := lineErrors(t, func() error { _, err := m.Validate(Defaults{}); return err }()); len(got) != 1 || got[0].Column != "new_password" {
		t.Errorf("JSONL: %v; want one error in new_password", got)
	}
	// A valid non-ASCII password passes.
	m = writeManifest(t, "ok.csv", "user,action,old_password,new_password\nalice,change_password,Grüß-Pw-1!,日本-Pw-2!\n")
	if _, err := m.Validate(Defaults{}); err != nil {
		t.Errorf("a UTF-8 password was refused: %v", err)
	}
}
