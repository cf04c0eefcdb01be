package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/report"
)

const cfgKeys = "../../testdata/keys/"

func cfgKey(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(cfgKeys + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cfgEnv is an env whose variables come from vars.
func cfgEnv(vars map[string]string) (*env, *bytes.Buffer) {
	var stderr bytes.Buffer
	return &env{
		stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr,
		getenv:     func(k string) string { return vars[k] },
		isTerminal: func() bool { return false },
		feed:       context.Background(), hard: context.Background(),
	}, &stderr
}

func cfgWrite(t *testing.T, path, text string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask
		t.Fatal(err)
	}
	return path
}

// indent puts a PEM under a YAML block scalar.
func indent(s, pad string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = pad + lines[i]
	}
	return strings.Join(lines, "\n")
}

// TestSettingsPrecedence: flag > OKTA_CLIENT_* > ./.okta.yaml >
// ~/.okta/okta.yaml, setting by setting.
func TestSettingsPrecedence(t *testing.T) {
	const local = `okta:
  client:
    orgUrl: https://local.okta.com
    token: tok-local-0123456789
    authorizationMode: Bearer
`
	const home = `okta:
  client:
    orgUrl: https://home.okta.com
    token: tok-home-0123456789
    authorizationMode: SSWS
    clientId: 0oa-home
`
	cases := []struct {
		name       string
		flagOrg    string
		flagMode   string
		tokenFile  string // contents; "" = no --token-file
		vars       map[string]string
		local      string // "" = no ./.okta.yaml
		home       string
		wantOrg    string
		wantMode   okta.AuthMode
		wantToken  string
		wantErr    string
		wantStderr string
	}{
		{name: "home file only", home: home,
			wantOrg: "https://home.okta.com", wantMode: okta.AuthSSWS, wantToken: "tok-home-0123456789"},
		{name: "local file beats home", local: local, home: home,
			wantOrg: "https://local.okta.com", wantMode: okta.AuthBearer, wantToken: "tok-local-0123456789"},
		{name: "local file fills in what it lacks from home", local: "okta:\n  client:\n    authorizationMode: Bearer\n", home: home,
			wantOrg: "https://home.okta.com", wantMode: okta.AuthBearer, wantToken: "tok-home-0123456789"},
		{name: "environment beats files", local: local, home: home,
			vars:    map[string]string{"OKTA_CLIENT_ORGURL": "https://env.okta.com", "OKTA_CLIENT_TOKEN": "tok-env-0123456789", "OKTA_CLIENT_AUTHORIZATIONMODE": "ssws"},
			wantOrg: "https://env.okta.com", wantMode: okta.AuthSSWS, wantToken: "tok-env-0123456789"},
		{name: "flags beat the environment", flagOrg: "https://flag.okta.com", flagMode: "Bearer", tokenFile: "tok-file-0123456789\n",
			vars:    map[string]string{"OKTA_CLIENT_ORGURL": "https://env.okta.com", "OKTA_CLIENT_TOKEN": "tok-env-0123456789", "OKTA_CLIENT_AUTHORIZATIONMODE": "SSWS"},
			wantOrg: "https://flag.okta.com", wantMode: okta.AuthBearer, wantToken: "tok-file-0123456789"},
		{name: "empty environment value falls through", local: local,
			vars:    map[string]string{"OKTA_CLIENT_ORGURL": "  "},
			wantOrg: "https://local.okta.com", wantMode: okta.AuthBearer, wantToken: "tok-local-0123456789"},
		{name: "nothing anywhere", wantErr: "no Okta org given"},
		{name: "no token", vars: map[string]string{"OKTA_CLIENT_ORGURL": "https://acme.okta.com"}, wantErr: "no API token given"},
		{name: "bad mode names its source", local: "okta:\n  client:\n    authorizationMode: Kerberos\n", vars: map[string]string{"OKTA_CLIENT_ORGURL": "https://acme.okta.com"},
			wantErr: "okta.client.authorizationMode"},
		{name: "admin host from a file", home: "okta:\n  client:\n    orgUrl: https://acme-admin.okta.com\n", wantErr: "Admin Console"},
		{name: "malformed YAML", local: "okta:\n  client:\n    token: [tok-secret-0123456789\n", wantErr: "not valid YAML"},
		{name: "client is not a mapping", local: "okta:\n  client: hello\n", wantErr: "okta.client is not a mapping"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			vars := map[string]string{"HOME": filepath.Join(dir, "home")}
			for k, v := range c.vars {
				vars[k] = v
			}
			e, stderr := cfgEnv(vars)
			localPath := filepath.Join(dir, "cwd", ".okta.yaml")
			homePath := filepath.Join(dir, "home", ".okta", "okta.yaml")
			if c.local != "" {
				cfgWrite(t, localPath, c.local, 0o600)
			}
			if c.home != "" {
				cfgWrite(t, homePath, c.home, 0o600)
			}
			o := &runOpts{orgURL: c.flagOrg, authMode: c.flagMode, timeout: 7 * time.Second}
			if c.tokenFile != "" {
				o.tokenFile = cfgWrite(t, filepath.Join(dir, "token"), c.tokenFile, 0o600)
			}
			files := []string{localPath, filepath.Join(vars["HOME"], ".okta", "okta.yaml")}
			cfg, err := loadClientConfig(e, o, files)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want %q", err, c.wantErr)
				}
				if exitCode(err) != exitUsage {
					t.Errorf("exit %d, want 2", exitCode(err))
				}
				if strings.Contains(err.Error(), "tok-secret") {
					t.Errorf("error quotes the file: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.OrgURL != c.wantOrg || cfg.AuthMode != c.wantMode || cfg.Token.Reveal() != c.wantToken || cfg.Timeout != 7*time.Second {
				t.Errorf("got org %s mode %s token %q timeout %s; want %s %s %q", cfg.OrgURL, cfg.AuthMode, cfg.Token.Reveal(), cfg.Timeout, c.wantOrg, c.wantMode, c.wantToken)
			}
			if strings.Contains(stderr.String(), "warning") {
				t.Errorf("unexpected warning: %s", stderr)
			}
		})
	}
}

