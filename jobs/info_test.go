package jobs

import (
	"strings"
	"testing"
)

// infoView is what a Job carries about who the user is.
type infoView struct {
	User                                      string
	Login, Email, FirstName, LastName, Status string
}

func infoOf(j *Job) infoView {
	return infoView{j.User, j.Login, j.Email, j.FirstName, j.LastName, j.Status}
}

// TestInformationalColumns: login (beside user, user_id or id), email,
// first_name, last_name and status are accepted by every action, carried
// to the Job trimmed, and change nothing; login alone still names the user.
func TestInformationalColumns(t *testing.T) {
	cases := []struct {
		name, file, content string
		want                []infoView
	}{
		{"csv beside user", "m.csv",
			"user,login,email,first_name,last_name,status,action\n" +
				"00uABCDEFGHIJ0123456, jsmith@corp.example ,jsmith@mail.example,Jane,Smith,ACTIVE,expire_password\n" +
				"bob@corp.example,robert@corp.example,,,,,clear_sessions\n", // a login that differs is carried as it is
			[]infoView{
				{"00uABCDEFGHIJ0123456", "jsmith@corp.example", "jsmith@mail.example", "Jane", "Smith", "ACTIVE"},
				{"bob@corp.example", "robert@corp.example", "", "", "", ""},
			}},
		{"csv beside user_id, any case and order", "m.csv",
			" Status ,EMAIL,Login,action,USER_ID,Last_Name,first_name\n" +
				"LOCKED_OUT,e@x.example,l@x.example,clear_sessions,00uABCDEFGHIJ0123456,Núñez,José\n",
			[]infoView{{"00uABCDEFGHIJ0123456", "l@x.example", "e@x.example", "José", "Núñez", "LOCKED_OUT"}}},
		{"csv beside id", "m.csv", "id,login,action\n00uABCDEFGHIJ0123456,a@x.example,clear_sessions\n",
			[]infoView{{"00uABCDEFGHIJ0123456", "a@x.example", "", "", "", ""}}},
		{"csv login alone names the user", "m.csv", "login,email,first_name,action\na@x.example,a@mail.example,Ann,clear_sessions\n",
			[]infoView{{"a@x.example", "", "a@mail.example", "Ann", "", ""}}},
		{"jsonl", "m.jsonl",
			`{"user":"00uABCDEFGHIJ0123456","login":"jsmith@corp.example","email":"j@mail.example","first_name":"Jane","last_name":"Smith","status":"ACTIVE","action":"expire_password"}` + "\n" +
				`{"login":"bob@corp.example","email":"b@mail.example","action":"clear_sessions"}` + "\n" +
				`{"LOGIN":"carol@corp.example","ID":"00uABCDEFGHIJ0123457","action":"clear_sessions","status":null}` + "\n",
			[]infoView{
				{"00uABCDEFGHIJ0123456", "jsmith@corp.example", "j@mail.example", "Jane", "Smith", "ACTIVE"},
				{"bob@corp.example", "", "b@mail.example", "", "", ""},
				{"00uABCDEFGHIJ0123457", "carol@corp.example", "", "", "", ""},
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			jobs := collect(t, writeManifest(t, c.file, c.content), Defaults{})
			if len(jobs) != len(c.want) {
				t.Fatalf("%d jobs, want %d", len(jobs), len(c.want))
			}
			for i, j := range jobs {
				if got := infoOf(j); got != c.want[i] {
					t.Errorf("job %d = %+v, want %+v", i, got, c.want[i])
				}
			}
		})
	}
}

// TestInformationalColumnsEveryAction: every action takes the informational
// columns, whatever they hold (an email that is not one, a status Okta
// does not have): they are never validated.
func TestInformationalColumnsEveryAction(t *testing.T) {
	var b strings.Builder
	b.WriteString("email,first_name,last_name,status,login,user,action,send_email,old_password,new_password,password,recovery_question,recovery_answer\n")
	rows := map[Action]string{
		ExpirePassword:                 "",
		ExpirePasswordWithTempPassword: "",
		ResetPassword:                  "false",
		ForgotPassword:                 "",
		ForgotPasswordSetNewPassword:   ",,N3w!,,,blue",
		ChangePassword:                 ",0ld,N3w",
		ChangeRecoveryQuestion:         ",,,Cur!,Q?,A",
		ClearSessions:                  "",
	}
	for i, a := range Actions {
		cells := strings.Split(rows[a]+",,,,,", ",")[:6]
		b.WriteString("not an email,F,L,NOT_A_STATUS,l/..?#%,user" + string(rune('a'+i)) + "," + string(a) + "," + strings.Join(cells, ",") + "\n")
		if a.Takes("email") != Optional || a.Takes("STATUS") != Optional {
			t.Errorf("%s.Takes: email %v, status %v; want optional", a, a.Takes("email"), a.Takes("STATUS"))
		}
	}
	jobs := collect(t, writeManifest(t, "m.csv", b.String()), Defaults{})
	if len(jobs) != len(Actions) {
		t.Fatalf("%d jobs", len(jobs))
	}
	for _, j := range jobs {
		if j.Email != "not an email" || j.Status != "NOT_A_STATUS" || j.Login != "l/..?#%" {
			t.Errorf("line %d: %+v", j.Line, infoOf(j))
		}
	}
}

// TestUnknownColumnStillRefused: a column that is neither an action column
// nor an informational one is still an error, with a hint that lists both.
func TestUnknownColumnStillRefused(t *testing.T) {
	for _, c := range []struct{ file, content, col string }{
		{"m.csv", "user,email,phone,action\na,a@x.example,555,clear_sessions\n", "phone"},
		{"m.csv", "user,display_name,action\na,Ann,clear_sessions\n", "display_name"},
		{"m.jsonl", `{"user":"a","action":"clear_sessions","email":"a@x.example","phone":"555"}` + "\n", "phone"},
	} {
		_, err := writeManifest(t, c.file, c.content).Validate(Defaults{})
		got := lineErrors(t, err)
		if len(got) != 1 || got[0].Column != c.col || got[0].Msg != "unknown column" ||
			!strings.Contains(got[0].Hint, "informational: login (beside user), email, first_name, last_name, status") {
			t.Errorf("%s: Validate = %v; want one unknown column %s with the informational columns in the hint", c.file, err, c.col)
		}
	}
}
