package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MaxPageBody is the most of a listing page's body GetPage reads: a page
// of 1000 group members with large profiles is a few megabytes.
const MaxPageBody = 32 << 20

// ErrForeignLink is wrapped by GetPage's error when a page URL (given, or
// the rel="next" link of an answer) names another scheme, host or port
// than the org's: the token is never sent anywhere but the org.
var ErrForeignLink = errors.New("okta: a listing link leaves the org")

// ErrBadLink is wrapped by GetPage's error when an answer's Link header
// cannot be read, or names two different next pages.
var ErrBadLink = errors.New("okta: unusable Link header")

// Page is what one page of a listing said besides its items.
type Page struct {
	// Next is the rel="next" link exactly as the answer gave it (a
	// cursor's URL is never rebuilt); "" when the listing ends here.
	Next       string
	HTTPStatus int
	RequestID  string   // X-Okta-Request-Id
	Rate       RateInfo // what the answer said about its rate-limit bucket
}

// GetPage sends GET pageURL — the first page of a listing as a path with
// its query ("/api/v1/users?limit=200"), or a Page.Next link as given —
// with the client's authorization, timeout and redaction, and decodes the
// JSON body (at most MaxPageBody bytes) into into, as json.Unmarshal does
// (unknown fields are ignored). One HTTP attempt, as every call: pacing
// and retries belong to the caller.
//
// pageURL must be a path on the org ("/…") or an absolute URL whose
// scheme, host and port are the org's; otherwise, and when the answer's
// next link is not, the error wraps ErrForeignLink and nothing is sent
// there. The request goes to the org's own URL with pageURL's path and
// query byte for byte.
//
// Failures are as for every call (see the package documentation): a
// non-2xx answer is an *APIError (with its Rate: a 429 says how long to
// wait), no answer a *NetError. A 2xx whose body is cut off, too large or
// not JSON of into's shape, or whose Link header is unusable or leaves the
// org, is an error too (a *NetError wrapping ErrBadResponse, or ErrBadLink,
// or ErrForeignLink); then the *Page is returned beside it all the same,
// so that the caller can still pace by its Rate.
func (c *Client) GetPage(ctx context.Context, pageURL string, into any, o CallOptions) (*Page, error) {
	target, err := c.pageTarget(pageURL)
	if err != nil {
		return nil, err
	}
	path, _, _ := strings.Cut(target, "?")
	op := http.MethodGet + " " + path // no query in errors: NetError's rule
	var pg *Page
	k := call{method: http.MethodGet, path: target, opts: o}
	k.page = func(resp *http.Response, received time.Time) error {
		pg = &Page{HTTPStatus: resp.StatusCode, RequestID: resp.Header.Get("X-Okta-Request-Id"), Rate: parseRate(resp.Header, received)}
		bad := func(format string, args ...any) error {
			return &NetError{Op: op, MayHaveReached: true, RequestID: pg.RequestID,
				Err: fmt.Errorf("%w: HTTP %d: %s", ErrBadResponse, resp.StatusCode, fmt.Sprintf(format, args...))}
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPageBody+1))
		switch {
		case err != nil:
			return bad("reading the body: %v", err)
		case len(body) > MaxPageBody:
			return bad("a listing page larger than %d bytes", MaxPageBody)
		}
		if err := json.Unmarshal(body, into); err != nil {
			return bad("the listing page does not decode: %v", err)
		}
		next, err := NextLink(resp.Header)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if next != "" {
			if _, err := c.pageTarget(next); err != nil {
				return fmt.Errorf("%s: the next page: %w", op, err)
			}
		}
		pg.Next = next
		return nil
	}
	_, err = c.do(ctx, k)
	var ne *NetError
	if errors.As(err, &ne) && ne.Op != op {
		ne.Op = op
	}
	return pg, err
}