// TestSettingsPrivateKey: PrivateKey mode's settings from the environment
// and the files: the key as PEM text (real or \n newlines), a path, a
// path under ~; scopes as a list or a comma string; refusals.
func TestSettingsPrivateKey(t *testing.T) {
	rsa := cfgKey(t, "rsa-pkcs1.pem")
	ec := cfgKey(t, "ec-pkcs8.pem")
	dir := t.TempDir()
	homeDir := filepath.Join(dir, "home")
	keyPath := cfgWrite(t, filepath.Join(dir, "key.pem"), ec, 0o600)
	cfgWrite(t, filepath.Join(homeDir, ".okta", "key.pem"), rsa, 0o600)
	base := map[string]string{"OKTA_CLIENT_ORGURL": "https://acme.okta.com", "OKTA_CLIENT_AUTHORIZATIONMODE": "PrivateKey", "HOME": homeDir}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name       string
		vars       map[string]string
		file       string // ./.okta.yaml
		wantClient string
		wantScopes []string
		wantKID    string
		wantKey    string // the PEM the config carries (after reading a file)
		wantErr    string
	}{
		{name: "env PEM text", vars: with("OKTA_CLIENT_CLIENTID", "0oa1", "OKTA_CLIENT_PRIVATEKEY", rsa, "OKTA_CLIENT_PRIVATEKEYID", "kid-1"),
			wantClient: "0oa1", wantScopes: okta.DefaultScopes, wantKID: "kid-1", wantKey: rsa},
		{name: "env PEM with literal \\n", vars: with("OKTA_CLIENT_CLIENTID", "0oa1", "OKTA_CLIENT_PRIVATEKEY", strings.ReplaceAll(rsa, "\n", `\n`)),
			wantClient: "0oa1", wantScopes: okta.DefaultScopes, wantKey: strings.ReplaceAll(rsa, "\n", `\n`)},
		{name: "env path, comma scopes", vars: with("OKTA_CLIENT_CLIENTID", "0oa1", "OKTA_CLIENT_PRIVATEKEY", keyPath, "OKTA_CLIENT_SCOPES", "okta.users.read, okta.users.manage"),
			wantClient: "0oa1", wantScopes: []string{"okta.users.read", "okta.users.manage"}, wantKey: ec},
		{name: "file: block scalar PEM and a scope list",
			vars:       with(),
			file:       "okta:\n  client:\n    clientId: 0oa-file\n    scopes:\n      - okta.users.read\n    privateKeyId: kid-f\n    privateKey: |\n" + indent(ec, "      ") + "\n",
			wantClient: "0oa-file", wantScopes: []string{"okta.users.read"}, wantKID: "kid-f", wantKey: strings.TrimSpace(ec)},
		{name: "file: a path under ~", vars: with(), file: "okta:\n  client:\n    clientId: 0oa-file\n    privateKey: ~/.okta/key.pem\n",
			wantClient: "0oa-file", wantScopes: okta.DefaultScopes, wantKey: rsa},
		{name: "env beats file", vars: with("OKTA_CLIENT_CLIENTID", "0oa-env", "OKTA_CLIENT_SCOPES", "okta.users.read"),
			file:       "okta:\n  client:\n    clientId: 0oa-file\n    scopes: [a.b, c.d]\n    privateKey: " + keyPath + "\n",
			wantClient: "0oa-env", wantScopes: []string{"okta.users.read"}, wantKey: ec},
		{name: "no client ID", vars: with("OKTA_CLIENT_PRIVATEKEY", rsa), wantErr: "no client ID"},
		{name: "no key", vars: with("OKTA_CLIENT_CLIENTID", "0oa1"), wantErr: "no private key"},
		{name: "neither PEM nor a file", vars: with("OKTA_CLIENT_CLIENTID", "0oa1", "OKTA_CLIENT_PRIVATEKEY", "MIIEsecretkeymaterial"), wantErr: "not PEM text"},
		{name: "a public key", vars: with("OKTA_CLIENT_CLIENTID", "0oa1", "OKTA_CLIENT_PRIVATEKEY", cfgKey(t, "rsa-public.pem")), wantErr: "not a private key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, _ := cfgEnv(c.vars)
			local := filepath.Join(t.TempDir(), ".okta.yaml")
			if c.file != "" {
				cfgWrite(t, local, c.file, 0o600)
			}
			cfg, err := loadClientConfig(e, &runOpts{}, []string{local})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want %q", err, c.wantErr)
				}
				if exitCode(err) != exitUsage {
					t.Errorf("exit %d, want 2", exitCode(err))
				}
				if strings.Contains(err.Error(), "MIIE") {
					t.Errorf("error quotes key material: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.AuthMode != okta.AuthPrivateKey || cfg.ClientID != c.wantClient || !slices.Equal(cfg.Scopes, c.wantScopes) || cfg.PrivateKeyID != c.wantKID {
				t.Errorf("got mode %s client %q scopes %q kid %q", cfg.AuthMode, cfg.ClientID, cfg.Scopes, cfg.PrivateKeyID)
			}
			if strings.TrimSpace(cfg.PrivateKey.Reveal()) != strings.TrimSpace(c.wantKey) {
				t.Error("the config carries another key")
			}
			if _, err := okta.New(cfg); err != nil {
				t.Errorf("okta.New refuses the config: %v", err)
			}
		})
	}
}

