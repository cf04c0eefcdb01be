package emulator

// How an API request (not the token endpoint) is authorized: SSWS, Bearer
// or DPoP, and the scopes of an access token.

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// authResult is how an API request's Authorization header checked out.
type authResult struct {
	scheme string // SSWS, Bearer, DPoP or "" (never the header itself)
	ok     bool
	oauth  bool // an access token from the token endpoint: it has no user
	// For an access token: its client and scopes.
	clientID string
	scopes   []string
	// When !ok: the answer. bare answers carry no body (DPoP proof errors).
	status  int
	bare    bool
	wwwAuth string
	nonce   string
}

// authorize checks an API request's credentials at now.
func (o *Org) authorize(r *http.Request, now time.Time) authResult {
	name, cred, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	cred = strings.TrimSpace(cred)
	res := authResult{status: http.StatusUnauthorized}
	switch strings.ToLower(name) {
	case "ssws":
		res.scheme = "SSWS"
		res.ok = cred != "" && cred == o.token
		return res
	case "bearer":
		res.scheme = "Bearer"
	case "dpop":
		res.scheme = "DPoP"
	default:
		return res
	}
	if res.scheme == "Bearer" && cred != "" && cred == o.token {
		res.ok = true
		return res
	}
	a := o.auth
	a.mu.Lock()
	at := a.tokens[cred]
	var tok accessToken
	if at != nil {
		tok = *at
	}
	a.mu.Unlock()
	invalid := func(desc string) authResult {
		res.wwwAuth = fmt.Sprintf(`%s error="invalid_token", error_description=%q`, res.scheme, desc)
		return res
	}
	switch {
	case cred == "" || at == nil:
		return invalid("The access token is invalid.")
	case !now.Before(tok.expires):
		return invalid("The access token is expired.")
	case res.scheme == "Bearer" && tok.jkt != "":
		return invalid("The access token is DPoP-bound: use the DPoP scheme with a proof.")
	case res.scheme == "DPoP" && tok.jkt == "":
		return invalid("The access token is not DPoP-bound.")
	}
	res.oauth, res.clientID, res.scopes = true, tok.clientID, tok.scopes
	if res.scheme == "Bearer" {
		res.ok = true
		return res
	}
	badProof := func(desc string) authResult {
		a.mu.Lock()
		a.proofsRejected++
		a.mu.Unlock()
		res.status, res.bare = http.StatusBadRequest, true
		res.wwwAuth = fmt.Sprintf(`DPoP error="invalid_dpop_proof", error_description=%q`, desc)
		return res
	}
	proofs := r.Header.Values("DPoP")
	if len(proofs) != 1 {
		return badProof("A DPoP-bound access token needs exactly one DPoP proof header.")
	}
	p, err := checkProof(proofs[0], r.Method, requestURL(r), now, accessTokenHash(cred))
	if err != nil {
		return badProof(err.Error())
	}
	if p.jkt != tok.jkt {
		return badProof("The DPoP proof's key is not the key the access token is bound to.")
	}
	a.mu.Lock()
	if (a.rotate || p.nonce != "") && !a.nonceOK(p.nonce) {
		a.nonceChallenges++
		res.nonce = a.nonce
		a.mu.Unlock()
		res.bare = true
		res.wwwAuth = `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`
		return res
	}
	if !a.useJTI(a.proofJTI, p.jti, now) {
		a.mu.Unlock()
		return badProof("The DPoP proof's jti was already used.")
	}
	if p.nonce != "" {
		a.usedNonce()
	}
	a.mu.Unlock()
	res.ok = true
	return res
}

// hasScope reports whether scopes allow need (okta.X.read): the scope
// itself, or okta.X.manage.
func hasScope(scopes []string, need string) bool {
	manage := strings.TrimSuffix(need, ".read") + ".manage"
	for _, s := range scopes {
		if s == need || s == manage {
			return true
		}
	}
	return false
}
