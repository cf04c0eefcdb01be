package okta

import (
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/internal/secret"
)

const testClientID = "0oa-credbatch-test"

// fakeClock is a settable clock shared by the emulator and the client.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder keeps the headers of every request that passes through.
type recorder struct {
	mu   sync.Mutex
	reqs []http.Header
	path []string
}

func (r *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, req.Header.Clone())
		r.path = append(r.path, req.URL.Path)
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	})
}

// apiProofs returns the DPoP headers of the requests under /api, in order.
func (r *recorder) apiProofs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for i, h := range r.reqs {
		if strings.HasPrefix(r.path[i], "/api/") {
			out = append(out, h.Get("DPoP"))
		}
	}
	return out
}

// claimsOf decodes a JWT's claims (no verification: the emulator verifies).
func claimsOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

type pkSetup struct {
	key, pub    string // files in testdata/keys
	requireDPoP bool
	rotate      bool
	lifetime    time.Duration
	getLimit    int
	clock       *fakeClock // shared by org and client when set
	clientClock *fakeClock // the client's own clock, when it differs
	wrap        func(http.Handler) http.Handler
}

func pkOrg(t *testing.T, s pkSetup) (*emulator.Org, *Client) {
	t.Helper()
	cfg := emulator.Config{Seed: 42, Users: 30, GetLimit: s.getLimit,
		Clients:       []emulator.OAuthClient{{ID: testClientID, PublicKeyPEM: readKey(t, s.pub), RequireDPoP: s.requireDPoP}},
		TokenLifetime: s.lifetime, RotateNonces: s.rotate}
	if s.clock != nil {
		cfg.Now = s.clock.Now
	}
	org := emulator.New(cfg)
	var h http.Handler = org
	if s.wrap != nil {
		h = s.wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ccfg := Config{OrgURL: srv.URL, AuthMode: AuthPrivateKey, ClientID: testClientID,
		PrivateKey: secret.New(readKey(t, s.key)), Timeout: 10 * time.Second}
	switch {
	case s.clientClock != nil:
		ccfg.Now = s.clientClock.Now
	case s.clock != nil:
		ccfg.Now = s.clock.Now
	}
	c, err := New(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	return org, c
}

// apiStatuses lists the statuses of the API log, in order.
func apiStatuses(org *emulator.Org) []int {
	var out []int
	for _, e := range org.Log() {
		out = append(out, e.Status)
	}
	return out
}

// TestPrivateKeyModes: RS256 and ES256 keys, with and without a DPoP
// requirement; the token is fetched once and reused; the API sees the
// expected scheme; GET /users/me is a 404 for a service app.
func TestPrivateKeyModes(t *testing.T) {
	cases := []struct {
		name, key, pub string
		dpop           bool
		tokenRequests  int // plain, then (DPoP) with a proof, then with the nonce
	}{
		{"RS256", "rsa-pkcs1.pem", "rsa-public.pem", false, 1},
		{"ES256", "ec-pkcs8.pem", "ec-public.pem", false, 1},
		{"RS256 DPoP", "rsa-pkcs8.pem", "rsa-public.pem", true, 3},
		{"ES256 DPoP", "ec-sec1.pem", "ec-public.pem", true, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			org, cl := pkOrg(t, pkSetup{key: c.key, pub: c.pub, requireDPoP: c.dpop})
			ctx := testCtx(t)
			users := org.Users()
			for i := 1; i <= 3; i++ {
				r, err := cl.GetUser(ctx, users[i].ID, CallOptions{})
				if err != nil {
					t.Fatalf("GetUser: %v", err)
				}
				if r.User == nil || r.User.ID != users[i].ID {
					t.Fatalf("got %+v", r.User)
				}
			}
			if _, err := cl.ExpirePassword(ctx, users[1].ID, CallOptions{}); err != nil {
				t.Fatalf("ExpirePassword: %v", err)
			}
			_, err := cl.GetMe(ctx, CallOptions{})
			wantAPIError(t, err, 404, "E0000007")

			st := org.Stats().Token
			if st.Requests != c.tokenRequests || st.Issued != 1 {
				t.Errorf("token endpoint: %+v, want %d requests and 1 token", st, c.tokenRequests)
			}
			if got := cl.TokenRequests(); got != int64(c.tokenRequests) {
				t.Errorf("client counted %d token requests", got)
			}
			want := "Bearer"
			if c.dpop {
				want = "DPoP"
			}
			for _, e := range org.Log() {
				if e.AuthScheme != want {
					t.Errorf("%s %s: scheme %q, want %s", e.Method, e.Path, e.AuthScheme, want)
				}
			}
		})
	}
}

// TestPrivateKeyAssertionAndProofClaims checks what goes on the wire: the
// client assertion's claims and the DPoP proofs' claims.
func TestPrivateKeyAssertionAndProofClaims(t *testing.T) {
	var mu sync.Mutex
	var assertions, tokenProofs []string
	rec := &recorder{}
	org, cl := pkOrg(t, pkSetup{key: "ec-pkcs8.pem", pub: "ec-public.pem", requireDPoP: true,
		wrap: func(h http.Handler) http.Handler {
			return rec.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == TokenPath {
					b, _ := io.ReadAll(r.Body)
					r.Body = io.NopCloser(strings.NewReader(string(b)))
					r.ContentLength = int64(len(b))
					form, _ := parseForm(string(b))
					mu.Lock()
					assertions = append(assertions, form["client_assertion"])
					tokenProofs = append(tokenProofs, r.Header.Get("DPoP"))
					if form["scope"] != "okta.users.manage okta.users.read" || form["grant_type"] != "client_credentials" ||
						form["client_assertion_type"] != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
						t.Errorf("token form %v", form)
					}
					mu.Unlock()
				}
				h.ServeHTTP(w, r)
			}))
		}})
	ctx := testCtx(t)
	u := org.Users()[1]
	if _, err := cl.ResetPassword(ctx, u.ID, false, ptr(true), CallOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(assertions) != 3 {
		t.Fatalf("%d token requests, want 3", len(assertions))
	}
	jtis := map[string]bool{}
	for i, a := range assertions {
		c := claimsOf(t, a)
		if c["iss"] != testClientID || c["sub"] != testClientID || c["aud"] != cl.OrgURL()+TokenPath {
			t.Errorf("assertion %d: %v", i, c)
		}
		iat, exp := c["iat"].(float64), c["exp"].(float64)
		if exp <= iat || exp-iat > 300 {
			t.Errorf("assertion %d: exp-iat = %v s, want (0, 300]", i, exp-iat)
		}
		jti, _ := c["jti"].(string)
		if jti == "" || jtis[jti] {
			t.Errorf("assertion %d: jti %q not fresh", i, jti)
		}
		jtis[jti] = true
	}
	// The first token request has no proof; the second one has no nonce;
	// the third carries the nonce the second answer gave.
	if tokenProofs[0] != "" || tokenProofs[1] == "" {
		t.Fatalf("proofs on the token requests: %q", tokenProofs)
	}
	if _, ok := claimsOf(t, tokenProofs[1])["nonce"]; ok {
		t.Error("second token request already has a nonce")
	}
	if n := claimsOf(t, tokenProofs[2])["nonce"]; n != org.DPoPNonce() {
		t.Errorf("third token request's nonce %v, want the org's", n)
	}
	p := claimsOf(t, rec.apiProofs()[0])
	tok := org.AccessTokens()[0]
	wantHTU := cl.OrgURL() + "/api/v1/users/" + u.ID + "/lifecycle/reset_password" // no query
	if p["htm"] != "POST" || p["htu"] != wantHTU || p["ath"] != tokenHash(tok) || p["jti"] == "" || p["iat"] == nil {
		t.Errorf("API proof claims %v", p)
	}
	hdr := strings.SplitN(rec.apiProofs()[0], ".", 2)[0]
	hb, _ := base64.RawURLEncoding.DecodeString(hdr)
	var h map[string]any
	_ = json.Unmarshal(hb, &h)
	jwk, _ := h["jwk"].(map[string]any)
	if h["typ"] != "dpop+jwt" || h["alg"] != "ES256" || jwk == nil || jwk["d"] != nil || jwk["crv"] != "P-256" {
		t.Errorf("proof header %v", h)
	}
	// The DPoP key is not the client's key.
	ck, err := ParsePrivateKey(secret.New(readKey(t, "ec-pkcs8.pem")))
	if err != nil {
		t.Fatal(err)
	}
	cx := base64.RawURLEncoding.EncodeToString(ck.Public().(*ecdsa.PublicKey).X.FillBytes(make([]byte, 32)))
	if jwk["x"] == cx {
		t.Error("DPoP proofs are signed with the client's private key")
	}
}

