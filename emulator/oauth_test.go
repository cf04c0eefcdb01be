package emulator

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// Hand-rolled JWT signing for the emulator's own tests (standard library
// only, like the emulator).

func loadPriv(t *testing.T, name string) crypto.Signer {
	t.Helper()
	b, err := os.ReadFile("../testdata/keys/" + name)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(crypto.Signer)
}

func loadPub(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../testdata/keys/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func signJWT(t *testing.T, key crypto.Signer, header, claims map[string]any) string {
	t.Helper()
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(cb)
	sum := sha256.Sum256([]byte(input))
	var sig []byte
	switch k := key.(type) {
	case *rsa.PrivateKey:
		s, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = s
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	}
	return input + "." + b64.EncodeToString(sig)
}

func ecJWK(k *ecdsa.PrivateKey) map[string]any {
	pub := k.Public().(*ecdsa.PublicKey)
	b, _ := pub.Bytes() // 0x04 || X || Y
	return map[string]any{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(b[1:33]), "y": b64.EncodeToString(b[33:])}
}

type oauthEnv struct {
	t     *testing.T
	org   *Org
	url   string
	now   time.Time
	key   crypto.Signer     // the client's key (RSA)
	dpop  *ecdsa.PrivateKey // the proof key
	jtiN  int
	alg   string
	cid   string
	nonce string
}

func newOAuthEnv(t *testing.T, requireDPoP bool) *oauthEnv {
	t.Helper()
	return newOAuthEnvScopes(t, requireDPoP, nil)
}

// newOAuthEnvScopes: the app is granted scopes (nil: the default ones).
func newOAuthEnvScopes(t *testing.T, requireDPoP bool, scopes []string) *oauthEnv {
	t.Helper()
	now := time.Now().Truncate(time.Second)
	org := New(Config{Seed: 3, Users: 5, Now: func() time.Time { return now }, Clients: []OAuthClient{
		{ID: "0oa-rsa", PublicKeyPEM: loadPub(t, "rsa-public.pem"), RequireDPoP: requireDPoP, KeyID: "k1", Scopes: scopes},
	}})
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	return &oauthEnv{t: t, org: org, url: srv.URL, now: now, key: loadPriv(t, "rsa-pkcs8.pem"),
		dpop: loadPriv(t, "ec-pkcs8.pem").(*ecdsa.PrivateKey), alg: "RS256", cid: "0oa-rsa"}
}

func (e *oauthEnv) jti() string { e.jtiN++; return fmt.Sprintf("jti-%d", e.jtiN) }

func (e *oauthEnv) assertionClaims() map[string]any {
	return map[string]any{"iss": e.cid, "sub": e.cid, "aud": e.url + TokenPath, "iat": e.now.Unix(), "exp": e.now.Add(5 * time.Minute).Unix(), "jti": e.jti()}
}

func (e *oauthEnv) proof(method, u, token, nonce string, edit func(h, c map[string]any)) string {
	h := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": ecJWK(e.dpop)}
	c := map[string]any{"htm": method, "htu": u, "iat": e.now.Unix(), "jti": e.jti()}
	if token != "" {
		c["ath"] = accessTokenHash(token)
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	if edit != nil {
		edit(h, c)
	}
	return signJWT(e.t, e.dpop, h, c)
}

type answer struct {
	status int
	body   map[string]any
	hdr    http.Header
}

func (e *oauthEnv) token(claims map[string]any, header map[string]any, form url.Values, dpop string) answer {
	e.t.Helper()
	if header == nil {
		header = map[string]any{"alg": e.alg, "kid": "k1"}
	}
	f := url.Values{"grant_type": {"client_credentials"}, "scope": {"okta.users.manage"},
		"client_assertion_type": {jwtBearerType}, "client_assertion": {signJWT(e.t, e.key, header, claims)}}
	for k, v := range form {
		f[k] = v
	}
	req, _ := http.NewRequest("POST", e.url+TokenPath, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if dpop != "" {
		req.Header.Set("DPoP", dpop)
	}
	return e.do(req)
}

func (e *oauthEnv) do(req *http.Request) answer {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, hdr: resp.Header}
	if len(b) > 0 {
		_ = json.Unmarshal(b, &a.body)
	}
	return a
}

func (e *oauthEnv) api(method, path, auth, dpop string) answer {
	req, _ := http.NewRequest(method, e.url+path, nil)
	if method == "POST" {
		req.ContentLength = 0
		req.Body = http.NoBody
		req.Header.Set("Content-Length", "0")
	}
	req.Header.Set("Authorization", auth)
	if dpop != "" {
		req.Header.Set("DPoP", dpop)
	}
	return e.do(req)
}

// TestTokenEndpointAssertion: each defect of the client assertion is
// refused with Okta's OAuth error; the sound one gets a Bearer token.
func TestTokenEndpointAssertion(t *testing.T) {
	e := newOAuthEnv(t, false)
	other := loadPriv(t, "ec-pkcs8.pem")
	cases := []struct {
		name   string
		edit   func(c map[string]any)
		header map[string]any
		form   url.Values
		key    crypto.Signer
		status int
		code   string
	}{
		{name: "sound", status: 200},
		{name: "unknown client", edit: func(c map[string]any) { c["iss"], c["sub"] = "0oa-nobody", "0oa-nobody" }, status: 401, code: "invalid_client"},
		{name: "sub differs", edit: func(c map[string]any) { c["sub"] = "someone" }, status: 401, code: "invalid_client"},
		{name: "wrong audience", edit: func(c map[string]any) { c["aud"] = "https://acme.okta.com/oauth2/default/v1/token" }, status: 401, code: "invalid_client"},
		{name: "expired", edit: func(c map[string]any) { c["exp"] = e.now.Add(-time.Second).Unix() }, status: 401, code: "invalid_client"},
		{name: "too long-lived", edit: func(c map[string]any) { c["exp"] = e.now.Add(2 * time.Hour).Unix() }, status: 401, code: "invalid_client"},
		{name: "no jti", edit: func(c map[string]any) { delete(c, "jti") }, status: 401, code: "invalid_client"},
		{name: "wrong kid", header: map[string]any{"alg": "RS256", "kid": "k2"}, status: 401, code: "invalid_client"},
		{name: "alg does not fit the key", header: map[string]any{"alg": "ES256", "kid": "k1"}, status: 401, code: "invalid_client"},
		{name: "signed by another key", key: other, header: map[string]any{"alg": "ES256", "kid": "k1"}, status: 401, code: "invalid_client"},
		{name: "scope not granted", form: url.Values{"scope": {"okta.groups.manage"}}, status: 400, code: "invalid_scope"},
		{name: "no scope", form: url.Values{"scope": {""}}, status: 400, code: "invalid_scope"},
		{name: "other grant", form: url.Values{"grant_type": {"password"}}, status: 400, code: "unsupported_grant_type"},
		{name: "client_id mismatch", form: url.Values{"client_id": {"0oa-x"}}, status: 401, code: "invalid_client"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			claims := e.assertionClaims()
			if c.edit != nil {
				c.edit(claims)
			}
			saved := e.key
			if c.key != nil {
				e.key = c.key
			}
			a := e.token(claims, c.header, c.form, "")
			e.key = saved
			if a.status != c.status {
				t.Fatalf("status %d %v, want %d", a.status, a.body, c.status)
			}
			if c.status != 200 {
				if a.body["error"] != c.code || a.body["error_description"] == "" {
					t.Errorf("body %v, want error %s", a.body, c.code)
				}
				return
			}
			if a.body["token_type"] != "Bearer" || a.body["expires_in"] != float64(3600) || a.body["access_token"] == "" || a.hdr.Get("Cache-Control") != "no-store" {
				t.Errorf("answer %v %v", a.body, a.hdr)
			}
		})
	}
	// A replayed assertion is refused.
	claims := e.assertionClaims()
	if a := e.token(claims, nil, nil, ""); a.status != 200 {
		t.Fatalf("first use: %d", a.status)
	}
	if a := e.token(claims, nil, nil, ""); a.status != 401 || a.body["error"] != "invalid_client" {
		t.Errorf("replayed assertion: %d %v", a.status, a.body)
	}
	st := e.org.Stats().Token
	if st.Requests != len(cases)+2 || st.Issued != 2 {
		t.Errorf("stats %+v", st)
	}
	// A Bearer access token works on the API; /users/me has no user for it.
	tok := e.org.AccessTokens()[0]
	uid := e.org.Users()[1].ID
	if a := e.api("GET", "/api/v1/users/"+uid, "Bearer "+tok, ""); a.status != 200 {
		t.Errorf("Bearer access token: %d", a.status)
	}
	if a := e.api("GET", "/api/v1/users/me", "Bearer "+tok, ""); a.status != 404 {
		t.Errorf("/me with an access token: %d", a.status)
	}
	if a := e.api("GET", "/api/v1/users/"+uid, "DPoP "+tok, e.proof("GET", e.url+"/api/v1/users/"+uid, tok, "", nil)); a.status != 401 {
		t.Errorf("a Bearer token presented as DPoP: %d", a.status)
	}
	e.org.ExpireAccessTokens()
	a := e.api("GET", "/api/v1/users/"+uid, "Bearer "+tok, "")
	if a.status != 401 || !strings.Contains(a.hdr.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("expired token: %d %v", a.status, a.hdr)
	}
}

// TestTokenEndpointDPoP: the SDK's discovery sequence, then API proofs.
func TestTokenEndpointDPoP(t *testing.T) {
	e := newOAuthEnv(t, true)
	tokURL := e.url + TokenPath
	a := e.token(e.assertionClaims(), nil, nil, "")
	if a.status != 400 || a.body["error"] != "invalid_dpop_proof" {
		t.Fatalf("no proof: %d %v", a.status, a.body)
	}
	a = e.token(e.assertionClaims(), nil, nil, e.proof("POST", tokURL, "", "", nil))
	nonce := a.hdr.Get("DPoP-Nonce")
	if a.status != 400 || a.body["error"] != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("no nonce: %d %v", a.status, a.body)
	}
	for _, bad := range []struct {
		name string
		edit func(h, c map[string]any)
	}{
		{"wrong typ", func(h, c map[string]any) { h["typ"] = "JWT" }},
		{"wrong htm", func(h, c map[string]any) { c["htm"] = "GET" }},
		{"wrong htu", func(h, c map[string]any) { c["htu"] = "https://elsewhere/oauth2/v1/token" }},
		{"stale iat", func(h, c map[string]any) { c["iat"] = e.now.Add(-5 * time.Minute).Unix() }},
		{"no jwk", func(h, c map[string]any) { delete(h, "jwk") }},
		{"private jwk", func(h, c map[string]any) { h["jwk"].(map[string]any)["d"] = "AAAA" }},
	} {
		a := e.token(e.assertionClaims(), nil, nil, e.proof("POST", tokURL, "", nonce, bad.edit))
		if a.status != 400 || a.body["error"] != "invalid_dpop_proof" {
			t.Errorf("%s: %d %v", bad.name, a.status, a.body)
		}
	}
	a = e.token(e.assertionClaims(), nil, nil, e.proof("POST", tokURL, "", nonce, nil))
	if a.status != 200 || a.body["token_type"] != "DPoP" {
		t.Fatalf("with the nonce: %d %v", a.status, a.body)
	}
	tok := a.body["access_token"].(string)
	uid := e.org.Users()[1].ID
	path := "/api/v1/users/" + uid + "/lifecycle/expire_password"
	u := e.url + path

	if a := e.api("POST", path, "Bearer "+tok, ""); a.status != 401 {
		t.Errorf("a DPoP token as Bearer: %d", a.status)
	}
	if a := e.api("POST", path, "DPoP "+tok, ""); a.status != 400 || !strings.Contains(a.hdr.Get("WWW-Authenticate"), "invalid_dpop_proof") || a.body != nil {
		t.Errorf("no proof: %d %v %v", a.status, a.hdr, a.body)
	}
	for _, bad := range []struct {
		name string
		p    string
	}{
		{"wrong ath", e.proof("POST", u, "another-token", "", nil)},
		{"no ath", e.proof("POST", u, "", "", nil)},
		{"wrong htm", e.proof("GET", u, tok, "", nil)},
		{"htu with query", e.proof("POST", u+"?x=1", tok, "", nil)},
		{"another key", func() string {
			saved := e.dpop
			k, _ := ecdsa.GenerateKey(saved.Curve, rand.Reader)
			e.dpop = k
			defer func() { e.dpop = saved }()
			return e.proof("POST", u, tok, "", nil)
		}()},
	} {
		a := e.api("POST", path, "DPoP "+tok, bad.p)
		if a.status != 400 || !strings.Contains(a.hdr.Get("WWW-Authenticate"), `error="invalid_dpop_proof"`) || a.body != nil {
			t.Errorf("%s: %d %v", bad.name, a.status, a.hdr)
		}
	}
	good := e.proof("POST", u, tok, "", nil)
	if a := e.api("POST", path, "DPoP "+tok, good); a.status != 200 {
		t.Fatalf("sound proof: %d %v", a.status, a.body)
	}
	if a := e.api("POST", path, "DPoP "+tok, good); a.status != 400 {
		t.Errorf("replayed proof: %d", a.status)
	}
	if a := e.api("POST", path, "DPoP "+tok, e.proof("POST", u, tok, "not-the-nonce", nil)); a.status != 401 ||
		!strings.Contains(a.hdr.Get("WWW-Authenticate"), "use_dpop_nonce") || a.hdr.Get("DPoP-Nonce") != e.org.DPoPNonce() {
		t.Errorf("stale nonce: %d %v", a.status, a.hdr)
	}
	if e.org.Log()[len(e.org.Log())-1].AuthScheme != "DPoP" {
		t.Error("scheme not logged")
	}
}

