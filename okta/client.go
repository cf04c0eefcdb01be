package okta

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/credbatch/credbatch/internal/secret"
)

// Version is the tool version sent in the User-Agent header
// ("credbatch/<Version>"). The cmd sets it (ldflags or assignment) before
// making a Client.
var Version = "dev"

// AuthMode selects the Authorization header scheme.
type AuthMode string

// Authorization modes.
const (
	AuthSSWS   AuthMode = "SSWS"   // Authorization: SSWS <API token>
	AuthBearer AuthMode = "Bearer" // Authorization: Bearer <access token>
	// AuthPrivateKey: OAuth 2.0 client credentials with private_key_jwt;
	// "Bearer <access token>", or "DPoP <access token>" with a proof when
	// the app requires DPoP. See the package documentation.
	AuthPrivateKey AuthMode = "PrivateKey"
)

// DefaultTimeout is one request's time limit when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// maxBody is the most of a response body the client reads.
const maxBody = 1 << 20

// bodyBuffers hold response bodies while they are decoded, so that a run
// does not allocate a fresh ~2 KB for each answer.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putBodyBuffer zeroes what buf held (an answer may carry a temporary
// password or a reset link) and returns it to the pool, unless an odd
// answer made it large.
func putBodyBuffer(buf *bytes.Buffer) {
	clear(buf.Bytes())
	buf.Reset()
	if buf.Cap() <= 64<<10 {
		bodyBuffers.Put(buf)
	}
}

// jsonType is the Accept (and Content-Type) header value, shared by every
// request (net/http only reads it).
var jsonType = []string{"application/json"}

// Config configures a Client.
type Config struct {
	OrgURL   string        // normalised by NormalizeOrgURL
	Token    secret.String // surrounding white space is trimmed
	AuthMode AuthMode      // default SSWS
	Timeout  time.Duration // per request; default 30s
	// HTTPClient is optional. The default has a Transport tuned for 64
	// workers on one host, TLS verification on, no automatic retries, and
	// follows at most four redirects, each to the same scheme and host with
	// the same method (checkRedirect); any other 3xx is returned as an
	// *APIError. A caller-supplied client is used as is.
	HTTPClient *http.Client

	// PrivateKey mode (Token is then not used).
	ClientID     string        // the service app's client ID: iss and sub of the assertion
	Scopes       []string      // default DefaultScopes; sent space-separated
	PrivateKey   secret.String // PEM text; see ParsePrivateKey
	PrivateKeyID string        // the assertion's kid header, when set
	// Now is the clock for token expiry and the JWTs' iat and exp; default
	// time.Now.
	Now func() time.Time
}

// Client calls the Okta Management API. It is safe for concurrent use.
type Client struct {
	orgURL  string
	token   secret.String
	mode    AuthMode
	timeout time.Duration
	hc      *http.Client
	oauth   *oauthSource // PrivateKey mode; nil otherwise
	// userAgent is the User-Agent header's value, credbatch/Version as
	// Version was when New ran.
	userAgent []string
}

// ErrConfig is wrapped by the errors New returns.
var ErrConfig = errors.New("okta: bad client configuration")

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	org, err := NormalizeOrgURL(cfg.OrgURL)
	if err != nil {
		return nil, err
	}
	mode := cfg.AuthMode
	switch mode {
	case "":
		mode = AuthSSWS
	case AuthSSWS, AuthBearer, AuthPrivateKey:
	default:
		return nil, fmt.Errorf("%w: unsupported auth mode %q (want SSWS, Bearer or PrivateKey)", ErrConfig, string(mode))
	}
	tok := strings.TrimSpace(cfg.Token.Reveal())
	if mode != AuthPrivateKey {
		if tok == "" {
			return nil, fmt.Errorf("%w: no token", ErrConfig)
		}
		for _, r := range tok {
			if r < 0x21 || r == 0x7f {
				return nil, fmt.Errorf("%w: the token contains white space or control characters", ErrConfig)
			}
		}
	} else {
		tok = ""
	}
	timeout := cfg.Timeout
	if timeout < 0 {
		return nil, fmt.Errorf("%w: negative timeout", ErrConfig)
	}
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient()
	}
	c := &Client{orgURL: org, token: secret.New(tok), mode: mode, timeout: timeout, hc: hc, userAgent: []string{"credbatch/" + Version}}
	if mode == AuthPrivateKey {
		now := cfg.Now
		if now == nil {
			now = time.Now
		}
		if c.oauth, err = newOAuthSource(hc, org, cfg, timeout, now); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// TokenRequests returns how many token requests a PrivateKey client has
// sent (0 in the other modes).
func (c *Client) TokenRequests() int64 {
	if c.oauth == nil {
		return 0
	}
	return c.oauth.requests.Load()
}

// OrgURL returns the normalised org URL ("https://acme.okta.com").
func (c *Client) OrgURL() string { return c.orgURL }

func defaultHTTPClient() *http.Client {
	t := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	return &http.Client{Transport: t, CheckRedirect: checkRedirect}
}

// checkRedirect is the default client's redirect policy (http.Client's
// CheckRedirect): a redirect is followed only to the same scheme and host
// with the same method, at most maxRedirects times; otherwise the 3xx itself
// is the answer (and becomes an APIError). http.Client turns a 301, 302 or
// 303 of a POST into a GET: that changes the method, so it is refused. A
// redirect to another host is refused before anything is sent to it: the
// Authorization header never leaves the org.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects || !sameTarget(via[0], req) {
		return http.ErrUseLastResponse
	}
	return nil
}

