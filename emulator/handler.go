package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Operation names, as LogEntry.Op and Stats report them (Okta's operationIds).
const (
	OpGetUser                        = "getUser"
	OpGetMe                          = "getMe"
	OpExpirePassword                 = "expirePassword"
	OpExpirePasswordWithTempPassword = "expirePasswordWithTempPassword"
	OpResetPassword                  = "resetPassword"
	OpForgotPassword                 = "forgotPassword"
	OpForgotPasswordSetNewPassword   = "forgotPasswordSetNewPassword"
	OpChangePassword                 = "changePassword"
	OpChangeRecoveryQuestion         = "changeRecoveryQuestion"
	OpRevokeUserSessions             = "revokeUserSessions"
	OpListUsers                      = "listUsers"
	OpListGroups                     = "listGroups"
	OpGetGroup                       = "getGroup"
	OpListGroupUsers                 = "listGroupUsers"
	OpListApplicationUsers           = "listApplicationUsers"
	OpListLogEvents                  = "listLogEvents"
)

type route struct {
	op, method, bucket, ref string
	// scope: the OAuth scope an access token needs ("" for the calls that
	// predate scope checks: any token is accepted there).
	scope string
}

var subRoutes = map[string]string{
	"lifecycle/expire_password":                     OpExpirePassword,
	"lifecycle/expire_password_with_temp_password":  OpExpirePasswordWithTempPassword,
	"lifecycle/reset_password":                      OpResetPassword,
	"credentials/forgot_password":                   OpForgotPassword,
	"credentials/forgot_password_recovery_question": OpForgotPasswordSetNewPassword,
	"credentials/change_password":                   OpChangePassword,
	"credentials/change_recovery_question":          OpChangeRecoveryQuestion,
}

// parseRoute maps a request path to its operation; op is "" when the path
// is not one the emulator serves.
func parseRoute(r *http.Request) route {
	p := r.URL.EscapedPath()
	get := http.MethodGet
	switch p {
	case "/api/v1/users":
		return route{op: OpListUsers, method: get, bucket: BucketCredentials, scope: "okta.users.read"}
	case "/api/v1/groups":
		return route{op: OpListGroups, method: get, bucket: BucketGroups, scope: "okta.groups.read"}
	case "/api/v1/logs":
		return route{op: OpListLogEvents, method: get, bucket: BucketLogs, scope: "okta.logs.read"}
	}
	if segs, ref, ok := splitPath(p, "/api/v1/groups/"); ok {
		switch {
		case len(segs) == 1:
			return route{op: OpGetGroup, method: get, bucket: BucketGroups, ref: ref, scope: "okta.groups.read"}
		case len(segs) == 2 && segs[1] == "users":
			return route{op: OpListGroupUsers, method: get, bucket: BucketGroups, ref: ref, scope: "okta.groups.read"}
		}
		return route{}
	}
	if segs, ref, ok := splitPath(p, "/api/v1/apps/"); ok {
		if len(segs) == 2 && segs[1] == "users" {
			return route{op: OpListApplicationUsers, method: get, bucket: BucketApps, ref: ref, scope: "okta.apps.read"}
		}
		return route{}
	}
	segs, ref, ok := splitPath(p, "/api/v1/users/")
	if !ok {
		return route{}
	}
	switch len(segs) {
	case 1:
		if ref == "me" {
			return route{op: OpGetMe, method: http.MethodGet, bucket: BucketUsers}
		}
		return route{op: OpGetUser, method: http.MethodGet, bucket: BucketUsers, ref: ref}
	case 2:
		if segs[1] == "sessions" {
			return route{op: OpRevokeUserSessions, method: http.MethodDelete, bucket: BucketCredentials, ref: ref}
		}
	case 3:
		if op, ok := subRoutes[segs[1]+"/"+segs[2]]; ok {
			return route{op: op, method: http.MethodPost, bucket: BucketCredentials, ref: ref}
		}
	}
	return route{}
}

// splitPath splits the escaped path p after prefix into segments and
// unescapes the first (the resource's ID); ok is false when p does not
// start with prefix or the ID is empty or badly escaped.
func splitPath(p, prefix string) (segs []string, ref string, ok bool) {
	if !strings.HasPrefix(p, prefix) {
		return nil, "", false
	}
	segs = strings.Split(p[len(prefix):], "/")
	ref, err := url.PathUnescape(segs[0])
	if err != nil || ref == "" {
		return nil, "", false
	}
	return segs, ref, true
}

// apiError is an Okta error answer.
type apiError struct {
	status  int
	code    string
	summary string
	causes  []string
}

type errorCause struct {
	ErrorSummary string `json:"errorSummary"`
}

type errorBody struct {
	ErrorCode    string       `json:"errorCode"`
	ErrorSummary string       `json:"errorSummary"`
	ErrorLink    string       `json:"errorLink"`
	ErrorID      string       `json:"errorId"`
	ErrorCauses  []errorCause `json:"errorCauses"`
}

func errNotFound(ref string) *apiError { return errNotFoundOf(ref, "User") }

// errNotFoundOf is Okta's 404 for a resource of a kind (User, UserGroup,
// AppInstance).
func errNotFoundOf(ref, kind string) *apiError {
	return &apiError{status: http.StatusNotFound, code: "E0000007",
		summary: fmt.Sprintf("Not found: Resource not found: %s (%s)", ref, kind)}
}

func errStatus() *apiError {
	return &apiError{status: http.StatusForbidden, code: "E0000038",
		summary: "This operation is not allowed in the user's current status."}
}

func errCredentials(cause string) *apiError {
	return &apiError{status: http.StatusForbidden, code: "E0000014",
		summary: "Update of credentials failed", causes: []string{cause}}
}

func errValidation(field, cause string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "E0000001",
		summary: "Api validation failed: " + field, causes: []string{field + ": " + cause}}
}