// pageTarget returns the path and query (byte for byte as given) of a page
// URL on the org, or an error wrapping ErrForeignLink.
func (c *Client) pageTarget(pageURL string) (string, error) {
	raw, _, _ := strings.Cut(pageURL, "#") // a fragment is never sent
	if strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//") {
		return raw, nil
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", fmt.Errorf("%w: %q is not a URL on the org %s", ErrForeignLink, pageURL, c.orgURL)
	}
	org, err := url.Parse(c.orgURL)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrForeignLink, err)
	}
	if !strings.EqualFold(u.Scheme, org.Scheme) || !strings.EqualFold(u.Hostname(), org.Hostname()) || portOf(u) != portOf(org) {
		return "", fmt.Errorf("%w: %s://%s is not the org %s", ErrForeignLink, u.Scheme, u.Host, c.orgURL)
	}
	// The path and query as written: after "scheme://host".
	rest := raw[strings.Index(raw, "//")+2:]
	i := strings.IndexAny(rest, "/?")
	if i < 0 {
		return "/", nil
	}
	if rest[i] == '?' {
		return "/" + rest[i:], nil
	}
	return rest[i:], nil
}

// portOf is the URL's port, or its scheme's default.
func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// NextLink returns the target of the rel="next" link of Link headers (RFC
// 8288: any number of header lines, each a comma-separated list of
// `<URI>; param=value` links; rel may hold several space-separated
// relation types, quoted or not, in any case), exactly as written; "" when
// there is none. Two different next links are an error wrapping
// ErrBadLink; the same link repeated is one link.
func NextLink(h http.Header) (string, error) {
	next := ""
	for _, line := range h.Values("Link") {
		links, err := parseLinks(line)
		if err != nil {
			return "", err
		}
		for _, l := range links {
			if !l.has("next") {
				continue
			}
			if next != "" && next != l.target {
				return "", fmt.Errorf("%w: two different next links", ErrBadLink)
			}
			next = l.target
		}
	}
	return next, nil
}

// link is one link of a Link header.
type link struct {
	target string
	rels   []string
}

func (l link) has(rel string) bool {
	for _, r := range l.rels {
		if strings.EqualFold(r, rel) {
			return true
		}
	}
	return false
}

// parseLinks reads one Link header line.
func parseLinks(s string) ([]link, error) {
	var out []link
	i := 0
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	for {
		skip()
		for i < len(s) && s[i] == ',' { // empty list elements
			i++
			skip()
		}
		if i == len(s) {
			return out, nil
		}
		if s[i] != '<' {
			return nil, fmt.Errorf("%w: a link does not start with <", ErrBadLink)
		}
		end := strings.IndexByte(s[i:], '>')
		if end < 0 {
			return nil, fmt.Errorf("%w: a link's < has no >", ErrBadLink)
		}
		l := link{target: strings.TrimSpace(s[i+1 : i+end])}
		i += end + 1
		// Parameters: ; name[=value] ... up to the next , outside quotes.
		for {
			skip()
			if i == len(s) || s[i] == ',' {
				break
			}
			if s[i] != ';' {
				return nil, fmt.Errorf("%w: unexpected %q after a link", ErrBadLink, s[i])
			}
			i++
			skip()
			start := i
			for i < len(s) && s[i] != '=' && s[i] != ';' && s[i] != ',' {
				i++
			}
			name := strings.TrimSpace(s[start:i])
			value := ""
			if i < len(s) && s[i] == '=' {
				i++
				skip()
				if i < len(s) && s[i] == '"' {
					i++
					var b strings.Builder
					for i < len(s) && s[i] != '"' {
						if s[i] == '\\' && i+1 < len(s) {
							i++
						}
						b.WriteByte(s[i])
						i++
					}
					if i == len(s) {
						return nil, fmt.Errorf("%w: an unterminated quoted parameter", ErrBadLink)
					}
					i++
					value = b.String()
				} else {
					start := i
					for i < len(s) && s[i] != ';' && s[i] != ',' {
						i++
					}
					value = strings.TrimSpace(s[start:i])
				}
			}
			if strings.EqualFold(name, "rel") && l.rels == nil {
				l.rels = strings.Fields(value)
				if l.rels == nil {
					l.rels = []string{}
				}
			}
		}
		out = append(out, l)
	}
}
