package main

// config.go owns how `run` finds its Okta settings, the way the Okta SDKs
// do: for each setting the first of the --flag, the OKTA_CLIENT_*
// environment variable, ./.okta.yaml, then ~/.okta/okta.yaml, in the SDK
// layout:
//
//	okta:
//	  client:
//	    orgUrl: https://acme.okta.com
//	    token: ...                      # SSWS / Bearer
//	    authorizationMode: PrivateKey   # SSWS (default), Bearer, PrivateKey
//	    clientId: 0oa...
//	    scopes: [okta.users.manage, okta.users.read]
//	    privateKey: |                   # PEM text, or a path to a PEM file
//	      -----BEGIN PRIVATE KEY-----
//	      ...
//	    privateKeyId: kid
//
// A token is never a flag value: --token-file names a file holding it. A
// config file holding a token or a private key that other users can read
// gets a warning, and so does a private key file.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	yaml "go.yaml.in/yaml/v4"

	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/okta"
)

// Setting keys of the okta.client section, with their environment names.
const (
	keyOrgURL     = "orgUrl"
	keyToken      = "token"
	keyAuthMode   = "authorizationMode"
	keyClientID   = "clientId"
	keyScopes     = "scopes"
	keyPrivateKey = "privateKey"
	keyKeyID      = "privateKeyId"
)

var envNames = map[string]string{
	keyOrgURL:     "OKTA_CLIENT_ORGURL",
	keyToken:      "OKTA_CLIENT_TOKEN",
	keyAuthMode:   "OKTA_CLIENT_AUTHORIZATIONMODE",
	keyClientID:   "OKTA_CLIENT_CLIENTID",
	keyScopes:     "OKTA_CLIENT_SCOPES",
	keyPrivateKey: "OKTA_CLIENT_PRIVATEKEY",
	keyKeyID:      "OKTA_CLIENT_PRIVATEKEYID",
}

// oktaConfigFiles are the SDK's files, nearest first: ./.okta.yaml, then
// ~/.okta/okta.yaml (HOME as the command's environment gives it; none
// without HOME).
func oktaConfigFiles(e *env) []string {
	files := []string{".okta.yaml"}
	if home := strings.TrimSpace(e.getenv("HOME")); home != "" {
		files = append(files, filepath.Join(home, ".okta", "okta.yaml"))
	}
	return files
}

// configFile is one loaded okta.yaml: its okta.client values.
type configFile struct {
	path   string
	values map[string]any // lower-cased key → value (string, list, ...)
}

// errConfigFile marks an okta.yaml that could not be used.
var errConfigFile = errors.New("unusable Okta configuration file")

// loadConfigFile reads path; a missing file is (nil, nil). Errors never
// quote the file's contents (it may hold a token or a key).
func loadConfigFile(path string) (*configFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errConfigFile, path, err)
	}
	var root any
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%w: %s is not valid YAML%s", errConfigFile, path, yamlLine(err))
	}
	cf := &configFile{path: path, values: map[string]any{}}
	client := lookup(lookup(root, "okta"), "client")
	if m, ok := client.(map[string]any); ok {
		for k, v := range m {
			cf.values[strings.ToLower(k)] = v
		}
	} else if client != nil {
		return nil, fmt.Errorf("%w: %s: okta.client is not a mapping", errConfigFile, path)
	}
	return cf, nil
}

// yamlLine keeps only the line number of a YAML error: its text may quote
// the document.
func yamlLine(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		j := i + len("line ")
		for j < len(msg) && msg[j] >= '0' && msg[j] <= '9' {
			j++
		}
		if j > i+len("line ") {
			return " (" + msg[i:j] + ")"
		}
	}
	return ""
}

func lookup(v any, key string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	for k, x := range m {
		if strings.EqualFold(k, key) {
			return x
		}
	}
	return nil
}

// str returns a file setting as a string ("" when absent or not a scalar).
func (cf *configFile) str(key string) (string, bool) {
	v, ok := cf.values[strings.ToLower(key)]
	if !ok || v == nil {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x), true
	case []any, map[string]any:
		return "", false
	default:
		return strings.TrimSpace(fmt.Sprint(x)), true
	}
}

