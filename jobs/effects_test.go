package jobs

import "testing"

// TestEffects: Validate counts the emails Okta will send (reset_password with
// send_email true; forgot_password and forgot_password_set_new_password
// unless send_email is false: Okta's default is true), the sessions revoked
// (revoke_sessions true, and every clear_sessions row), the temporary
// passwords and reset links that land in the report, and the logins to look
// up; a --send-email default counts as the rows' own value.
func TestEffects(t *testing.T) {
	const manifest = `user,action,send_email,revoke_sessions,new_password,recovery_answer
a@example.com,reset_password,true,,,
b@example.com,reset_password,false,true,,
c@example.com,forgot_password,,,,
d@example.com,forgot_password,false,,,
00uAAAAAAAAAAAAAAAAA,forgot_password_set_new_password,,,New-Pw-1!,blue
00uBBBBBBBBBBBBBBBBB,expire_password_with_temp_password,,true,,
00uCCCCCCCCCCCCCCCCC,expire_password_with_temp_password,,,,
00uDDDDDDDDDDDDDDDDD,clear_sessions,,,,
e@example.com,expire_password,,,,
`
	m := writeManifest(t, "m.csv", manifest)
	sum, err := m.Validate(Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	want := Effects{Logins: 5, Emails: 3, Revoked: 3, TempPasswords: 2, ResetLinks: 2}
	if sum.Effects != want {
		t.Errorf("Effects = %+v, want %+v", sum.Effects, want)
	}
	// --send-email=false for the rows that leave it empty: c's forgot_password
	// and the forgot_password_set_new_password row no longer email.
	f := false
	sum, err = m.Validate(Defaults{SendEmail: &f})
	if err != nil {
		t.Fatal(err)
	}
	want.Emails, want.ResetLinks = 1, 3
	if sum.Effects != want {
		t.Errorf("with --send-email=false: Effects = %+v, want %+v", sum.Effects, want)
	}
}
