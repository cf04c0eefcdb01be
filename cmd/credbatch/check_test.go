package main

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/credbatch/credbatch/emulator"
)

// check in PrivateKey mode names the client, the scopes the token was
// granted and the commands they allow; a token without okta.users.manage
// cannot start a run: exit 2 naming the missing scope.
func TestCheckOAuthScopes(t *testing.T) {
	_, url := pkEmulatorScopes(t, []string{"okta.users.manage", "okta.users.read", "okta.logs.read"})
	vars := pkVars(url)
	vars["OKTA_CLIENT_SCOPES"] = "okta.users.manage,okta.users.read,okta.logs.read"
	e, stderr := cfgEnv(vars)
	var out bytes.Buffer
	e.stdout = &out
	if err := execute(e, []string{"check"}); err != nil {
		t.Fatalf("check: %v\n%s", err, stderr)
	}
	for _, want := range []string{
		"token:      accepted (PrivateKey: client 0oa-cli-test)",
		"scopes:     okta.users.manage okta.users.read okta.logs.read",
		"okta.logs.read     allows verify",
		"okta.groups.read   not granted: no manifest --group",
		"ok: a run could start",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check's output lacks %q:\n%s", want, out.String())
		}
	}

	// An app granted only okta.users.read: no run.
	_, url2 := pkEmulatorScopes(t, []string{"okta.users.read"})
	vars = pkVars(url2)
	vars["OKTA_CLIENT_SCOPES"] = "okta.users.read"
	e, stderr = cfgEnv(vars)
	out.Reset()
	e.stdout = &out
	err := execute(e, []string{"check"})
	if exitCode(err) != exitUsage || !strings.Contains(err.Error(), "lacks okta.users.manage") {
		t.Fatalf("check with okta.users.read only: exit %d (%v), want 2 naming okta.users.manage\n%s%s", exitCode(err), err, out.String(), stderr)
	}
}

// pkEmulatorScopes is pkEmulator's org whose app was granted only scopes.
func pkEmulatorScopes(t *testing.T, scopes []string) (*emulator.Org, string) {
	t.Helper()
	org := emulator.New(emulator.Config{Users: 5, Seed: 9, Clients: []emulator.OAuthClient{
		{ID: "0oa-cli-test", PublicKeyPEM: cfgKey(t, "ec-public.pem"), Scopes: scopes},
	}})
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	return org, srv.URL
}