// maxRedirects is how many redirects one request follows at most.
const maxRedirects = 4

func sameTarget(first, next *http.Request) bool {
	return next.URL.Scheme == first.URL.Scheme && next.URL.Host == first.URL.Host && next.Method == first.Method
}

// CallOptions marks a retry of an earlier attempt.
type CallOptions struct {
	RetryFor   string // X-Okta-Retry-For: the previous attempt's X-Okta-Request-Id
	RetryCount int    // X-Okta-Retry-Count, sent when > 0
}

// call describes one request.
type call struct {
	method  string
	path    string // already escaped
	query   url.Values
	body    any             // marshalled to JSON when non-nil
	secrets []secret.String // what the request carries: redacted from any server text
	opts    CallOptions
	// needTemp: a 2xx without a tempPassword is unusable.
	needTemp bool
	// wantUser: the answer is a User to decode whole (GetUser, GetMe);
	// other answers give only tempPassword, resetPasswordUrl and status.
	wantUser bool
	// page, when set, takes a 2xx answer whole (GetPage, page.go): its
	// headers and its unread body; send returns what it returns.
	page func(resp *http.Response, received time.Time) error
}

func userPath(id string, suffix string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("okta: empty user ID or login")
	}
	return "/api/v1/users/" + url.PathEscape(id) + suffix, nil
}

func boolStr(b bool) string { return strconv.FormatBool(b) }

// do makes the one attempt of a call. In PrivateKey mode that attempt may
// take more than one HTTP request, each answered before the next is sent
// (see the package documentation): use_dpop_nonce retries, and one retry
// after a 401 with a renewed token.
func (c *Client) do(ctx context.Context, k call) (*Response, error) {
	op := k.method + " " + k.path
	if !c.token.IsZero() {
		k.secrets = append(k.secrets, c.token)
	}
	u := c.orgURL + k.path
	if len(k.query) > 0 {
		u += "?" + k.query.Encode()
	}
	var body []byte
	if k.body != nil {
		b, err := marshalBody(k.body)
		if err != nil {
			return nil, fmt.Errorf("okta: %s: encoding the request body: %w", op, err)
		}
		body = b
	}
	if c.oauth == nil {
		r, _, err := c.send(ctx, k, op, u, body, func(req *http.Request) error {
			req.Header.Set("Authorization", string(c.mode)+" "+c.token.Reveal())
			return nil
		})
		return r, err
	}
	renewed, nonceRetries := false, 0
	for {
		cr, err := c.oauth.current(ctx)
		if err != nil {
			return nil, err
		}
		k.secrets = append(k.secrets, cr.token)
		r, hdr, err := c.send(ctx, k, op, u, body, func(req *http.Request) error {
			return c.oauth.authorize(req, cr, c.orgURL+k.path)
		})
		if hdr != nil {
			c.oauth.noteAPINonce(hdr)
		}
		var ae *APIError
		if !errors.As(err, &ae) || ae.HTTPStatus != http.StatusUnauthorized {
			return r, err
		}
		if code, _ := dpopChallenge(hdr); cr.dpop && code == "use_dpop_nonce" && hdr.Get("DPoP-Nonce") != "" && nonceRetries < maxNonceRetries {
			nonceRetries++ // a new nonce, not a new token
			continue
		}
		if renewed {
			return r, err // the 401 persists after a renewal: it counts
		}
		renewed = true
		c.oauth.invalidate(cr.gen)
	}
}

