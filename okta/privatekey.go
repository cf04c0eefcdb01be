package okta

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/credbatch/credbatch/internal/secret"
)

// ErrPrivateKey is wrapped by every error ParsePrivateKey returns. Its
// messages name the problem, never the key.
var ErrPrivateKey = errors.New("okta: unusable private key")

// ParsePrivateKey reads the PrivateKey mode's key: PEM text holding an RSA
// key (at least 2048 bits) or an EC P-256 key, as PKCS#1 ("RSA PRIVATE
// KEY"), PKCS#8 ("PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY"). Line breaks may
// be real or the two characters `\n` (as environment variables often carry
// them). An encrypted key is refused.
func ParsePrivateKey(text secret.String) (crypto.Signer, error) {
	s := strings.TrimSpace(text.Reveal())
	if strings.Contains(s, `\n`) {
		s = strings.ReplaceAll(s, `\r\n`, "\n")
		s = strings.ReplaceAll(s, `\n`, "\n")
	}
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrPrivateKey)
	}
	blk, _ := pem.Decode([]byte(s))
	if blk == nil {
		return nil, fmt.Errorf("%w: no PEM block (want -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)", ErrPrivateKey)
	}
	if _, enc := blk.Headers["Proc-Type"]; enc || blk.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, fmt.Errorf("%w: the key is encrypted; give it unencrypted (and keep the file mode 0600)", ErrPrivateKey)
	}
	var key any
	var err error
	switch blk.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("%w: a PEM block of type %q is not a private key", ErrPrivateKey, blk.Type)
	}
	if err != nil {
		// x509's messages describe the structure, never the key material.
		return nil, fmt.Errorf("%w: %s: %w", ErrPrivateKey, blk.Type, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("%w: an RSA key needs at least 2048 bits (this one has %d)", ErrPrivateKey, k.N.BitLen())
		}
		return k, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: an EC key must be on P-256 (ES256)", ErrPrivateKey)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%w: unsupported key type %T (want RSA or EC P-256)", ErrPrivateKey, key)
}

// sigAlg is the JWS algorithm for a key: RS256 or ES256.
func sigAlg(k crypto.Signer) jose.SignatureAlgorithm {
	if _, ok := k.(*ecdsa.PrivateKey); ok {
		return jose.ES256
	}
	return jose.RS256
}

// assertionLifetime is how long a client assertion is valid (Okta accepts
// up to an hour; a short one limits the harm of a leaked assertion).
const assertionLifetime = 5 * time.Minute

// assertionSigner signs private_key_jwt client assertions (RFC 7523).
type assertionSigner struct {
	signer   jose.Signer
	clientID string
	aud      string // the token endpoint URL
}

func newAssertionSigner(key crypto.Signer, kid, clientID, aud string) (*assertionSigner, error) {
	var k any = key
	if kid != "" {
		k = jose.JSONWebKey{Key: key, KeyID: kid}
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: sigAlg(key), Key: k}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPrivateKey, err)
	}
	return &assertionSigner{signer: s, clientID: clientID, aud: aud}, nil
}

// sign returns a fresh assertion: iss = sub = client ID, aud = the token
// endpoint, a new jti, iat = now, exp = now + 5 minutes.
func (a *assertionSigner) sign(now time.Time) (string, error) {
	c := jwt.Claims{
		Issuer:   a.clientID,
		Subject:  a.clientID,
		Audience: jwt.Audience{a.aud},
		ID:       rand.Text(),
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(assertionLifetime)),
	}
	s, err := jwt.Signed(a.signer).Claims(c).Serialize()
	if err != nil {
		return "", fmt.Errorf("okta: signing the client assertion: %w", err)
	}
	return s, nil
}
