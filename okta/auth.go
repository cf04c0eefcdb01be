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
	"sync"
	"sync/atomic"
	"time"

	"github.com/credbatch/credbatch/internal/secret"
)

// DefaultScopes are the scopes PrivateKey mode asks for when Config.Scopes
// is empty.
var DefaultScopes = []string{"okta.users.manage", "okta.users.read"}

// TokenPath is the org authorization server's token endpoint.
const TokenPath = "/oauth2/v1/token"

const (
	jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// maxTokenTries bounds one renewal's token requests: the plain one,
	// the one that learns DPoP, the nonce retries.
	maxTokenTries = 4
	// maxNonceRetries bounds an API call's use_dpop_nonce retries.
	maxNonceRetries = 3
)

// tokenOp names the token request in a *NetError.
const tokenOp = "POST " + TokenPath

// credential is the access token one API attempt uses.
type credential struct {
	token secret.String
	dpop  bool   // a DPoP-bound token: "DPoP <token>" and a proof
	gen   uint64 // which renewal issued it
}

// renewal is one token request (with its DPoP retries) shared by every
// caller that needs a token while it runs.
type renewal struct {
	done      chan struct{}
	err       error
	cancelled bool // the renewer's own context ended it
}

// oauthSource gets and caches access tokens: OAuth 2.0 client credentials
// with a private_key_jwt client assertion, DPoP when the app requires it.
type oauthSource struct {
	hc        *http.Client
	tokenURL  string
	scope     string // space-separated
	assertion *assertionSigner
	now       func() time.Time
	timeout   time.Duration
	// sleep waits d or until ctx ends (a test's fake clock replaces it).
	sleep func(ctx context.Context, d time.Duration) error

	mu        sync.Mutex
	cur       credential
	renewAt   time.Time // when cur is due for renewal
	expiresAt time.Time // when cur's lifetime runs out (counted from before it was asked for)
	lastFetch time.Time // when the last token request began
	renewing  *renewal

	// DPoP state, learned from the token endpoint's answers. nmu guards it
	// (API calls read it while a renewal may run).
	nmu        sync.Mutex
	granted    []string    // the scope of the last token answer
	dpop       *dpopProver // non-nil once the app is known to require DPoP
	tokenNonce string      // the authorization server's DPoP nonce
	apiNonce   string      // the resource server's DPoP nonce

	requests atomic.Int64 // token requests sent
}

func newOAuthSource(hc *http.Client, org string, cfg Config, timeout time.Duration, now func() time.Time) (*oauthSource, error) {
	if strings.TrimSpace(cfg.ClientID) == "" {
		return nil, fmt.Errorf("%w: PrivateKey mode needs a client ID", ErrConfig)
	}
	key, err := ParsePrivateKey(cfg.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	for _, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			return nil, fmt.Errorf("%w: scope %q is not a valid scope name", ErrConfig, s)
		}
	}
	tokenURL := org + TokenPath
	as, err := newAssertionSigner(key, cfg.PrivateKeyID, strings.TrimSpace(cfg.ClientID), tokenURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return &oauthSource{hc: hc, tokenURL: tokenURL, scope: strings.Join(scopes, " "), assertion: as, now: now, timeout: timeout, sleep: sleepCtx}, nil
}

// Token lifetimes. A token is renewed at three quarters of its lifetime
// (expires_in, counted from before the request), and never later than a
// second before it runs out; at most one renewal starts per second
// (minFetchGap), and until then a token that is due but still alive is
// used. So a token of any positive lifetime is replaced before it expires,
// and a 1-second token costs one token request a second.
const (
	// defaultLife is the lifetime of a token whose expires_in is missing,
	// zero or negative.
	defaultLife = time.Minute
	// maxLife caps an absurd expires_in.
	maxLife = 24 * time.Hour
	// minFetchGap is the least time between two renewals' first token
	// requests. (A renewal's DPoP retries answer the server's challenge:
	// they follow at once.)
	minFetchGap = time.Second
)

// tokenLife is the lifetime an answer's expires_in (nil when missing) gives.
func tokenLife(expiresIn *int64) time.Duration {
	if expiresIn == nil || *expiresIn <= 0 {
		return defaultLife
	}
	return time.Duration(min(*expiresIn, int64(maxLife/time.Second))) * time.Second
}

// renewMargin is how long before its lifetime runs out a token is renewed:
// a quarter of that lifetime, at least a second.
func renewMargin(life time.Duration) time.Duration {
	return max(life/4, time.Second)
}