// rateInfo is what the X-Rate-Limit-* headers of one answer say.
type rateInfo struct {
	limit, remaining int
	reset            int64
}

// exchange is one request being answered.
type exchange struct {
	o    *Org
	w    http.ResponseWriter
	r    *http.Request
	e    LogEntry
	idx  int
	rate *rateInfo
	now  time.Time
	// oauth: the request carries an access token from the token
	// endpoint (a service app's: GET /users/me finds no user), of clientID.
	oauth    bool
	clientID string
}

// ServeHTTP answers one request; see the package documentation.
func (o *Org) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_emulator/") {
		o.serveAdmin(w, r)
		return
	}
	if r.URL.Path == TokenPath {
		o.serveToken(w, r)
		return
	}
	now := o.now()
	rt := parseRoute(r)
	x := &exchange{o: o, w: w, r: r, now: now}
	x.e = LogEntry{
		Time: now, Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Op: rt.op,
		RequestID:  o.newRequestID(),
		RetryFor:   r.Header.Get("X-Okta-Retry-For"),
		RetryCount: r.Header.Get("X-Okta-Retry-Count"),
		UserAgent:  r.UserAgent(),
	}
	for k := range r.Header {
		if strings.Contains(strings.ToLower(k), "idempotency") {
			x.e.IdempotencyKey = true
		}
	}
	x.idx = o.reserve(&x.e)
	defer func() { o.finish(x.idx, x.e) }()
	x.serve(rt)
}