// TestRotateNonces: with RotateNonces the API demands the nonce, which
// changes silently after every three accepted proofs; the previous one
// stays accepted until the next change.
func TestRotateNonces(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	org := New(Config{Seed: 3, Users: 5, RotateNonces: true, Now: func() time.Time { return now },
		Clients: []OAuthClient{{ID: "0oa-rsa", PublicKeyPEM: loadPub(t, "rsa-public.pem"), RequireDPoP: true}}})
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	e := &oauthEnv{t: t, org: org, url: srv.URL, now: now, key: loadPriv(t, "rsa-pkcs8.pem"),
		dpop: loadPriv(t, "ec-pkcs8.pem").(*ecdsa.PrivateKey), alg: "RS256", cid: "0oa-rsa"}
	n0 := org.DPoPNonce()
	a := e.token(e.assertionClaims(), map[string]any{"alg": "RS256"}, nil, e.proof("POST", srv.URL+TokenPath, "", n0, nil))
	if a.status != 200 {
		t.Fatalf("token: %d %v", a.status, a.body)
	}
	tok := a.body["access_token"].(string)
	path := "/api/v1/users/" + org.Users()[1].ID
	call := func(n string) answer {
		return e.api("GET", path, "DPoP "+tok, e.proof("GET", srv.URL+path, tok, n, nil))
	}
	if a := call(""); a.status != 401 || a.hdr.Get("DPoP-Nonce") == "" {
		t.Fatalf("no nonce: %d", a.status)
	}
	// n0 had one use (the token request); two more, then it is previous.
	for i := 0; i < 5; i++ {
		if a := call(n0); a.status != 200 {
			t.Fatalf("use %d of n0: %d", i+2, a.status)
		}
	}
	a = call(n0)
	if a.status != 401 || a.hdr.Get("DPoP-Nonce") == n0 {
		t.Fatalf("n0 after two rotations: %d", a.status)
	}
	if a := call(a.hdr.Get("DPoP-Nonce")); a.status != 200 {
		t.Errorf("the new nonce: %d", a.status)
	}
}
