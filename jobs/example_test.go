package jobs_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/credbatch/credbatch/jobs"
)

// writeExample writes a manifest to a temporary directory; the caller
// removes the directory.
func writeExample(name, content string) (string, string) {
	dir, err := os.MkdirTemp("", "jobs-example")
	if err != nil {
		panic(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		panic(err)
	}
	return dir, path
}

func Example() {
	dir, path := writeExample("incident.csv", `user,action,revoke_sessions
00uABCDEFGHIJ0123456,expire_password_with_temp_password,
alice@example.com,clear_sessions,
`)
	defer os.RemoveAll(dir)

	m, err := jobs.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	d := jobs.Defaults{RevokeSessions: new(true)}
	sum, err := m.Validate(d)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("rows:", sum.Rows, "passwords:", sum.HasPasswords)
	_ = m.Each(d, func(j *jobs.Job) error {
		revoke := "-"
		if j.RevokeSessions != nil {
			revoke = fmt.Sprint(*j.RevokeSessions)
		}
		fmt.Printf("line %d: %s %s (id %v) revoke_sessions=%s\n", j.Line, j.Action, j.UserKey(), j.UserIsID, revoke)
		return nil
	})
	// Output:
	// rows: 2 passwords: false
	// line 2: expire_password_with_temp_password 00uABCDEFGHIJ0123456 (id true) revoke_sessions=true
	// line 3: clear_sessions alice@example.com (id false) revoke_sessions=-
}

func ExampleManifest_Validate() {
	dir, path := writeExample("m.jsonl", `{"user":"bob@example.com","action":"reset_password"}
{"user":"carol@example.com","action":"change_password","old_password":"0ld-Secret","revoke_sessions":"maybe"}
`)
	defer os.RemoveAll(dir)

	m, _ := jobs.Open(path)
	_, err := m.Validate(jobs.Defaults{})
	var errs *jobs.Errors
	if errors.As(err, &errs) {
		fmt.Println(errs.Total, "errors")
		for _, e := range errs.List {
			fmt.Printf("line %d, column %s: %s\n", e.Line, e.Column, e.Msg)
		}
	}
	// Output:
	// 3 errors
	// line 1, column send_email: reset_password requires send_email
	// line 2, column revoke_sessions: not a boolean
	// line 2, column new_password: change_password requires new_password
}

func ExampleManifest_Each() {
	dir, path := writeExample("m.csv", "login,action,old_password,new_password\r\nAlice@Example.com,change_password,0ld-Secret,N3w-Secret\r\n")
	defer os.RemoveAll(dir)

	m, _ := jobs.Open(path)
	if _, err := m.Validate(jobs.Defaults{}); err != nil {
		fmt.Println(err)
		return
	}
	_ = m.Each(jobs.Defaults{}, func(j *jobs.Job) error {
		// Secrets print redacted; Reveal gives the value to the one caller that sends it.
		fmt.Println(j.Line, j.User, j.UserKey(), j.NewPassword, len(j.NewPassword.Reveal()))
		return nil
	})
	// Output:
	// 2 Alice@Example.com alice@example.com [REDACTED] 10
}

func ExampleOpen() {
	_, err := jobs.Open("manifest.xlsx")
	fmt.Println(errors.Is(err, jobs.ErrUnknownFormat))
	// Output:
	// true
}