// sleepCtx waits d, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// current returns a valid access token, renewing it when it is missing or
// due. One renewal runs at a time; callers that need a token meanwhile wait
// for it and share its result.
func (s *oauthSource) current(ctx context.Context) (credential, error) {
	for {
		s.mu.Lock()
		now := s.now()
		if !s.cur.token.IsZero() && (now.Before(s.renewAt) ||
			now.Before(s.expiresAt) && now.Before(s.lastFetch.Add(minFetchGap))) {
			// Not due; or due, but alive, and a renewal must wait.
			c := s.cur
			s.mu.Unlock()
			return c, nil
		}
		if rn := s.renewing; rn != nil {
			s.mu.Unlock()
			select {
			case <-rn.done:
			case <-ctx.Done():
				return credential{}, &NetError{Op: tokenOp, Err: ctx.Err(), Timeout: errors.Is(ctx.Err(), context.DeadlineExceeded)}
			}
			if rn.err != nil && !(rn.cancelled && ctx.Err() == nil) {
				return credential{}, rn.err
			}
			continue // renewed (or the renewer gave up on its own account): look again
		}
		rn := &renewal{done: make(chan struct{})}
		s.renewing = rn
		wait := s.lastFetch.Add(minFetchGap).Sub(now)
		s.mu.Unlock()

		var (
			tok  secret.String
			dpop bool
			life time.Duration
			err  error
		)
		if wait > 0 {
			// A token refused (401) or expired within a second of the
			// last request: the next request waits for the second to end.
			if werr := s.sleep(ctx, wait); werr != nil {
				err = &NetError{Op: tokenOp, Err: werr, Timeout: errors.Is(werr, context.DeadlineExceeded)}
			}
		}
		start := s.now()
		if err == nil {
			s.mu.Lock()
			s.lastFetch = start
			s.mu.Unlock()
			tok, dpop, life, err = s.fetch(ctx)
		}
		s.mu.Lock()
		if err == nil {
			s.cur = credential{token: tok, dpop: dpop, gen: s.cur.gen + 1}
			s.renewAt = start.Add(life - renewMargin(life))
			s.expiresAt = start.Add(life)
		}
		rn.err, rn.cancelled = err, err != nil && ctx.Err() != nil
		s.renewing = nil
		fresh := s.cur
		s.mu.Unlock()
		close(rn.done)
		if err != nil {
			return credential{}, err
		}
		// The token just fetched is used as it is, even if its lifetime
		// says it is already due: looping back would fetch again at once.
		return fresh, nil
	}
}

// invalidate drops the token of renewal gen (an API call was answered 401
// with it), so that the next current renews. A token already replaced is
// left alone: concurrent 401s cause one renewal.
func (s *oauthSource) invalidate(gen uint64) {
	s.mu.Lock()
	if s.cur.gen == gen {
		s.cur.token = secret.String{}
	}
	s.mu.Unlock()
}

func (s *oauthSource) prover() (*dpopProver, string, string) {
	s.nmu.Lock()
	defer s.nmu.Unlock()
	return s.dpop, s.tokenNonce, s.apiNonce
}

// noteAPINonce keeps the resource server's DPoP-Nonce from any answer.
func (s *oauthSource) noteAPINonce(h http.Header) {
	if n := strings.TrimSpace(h.Get("DPoP-Nonce")); n != "" {
		s.nmu.Lock()
		s.apiNonce = n
		s.nmu.Unlock()
	}
}