// list returns a file setting as a list: a YAML sequence, or a string of
// comma- or space-separated items.
func (cf *configFile) list(key string) ([]string, bool) {
	v, ok := cf.values[strings.ToLower(key)]
	if !ok || v == nil {
		return nil, false
	}
	if seq, ok := v.([]any); ok {
		var out []string
		for _, x := range seq {
			if s := strings.TrimSpace(fmt.Sprint(x)); s != "" {
				out = append(out, s)
			}
		}
		return out, true
	}
	s, ok := cf.str(key)
	return splitList(s), ok
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

// sources resolves settings by precedence: flag, environment, files.
type sources struct {
	e     *env
	files []*configFile
}

// get returns the first value of key and where it came from ("" when
// unset). flagName is the flag that gave flagVal, "" for none.
func (s *sources) get(key, flagName, flagVal string) (string, string) {
	if v := strings.TrimSpace(flagVal); v != "" {
		return v, flagName
	}
	if env := envNames[key]; env != "" {
		if v := strings.TrimSpace(s.e.getenv(env)); v != "" {
			return v, env
		}
	}
	for _, f := range s.files {
		if v, ok := f.str(key); ok && v != "" {
			return v, f.path + " (okta.client." + key + ")"
		}
	}
	return "", ""
}

func (s *sources) list(key string) ([]string, string) {
	if env := envNames[key]; env != "" {
		if v := strings.TrimSpace(s.e.getenv(env)); v != "" {
			return splitList(v), env
		}
	}
	for _, f := range s.files {
		if v, ok := f.list(key); ok && len(v) > 0 {
			return v, f.path + " (okta.client." + key + ")"
		}
	}
	return nil, ""
}

// loadClientConfig builds okta.Config from flags, the environment and the
// given okta.yaml files (nearest first), and checks it: every problem is
// a usage error (exit 2) found before anything is read or sent. Warnings
// go to e.stderr.
func loadClientConfig(e *env, o *runOpts, paths []string) (okta.Config, error) {
	var cfg okta.Config
	s := &sources{e: e}
	for _, p := range paths {
		cf, err := loadConfigFile(p)
		if err != nil {
			return cfg, usagef("fix or remove the file; settings can also come from flags and OKTA_CLIENT_* variables", "%w", err)
		}
		if cf != nil {
			s.files = append(s.files, cf)
		}
	}

	raw, src := s.get(keyOrgURL, "--org-url", o.orgURL)
	if raw == "" {
		return cfg, usagef("pass --org-url https://example.okta.com, set OKTA_CLIENT_ORGURL, or set okta.client.orgUrl in ~/.okta/okta.yaml", "no Okta org given")
	}
	org, err := okta.NormalizeOrgURL(raw)
	if err != nil {
		return cfg, usagef("", "%s: %w", src, err)
	}
	cfg.OrgURL = org
	cfg.Timeout = o.timeout

	mode, src := s.get(keyAuthMode, "--auth-mode", o.authMode)
	switch strings.ToLower(mode) {
	case "", "ssws":
		cfg.AuthMode = okta.AuthSSWS
	case "bearer":
		cfg.AuthMode = okta.AuthBearer
	case "privatekey":
		cfg.AuthMode = okta.AuthPrivateKey
	default:
		return cfg, usagef("use SSWS, Bearer or PrivateKey", "%s: %q is not an authorization mode", src, mode)
	}

	// Warn about readable files that hold secrets.
	for _, f := range s.files {
		_, hasTok := f.str(keyToken)
		pk, hasKey := f.str(keyPrivateKey)
		hasKey = hasKey && looksLikePEM(pk)
		if hasTok || hasKey {
			warnIfReadable(e, f.path, "holds an Okta token or private key")
		}
	}

	if cfg.AuthMode == okta.AuthPrivateKey {
		return privateKeyConfig(e, s, cfg)
	}

	var tok string
	if o.tokenFile != "" {
		b, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return cfg, usagef("", "--token-file: %w", err)
		}
		tok = strings.TrimSpace(string(b))
		if tok == "" {
			return cfg, usagef("", "--token-file %s is empty", o.tokenFile)
		}
		warnIfReadable(e, o.tokenFile, "holds an Okta token")
	} else {
		tok, _ = s.get(keyToken, "", "")
	}
	if tok == "" {
		return cfg, usagef("set OKTA_CLIENT_TOKEN, pass --token-file PATH, or set okta.client.token in ~/.okta/okta.yaml (a token is never a flag value)", "no API token given")
	}
	for _, scheme := range []string{"SSWS ", "Bearer "} {
		if len(tok) > len(scheme) && strings.EqualFold(tok[:len(scheme)], scheme) {
			return cfg, usagef("drop the "+strings.TrimSpace(scheme)+" prefix: credbatch adds the scheme of --auth-mode itself",
				"the token starts with %q", scheme)
		}
	}
	cfg.Token = secret.New(tok)
	return cfg, nil
}