// send makes one HTTP request of a call; auth sets its authorization
// headers. The answer's headers are returned when one arrived.
func (c *Client) send(ctx context.Context, k call, op, u string, body []byte, auth func(*http.Request) error) (*Response, http.Header, error) {
	var rbody io.Reader = http.NoBody
	if body != nil {
		rbody = bytes.NewReader(body)
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				wrote.Store(true)
			}
		},
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(rctx, trace), k.method, u, rbody)
	if err != nil {
		return nil, nil, fmt.Errorf("okta: %s: building the request: %w", op, err)
	}
	if k.method == http.MethodPost && k.body == nil {
		req.ContentLength = 0
		req.Body = http.NoBody
		req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
	}
	req.Header["Accept"] = jsonType
	if k.body != nil {
		req.Header["Content-Type"] = jsonType
	}
	req.Header["User-Agent"] = c.userAgent
	if err := auth(req); err != nil {
		return nil, nil, fmt.Errorf("okta: %s: %w", op, err)
	}
	if k.opts.RetryFor != "" {
		req.Header.Set("X-Okta-Retry-For", k.opts.RetryFor)
	}
	if k.opts.RetryCount > 0 {
		req.Header.Set("X-Okta-Retry-Count", strconv.Itoa(k.opts.RetryCount))
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, c.netError(ctx, rctx, op, wrote.Load(), "", scrub(err, k.secrets))
	}
	received := time.Now()
	if k.page != nil && resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		defer resp.Body.Close()
		return nil, resp.Header, k.page(resp, received)
	}
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer putBodyBuffer(buf)
	_, readErr := buf.ReadFrom(io.LimitReader(resp.Body, maxBody+1))
	defer func() {
		if readErr != nil || buf.Len() > maxBody {
			// Drain a little so that the connection can be reused.
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		}
		_ = resp.Body.Close()
	}()
	reqID := secret.Redact(resp.Header.Get("X-Okta-Request-Id"), k.secrets...)
	rate := parseRate(resp.Header, received)
	data := buf.Bytes() // valid until return: every decoder copies what it keeps
	if readErr == nil && len(data) > maxBody {
		readErr = fmt.Errorf("response body larger than %d bytes", maxBody)
	}

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := decodeError(resp.StatusCode, data, reqID, rate)
		if e.Code == "" && len(bytes.TrimSpace(data)) == 0 {
			// A DPoP proof error carries no body: WWW-Authenticate says why.
			if code, desc := dpopChallenge(resp.Header); code != "" {
				e.Code = code
				if desc != "" {
					e.Summary = desc
				}
			}
		}
		e.redact(k.secrets)
		return nil, resp.Header, e
	}
	if readErr != nil {
		return nil, resp.Header, c.netError(ctx, rctx, op, true, reqID, fmt.Errorf("%w: HTTP %d: reading the body: %w", ErrBadResponse, resp.StatusCode, scrub(readErr, k.secrets)))
	}
	r := &Response{HTTPStatus: resp.StatusCode, RequestID: reqID, Rate: rate}
	decode := decodeAnswer
	if k.wantUser {
		decode = decodeSuccess
	}
	if err := decode(data, r); err != nil {
		return nil, resp.Header, &NetError{Op: op, MayHaveReached: true, RequestID: reqID, Err: fmt.Errorf("%w: HTTP %d: %s", ErrBadResponse, resp.StatusCode, err)}
	}
	r.redact(k.secrets)
	if k.needTemp && r.TempPassword.IsZero() {
		return nil, resp.Header, &NetError{Op: op, MayHaveReached: true, RequestID: reqID, Err: fmt.Errorf("%w: HTTP %d: no tempPassword in the answer", ErrBadResponse, resp.StatusCode)}
	}
	return r, resp.Header, nil
}

// netError classifies a failure that left no usable answer.
func (c *Client) netError(ctx, rctx context.Context, op string, wrote bool, reqID string, err error) *NetError {
	ne := &NetError{Op: op, MayHaveReached: wrote, RequestID: reqID}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL is in Op already
	}
	switch {
	case ctx.Err() != nil:
		// The caller cancelled (or its own deadline passed).
		ne.Err = ctx.Err()
		ne.Timeout = errors.Is(ctx.Err(), context.DeadlineExceeded)
	case errors.Is(rctx.Err(), context.DeadlineExceeded):
		ne.Err = fmt.Errorf("no answer within %s: %w", c.timeout, context.DeadlineExceeded)
		ne.Timeout = true
	default:
		ne.Err = err
		var nerr net.Error
		if errors.As(err, &nerr) && nerr.Timeout() {
			ne.Timeout = true
		}
	}
	return ne
}

// scrub returns err unchanged unless its text holds a secret, in which case
// only a redacted text survives.
func scrub(err error, secrets []secret.String) error {
	msg := err.Error()
	if r := secret.Redact(msg, secrets...); r != msg {
		return errors.New(r)
	}
	return err
}