func parseForm(s string) (map[string]string, error) {
	v, err := url.ParseQuery(s)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k := range v {
		out[k] = v.Get(k)
	}
	return out, nil
}

// TestPrivateKeyNonceRotation: with rotating nonces, API calls answered
// use_dpop_nonce are retried with the new nonce and no new token.
func TestPrivateKeyNonceRotation(t *testing.T) {
	org, cl := pkOrg(t, pkSetup{key: "rsa-pkcs1.pem", pub: "rsa-public.pem", requireDPoP: true, rotate: true})
	ctx := testCtx(t)
	users := org.Users()
	for i := 1; i <= 12; i++ {
		if _, err := cl.GetUser(ctx, users[i].ID, CallOptions{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	st := org.Stats()
	challenges401 := st.ByStatus["401"]
	if challenges401 < 2 {
		t.Errorf("%d API nonce challenges; the rotation was not exercised", challenges401)
	}
	if st.Token.Issued != 1 {
		t.Errorf("%d tokens issued, want 1: a nonce retry is no renewal", st.Token.Issued)
	}
	if st.ByStatus["200"] != 12 {
		t.Errorf("statuses %v", st.ByStatus)
	}
}

// TestPrivateKeyRenewsBeforeExpiry: the token is renewed before expires_in
// runs out, without a 401.
func TestPrivateKeyRenewsBeforeExpiry(t *testing.T) {
	clk := newFakeClock()
	org, cl := pkOrg(t, pkSetup{key: "ec-sec1.pem", pub: "ec-public.pem", lifetime: 10 * time.Minute, clock: clk})
	ctx := testCtx(t)
	u := org.Users()[1].ID
	for step := 0; step < 4; step++ {
		if _, err := cl.GetUser(ctx, u, CallOptions{}); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		clk.Add(4 * time.Minute) // 0, 4, 8 (due: renewal at 9), 12 ...
	}
	st := org.Stats()
	if st.ByStatus["401"] != 0 {
		t.Errorf("%d 401s: the token was not renewed in time", st.ByStatus["401"])
	}
	if st.Token.Issued != 2 {
		t.Errorf("%d tokens issued over 12 minutes of 10-minute tokens, want 2", st.Token.Issued)
	}
}

// TestPrivateKeyRenewsOn401: a token the server no longer accepts (its
// clock says expired) is renewed once and the call retried; the caller sees
// the success. Concurrent 401s share one renewal.
func TestPrivateKeyRenewsOn401(t *testing.T) {
	for _, dpop := range []bool{false, true} {
		t.Run(fmt.Sprintf("dpop=%v", dpop), func(t *testing.T) {
			org, cl := pkOrg(t, pkSetup{key: "rsa-pkcs8.pem", pub: "rsa-public.pem", requireDPoP: dpop})
			ctx := testCtx(t)
			users := org.Users()
			if _, err := cl.GetUser(ctx, users[1].ID, CallOptions{}); err != nil {
				t.Fatal(err)
			}
			org.ExpireAccessTokens()
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for i := range 16 {
				wg.Go(func() {
					_, err := cl.GetUser(ctx, users[1+i%10].ID, CallOptions{})
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("call after expiry: %v", err)
				}
			}
			st := org.Stats()
			if st.Token.Issued != 2 {
				t.Errorf("%d tokens issued, want 2 (one renewal shared by all)", st.Token.Issued)
			}
			if st.ByStatus["401"] == 0 {
				t.Error("no 401 was seen: the test did not exercise the renewal")
			}
			if st.ByStatus["200"] != 17 {
				t.Errorf("statuses %v", st.ByStatus)
			}
		})
	}
}

// TestPrivateKeyConcurrentFirstToken: many workers starting at once share
// one token request.
func TestPrivateKeyConcurrentFirstToken(t *testing.T) {
	org, cl := pkOrg(t, pkSetup{key: "ec-pkcs8.pem", pub: "ec-public.pem", requireDPoP: true})
	ctx := testCtx(t)
	users := org.Users()
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			if _, err := cl.GetUser(ctx, users[1+i].ID, CallOptions{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if st := org.Stats().Token; st.Issued != 1 || st.Requests != 3 {
		t.Errorf("token endpoint %+v, want 3 requests (plain, proof, nonce) and 1 token", st)
	}
}

// TestPrivateKey429FreshProof: a 429 is returned (the runner retries it);
// the retry carries a new proof with a distinct jti, and succeeds.
func TestPrivateKey429FreshProof(t *testing.T) {
	clk := newFakeClock()
	rec := &recorder{}
	org, cl := pkOrg(t, pkSetup{key: "ec-pkcs8.pem", pub: "ec-public.pem", requireDPoP: true, getLimit: 1, clock: clk, wrap: rec.wrap})
	ctx := testCtx(t)
	u := org.Users()[1].ID
	if _, err := cl.GetUser(ctx, u, CallOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := cl.GetUser(ctx, u, CallOptions{})
	if !errors.Is(err, ErrRateLimited) {
		t.Fatalf("got %v, want a 429", err)
	}
	clk.Add(61 * time.Second) // the next window
	if _, err := cl.GetUser(ctx, u, CallOptions{RetryCount: 1}); err != nil {
		t.Fatalf("retry after the window: %v", err)
	}
	proofs := rec.apiProofs()
	if len(proofs) != 3 {
		t.Fatalf("%d API requests, want 3", len(proofs))
	}
	seen := map[any]bool{}
	for i, p := range proofs {
		jti := claimsOf(t, p)["jti"]
		if seen[jti] {
			t.Errorf("request %d reuses a jti", i)
		}
		seen[jti] = true
	}
	if org.Stats().Token.Issued != 1 {
		t.Error("a 429 caused a renewal")
	}
}

// TestPrivateKeyPersistent401: an API that keeps answering 401 gets one
// renewal and one retry; then the 401 is the caller's (ErrUnauthorized).
func TestPrivateKeyPersistent401(t *testing.T) {
	org, cl := pkOrg(t, pkSetup{key: "rsa-pkcs1.pem", pub: "rsa-public.pem", requireDPoP: true,
		wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/api/") {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(401)
					_, _ = io.WriteString(w, `{"errorCode":"E0000011","errorSummary":"Invalid token provided"}`)
					return
				}
				h.ServeHTTP(w, r)
			})
		}})
	_, err := cl.ExpirePassword(testCtx(t), org.Users()[1].ID, CallOptions{})
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("got %v, want ErrUnauthorized", err)
	}
	if st := org.Stats().Token; st.Issued != 2 {
		t.Errorf("%d tokens issued, want 2 (the first, one renewal)", st.Issued)
	}
}

// TestPrivateKeyTokenRefusals: a refused token request is a 401 APIError
// (the run stops) naming the OAuth error; nothing reaches the API. A 5xx
// from the token endpoint is a NetError that never reached the API.
func TestPrivateKeyTokenRefusals(t *testing.T) {
	t.Run("unregistered key", func(t *testing.T) {
		org, cl := pkOrg(t, pkSetup{key: "rsa2-pkcs1.pem", pub: "rsa-public.pem"})
		_, err := cl.GetUser(testCtx(t), org.Users()[1].ID, CallOptions{})
		var ae *APIError
		if !errors.As(err, &ae) || !errors.Is(err, ErrUnauthorized) || ae.Code != "invalid_client" {
			t.Fatalf("got %v", err)
		}
		if len(org.Log()) != 0 {
			t.Error("an API request was sent without a token")
		}
	})
	t.Run("scope not granted", func(t *testing.T) {
		org := emulator.New(emulator.Config{Seed: 1, Clients: []emulator.OAuthClient{{ID: testClientID,
			PublicKeyPEM: readKey(t, "ec-public.pem"), Scopes: []string{"okta.users.read"}}}})
		srv := httptest.NewServer(org)
		t.Cleanup(srv.Close)
		cl, err := New(Config{OrgURL: srv.URL, AuthMode: AuthPrivateKey, ClientID: testClientID,
			PrivateKey: secret.New(readKey(t, "ec-pkcs8.pem"))})
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl.GetUser(testCtx(t), "x", CallOptions{})
		var ae *APIError
		if !errors.As(err, &ae) || ae.Code != "invalid_scope" || !strings.Contains(ae.Summary, "okta.users.manage") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("token endpoint 503", func(t *testing.T) {
		calls := 0
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
			calls++
			w.WriteHeader(503)
		})
		cl, err := New(Config{OrgURL: srv.URL, AuthMode: AuthPrivateKey, ClientID: testClientID,
			PrivateKey: secret.New(readKey(t, "ec-pkcs8.pem"))})
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl.ExpirePassword(testCtx(t), "00u1", CallOptions{})
		var ne *NetError
		if !errors.As(err, &ne) || ne.MayHaveReached || ne.Op != "POST "+TokenPath {
			t.Fatalf("got %v, want a NetError that never reached the API", err)
		}
		if calls != 1 {
			t.Errorf("%d requests", calls)
		}
	})
}

// TestPrivateKeyBadProofReason: a 400 with an empty body takes its code and
// reason from WWW-Authenticate; secrets echoed by a token endpoint are
// redacted.
func TestPrivateKeyBadProofReason(t *testing.T) {
	var assertion string
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == TokenPath {
			_ = r.ParseForm()
			assertion = r.PostForm.Get("client_assertion")
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"token_type":"Bearer","expires_in":3600,"access_token":"at-0123456789abcdef"}`)
			return
		}
		w.Header().Set("WWW-Authenticate", `DPoP error="invalid_dpop_proof", error_description="The DPoP proof's \"htu\" does not match"`)
		w.WriteHeader(400)
	})
	cl, err := New(Config{OrgURL: srv.URL, AuthMode: AuthPrivateKey, ClientID: testClientID,
		PrivateKey: secret.New(readKey(t, "ec-pkcs8.pem"))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.GetUser(testCtx(t), "00u1", CallOptions{})
	var ae *APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != 400 || ae.Code != "invalid_dpop_proof" || ae.Summary != `The DPoP proof's "htu" does not match` {
		t.Fatalf("got %#v", err)
	}
	if assertion == "" {
		t.Fatal("no assertion seen")
	}

	// A token endpoint echoing the assertion and an API echoing the token.
	srv2 := serve(t, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": "bad: " + r.PostForm.Get("client_assertion")})
		assertion = r.PostForm.Get("client_assertion")
	})
	cl2, err := New(Config{OrgURL: srv2.URL, AuthMode: AuthPrivateKey, ClientID: testClientID,
		PrivateKey: secret.New(readKey(t, "ec-pkcs8.pem"))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl2.GetUser(testCtx(t), "00u1", CallOptions{})
	if err == nil || assertion == "" || strings.Contains(err.Error(), assertion) || !strings.Contains(err.Error(), "[REDACTED]") {
		t.Fatalf("error %v (assertion echoed?)", err)
	}
}

func TestAuthParams(t *testing.T) {
	s, p := authParams(`DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof", algs=ES256`)
	if s != "DPoP" || p["error"] != "use_dpop_nonce" || p["error_description"] != "Resource server requires nonce in DPoP proof" || p["algs"] != "ES256" {
		t.Errorf("%q %v", s, p)
	}
	if _, p := authParams(`Bearer`); len(p) != 0 {
		t.Errorf("%v", p)
	}
}
