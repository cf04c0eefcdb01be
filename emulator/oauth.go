package emulator

import (
	"crypto"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// OAuthClient is a service app registered for OAuth 2.0 client credentials
// with private_key_jwt (Okta's "API Services" app with a public key).
type OAuthClient struct {
	ID string // client_id; the assertion's iss and sub
	// PublicKeyPEM is the app's public key: PKIX ("PUBLIC KEY") or PKCS#1
	// ("RSA PUBLIC KEY"), RSA (≥ 2048 bits) or EC P-256. PublicKey is used
	// when PublicKeyPEM is empty (*rsa.PublicKey or *ecdsa.PublicKey).
	PublicKeyPEM string
	PublicKey    crypto.PublicKey
	// KeyID, when set, must equal the assertion's kid header.
	KeyID string
	// Scopes the app was granted; nil grants okta.users.manage and
	// okta.users.read.
	Scopes []string
	// RequireDPoP: the app demands DPoP-bound tokens (Okta's "Require
	// Demonstrating Proof of Possession header in token requests").
	RequireDPoP bool
}

// DefaultTokenLifetime is the access token lifetime when
// Config.TokenLifetime is zero (Okta's: one hour).
const DefaultTokenLifetime = time.Hour

// Token endpoint constants.
const (
	TokenPath         = "/oauth2/v1/token"
	jwtBearerType     = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	proofWindow       = 60 * time.Second // a DPoP proof's iat may be this far from now
	maxAssertionLife  = time.Hour        // exp - iat of a client assertion, at most
	nonceUsesPerEpoch = 3                // RotateNonces: accepted proofs per nonce before it rotates
)

var defaultScopes = []string{"okta.users.manage", "okta.users.read"}

type clientReg struct {
	OAuthClient
	pub    crypto.PublicKey
	keyErr error
}

type accessToken struct {
	clientID string
	expires  time.Time
	jkt      string   // the DPoP key's thumbprint; "" for a Bearer token
	scopes   []string // the scopes granted to this token
}

// authState is the OAuth side of the org: registered clients, issued
// access tokens, replay caches and the DPoP nonce.
type authState struct {
	mu           sync.Mutex
	clients      map[string]*clientReg
	tokens       map[string]*accessToken
	issued       []string
	assertionJTI map[string]time.Time // jti → when it may be forgotten
	proofJTI     map[string]time.Time
	nonce, prev  string
	nonceUses    int
	rng          *rand.Rand
	lifetime     time.Duration
	rotate       bool

	tokenRequests, tokensIssued, nonceChallenges, proofsRejected int
}

func newAuthState(cfg Config) *authState {
	a := &authState{
		clients:      map[string]*clientReg{},
		tokens:       map[string]*accessToken{},
		assertionJTI: map[string]time.Time{},
		proofJTI:     map[string]time.Time{},
		rng:          rand.New(rand.NewPCG(uint64(cfg.Seed), 0x0a0e4)),
		lifetime:     cfg.TokenLifetime,
		rotate:       cfg.RotateNonces,
	}
	if a.lifetime <= 0 {
		a.lifetime = DefaultTokenLifetime
	}
	for _, c := range cfg.Clients {
		reg := &clientReg{OAuthClient: c}
		switch {
		case c.PublicKeyPEM != "":
			reg.pub, reg.keyErr = ParsePublicKeyPEM(c.PublicKeyPEM)
		case c.PublicKey != nil:
			reg.pub, reg.keyErr = checkPublicKey(c.PublicKey)
		default:
			reg.keyErr = fmt.Errorf("emulator: client %s has no public key", c.ID)
		}
		a.clients[c.ID] = reg
	}
	a.nonce = randomString(a.rng, 32, alnum)
	return a
}

// AccessTokens returns every access token the token endpoint issued, in
// order (a test tool: they are secrets).
func (o *Org) AccessTokens() []string {
	a := o.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.issued...)
}

