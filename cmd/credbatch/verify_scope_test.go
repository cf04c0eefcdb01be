package main

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credbatch/credbatch/emulator"
)

// OAuth: verify asks for okta.logs.read; scopes configured without it,
// and an app not granted it, are refused naming the scope; a System Log
// that answers 403 (a token without the scope or the role) is a clear
// error naming the System Log; an app granted it verifies.
func TestVerifyLogsScope(t *testing.T) {
	// A System Log that answers 403 E0000006 (a proxy in front of the org).
	g := newVFFixture(t, 6, []string{"change_password"}, emulator.Config{DropRate: 1}, 0)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/logs" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(403)
			_, _ = io.WriteString(w, `{"errorCode":"E0000006","errorSummary":"You do not have permission to perform the requested action"}`)
			return
		}
		g.org.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	e, _, runErr := g.env()
	if err := execute(e, []string{"run", g.manifest, "--org-url", proxy.URL, "--yes", "--rate", "0"}); err != nil && !errors.Is(err, errRowsFailed) {
		t.Fatalf("run: %v\n%s", err, runErr)
	}
	e, _, stderr := g.env()
	err := execute(e, []string{"verify", g.report, "--org-url", proxy.URL})
	printError(stderr, err)
	if exitCode(err) != exitUsage || !strings.Contains(stderr.String(), "the System Log is refused to this token") ||
		!strings.Contains(stderr.String(), "E0000006") || !strings.Contains(stderr.String(), "may read the System Log") {
		t.Errorf("System Log 403: exit %d\n%s", exitCode(err), stderr)
	}
	if _, err := os.Stat(strings.TrimSuffix(g.report, ".csv") + ".verified.csv"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OUT written after a refused System Log: %v", err)
	}

	// PrivateKey: a run (with the org's API token), then verify as the app.
	for _, tc := range []struct {
		name    string
		granted []string // nil: okta.users.manage and okta.users.read
		scopes  string   // OKTA_CLIENT_SCOPES
		want    string   // in stderr; "" = verify runs
	}{
		{"scopes configured without it", nil, "okta.users.read", "lack okta.logs.read"},
		{"app not granted it", nil, "", "okta.logs.read"},
		{"app granted it", []string{"okta.users.read", "okta.logs.read"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			org := emulator.New(emulator.Config{Seed: 7, Users: 20, DropRate: 1,
				Clients: []emulator.OAuthClient{{ID: "0oa-cli-test", PublicKeyPEM: cfgKey(t, "ec-public.pem"), Scopes: tc.granted}}})
			srv := httptest.NewServer(org)
			t.Cleanup(srv.Close)
			dir := t.TempDir()
			users := org.Users()
			var b strings.Builder
			b.WriteString("user,action\n")
			for i := 1; i <= 3; i++ {
				b.WriteString(users[i].ID + ",clear_sessions\n")
			}
			manifest := cfgWrite(t, filepath.Join(dir, "m.csv"), b.String(), 0o600)
			e, _, runErr := rcEnv(map[string]string{"OKTA_CLIENT_TOKEN": org.Token(), "HOME": dir})
			if err := execute(e, []string{"run", manifest, "--org-url", srv.URL, "--yes", "--rate", "0", "--max-retries", "0"}); !errors.Is(err, errRowsFailed) {
				t.Fatalf("run: %v\n%s", err, runErr)
			}
			sent := len(org.Log())
			vars := pkVars(srv.URL)
			vars["HOME"] = dir
			if tc.scopes != "" {
				vars["OKTA_CLIENT_SCOPES"] = tc.scopes
			}
			e, stderr := cfgEnv(vars)
			err := execute(e, []string{"verify", filepath.Join(dir, "m.report.csv")})
			printError(stderr, err)
			if tc.want == "" {
				if code := exitCode(err); code != exitOK && code != exitFailures {
					t.Fatalf("exit %d\n%s", code, stderr)
				}
				logs := 0
				for _, le := range org.Log()[sent:] {
					if le.Op == emulator.OpListLogEvents && le.Status == 200 {
						logs++
					}
				}
				if logs == 0 {
					t.Errorf("no System Log query answered\n%s", stderr)
				}
				return
			}
			if exitCode(err) != exitUsage || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, want 2 naming %q\n%s", exitCode(err), tc.want, stderr)
			}
			for _, le := range org.Log()[sent:] {
				if strings.HasPrefix(le.Path, "/api/v1/users/00u") || le.Op == emulator.OpListLogEvents {
					t.Errorf("refused, yet sent %s %s", le.Method, le.Path)
				}
			}
		})
	}
}