// privateKeyConfig completes cfg for PrivateKey mode: client ID, scopes,
// the key (PEM text or a file) and its ID. The key is parsed here so that
// a bad one is a usage error before any file is created.
func privateKeyConfig(e *env, s *sources, cfg okta.Config) (okta.Config, error) {
	const hint = "PrivateKey mode needs OKTA_CLIENT_CLIENTID and OKTA_CLIENT_PRIVATEKEY (or okta.client.clientId and privateKey in ~/.okta/okta.yaml)"
	cfg.ClientID, _ = s.get(keyClientID, "", "")
	if cfg.ClientID == "" {
		return cfg, usagef(hint, "--auth-mode PrivateKey: no client ID given")
	}
	cfg.Scopes, _ = s.list(keyScopes)
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = append([]string(nil), okta.DefaultScopes...)
	}
	cfg.PrivateKeyID, _ = s.get(keyKeyID, "", "")
	raw, src := s.get(keyPrivateKey, "", "")
	if raw == "" {
		return cfg, usagef(hint, "--auth-mode PrivateKey: no private key given")
	}
	pemText := raw
	if !looksLikePEM(raw) {
		// A path to a PEM file. Its name is not printed: a value that is
		// neither PEM nor a file might be key material pasted without its
		// header.
		p := raw
		if rest, ok := strings.CutPrefix(p, "~/"); ok {
			if home := e.getenv("HOME"); home != "" {
				p = filepath.Join(home, rest)
			}
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return cfg, usagef("give the key as PEM text (-----BEGIN PRIVATE KEY----- ...) or the path of a PEM file",
				"the private key from %s is not PEM text, and no file of that name could be read", src)
		}
		warnIfReadable(e, p, "holds the Okta private key")
		pemText = string(b)
	}
	key := secret.New(pemText)
	if _, err := okta.ParsePrivateKey(key); err != nil {
		return cfg, usagef("use an unencrypted RSA (2048 bits or more) or EC P-256 key, PKCS#1 or PKCS#8", "the private key from %s: %w", src, err)
	}
	cfg.PrivateKey = key
	return cfg, nil
}

func looksLikePEM(s string) bool { return strings.Contains(s, "-----BEGIN ") }

// warnIfReadable warns when other users may read a file holding secrets.
func warnIfReadable(e *env, path, what string) {
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm()&0o077 == 0 {
		return
	}
	warnf(e.stderr, "%s %s and other users can read it (mode %04o): chmod 600 it", path, what, st.Mode().Perm())
}

// orgURLSource says where the org URL came from: the flag, the environment
// variable, or which okta.yaml (for the confirmation and check).
func orgURLSource(e *env, o *runOpts) string {
	s := &sources{e: e}
	for _, p := range oktaConfigFiles(e) {
		if cf, err := loadConfigFile(p); err == nil && cf != nil {
			s.files = append(s.files, cf)
		}
	}
	if _, src := s.get(keyOrgURL, "--org-url", o.orgURL); src != "" {
		return src
	}
	return "nowhere"
}
