package okta

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeOrgURL(t *testing.T) {
	tests := []struct {
		name, in, want string
		errHas         string // non-empty: an error is expected, containing this
	}{
		// happy
		{"plain https", "https://acme.okta.com", "https://acme.okta.com", ""},
		{"no scheme means https", "acme.okta.com", "https://acme.okta.com", ""},
		{"trailing slash dropped", "https://acme.okta.com/", "https://acme.okta.com", ""},
		{"path and query dropped", "https://acme.okta.com/api/v1?x=1#f", "https://acme.okta.com", ""},
		{"case folded", "HTTPS://Acme.OKTA.com", "https://acme.okta.com", ""},
		{"default port dropped", "https://acme.okta.com:443", "https://acme.okta.com", ""},
		{"other port kept", "https://acme.okta.com:8443", "https://acme.okta.com:8443", ""},
		{"trailing dot dropped", "https://acme.okta.com.", "https://acme.okta.com", ""},
		{"white space trimmed", "  https://acme.okta.com \n", "https://acme.okta.com", ""},
		{"custom domain", "https://login.example.com", "https://login.example.com", ""},
		{"http on 127.0.0.1", "http://127.0.0.1:8080", "http://127.0.0.1:8080", ""},
		{"http on 127.1.2.3", "http://127.1.2.3:1", "http://127.1.2.3:1", ""},
		{"http on localhost", "http://localhost:9000/", "http://localhost:9000", ""},
		{"http on ::1", "http://[::1]:9000", "http://[::1]:9000", ""},
		{"https on loopback", "https://127.0.0.1:8443", "https://127.0.0.1:8443", ""},
		// sad
		{"empty", "", "", "empty"},
		{"http off loopback", "http://acme.okta.com", "", "loopback"},
		{"http on a lookalike", "http://localhost.evil.com", "", "loopback"},
		{"http on 128.0.0.1", "http://128.0.0.1", "", "loopback"},
		{"admin host", "https://acme-admin.okta.com", "", "https://acme.okta.com"},
		{"admin host, preview", "acme-admin.oktapreview.com/admin/dashboard", "", "https://acme.oktapreview.com"},
		{"ftp", "ftp://acme.okta.com", "", "use https"},
		{"no host", "https://", "", "no host"},
		{"user info", "https://user:hunter2@acme.okta.com", "", "user name"},
		{"bad URL", "https://acme okta.com", "", "bad org URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeOrgURL(tt.in)
			if tt.errHas != "" {
				if err == nil {
					t.Fatalf("NormalizeOrgURL(%q) = %q, want an error", tt.in, got)
				}
				if !errors.Is(err, ErrBadOrgURL) {
					t.Errorf("error %v does not wrap ErrBadOrgURL", err)
				}
				if !strings.Contains(err.Error(), tt.errHas) {
					t.Errorf("error %q lacks %q", err, tt.errHas)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error %q repeats a password from the URL", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizeOrgURL(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("NormalizeOrgURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	good := Config{OrgURL: "https://acme.okta.com", Token: tok("t0ken")}
	if _, err := New(good); err != nil {
		t.Fatalf("New(good): %v", err)
	}
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"no token", func(c *Config) { c.Token = tok("") }},
		{"blank token", func(c *Config) { c.Token = tok("  \n") }},
		{"token with a newline inside", func(c *Config) { c.Token = tok("ab\r\nX-Evil: 1") }},
		{"unknown auth mode", func(c *Config) { c.AuthMode = "Basic" }},
		{"negative timeout", func(c *Config) { c.Timeout = -1 }},
		{"bad org", func(c *Config) { c.OrgURL = "http://acme.okta.com" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mod(&c)
			cl, err := New(c)
			if err == nil {
				t.Fatalf("New accepted %s", tt.name)
			}
			if cl != nil {
				t.Errorf("New returned a client with its error")
			}
			if strings.Contains(err.Error(), "X-Evil") || strings.Contains(err.Error(), "t0ken") {
				t.Errorf("error %q repeats the token", err)
			}
		})
	}
	c, err := New(Config{OrgURL: "acme.okta.com/", Token: tok(" t0ken\n")})
	if err != nil {
		t.Fatal(err)
	}
	if c.OrgURL() != "https://acme.okta.com" || c.mode != AuthSSWS || c.timeout != DefaultTimeout || c.token.Reveal() != "t0ken" {
		t.Errorf("defaults: org %q mode %q timeout %v token trimmed %v", c.OrgURL(), c.mode, c.timeout, c.token.Reveal() == "t0ken")
	}
}
