package emulator

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// The emulator verifies JWTs by hand (standard library only): compact JWS,
// RS256 and ES256, and RFC 7638 JWK thumbprints. It is deliberately an
// implementation independent of the client's JOSE library.

var b64 = base64.RawURLEncoding

// jws is a parsed compact JWS whose signature is not yet verified.
type jws struct {
	header jwsHeader
	claims jwtClaims
	input  []byte // the signing input: base64url(header) "." base64url(payload)
	sig    []byte
	rawJWK json.RawMessage
}

type jwsHeader struct {
	Alg string          `json:"alg"`
	Typ string          `json:"typ"`
	Kid string          `json:"kid"`
	JWK json.RawMessage `json:"jwk"`
}

// jwtClaims holds the claims the emulator checks. Numbers are decoded as
// float64 by encoding/json; NumericDate values are whole seconds.
type jwtClaims struct {
	Iss   string          `json:"iss"`
	Sub   string          `json:"sub"`
	Aud   json.RawMessage `json:"aud"` // a string or an array of strings
	Exp   *float64        `json:"exp"`
	Iat   *float64        `json:"iat"`
	Nbf   *float64        `json:"nbf"`
	Jti   string          `json:"jti"`
	Htm   string          `json:"htm"`
	Htu   string          `json:"htu"`
	Ath   string          `json:"ath"`
	Nonce string          `json:"nonce"`
}

// audiences returns aud as a list.
func (c *jwtClaims) audiences() []string {
	if len(c.Aud) == 0 {
		return nil
	}
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		return []string{one}
	}
	var many []string
	if json.Unmarshal(c.Aud, &many) == nil {
		return many
	}
	return nil
}

// parseJWS splits and decodes a compact JWS. Error texts never repeat the
// token.
func parseJWS(s string) (*jws, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS (want three dot-separated parts)")
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, errors.New("the JOSE header is not base64url")
	}
	pb, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("the payload is not base64url")
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("the signature is not base64url")
	}
	t := &jws{input: []byte(parts[0] + "." + parts[1]), sig: sig}
	if err := json.Unmarshal(hb, &t.header); err != nil {
		return nil, errors.New("the JOSE header is not a JSON object")
	}
	if err := json.Unmarshal(pb, &t.claims); err != nil {
		return nil, errors.New("the claims are not a JSON object")
	}
	t.rawJWK = t.header.JWK
	return t, nil
}

// verify checks the signature with pub; alg must fit the key type.
func (t *jws) verify(pub crypto.PublicKey) error {
	digest := sha256.Sum256(t.input)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if t.header.Alg != "RS256" {
			return fmt.Errorf("alg %q does not fit an RSA key (want RS256)", t.header.Alg)
		}
		if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], t.sig); err != nil {
			return errors.New("the signature does not verify")
		}
		return nil
	case *ecdsa.PublicKey:
		if t.header.Alg != "ES256" || k.Curve != elliptic.P256() {
			return fmt.Errorf("alg %q does not fit the EC key (want ES256 with P-256)", t.header.Alg)
		}
		if len(t.sig) != 64 {
			return errors.New("an ES256 signature is 64 bytes (r || s)")
		}
		r := new(big.Int).SetBytes(t.sig[:32])
		s := new(big.Int).SetBytes(t.sig[32:])
		if !ecdsa.Verify(k, digest[:], r, s) {
			return errors.New("the signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("unsupported key type %T", pub)
}

// ParsePublicKeyPEM reads a PEM public key: PKIX ("PUBLIC KEY") or PKCS#1
// ("RSA PUBLIC KEY"); RSA or EC P-256.
func ParsePublicKeyPEM(text string) (crypto.PublicKey, error) {
	blk, _ := pem.Decode([]byte(text))
	if blk == nil {
		return nil, errors.New("emulator: no PEM block in the public key")
	}
	var pub any
	var err error
	switch blk.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(blk.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("emulator: PEM block %q is not a public key", blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("emulator: public key: %w", err)
	}
	return checkPublicKey(pub)
}

func checkPublicKey(pub any) (crypto.PublicKey, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, errors.New("emulator: an RSA key needs at least 2048 bits")
		}
		return k, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("emulator: an EC key must be on P-256")
		}
		return k, nil
	}
	return nil, fmt.Errorf("emulator: unsupported public key type %T", pub)
}

// jwk is the public JWK a DPoP proof carries.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	N   string `json:"n"`
	E   string `json:"e"`
	D   string `json:"d"` // must be absent: a private key in a header is refused
}

// publicKeyFromJWK turns a proof's jwk header into a key and its RFC 7638
// thumbprint (base64url SHA-256 of the required members in lexicographic
// order).
func publicKeyFromJWK(raw json.RawMessage) (crypto.PublicKey, string, error) {
	if len(raw) == 0 {
		return nil, "", errors.New("no jwk in the header")
	}
	var k jwk
	if err := json.Unmarshal(raw, &k); err != nil {
		return nil, "", errors.New("the jwk header is not a JSON object")
	}
	if k.D != "" {
		return nil, "", errors.New("the jwk header holds a private key")
	}
	var canon string
	var pub crypto.PublicKey
	switch k.Kty {
	case "EC":
		if k.Crv != "P-256" {
			return nil, "", errors.New("jwk: only the P-256 curve is supported")
		}
		xb, err1 := b64.DecodeString(k.X)
		yb, err2 := b64.DecodeString(k.Y)
		if err1 != nil || err2 != nil || len(xb) != 32 || len(yb) != 32 {
			return nil, "", errors.New("jwk: bad x or y")
		}
		// Uncompressed point: 0x04 || X || Y; ParseUncompressedPublicKey
		// checks that the point is on the curve.
		pt := append([]byte{4}, append(xb, yb...)...)
		ek, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
		if err != nil {
			return nil, "", errors.New("jwk: the point is not on P-256")
		}
		pub = ek
		canon = fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, k.X, k.Y)
	case "RSA":
		nb, err1 := b64.DecodeString(k.N)
		eb, err2 := b64.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(nb) == 0 || len(eb) == 0 || len(eb) > 4 {
			return nil, "", errors.New("jwk: bad n or e")
		}
		e := new(big.Int).SetBytes(eb)
		rk := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(e.Int64())}
		if _, err := checkPublicKey(rk); err != nil {
			return nil, "", errors.New("jwk: an RSA key needs at least 2048 bits")
		}
		pub = rk
		canon = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, k.E, k.N)
	default:
		return nil, "", fmt.Errorf("jwk: unsupported kty %q", k.Kty)
	}
	sum := sha256.Sum256([]byte(canon))
	return pub, b64.EncodeToString(sum[:]), nil
}

// accessTokenHash is the DPoP ath claim: base64url(SHA-256(token)).
func accessTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return b64.EncodeToString(sum[:])
}
