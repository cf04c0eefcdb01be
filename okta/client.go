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

// Authorization modes. PrivateKey (OAuth 2.0 client credentials) comes later.
const (
	AuthSSWS   AuthMode = "SSWS"   // Authorization: SSWS <API token>
	AuthBearer AuthMode = "Bearer" // Authorization: Bearer <access token>
)

// DefaultTimeout is one request's time limit when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// maxBody is the most of a response body the client reads.
const maxBody = 1 << 20

// Config configures a Client.
type Config struct {
	OrgURL   string        // normalised by NormalizeOrgURL
	Token    secret.String // surrounding white space is trimmed
	AuthMode AuthMode      // default SSWS
	Timeout  time.Duration // per request; default 30s
	// HTTPClient is optional. The default has a Transport tuned for 64
	// workers on one host, TLS verification on, no automatic retries, and
	// refuses a redirect to another host or one that would change the
	// method (the 3xx is then returned as an *APIError). A caller-supplied
	// client is used as is.
	HTTPClient *http.Client
}

// Client calls the Okta Management API. It is safe for concurrent use.
type Client struct {
	orgURL  string
	token   secret.String
	mode    AuthMode
	timeout time.Duration
	hc      *http.Client
}

// ErrConfig is wrapped by the errors New returns.
var ErrConfig = errors.New("okta: bad client configuration")

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	org, err := NormalizeOrgURL(cfg.OrgURL)
	if err != nil {
		return nil, err
	}
	tok := strings.TrimSpace(cfg.Token.Reveal())
	if tok == "" {
		return nil, fmt.Errorf("%w: no token", ErrConfig)
	}
	for _, r := range tok {
		if r < 0x21 || r == 0x7f {
			return nil, fmt.Errorf("%w: the token contains white space or control characters", ErrConfig)
		}
	}
	mode := cfg.AuthMode
	switch mode {
	case "":
		mode = AuthSSWS
	case AuthSSWS, AuthBearer:
	default:
		return nil, fmt.Errorf("%w: unsupported auth mode %q (want SSWS or Bearer)", ErrConfig, string(mode))
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
	return &Client{orgURL: org, token: secret.New(tok), mode: mode, timeout: timeout, hc: hc}, nil
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

// checkRedirect follows a redirect only to the same scheme and host with the
// same method; otherwise the 3xx itself is returned (and becomes an APIError).
func checkRedirect(req *http.Request, via []*http.Request) error {
	first := via[0]
	if len(via) >= 5 || req.URL.Scheme != first.URL.Scheme || req.URL.Host != first.URL.Host || req.Method != first.Method {
		return http.ErrUseLastResponse
	}
	return nil
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
	body    any      // marshalled to JSON when non-nil
	secrets []string // revealed values to scrub from any error text
	opts    CallOptions
	// needTemp: a 2xx without a tempPassword is unusable.
	needTemp bool
}

func userPath(id string, suffix string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("okta: empty user ID or login")
	}
	return "/api/v1/users/" + url.PathEscape(id) + suffix, nil
}

func boolStr(b bool) string { return strconv.FormatBool(b) }

// do makes the one attempt of a call.
func (c *Client) do(ctx context.Context, k call) (*Response, error) {
	op := k.method + " " + k.path
	k.secrets = append(k.secrets, c.token.Reveal())
	u := c.orgURL + k.path
	if len(k.query) > 0 {
		u += "?" + k.query.Encode()
	}
	var body io.Reader = http.NoBody
	if k.body != nil {
		b, err := marshalBody(k.body)
		if err != nil {
			return nil, fmt.Errorf("okta: %s: encoding the request body: %w", op, err)
		}
		body = bytes.NewReader(b)
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
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(rctx, trace), k.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("okta: %s: building the request: %w", op, err)
	}
	if k.method == http.MethodPost && k.body == nil {
		req.ContentLength = 0
		req.Body = http.NoBody
		req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
	}
	req.Header.Set("Accept", "application/json")
	if k.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "credbatch/"+Version)
	req.Header.Set("Authorization", string(c.mode)+" "+c.token.Reveal())
	if k.opts.RetryFor != "" {
		req.Header.Set("X-Okta-Retry-For", k.opts.RetryFor)
	}
	if k.opts.RetryCount > 0 {
		req.Header.Set("X-Okta-Retry-Count", strconv.Itoa(k.opts.RetryCount))
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.netError(ctx, rctx, op, wrote.Load(), "", scrub(err, k.secrets))
	}
	received := time.Now()
	defer func() {
		// Drain a little so the connection can be reused, then close.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()
	reqID := resp.Header.Get("X-Okta-Request-Id")
	rate := parseRate(resp.Header, received)
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if readErr == nil && len(data) > maxBody {
		readErr = fmt.Errorf("response body larger than %d bytes", maxBody)
	}

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := decodeError(resp.StatusCode, data, reqID, rate)
		e.Summary = redact(e.Summary, k.secrets)
		e.Link = redact(e.Link, k.secrets)
		e.ID = redact(e.ID, k.secrets)
		e.Code = redact(e.Code, k.secrets)
		for i := range e.Causes {
			e.Causes[i] = redact(e.Causes[i], k.secrets)
		}
		return nil, e
	}
	if readErr != nil {
		return nil, c.netError(ctx, rctx, op, true, reqID, fmt.Errorf("%w: HTTP %d: reading the body: %w", ErrBadResponse, resp.StatusCode, scrub(readErr, k.secrets)))
	}
	r := &Response{HTTPStatus: resp.StatusCode, RequestID: reqID, Rate: rate}
	if err := decodeSuccess(data, r); err != nil {
		return nil, &NetError{Op: op, MayHaveReached: true, RequestID: reqID, Err: fmt.Errorf("%w: HTTP %d: %s", ErrBadResponse, resp.StatusCode, err)}
	}
	if k.needTemp && r.TempPassword.IsZero() {
		return nil, &NetError{Op: op, MayHaveReached: true, RequestID: reqID, Err: fmt.Errorf("%w: HTTP %d: no tempPassword in the answer", ErrBadResponse, resp.StatusCode)}
	}
	return r, nil
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
func scrub(err error, secrets []string) error {
	msg := err.Error()
	if r := redact(msg, secrets); r != msg {
		return errors.New(r)
	}
	return err
}