// DPoPNonce returns the nonce the org currently accepts in DPoP proofs.
func (o *Org) DPoPNonce() string {
	a := o.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.nonce
}

// ExpireAccessTokens makes every issued access token expired now, as if
// their lifetime had run out (the client must renew).
func (o *Org) ExpireAccessTokens() {
	now := o.now()
	a := o.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, t := range a.tokens {
		t.expires = now
	}
}

// oauthError is an OAuth 2.0 error answer of the token endpoint.
type oauthError struct {
	status      int
	code        string
	description string
	nonce       string // DPoP-Nonce to send
}

type oauthErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

type tokenBody struct {
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	AccessToken string `json:"access_token"`
	Scope       string `json:"scope"`
}

func invalidClient(desc string) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", description: desc}
}

func invalidProof(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_dpop_proof", description: desc}
}

// requestURL is the request's URL as a DPoP htu or an assertion aud names
// it: scheme, host and path, no query.
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath()
}

// serveToken answers POST /oauth2/v1/token: client credentials with a
// private_key_jwt client assertion, and DPoP for the apps that require it.
func (o *Org) serveToken(w http.ResponseWriter, r *http.Request) {
	now := o.now()
	a := o.auth
	a.mu.Lock()
	a.tokenRequests++
	a.mu.Unlock()
	tb, oe := o.issueToken(r, now)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "application/json")
	h.Set("Date", httpDate(now))
	var body any = tb
	status := http.StatusOK
	if oe != nil {
		if oe.nonce != "" {
			h.Set("DPoP-Nonce", oe.nonce)
		}
		if oe.status == http.StatusMethodNotAllowed {
			h.Set("Allow", http.MethodPost)
		}
		status, body = oe.status, oauthErrorBody{Error: oe.code, ErrorDescription: oe.description}
	}
	b, _ := json.Marshal(body) // plain structs: cannot fail
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (o *Org) issueToken(r *http.Request, now time.Time) (*tokenBody, *oauthError) {
	a := o.auth
	if r.Method != http.MethodPost {
		return nil, &oauthError{status: http.StatusMethodNotAllowed, code: "invalid_request", description: "The token endpoint accepts POST only."}
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return nil, &oauthError{status: http.StatusBadRequest, code: "invalid_request", description: "The request must be application/x-www-form-urlencoded."}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return nil, &oauthError{status: http.StatusBadRequest, code: "invalid_request", description: "The request body is not a valid form."}
	}
	f := r.PostForm
	if g := f.Get("grant_type"); g != "client_credentials" {
		return nil, &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type", description: "The authorization grant type is not supported by the authorization server. Configured grant types: [client_credentials]."}
	}
	if f.Get("client_assertion_type") != jwtBearerType {
		return nil, invalidClient("client_assertion_type must be " + jwtBearerType + ".")
	}
	if f.Get("client_secret") != "" {
		return nil, invalidClient("The client is registered for private_key_jwt; client_secret is refused.")
	}
	t, err := parseJWS(f.Get("client_assertion"))
	if err != nil {
		return nil, invalidClient("The client_assertion is not a valid JWT: " + err.Error() + ".")
	}
	c := &t.claims
	id := c.Iss
	if fid := f.Get("client_id"); fid != "" && fid != id {
		return nil, invalidClient("client_id does not match the assertion's iss.")
	}
	a.mu.Lock()
	reg := a.clients[id]
	a.mu.Unlock()
	if reg == nil {
		return nil, invalidClient("Invalid value for 'client_id' parameter.")
	}
	if reg.keyErr != nil {
		return nil, invalidClient("The client has no usable public key registered.")
	}
	if reg.KeyID != "" && t.header.Kid != reg.KeyID {
		return nil, invalidClient("The client_assertion's kid does not name the client's key.")
	}
	if err := t.verify(reg.pub); err != nil {
		return nil, invalidClient("The client_assertion signature is invalid: " + err.Error() + ".")
	}
	if c.Sub != id {
		return nil, invalidClient("The client_assertion's sub must equal its iss (the client_id).")
	}
	aud := requestURL(r)
	if !slices.Contains(c.audiences(), aud) {
		return nil, invalidClient("The audience of the client_assertion is not the token endpoint " + aud + ".")
	}
	if c.Exp == nil || c.Iat == nil {
		return nil, invalidClient("The client_assertion needs exp and iat.")
	}
	exp, iat := unixTime(*c.Exp), unixTime(*c.Iat)
	switch {
	case !now.Before(exp):
		return nil, invalidClient("The client_assertion token is expired.")
	case iat.After(now.Add(proofWindow)):
		return nil, invalidClient("The client_assertion token was issued in the future.")
	case exp.Sub(iat) > maxAssertionLife:
		return nil, invalidClient("The client_assertion token has an expiration too far in the future.")
	case c.Jti == "":
		return nil, invalidClient("The client_assertion needs a jti.")
	}

	// Scopes.
	scope := strings.Fields(f.Get("scope"))
	if len(scope) == 0 {
		return nil, &oauthError{status: http.StatusBadRequest, code: "invalid_scope", description: "The authorization server resource does not have any configured default scopes, 'scope' must be provided."}
	}
	granted := reg.Scopes
	if granted == nil {
		granted = defaultScopes
	}
	for _, s := range scope {
		if !slices.Contains(granted, s) {
			return nil, &oauthError{status: http.StatusBadRequest, code: "invalid_scope", description: "The following scopes are not allowed: " + s + "."}
		}
	}

	// DPoP.
	jkt := ""
	if reg.RequireDPoP {
		proofs := r.Header.Values("DPoP")
		if len(proofs) == 0 {
			return nil, invalidProof("The DPoP proof JWT header is missing.")
		}
		if len(proofs) > 1 {
			return nil, invalidProof("More than one DPoP header.")
		}
		p, err := checkProof(proofs[0], r.Method, aud, now, "")
		if err != nil {
			a.mu.Lock()
			a.proofsRejected++
			a.mu.Unlock()
			return nil, invalidProof(err.Error())
		}
		a.mu.Lock()
		if !a.nonceOK(p.nonce) {
			a.nonceChallenges++
			n := a.nonce
			a.mu.Unlock()
			return nil, &oauthError{status: http.StatusBadRequest, code: "use_dpop_nonce", description: "Authorization server requires nonce in DPoP proof.", nonce: n}
		}
		if !a.useJTI(a.proofJTI, p.jti, now) {
			a.proofsRejected++
			a.mu.Unlock()
			return nil, invalidProof("The DPoP proof's jti was already used.")
		}
		a.usedNonce()
		a.mu.Unlock()
		jkt = p.jkt
	}

	// The assertion is spent only once everything else passed, as Okta does
	// (a use_dpop_nonce retry re-signs anyway: the client sends a fresh jti).
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.useJTI(a.assertionJTI, c.Jti, exp) {
		return nil, invalidClient("The client_assertion token has already been used.")
	}
	tok := randomString(a.rng, 48, alnum+"-_")
	a.tokens[tok] = &accessToken{clientID: id, expires: now.Add(a.lifetime), jkt: jkt, scopes: scope}
	a.issued = append(a.issued, tok)
	a.tokensIssued++
	typ := "Bearer"
	if jkt != "" {
		typ = "DPoP"
	}
	return &tokenBody{TokenType: typ, ExpiresIn: int64(a.lifetime / time.Second), AccessToken: tok, Scope: strings.Join(scope, " ")}, nil
}

