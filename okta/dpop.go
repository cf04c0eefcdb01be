package okta

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// DPoP (RFC 9449): proofs are signed with an EC P-256 key pair generated
// once per process — never the client's private key — whose public half
// travels in each proof's jwk header.

var processDPoPKey = sync.OnceValues(func() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
})

// dpopProver signs DPoP proofs.
type dpopProver struct {
	signer jose.Signer
}

func newDPoPProver() (*dpopProver, error) {
	key, err := processDPoPKey()
	if err != nil {
		return nil, fmt.Errorf("okta: generating the DPoP key: %w", err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		return nil, fmt.Errorf("okta: DPoP signer: %w", err)
	}
	return &dpopProver{signer: s}, nil
}

type dpopClaims struct {
	ID     string           `json:"jti"`
	Method string           `json:"htm"`
	URL    string           `json:"htu"`
	Issued *jwt.NumericDate `json:"iat"`
	ATH    string           `json:"ath,omitempty"`
	Nonce  string           `json:"nonce,omitempty"`
}

// proof returns a fresh proof for one request: htm, htu (the URL without
// query or fragment), iat, a new jti, ath when accessToken is non-empty,
// and nonce when the server gave one.
func (p *dpopProver) proof(method, rawURL string, now time.Time, accessToken, nonce string) (string, error) {
	htu, _, _ := strings.Cut(rawURL, "#")
	htu, _, _ = strings.Cut(htu, "?")
	c := dpopClaims{ID: rand.Text(), Method: method, URL: htu, Issued: jwt.NewNumericDate(now), Nonce: nonce}
	if accessToken != "" {
		c.ATH = tokenHash(accessToken)
	}
	s, err := jwt.Signed(p.signer).Claims(c).Serialize()
	if err != nil {
		return "", fmt.Errorf("okta: signing a DPoP proof: %w", err)
	}
	return s, nil
}

// tokenHash is the ath claim: base64url(SHA-256(access token)).
func tokenHash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authParams parses the first challenge of a WWW-Authenticate header:
// its scheme and its auth-params (quoted or token values).
func authParams(h string) (scheme string, params map[string]string) {
	h = strings.TrimSpace(h)
	scheme, rest, _ := strings.Cut(h, " ")
	params = map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
		name, after, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		name = strings.ToLower(strings.TrimSpace(name))
		after = strings.TrimSpace(after)
		var val string
		if strings.HasPrefix(after, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(after); i++ {
				if after[i] == '\\' && i+1 < len(after) {
					i++
					b.WriteByte(after[i])
					continue
				}
				if after[i] == '"' {
					break
				}
				b.WriteByte(after[i])
			}
			val = b.String()
			if i < len(after) {
				i++
			}
			after = after[i:]
		} else {
			end := strings.IndexByte(after, ',')
			if end < 0 {
				end = len(after)
			}
			val = strings.TrimSpace(after[:end])
			after = after[end:]
		}
		params[name] = val
		rest = strings.TrimPrefix(strings.TrimSpace(after), ",")
	}
	return scheme, params
}

// dpopChallenge reads a DPoP error from WWW-Authenticate: its error code and
// description ("" when the header holds no DPoP challenge).
func dpopChallenge(h http.Header) (code, desc string) {
	for _, v := range h.Values("WWW-Authenticate") {
		scheme, p := authParams(v)
		if strings.EqualFold(scheme, "DPoP") || p["error"] != "" {
			if p["error"] != "" {
				return p["error"], p["error_description"]
			}
		}
	}
	return "", ""
}