// TestSettingsReadableSecretsWarn: a config file holding a token or a key,
// or a key file, that others can read gets a warning; a 0600 one does not.
func TestSettingsReadableSecretsWarn(t *testing.T) {
	ec := cfgKey(t, "ec-pkcs8.pem")
	for _, c := range []struct {
		name, file string
		mode       os.FileMode
		keyMode    os.FileMode
		warn       bool
	}{
		{"token file 0644", "okta:\n  client:\n    orgUrl: https://acme.okta.com\n    token: tok-0123456789\n", 0o644, 0o600, true},
		{"token file 0600", "okta:\n  client:\n    orgUrl: https://acme.okta.com\n    token: tok-0123456789\n", 0o600, 0o600, false},
		{"no secret 0644", "okta:\n  client:\n    orgUrl: https://acme.okta.com\n", 0o644, 0o600, false},
		{"inline key 0640", "okta:\n  client:\n    orgUrl: https://acme.okta.com\n    authorizationMode: PrivateKey\n    clientId: 0oa1\n    privateKey: |\n" + indent(ec, "      ") + "\n", 0o640, 0o600, true},
		{"key path, key file 0644", "okta:\n  client:\n    orgUrl: https://acme.okta.com\n    authorizationMode: PrivateKey\n    clientId: 0oa1\n    privateKey: KEYPATH\n", 0o644, 0o644, true},
		{"key path, key file 0600", "okta:\n  client:\n    orgUrl: https://acme.okta.com\n    authorizationMode: PrivateKey\n    clientId: 0oa1\n    privateKey: KEYPATH\n", 0o644, 0o600, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			keyPath := cfgWrite(t, filepath.Join(dir, "key.pem"), ec, c.keyMode)
			path := cfgWrite(t, filepath.Join(dir, ".okta.yaml"), strings.ReplaceAll(c.file, "KEYPATH", keyPath), c.mode)
			e, stderr := cfgEnv(map[string]string{"OKTA_CLIENT_TOKEN": "tok-env-0123456789"})
			if _, err := loadClientConfig(e, &runOpts{}, []string{path}); err != nil {
				t.Fatal(err)
			}
			got := strings.Contains(stderr.String(), "other users can read it")
			if got != c.warn {
				t.Errorf("warning %v, want %v: %q", got, c.warn, stderr)
			}
			if strings.Contains(stderr.String(), "tok-") || strings.Contains(stderr.String(), "BEGIN") {
				t.Errorf("the warning quotes a secret: %q", stderr)
			}
		})
	}
}