func (x *exchange) serve(rt route) {
	o, r := x.o, x.r
	if rt.op != "" && r.Method != rt.method {
		x.rate = o.peek(rt.bucket, x.now)
		x.w.Header().Set("Allow", rt.method)
		x.fail(&apiError{status: http.StatusMethodNotAllowed, code: "E0000022",
			summary: "The endpoint does not support the provided HTTP method"})
		return
	}
	if r.Method == http.MethodPost && r.ContentLength <= 0 && len(r.TransferEncoding) == 0 &&
		len(r.Header.Values("Content-Length")) == 0 {
		x.rate = o.peek(rt.bucket, x.now)
		x.fail(&apiError{status: http.StatusLengthRequired,
			summary: "Length Required: a POST needs a Content-Length header"})
		return
	}
	auth := o.authorize(r, x.now)
	x.e.AuthScheme, x.oauth, x.clientID = auth.scheme, auth.oauth, auth.clientID
	if !auth.ok {
		x.rate = o.peek(rt.bucket, x.now)
		if auth.wwwAuth != "" {
			x.w.Header().Set("WWW-Authenticate", auth.wwwAuth)
		}
		if auth.nonce != "" {
			x.w.Header().Set("DPoP-Nonce", auth.nonce)
		}
		if auth.bare {
			x.reply(auth.status, nil)
			return
		}
		x.fail(&apiError{status: http.StatusUnauthorized, code: "E0000011", summary: "Invalid token provided"})
		return
	}
	if rt.op == "" {
		x.rate = o.peek(rt.bucket, x.now)
		x.fail(&apiError{status: http.StatusNotFound, code: "E0000007",
			summary: "Not found: Resource not found: " + r.URL.Path})
		return
	}

	if x.oauth && rt.scope != "" && !hasScope(auth.scopes, rt.scope) {
		x.rate = o.peek(rt.bucket, x.now)
		x.w.Header().Set("WWW-Authenticate", fmt.Sprintf(
			`%s error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", scope=%q`,
			auth.scheme, rt.scope))
		x.fail(&apiError{status: http.StatusForbidden, code: "E0000006",
			summary: "You do not have permission to perform the requested action"})
		return
	}

	// Concurrency limit.
	o.mu.Lock()
	if o.cfg.ConcurrencyLimit > 0 && o.inflight >= o.cfg.ConcurrencyLimit {
		ri := o.peekLocked(rt.bucket, x.now)
		o.concurrencyRejected++
		o.mu.Unlock()
		x.rate = &rateInfo{limit: 0, remaining: 0, reset: ri.reset}
		x.retryAfter(1)
		x.fail(&apiError{status: http.StatusTooManyRequests, code: "E0000047",
			summary: "API call exceeded rate limit due to too many requests."})
		return
	}
	o.inflight++
	delay := o.cfg.Latency
	if o.cfg.Jitter > 0 {
		delay += time.Duration(o.faults.Int64N(int64(o.cfg.Jitter)))
	}
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		o.inflight--
		o.mu.Unlock()
	}()

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return // the client left; the entry keeps Status 0
		case <-o.closed:
			t.Stop()
			x.abort() // the Org was closed: no answer; the entry keeps Status 0
			return
		}
		x.now = o.now()
	}

	// Rate-limit window, then faults (drawn together so one seed gives one sequence).
	o.mu.Lock()
	ri, admitted := o.admit(rt.bucket, x.now)
	fail5xx, drop := 0, false
	if admitted && rt.bucket == BucketCredentials {
		if o.cfg.Fail5xxRate > 0 && o.faults.Float64() < o.cfg.Fail5xxRate {
			fail5xx = []int{500, 502, 503, 504}[o.faults.IntN(4)]
		}
		if fail5xx == 0 && o.cfg.DropRate > 0 && o.faults.Float64() < o.cfg.DropRate {
			drop = true
		}
	}
	o.mu.Unlock()
	x.rate = &ri
	if !admitted {
		secs := ri.reset - x.now.Unix()
		if secs < 1 {
			secs = 1
		}
		x.retryAfter(secs)
		x.fail(&apiError{status: http.StatusTooManyRequests, code: "E0000047",
			summary: "API call exceeded rate limit due to too many requests."})
		return
	}
	if fail5xx != 0 {
		x.fail(&apiError{status: fail5xx, code: "E0000009", summary: "Internal Server Error"})
		return
	}

	res := x.handle(rt)
	if drop {
		x.e.Dropped = true
		x.e.Status = res.status
		if res.err != nil {
			x.e.Status, x.e.ErrorCode = res.err.status, res.err.code
		}
		x.o.finish(x.idx, x.e)
		x.abort()
		return
	}
	if res.err != nil {
		x.fail(res.err)
		return
	}
	setLinks(x.w.Header(), res.links)
	x.reply(res.status, res.body)
}

