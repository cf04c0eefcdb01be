package jobs

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAction(t *testing.T) {
	for _, a := range Actions {
		for _, s := range []string{string(a), strings.ToUpper(string(a)), "  " + string(a) + "\t"} {
			got, err := ParseAction(s)
			if err != nil || got != a {
				t.Errorf("ParseAction(%q) = %q, %v; want %q", s, got, err, a)
			}
		}
	}
	for _, s := range []string{"", "expire", "expire_password_", "reset password", "Hunter2!"} {
		_, err := ParseAction(s)
		if !errors.Is(err, ErrUnknownAction) {
			t.Errorf("ParseAction(%q) error = %v; want ErrUnknownAction", s, err)
		}
		if (s == "Hunter2!" || s == "reset password") && strings.Contains(err.Error(), s) {
			t.Errorf("ParseAction(%q) error echoes the input: %v", s, err)
		}
	}
}

func TestActionsOrder(t *testing.T) {
	want := []string{"expire_password", "expire_password_with_temp_password", "reset_password", "forgot_password",
		"forgot_password_set_new_password", "change_password", "change_recovery_question", "clear_sessions"}
	if len(Actions) != len(want) {
		t.Fatalf("%d actions, want %d", len(Actions), len(want))
	}
	for i, a := range Actions {
		if string(a) != want[i] {
			t.Errorf("Actions[%d] = %q, want %q", i, a, want[i])
		}
	}
}

func TestChecksPassword(t *testing.T) {
	want := map[Action]bool{ChangePassword: true, ChangeRecoveryQuestion: true, ForgotPasswordSetNewPassword: true}
	for _, a := range Actions {
		if got := a.ChecksPassword(); got != want[a] {
			t.Errorf("%s.ChecksPassword() = %v, want %v", a, got, want[a])
		}
	}
}

// TestTakes holds SPEC.md's table, written out independently of the
// package's own table.
func TestTakes(t *testing.T) {
	cols := []string{"send_email", "revoke_sessions", "strict", "old_password", "new_password", "password", "recovery_question", "recovery_answer"}
	spec := map[Action]string{
		ExpirePassword:                 "--------",
		ExpirePasswordWithTempPassword: "-O------",
		ResetPassword:                  "RO------",
		ForgotPassword:                 "O-------",
		ForgotPasswordSetNewPassword:   "O---R--R",
		ChangePassword:                 "-OORR---",
		ChangeRecoveryQuestion:         "-----RRR",
		ClearSessions:                  "--------",
	}
	code := map[Requirement]byte{Refused: '-', Optional: 'O', Required: 'R'}
	for _, a := range Actions {
		for i, c := range cols {
			if got := code[a.Takes(c)]; got != spec[a][i] {
				t.Errorf("%s.Takes(%q) = %c, want %c", a, c, got, spec[a][i])
			}
			if got := code[a.Takes("  "+strings.ToUpper(c)+" ")]; got != spec[a][i] {
				t.Errorf("%s.Takes(upper %q) = %c, want %c", a, c, got, spec[a][i])
			}
		}
		for _, c := range []string{"user", "User_ID", "id", "login", "action"} {
			if got := a.Takes(c); got != Required {
				t.Errorf("%s.Takes(%q) = %v, want required", a, c, got)
			}
		}
		if got := a.Takes("colour"); got != Refused {
			t.Errorf("%s.Takes(colour) = %v, want refused", a, got)
		}
	}
	if got := Action("nope").Takes("user"); got != Refused {
		t.Errorf("unknown action Takes(user) = %v, want refused", got)
	}
}

// TestHints checks that every refused and required column of every action
// has a hint that names something to do.
func TestHints(t *testing.T) {
	for _, a := range Actions {
		for c := colSendEmail; c < numCols; c++ {
			switch a.takes(c) {
			case Refused:
				if h := refusedHint(a, c); h == "" {
					t.Errorf("no refused hint for %s / %s", a, colNames[c])
				}
			case Required:
				if h := requiredHint(a, c); h == "" {
					t.Errorf("no required hint for %s / %s", a, colNames[c])
				}
			}
		}
	}
	want := "expire_password does not revoke sessions: use expire_password_with_temp_password --revoke-sessions=true"
	if got := refusedHint(ExpirePassword, colRevokeSessions); got != want {
		t.Errorf("hint = %q, want %q", got, want)
	}
}

func TestFormatOf(t *testing.T) {
	for path, want := range map[string]Format{
		"a.csv": CSV, "dir.x/A.CSV": CSV, "a.jsonl": JSONL, "a.JsonL": JSONL, "a.ndjson": JSONL,
	} {
		got, err := FormatOf(path)
		if err != nil || got != want {
			t.Errorf("FormatOf(%q) = %v, %v; want %v", path, got, err, want)
		}
	}
	for _, path := range []string{"a.json", "a.txt", "a", "csv", "-", "a.csv.gz"} {
		if _, err := FormatOf(path); !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("FormatOf(%q) error = %v; want ErrUnknownFormat", path, err)
		}
	}
}

func TestUserKey(t *testing.T) {
	cases := []struct {
		user string
		isID bool
		key  string
	}{
		{"00uABCDEFGHIJ0123456", true, "00uABCDEFGHIJ0123456"},
		{"00uabcdefghij0123456", true, "00uabcdefghij0123456"},
		{"00UABCDEFGHIJ0123456", false, "00uabcdefghij0123456"}, // not an ID: 00U
		{"00uABCDEFGHIJ012345", false, "00uabcdefghij012345"},   // 16 characters after 00u
		{"00uABCDEFGHIJ0123456x", false, "00uabcdefghij0123456x"},
		{"00uABCDEFGHIJ012345-", false, "00uabcdefghij012345-"},
		{"Alice@Example.COM", false, "alice@example.com"},
	}
	for _, c := range cases {
		if got := IsUserID(c.user); got != c.isID {
			t.Errorf("IsUserID(%q) = %v, want %v", c.user, got, c.isID)
		}
		j := &Job{User: c.user, UserIsID: IsUserID(c.user)}
		if got := j.UserKey(); got != c.key {
			t.Errorf("UserKey(%q) = %q, want %q", c.user, got, c.key)
		}
	}
}