func unixTime(f float64) time.Time { return time.Unix(int64(f), 0) }

// useJTI records jti until the later of until and an hour from now;
// false when it was already used. The caller holds a.mu.
func (a *authState) useJTI(seen map[string]time.Time, jti string, until time.Time) bool {
	if _, ok := seen[jti]; ok {
		return false
	}
	// Forget what can no longer be replayed (proofs outside the window,
	// expired assertions).
	if len(seen) > 4096 {
		cut := until.Add(-2 * maxAssertionLife)
		for k, t := range seen {
			if t.Before(cut) {
				delete(seen, k)
			}
		}
	}
	seen[jti] = until
	return true
}

// nonceOK: n is the current nonce, or the previous one (RotateNonces). The
// caller holds a.mu.
func (a *authState) nonceOK(n string) bool {
	return n != "" && (n == a.nonce || (a.prev != "" && n == a.prev))
}

// usedNonce counts an accepted proof that carried a nonce; with
// RotateNonces every nonceUsesPerEpoch of them the nonce changes silently
// (the previous one stays accepted until the next change). The caller
// holds a.mu.
func (a *authState) usedNonce() {
	if !a.rotate {
		return
	}
	a.nonceUses++
	if a.nonceUses >= nonceUsesPerEpoch {
		a.nonceUses = 0
		a.prev = a.nonce
		a.nonce = randomString(a.rng, 32, alnum)
	}
}

