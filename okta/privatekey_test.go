package okta

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/credbatch/credbatch/internal/secret"
)

const keysDir = "../testdata/keys/"

func readKey(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(keysDir + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func pemOf(t *testing.T, typ string, der []byte) string {
	t.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func TestParsePrivateKey(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384der, err := x509.MarshalECPrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	rsaPKCS1 := readKey(t, "rsa-pkcs1.pem")
	cases := []struct {
		name    string
		text    string
		wantAlg string // "" = refused
	}{
		// Happy: every accepted encoding.
		{"RSA PKCS#1", rsaPKCS1, "RS256"},
		{"RSA PKCS#8", readKey(t, "rsa-pkcs8.pem"), "RS256"},
		{"EC SEC 1", readKey(t, "ec-sec1.pem"), "ES256"},
		{"EC PKCS#8", readKey(t, "ec-pkcs8.pem"), "ES256"},
		{"literal \\n newlines", strings.ReplaceAll(strings.TrimSpace(rsaPKCS1), "\n", `\n`), "RS256"},
		{"literal \\r\\n newlines", strings.ReplaceAll(strings.TrimSpace(rsaPKCS1), "\n", `\r\n`), "RS256"},
		{"CRLF", strings.ReplaceAll(rsaPKCS1, "\n", "\r\n"), "RS256"},
		// Sad.
		{"empty", "  ", ""},
		{"not PEM", "MIIEowIBAAKCAQEA-not-a-key", ""},
		{"a public key", readKey(t, "rsa-public.pem"), ""},
		{"RSA 1024", pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)), ""},
		{"EC P-384", pemOf(t, "EC PRIVATE KEY", p384der), ""},
		{"encrypted", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", ""},
		{"corrupt body", strings.Replace(rsaPKCS1, "MII", "MIX", 1), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := ParsePrivateKey(secret.New(c.text))
			if c.wantAlg == "" {
				if err == nil {
					t.Fatal("accepted")
				}
				if !errors.Is(err, ErrPrivateKey) {
					t.Errorf("error %v does not wrap ErrPrivateKey", err)
				}
				// The message names the problem, never key material.
				body := strings.TrimSpace(c.text)
				if len(body) > 40 {
					for _, line := range strings.Split(body, "\n")[1:3] {
						if line = strings.TrimSpace(line); len(line) > 8 && strings.Contains(err.Error(), line) {
							t.Errorf("error repeats key material: %v", err)
						}
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if got := string(sigAlg(k)); got != c.wantAlg {
				t.Errorf("alg %s, want %s", got, c.wantAlg)
			}
		})
	}
}

func TestNewPrivateKeyConfig(t *testing.T) {
	key := secret.New(readKey(t, "rsa-pkcs8.pem"))
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"complete", Config{ClientID: "0oa1", PrivateKey: key}, true},
		{"no token needed", Config{ClientID: "0oa1", PrivateKey: key, Token: secret.New("")}, true},
		{"scopes", Config{ClientID: "0oa1", PrivateKey: key, Scopes: []string{"okta.users.read"}}, true},
		{"no client ID", Config{PrivateKey: key}, false},
		{"no key", Config{ClientID: "0oa1"}, false},
		{"bad scope", Config{ClientID: "0oa1", PrivateKey: key, Scopes: []string{"okta.users read"}}, false},
	}
	for _, c := range cases {
		c.cfg.OrgURL = "https://acme.okta.com"
		c.cfg.AuthMode = AuthPrivateKey
		_, err := New(c.cfg)
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v does not wrap ErrConfig", c.name, err)
		}
	}
}