// abort closes the connection without an answer.
func (x *exchange) abort() {
	if hj, ok := x.w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func (x *exchange) retryAfter(secs int64) {
	switch {
	case x.o.cfg.RetryAfterHTTPDate:
		x.w.Header().Set("Retry-After", httpDate(x.now.Add(time.Duration(secs)*time.Second)))
	case x.o.cfg.RetryAfter:
		x.w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
}

func (x *exchange) headers() {
	h := x.w.Header()
	h.Set("X-Okta-Request-Id", x.e.RequestID)
	if x.o.cfg.OmitDate {
		h["Date"] = nil // suppresses net/http's own Date
	} else {
		h.Set("Date", httpDate(x.now))
	}
	ri := x.rate
	if ri == nil {
		ri = x.o.peek("", x.now)
	}
	n := 1
	if x.o.cfg.RepeatRateHeaders {
		n = 2
	}
	for range n {
		h.Add("X-Rate-Limit-Limit", strconv.Itoa(ri.limit))
		h.Add("X-Rate-Limit-Remaining", strconv.Itoa(ri.remaining))
		h.Add("X-Rate-Limit-Reset", strconv.FormatInt(ri.reset, 10))
	}
}

func (x *exchange) fail(ae *apiError) {
	x.e.ErrorCode = ae.code
	b := errorBody{ErrorCode: ae.code, ErrorSummary: ae.summary, ErrorLink: ae.code,
		ErrorID: "oae" + x.e.RequestID, ErrorCauses: []errorCause{}}
	for _, c := range ae.causes {
		b.ErrorCauses = append(b.ErrorCauses, errorCause{ErrorSummary: c})
	}
	x.reply(ae.status, b)
}

// reply completes the log entry, then writes the answer (body nil: none).
func (x *exchange) reply(status int, body any) {
	x.e.Status = status
	x.o.finish(x.idx, x.e)
	x.headers()
	if body == nil {
		x.w.WriteHeader(status)
		return
	}
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		// Every body is built from plain structs and maps; this cannot happen.
		panic(fmt.Errorf("emulator: encode answer: %w", err))
	}
	x.w.Header().Set("Content-Type", "application/json")
	x.w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	x.w.WriteHeader(status)
	_, _ = io.WriteString(x.w, buf.String())
}

// readBody decodes the JSON body of r into v.
func readBody(r *http.Request, v any) *apiError {
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &apiError{status: http.StatusRequestEntityTooLarge, code: "E0000003",
				summary: "The request body was not well-formed."}
		}
		return &apiError{status: http.StatusBadRequest, code: "E0000003",
			summary: "The request body was not well-formed."}
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return &apiError{status: http.StatusBadRequest, code: "E0000003",
			summary: "The request body was not well-formed.", causes: []string{"The request body is empty."}}
	}
	if err := json.Unmarshal(data, v); err != nil {
		return &apiError{status: http.StatusBadRequest, code: "E0000003",
			summary: "The request body was not well-formed."}
	}
	return nil
}

// boolParam reads an optional boolean query parameter.
func boolParam(q url.Values, name string, def bool, required bool) (bool, *apiError) {
	vs, ok := q[name]
	if !ok || len(vs) == 0 {
		if required {
			return false, errValidation(name, "The parameter is required.")
		}
		return def, nil
	}
	switch strings.ToLower(vs[0]) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errValidation(name, "must be true or false.")
}
