package okta

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ErrBadOrgURL is wrapped by every error NormalizeOrgURL returns.
var ErrBadOrgURL = errors.New("okta: bad org URL")

// NormalizeOrgURL turns what a user typed into "scheme://host[:port]":
// lower-case scheme and host, no default port, no trailing dot. A missing
// scheme means https. Any path, query or fragment is dropped (people paste
// "https://acme.okta.com/admin/dashboard" or ".../api/v1"). Refused: an
// empty value, a scheme other than https (http is allowed only for loopback
// hosts: localhost, 127.0.0.0/8, ::1), user information in the URL, and an
// Admin Console host such as acme-admin.okta.com (the error names
// acme.okta.com). Error messages never repeat the raw input, which might
// carry credentials.
func NormalizeOrgURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrBadOrgURL)
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%w: not a URL", ErrBadOrgURL)
	}
	if u.User != nil {
		return "", fmt.Errorf("%w: it must not carry a user name or password", ErrBadOrgURL)
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	port := u.Port()
	if host == "" {
		return "", fmt.Errorf("%w: no host", ErrBadOrgURL)
	}
	if strings.ContainsAny(host, " %") {
		return "", fmt.Errorf("%w: bad host", ErrBadOrgURL)
	}
	if u.Host != "" && strings.HasSuffix(u.Host, ":") {
		return "", fmt.Errorf("%w: empty port", ErrBadOrgURL)
	}
	switch scheme {
	case "https":
		if port == "443" {
			port = ""
		}
	case "http":
		if !isLoopback(host) {
			return "", fmt.Errorf("%w: plain http is allowed only for loopback hosts; use https://%s", ErrBadOrgURL, host)
		}
		if port == "80" {
			port = ""
		}
	default:
		return "", fmt.Errorf("%w: scheme %q: use https", ErrBadOrgURL, scheme)
	}
	if first, rest, ok := strings.Cut(host, "."); ok && strings.HasSuffix(first, "-admin") && len(first) > len("-admin") {
		return "", fmt.Errorf("%w: %s is the Admin Console's host; the API lives at https://%s.%s",
			ErrBadOrgURL, host, strings.TrimSuffix(first, "-admin"), rest)
	}
	h := host
	if strings.Contains(h, ":") { // IPv6 literal
		h = "[" + h + "]"
	}
	if port != "" {
		h += ":" + port
	}
	return scheme + "://" + h, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