type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   *int64 `json:"expires_in"`
	Scope       string `json:"scope"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// fetch asks the token endpoint for an access token. It learns that the
// app requires DPoP from invalid_dpop_proof, and retries use_dpop_nonce
// with the nonce given, the way the Okta SDKs do.
//
// A refused request (an OAuth error other than those two) is an *APIError
// with HTTPStatus 401 — no API call can be authorized, so errors.Is
// ErrUnauthorized holds and the runner stops — whose Code is the OAuth
// error and Summary says what the token endpoint answered. A 429, a 5xx, a
// network failure or an unusable 200 is a *NetError with MayHaveReached
// false: the API request itself was never sent.
func (s *oauthSource) fetch(ctx context.Context) (tok secret.String, dpop bool, life time.Duration, err error) {
	for try := 0; try < maxTokenTries; try++ {
		assertion, err := s.assertion.sign(s.now())
		if err != nil {
			return tok, false, 0, err
		}
		secrets := []secret.String{secret.New(assertion)}
		form := url.Values{
			"grant_type":            {"client_credentials"},
			"scope":                 {s.scope},
			"client_assertion_type": {jwtBearer},
			"client_assertion":      {assertion},
		}
		prover, nonce, _ := s.prover()
		rctx, cancel := context.WithTimeout(ctx, s.timeout)
		req, err := http.NewRequestWithContext(rctx, http.MethodPost, s.tokenURL, strings.NewReader(form.Encode()))
		if err != nil {
			cancel()
			return tok, false, 0, fmt.Errorf("okta: %s: building the request: %w", tokenOp, err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "credbatch/"+Version)
		if prover != nil {
			p, err := prover.proof(http.MethodPost, s.tokenURL, s.now(), "", nonce)
			if err != nil {
				cancel()
				return tok, false, 0, err
			}
			req.Header.Set("DPoP", p)
		}
		s.requests.Add(1)
		resp, err := s.hc.Do(req)
		if err != nil {
			cancel()
			return tok, false, 0, tokenNetError(ctx, rctx, s.timeout, scrub(err, secrets))
		}
		data, readErr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		cancel()
		newNonce := strings.TrimSpace(resp.Header.Get("DPoP-Nonce"))
		if newNonce != "" {
			s.nmu.Lock()
			s.tokenNonce = newNonce
			s.nmu.Unlock()
		}
		var ans tokenAnswer
		jsonErr := json.Unmarshal(data, &ans)
		switch {
		case resp.StatusCode == http.StatusOK:
			if readErr != nil || jsonErr != nil || ans.AccessToken == "" {
				return tok, false, 0, &NetError{Op: tokenOp, Err: fmt.Errorf("%w: the token endpoint's 200 carries no access token", ErrBadResponse)}
			}
			typ := ans.TokenType
			if !strings.EqualFold(typ, "Bearer") && !strings.EqualFold(typ, "DPoP") {
				return tok, false, 0, &NetError{Op: tokenOp, Err: fmt.Errorf("%w: unknown token_type %q", ErrBadResponse, secret.Redact(typ, append(secrets, secret.New(ans.AccessToken))...))}
			}
			if strings.EqualFold(typ, "DPoP") && prover == nil {
				return tok, false, 0, &NetError{Op: tokenOp, Err: fmt.Errorf("%w: a DPoP token was issued for a request without a proof", ErrBadResponse)}
			}
			s.nmu.Lock()
			s.granted = strings.Fields(ans.Scope)
			s.nmu.Unlock()
			return secret.New(ans.AccessToken), strings.EqualFold(typ, "DPoP"), tokenLife(ans.ExpiresIn), nil
		case resp.StatusCode == http.StatusBadRequest && ans.Error == "invalid_dpop_proof" && prover == nil:
			p, err := newDPoPProver()
			if err != nil {
				return tok, false, 0, err
			}
			s.nmu.Lock()
			s.dpop = p
			s.nmu.Unlock()
			continue
		case resp.StatusCode == http.StatusBadRequest && ans.Error == "use_dpop_nonce" && prover != nil && newNonce != "":
			continue
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			return tok, false, 0, &NetError{Op: tokenOp, Err: fmt.Errorf("the token endpoint answered HTTP %d", resp.StatusCode)}
		}
		code := ans.Error
		if code == "" {
			code = "token_request_refused"
		}
		summary := fmt.Sprintf("the access token request was refused (HTTP %d from %s)", resp.StatusCode, TokenPath)
		if ans.Description != "" {
			summary += ": " + ans.Description
		}
		e := &APIError{HTTPStatus: http.StatusUnauthorized, Code: code, Summary: summary,
			RequestID: secret.Redact(resp.Header.Get("X-Okta-Request-Id"), secrets...), Rate: parseRate(resp.Header, time.Now())}
		e.redact(secrets)
		return tok, false, 0, e
	}
	return tok, false, 0, &APIError{HTTPStatus: http.StatusUnauthorized, Code: "invalid_dpop_proof",
		Summary: fmt.Sprintf("the access token request was refused %d times in a row (DPoP nonce or proof)", maxTokenTries)}
}

// tokenNetError classifies a token request that got no answer.
func tokenNetError(ctx, rctx context.Context, timeout time.Duration, err error) *NetError {
	ne := &NetError{Op: tokenOp}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case ctx.Err() != nil:
		ne.Err, ne.Timeout = ctx.Err(), errors.Is(ctx.Err(), context.DeadlineExceeded)
	case errors.Is(rctx.Err(), context.DeadlineExceeded):
		ne.Err, ne.Timeout = fmt.Errorf("no answer within %s: %w", timeout, context.DeadlineExceeded), true
	default:
		ne.Err = err
	}
	return ne
}

// authorize sets the Authorization (and DPoP) headers of one API attempt.
func (s *oauthSource) authorize(req *http.Request, cr credential, rawURL string) error {
	if !cr.dpop {
		req.Header.Set("Authorization", "Bearer "+cr.token.Reveal())
		return nil
	}
	prover, _, nonce := s.prover() // non-nil: a DPoP token is issued only for a proof
	p, err := prover.proof(req.Method, rawURL, s.now(), cr.token.Reveal(), nonce)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "DPoP "+cr.token.Reveal())
	req.Header.Set("DPoP", p)
	return nil
}

// GrantedScopes returns the scopes the last access token was granted (the
// token answer's scope), or nil before the first token request and for the
// SSWS and Bearer modes, whose token is given.
func (c *Client) GrantedScopes() []string {
	if c.oauth == nil {
		return nil
	}
	c.oauth.nmu.Lock()
	defer c.oauth.nmu.Unlock()
	return append([]string(nil), c.oauth.granted...)
}

// UsesDPoP reports whether the org's app was found to require DPoP-bound
// tokens (learned from the first token request).
func (c *Client) UsesDPoP() bool {
	if c.oauth == nil {
		return false
	}
	c.oauth.nmu.Lock()
	defer c.oauth.nmu.Unlock()
	return c.oauth.dpop != nil
}