// proof is a DPoP proof whose signature and claims checked out.
type proof struct {
	jkt, jti, nonce string
}

// checkProof verifies a DPoP proof (RFC 9449 section 4.3) for the request
// method and URL at now; ath is required to match when non-empty. The jti
// replay and the nonce are the caller's to check.
func checkProof(s, method, url string, now time.Time, ath string) (*proof, error) {
	t, err := parseJWS(s)
	if err != nil {
		return nil, fmt.Errorf("The DPoP proof is not a valid JWT: %s.", err)
	}
	if t.header.Typ != "dpop+jwt" {
		return nil, fmt.Errorf("The DPoP proof's typ must be dpop+jwt.")
	}
	if t.header.Alg != "RS256" && t.header.Alg != "ES256" {
		return nil, fmt.Errorf("The DPoP proof's alg %q is not supported (RS256, ES256).", t.header.Alg)
	}
	pub, jkt, err := publicKeyFromJWK(t.rawJWK)
	if err != nil {
		return nil, fmt.Errorf("The DPoP proof's %s.", err)
	}
	if err := t.verify(pub); err != nil {
		return nil, fmt.Errorf("The DPoP proof's signature is invalid: %s.", err)
	}
	c := &t.claims
	if c.Htm != method {
		return nil, fmt.Errorf("The DPoP proof's htm %q does not match the request method %s.", c.Htm, method)
	}
	if c.Htu != url {
		return nil, fmt.Errorf("The DPoP proof's htu does not match the request URL %s.", url)
	}
	if c.Iat == nil {
		return nil, fmt.Errorf("The DPoP proof has no iat.")
	}
	if d := now.Sub(unixTime(*c.Iat)); d > proofWindow || d < -proofWindow {
		return nil, fmt.Errorf("The DPoP proof's iat is outside the accepted window.")
	}
	if c.Jti == "" {
		return nil, fmt.Errorf("The DPoP proof has no jti.")
	}
	if ath != "" && c.Ath != ath {
		return nil, fmt.Errorf("The DPoP proof's ath does not match the access token.")
	}
	return &proof{jkt: jkt, jti: c.Jti, nonce: c.Nonce}, nil
}

// TokenStats counts the token endpoint's work.
type TokenStats struct {
	Requests        int `json:"requests"`        // POST /oauth2/v1/token, whatever the answer
	Issued          int `json:"issued"`          // access tokens issued
	NonceChallenges int `json:"nonceChallenges"` // use_dpop_nonce answers (token endpoint and API)
	ProofsRejected  int `json:"proofsRejected"`  // invalid_dpop_proof answers (token endpoint and API)
}

func (o *Org) tokenStats() TokenStats {
	a := o.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	return TokenStats{Requests: a.tokenRequests, Issued: a.tokensIssued, NonceChallenges: a.nonceChallenges, ProofsRejected: a.proofsRejected}
}