// pkEmulator serves an emulator org with one PrivateKey client (DPoP when
// dpop), optionally behind wrap.
func pkEmulator(t *testing.T, dpop bool, wrap func(http.Handler) http.Handler, cfg emulator.Config) (*emulator.Org, string) {
	t.Helper()
	cfg.Clients = []emulator.OAuthClient{{ID: "0oa-cli-test", PublicKeyPEM: cfgKey(t, "ec-public.pem"), RequireDPoP: dpop}}
	if cfg.Seed == 0 {
		cfg.Seed = 7
	}
	org := emulator.New(cfg)
	var h http.Handler = org
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return org, srv.URL
}

func pkVars(url string) map[string]string {
	return map[string]string{
		"OKTA_CLIENT_ORGURL": url, "OKTA_CLIENT_AUTHORIZATIONMODE": "PrivateKey",
		"OKTA_CLIENT_CLIENTID": "0oa-cli-test", "OKTA_CLIENT_PRIVATEKEY": cfgKeys + "ec-pkcs8.pem",
	}
}

// TestRunPrivateKeyEndToEnd: a whole run in PrivateKey mode with DPoP, with
// a token that expires mid-run (renewed), then a run whose API keeps
// answering 401 stops with exit 3 after one renewal.
func TestRunPrivateKeyEndToEnd(t *testing.T) {
	org, url := pkEmulator(t, true, nil, emulator.Config{Users: 40})
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("user,action\n")
	users := org.Users()
	for i := 1; i <= 20; i++ {
		b.WriteString(users[i].ID + ",clear_sessions\n")
	}
	manifest := cfgWrite(t, filepath.Join(dir, "m.csv"), b.String(), 0o600)
	e, stderr := cfgEnv(pkVars(url))
	// Expire every token after a few rows: the run renews and goes on.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for len(org.Log()) < 6 {
			time.Sleep(5 * time.Millisecond)
		}
		org.ExpireAccessTokens()
	}()
	err := execute(e, []string{"run", manifest, "--yes", "--rate", "0", "--workers", "4"})
	<-done
	if err != nil && !errors.Is(err, errRowsFailed) {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	st := org.Stats()
	if st.Token.Issued < 2 {
		t.Errorf("%d tokens issued; the mid-run expiry was not met", st.Token.Issued)
	}
	for _, le := range org.Log() {
		if le.AuthScheme != "DPoP" {
			t.Fatalf("request %s %s sent with %q", le.Method, le.Path, le.AuthScheme)
		}
	}
	counts := map[report.Outcome]int{}
	if err := report.ReadFile(filepath.Join(dir, "m.report.csv"), func(r *report.Row) error { counts[r.Outcome]++; return nil }); err != nil {
		t.Fatal(err)
	}
	if counts[report.Succeeded] != 20 {
		t.Errorf("outcomes %v, want 20 succeeded\n%s", counts, stderr)
	}

	// A 401 from the first request on: found by the check of the org before
	// any file is created, exit 2. (A 401 that starts mid-run, and persists
	// after a renewal, stops the run with exit 3: runner/stop_test.go.)
	_, url401 := pkEmulator(t, false, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/api/") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(401)
				_, _ = io.WriteString(w, `{"errorCode":"E0000011","errorSummary":"Invalid token provided"}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	}, emulator.Config{Users: 40})
	manifest2 := cfgWrite(t, filepath.Join(dir, "m2.csv"), b.String(), 0o600)
	e2, stderr2 := cfgEnv(pkVars(url401))
	err = execute(e2, []string{"run", manifest2, "--yes", "--rate", "0"})
	if exitCode(err) != exitUsage || !errors.Is(err, okta.ErrUnauthorized) {
		t.Fatalf("exit %d (%v), want 2 for a token refused from the start\n%s", exitCode(err), err, stderr2)
	}
	if _, serr := os.Stat(filepath.Join(dir, "m2.report.csv.checkpoint")); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("a checkpoint was created for a refused token (stat: %v)", serr)
	}
}
