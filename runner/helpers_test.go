package runner_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

// runTimeout bounds every Run of these tests.
const runTimeout = 30 * time.Second

const testToken = "tok-runner-test-0123456789abcdef"

// ---------------------------------------------------------------- users

// uid is the Okta ID of test user i (0 is the token's owner).
func uid(i int) string { return fmt.Sprintf("00uTest%013d", i) }

func loginOf(i int) string {
	if i == 0 {
		return "admin@example.com"
	}
	return fmt.Sprintf("user%05d@example.com", i)
}

func passwordOf(i int) string { return fmt.Sprintf("Pw-u%05d-1!", i) }

// mkUser returns user i with the given status, provider OKTA, a password and
// a recovery question.
func mkUser(i int, status string) emulator.User {
	return emulator.User{
		ID: uid(i), Login: loginOf(i), Email: loginOf(i), FirstName: "User", LastName: strconv.Itoa(i),
		Status: status, Provider: emulator.ProviderOkta, Password: passwordOf(i),
		RecoveryQuestion: emulator.GeneratedQuestion, RecoveryAnswer: fmt.Sprintf("blue-%d", i),
	}
}

// activeUsers returns the token's owner (index 0) and n ACTIVE users 1..n.
func activeUsers(n int) []emulator.User {
	us := make([]emulator.User, 0, n+1)
	for i := 0; i <= n; i++ {
		us = append(us, mkUser(i, emulator.StatusActive))
	}
	return us
}

// ---------------------------------------------------------------- manifest

var manifestColumns = []string{"user", "action", "send_email", "revoke_sessions", "strict",
	"old_password", "new_password", "password", "recovery_question", "recovery_answer",
	"login", "email", "first_name", "last_name"}

// mrow is one manifest row.
type mrow struct {
	user, action                                       string
	sendEmail, revokeSessions, strict                  string
	oldPassword, newPassword, password, question, answ string
	login, email, first, last                          string // informational
}

func (r mrow) cells() []string {
	return []string{r.user, r.action, r.sendEmail, r.revokeSessions, r.strict,
		r.oldPassword, r.newPassword, r.password, r.question, r.answ,
		r.login, r.email, r.first, r.last}
}

// rowFor returns a valid row of action a for user u (named by ID), with the
// credentials u has at creation. Reset links are asked for in the answer
// (send_email=false), so the report holds them.
func rowFor(a jobs.Action, u emulator.User) mrow {
	r := mrow{user: u.ID, action: string(a)}
	pw := u.Password
	if pw == "" {
		pw = "Not-a-password-1!"
	}
	switch a {
	case jobs.ResetPassword, jobs.ForgotPassword:
		r.sendEmail = "false"
	case jobs.ForgotPasswordSetNewPassword:
		r.newPassword = "Fresh-" + pw
		r.answ = u.RecoveryAnswer
		if r.answ == "" {
			r.answ = "no-answer"
		}
	case jobs.ChangePassword:
		r.oldPassword = pw
		r.newPassword = "Changed-" + pw
	case jobs.ChangeRecoveryQuestion:
		r.password = pw
		r.question = "Which city?"
		r.answ = "paris"
	}
	return r
}

// lineOf is the manifest line of row index k (the first data row is line 2).
func lineOf(k int) int { return k + 2 }

func writeManifest(t *testing.T, dir string, rows []mrow) string {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(manifestColumns)
	for _, r := range rows {
		_ = w.Write(r.cells())
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatalf("encoding the manifest: %v", err)
	}
	p := filepath.Join(dir, "manifest.csv")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatalf("writing the manifest: %v", err)
	}
	return p
}

// ---------------------------------------------------------------- proxy

// faultKind is what the proxy does with one request.
type faultKind int

const (
	pass      faultKind = iota
	dropAfter           // forward to the org (it applies), then close the connection without an answer
	answer              // answer with fault.status / fault.code before forwarding (nothing applied)
	slow                // wait fault.delay, then forward (the org applies even if the client left)
)

type fault struct {
	kind    faultKind
	status  int
	code    string
	summary string
	delay   time.Duration
	// retryAfter, on an answer: a Retry-After header of that many seconds
	// (and, on a 429, a window with nothing left).
	retryAfter time.Duration
}

func errAnswer(status int, code, summary string) fault {
	return fault{kind: answer, status: status, code: code, summary: summary}
}

// reqInfo is one request the proxy saw.
type reqInfo struct {
	Seq        int
	Method     string
	Path       string
	UserSeg    string // the path segment after /api/v1/users/
	Action     bool   // a credential operation (not a GET)
	N          int    // 1-based number of this user segment's action requests so far
	RetryFor   string
	RetryCount string
	Fault      faultKind
	RequestID  string // the proxy's own X-Okta-Request-Id when it answered
}

// proxy sits in front of the emulator: it logs every request, tracks how many
// action requests of each user are in flight, and injects faults by plan.
type proxy struct {
	next http.Handler

	mu          sync.Mutex
	plan        func(ri reqInfo) fault // called under mu; nil: pass everything
	rewrite     func(ri reqInfo, body map[string]any)
	latency     time.Duration // added to action requests while counted in flight
	reqs        []reqInfo
	perUser     map[string]int
	inflight    map[string]int
	maxInflight map[string]int
	inflightAll int // action requests in flight, all users
	maxAll      int
}

func newProxy(next http.Handler) *proxy {
	return &proxy{next: next, perUser: map[string]int{}, inflight: map[string]int{}, maxInflight: map[string]int{}}
}

func (p *proxy) setPlan(f func(ri reqInfo) fault) {
	p.mu.Lock()
	p.plan = f
	p.mu.Unlock()
}

// actionsPlan is a proxy plan: lookups pass; an action request gets f when
// match says so, rest otherwise.
func actionsPlan(match func(ri reqInfo) bool, f, rest fault) func(ri reqInfo) fault {
	return func(ri reqInfo) fault {
		switch {
		case !ri.Action:
			return fault{}
		case match(ri):
			return f
		default:
			return rest
		}
	}
}

// firstAttempt matches each user's first action request.
func firstAttempt(ri reqInfo) bool { return ri.N == 1 }

func userSeg(urlPath string) string {
	rest, ok := strings.CutPrefix(urlPath, "/api/v1/users/")
	if !ok {
		return ""
	}
	seg, _, _ := strings.Cut(rest, "/")
	return seg
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ri := reqInfo{
		Method: r.Method, Path: r.URL.Path, UserSeg: userSeg(r.URL.Path),
		Action:     r.Method != http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/"),
		RetryFor:   r.Header.Get("X-Okta-Retry-For"),
		RetryCount: r.Header.Get("X-Okta-Retry-Count"),
	}
	p.mu.Lock()
	ri.Seq = len(p.reqs) + 1
	if ri.Action {
		p.perUser[ri.UserSeg]++
		ri.N = p.perUser[ri.UserSeg]
		p.inflight[ri.UserSeg]++
		if p.inflight[ri.UserSeg] > p.maxInflight[ri.UserSeg] {
			p.maxInflight[ri.UserSeg] = p.inflight[ri.UserSeg]
		}
		p.inflightAll++
		p.maxAll = max(p.maxAll, p.inflightAll)
	}
	f := fault{}
	if p.plan != nil {
		f = p.plan(ri)
	}
	ri.Fault = f.kind
	if f.kind == answer {
		ri.RequestID = fmt.Sprintf("proxy-%d", ri.Seq)
	}
	idx := len(p.reqs)
	p.reqs = append(p.reqs, ri)
	latency, rewrite := p.latency, p.rewrite
	p.mu.Unlock()
	if ri.Action {
		defer func() {
			p.mu.Lock()
			p.inflight[ri.UserSeg]--
			p.inflightAll--
			p.mu.Unlock()
		}()
		if latency > 0 {
			time.Sleep(latency)
		}
	}
	_ = idx

	switch f.kind {
	case slow:
		time.Sleep(f.delay)
		p.next.ServeHTTP(w, r)
		return
	case answer:
		writeOktaError(w, ri.RequestID, f)
		return
	case dropAfter:
		rec := httptest.NewRecorder()
		p.next.ServeHTTP(rec, r)
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic(http.ErrAbortHandler)
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		_ = conn.Close()
		return
	}
	if rewrite != nil && r.Method == http.MethodGet {
		rec := httptest.NewRecorder()
		p.next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		var m map[string]any
		if rec.Code == http.StatusOK && json.Unmarshal(body, &m) == nil {
			rewrite(ri, m)
			body, _ = json.Marshal(m)
		}
		for k, vs := range rec.Header() {
			if strings.EqualFold(k, "Content-Length") {
				continue
			}
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
		return
	}
	p.next.ServeHTTP(w, r)
}

// writeOktaError answers like Okta: an error body, a request ID and rate
// headers naming the current minute's window with plenty left.
func writeOktaError(w http.ResponseWriter, reqID string, f fault) {
	now := time.Now()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Okta-Request-Id", reqID)
	h.Set("Date", now.UTC().Format(http.TimeFormat))
	h.Set("X-Rate-Limit-Limit", strconv.Itoa(emulator.UnlimitedLimit))
	h.Set("X-Rate-Limit-Remaining", strconv.Itoa(emulator.UnlimitedLimit-1))
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt((now.Unix()/60+1)*60, 10))
	if f.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(f.retryAfter/time.Second)))
		if f.status == http.StatusTooManyRequests {
			h.Set("X-Rate-Limit-Limit", "600")
			h.Set("X-Rate-Limit-Remaining", "0")
			h.Set("X-Rate-Limit-Reset", strconv.FormatInt(now.Add(f.retryAfter).Unix(), 10))
		}
	}
	w.WriteHeader(f.status)
	summary := f.summary
	if summary == "" {
		summary = http.StatusText(f.status)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errorCode": f.code, "errorSummary": summary, "errorLink": f.code, "errorId": reqID, "errorCauses": []any{},
	})
}

// log returns a copy of the requests seen so far.
func (p *proxy) log() []reqInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]reqInfo(nil), p.reqs...)
}

// actions returns the action requests for a user segment (an ID, usually).
func (p *proxy) actions(seg string) []reqInfo {
	var out []reqInfo
	for _, ri := range p.log() {
		if ri.Action && ri.UserSeg == seg {
			out = append(out, ri)
		}
	}
	return out
}

func (p *proxy) actionCount() int {
	n := 0
	for _, ri := range p.log() {
		if ri.Action {
			n++
		}
	}
	return n
}

// ---------------------------------------------------------------- client-side faults

// unreachable is a RoundTripper that fails the requests refuse selects
// before writing anything (a refused dial: the request cannot have reached
// Okta), and counts them.
type unreachable struct {
	next   http.RoundTripper
	refuse func(r *http.Request) bool
	mu     sync.Mutex
	count  map[string]int
}

func (u *unreachable) RoundTrip(r *http.Request) (*http.Response, error) {
	if u.refuse(r) {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		u.mu.Lock()
		u.count[userSeg(r.URL.Path)]++
		u.mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}
	return u.next.RoundTrip(r)
}

// ---------------------------------------------------------------- env

// env is one emulated org behind a proxy, on 127.0.0.1.
type env struct {
	t     *testing.T
	org   *emulator.Org
	prx   *proxy
	srv   *httptest.Server
	dir   string
	token string
	// timeout is the client's per-request time limit (default 10s).
	timeout time.Duration
	// roundTripper, when set, wraps the client's transport.
	roundTripper func(http.RoundTripper) http.RoundTripper
	transport    *http.Transport
}

// newEnv starts an org. The goroutine count at this moment is the baseline
// that, after the test (server closed), must be reached again: Run leaves no
// goroutine behind.
func newEnv(t *testing.T, cfg emulator.Config) *env {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() { checkGoroutines(t, base) })
	if cfg.Seed == 0 {
		cfg.Seed = 7
	}
	if cfg.Token == "" {
		cfg.Token = testToken
	}
	if cfg.UserList == nil {
		cfg.UserList = activeUsers(10)
	}
	org := emulator.New(cfg)
	prx := newProxy(org)
	srv := httptest.NewServer(prx)
	e := &env{t: t, org: org, prx: prx, srv: srv, dir: t.TempDir(), token: cfg.Token}
	t.Cleanup(func() {
		srv.Close()
		if e.transport != nil {
			e.transport.CloseIdleConnections()
		}
	})
	return e
}

func checkGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var n int
	for {
		n = runtime.NumGoroutine()
		if n <= base || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n > base {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("goroutines: %d after the test, %d before; stacks:\n%s", n, base, buf)
	}
}

func baseOptions() runner.Options {
	return runner.Options{
		Workers: 4, Rate: 0, MaxShare: 100, MaxRetries: 5,
		BackoffMin: time.Millisecond, BackoffMax: 20 * time.Millisecond,
	}
}

// files is one run's manifest, checkpoint and report.
type files struct {
	manifest   *jobs.Manifest
	sum        *jobs.Summary
	cpPath     string
	reportPath string
}

// prepare writes the manifest, validates it, and creates the checkpoint and
// the report (with its header), as `credbatch run` does before its first run.
func (e *env) prepare(rows []mrow) *files {
	t := e.t
	t.Helper()
	mp := writeManifest(t, e.dir, rows)
	m, err := jobs.Open(mp)
	if err != nil {
		t.Fatalf("jobs.Open: %v", err)
	}
	sum, err := m.Validate(jobs.Defaults{})
	if err != nil {
		t.Fatalf("the test manifest does not validate: %v", err)
	}
	f := &files{manifest: m, sum: sum,
		reportPath: filepath.Join(e.dir, "manifest.report.csv"),
		cpPath:     filepath.Join(e.dir, "manifest.report.csv.checkpoint")}
	org, err := okta.NormalizeOrgURL(e.srv.URL)
	if err != nil {
		t.Fatalf("NormalizeOrgURL: %v", err)
	}
	j, err := checkpoint.Create(f.cpPath, checkpoint.Header{
		OrgURL: org, ManifestPath: mp, ManifestSHA256: sum.SHA256, ManifestSize: sum.Size,
		Rows: sum.Rows, ReportPath: f.reportPath, ReportFormat: "csv",
	})
	if err != nil {
		t.Fatalf("checkpoint.Create: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("closing the checkpoint: %v", err)
	}
	rf, err := report.Create(f.reportPath)
	if err != nil {
		t.Fatalf("report.Create: %v", err)
	}
	w := report.NewWriter(rf, report.CSV)
	if err := w.WriteHeader(); err != nil {
		t.Fatalf("report header: %v", err)
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("report header: %v", err)
	}
	if err := rf.Close(); err != nil {
		t.Fatalf("closing the report: %v", err)
	}
	return f
}

// result is what one Run left behind.
type result struct {
	res    *runner.Result
	err    error
	rows   []*report.Row       // the report's rows, in file order
	byLine map[int]*report.Row // the same, by manifest line
	state  *checkpoint.State   // the checkpoint reopened after the run
}

func (e *env) client(token string) *okta.Client {
	t := e.t
	t.Helper()
	timeout := e.timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	cfg := okta.Config{OrgURL: e.srv.URL, Token: secret.New(token), Timeout: timeout}
	if e.roundTripper != nil {
		if e.transport == nil {
			e.transport = http.DefaultTransport.(*http.Transport).Clone()
		}
		cfg.HTTPClient = &http.Client{Transport: e.roundTripper(e.transport)}
	}
	c, err := okta.New(cfg)
	if err != nil {
		t.Fatalf("okta.New: %v", err)
	}
	return c
}

// priorOf builds a Prior from a reopened checkpoint, as `credbatch run` does
// on a resume.
func priorOf(j *checkpoint.Journal, st *checkpoint.State) runner.Prior {
	claims := runner.NewClaims(0)
	_ = j.Replay(func(o checkpoint.Outcome) error {
		return report.Read(bytes.NewReader(o.Payload), report.JSONL, func(r *report.Row) error {
			if r.UserID != "" && r.Outcome != report.Skipped &&
				r.ErrorCode != report.CodeLoginMismatch && r.ErrorCode != report.CodeDuplicateUser {
				claims.Claim(runner.ClaimKey(r.UserID, r.Action), r.Line)
			}
			return nil
		})
	})
	return runner.Prior{
		Done: st.Done.Has, Attempts: st.Attempts, InFlight: st.LastAttempt, FirstAt: st.FirstAttempt,
		Claims: claims,
	}
}

// execute reopens the checkpoint (as a resume does), runs the manifest with
// opt, and reads back the report and the checkpoint.
func (e *env) execute(f *files, opt runner.Options) *result {
	return e.executeToken(f, opt, e.token)
}

func (e *env) executeToken(f *files, opt runner.Options, token string) *result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	return e.executeCtx(f, opt, token, ctx, ctx)
}

// executeCtx runs with the given feed and hard contexts (first and second
// Ctrl-C); both should end within runTimeout.
func (e *env) executeCtx(f *files, opt runner.Options, token string, feed, hard context.Context) *result {
	t := e.t
	t.Helper()
	j, st, err := checkpoint.Open(f.cpPath)
	if err != nil {
		t.Fatalf("checkpoint.Open: %v", err)
	}
	rf, err := os.OpenFile(f.reportPath, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		j.Close()
		t.Fatalf("opening the report: %v", err)
	}
	rw := report.NewWriter(rf, report.CSV)
	// As `credbatch run` does on a resume: rows durable in the journal but
	// missing from the report (abandoned by a hard stop) are written first.
	have := map[int]bool{}
	if err := report.ReadFile(f.reportPath, func(r *report.Row) error { have[r.Line] = true; return nil }); err != nil {
		t.Fatalf("reading the report before the run: %v", err)
	}
	if err := j.Replay(func(o checkpoint.Outcome) error {
		if have[o.Line] {
			return nil
		}
		have[o.Line] = true
		return report.Read(bytes.NewReader(o.Payload), report.JSONL, rw.Write)
	}); err != nil {
		t.Fatalf("completing the report from the checkpoint: %v", err)
	}
	if err := rw.Flush(); err != nil {
		t.Fatalf("completing the report from the checkpoint: %v", err)
	}
	run := runner.New(opt, runner.Input{
		Manifest: f.manifest, Rows: f.sum.Rows, Client: e.client(token),
		Journal: j, Report: rw, Prior: priorOf(j, st),
	})
	bound, cancel := context.WithTimeout(context.Background(), runTimeout)
	stop := context.AfterFunc(bound, func() { t.Errorf("Run still running after %s", runTimeout) })
	res, runErr := run.Run(feed, hard)
	timedOut := !stop()
	cancel()
	if err := j.Close(); err != nil {
		t.Errorf("closing the checkpoint: %v", err)
	}
	if err := rf.Close(); err != nil {
		t.Errorf("closing the report: %v", err)
	}
	if timedOut {
		t.Fatalf("Run did not finish within %s (err %v)", runTimeout, runErr)
	}
	if res == nil {
		t.Fatalf("Run returned a nil Result (err %v)", runErr)
	}
	if runErr != nil && strings.Contains(runErr.Error(), token) {
		t.Errorf("Run's error carries the token")
	}
	out := &result{res: res, err: runErr, byLine: map[int]*report.Row{}}
	if err := report.ReadFile(f.reportPath, func(r *report.Row) error {
		if _, dup := out.byLine[r.Line]; dup {
			t.Errorf("report: line %d has more than one row", r.Line)
		}
		out.rows = append(out.rows, r)
		out.byLine[r.Line] = r
		return nil
	}); err != nil {
		t.Fatalf("reading the report: %v", err)
	}
	j2, st2, err := checkpoint.Open(f.cpPath)
	if err != nil {
		t.Fatalf("reopening the checkpoint: %v", err)
	}
	out.state = st2
	if err := j2.Close(); err != nil {
		t.Errorf("closing the checkpoint: %v", err)
	}
	return out
}

// ran is what one Run returned.
type ran struct {
	res *runner.Result
	err error
}

// runInBackground starts r.Run(ctx, ctx); what it returns arrives on the
// channel.
func runInBackground(ctx context.Context, r *runner.Runner) <-chan ran {
	done := make(chan ran, 1)
	go func() {
		res, err := r.Run(ctx, ctx)
		done <- ran{res, err}
	}()
	return done
}

// run is prepare then execute.
func (e *env) run(rows []mrow, opt runner.Options) *result {
	e.t.Helper()
	return e.execute(e.prepare(rows), opt)
}

// row returns the report row of manifest row index k, failing the test when
// there is none.
func (r *result) row(t *testing.T, k int) *report.Row {
	t.Helper()
	row, ok := r.byLine[lineOf(k)]
	if !ok {
		t.Fatalf("no report row for line %d", lineOf(k))
	}
	return row
}

func (r *result) count(o report.Outcome) int {
	n := 0
	for _, row := range r.rows {
		if row.Outcome == o {
			n++
		}
	}
	return n
}

// secretOf returns the secret a report row holds (temp password or reset URL).
func secretOf(r *report.Row) string {
	if !r.TempPassword.IsZero() {
		return r.TempPassword.Reveal()
	}
	return r.ResetURL.Reveal()
}

// orgActions returns the emulator's log entries of credential operations on
// a user named by ID in the path, in arrival order. (The path, not
// LogEntry.UserID: a 5xx fault answers before the user is resolved.)
func orgActions(org *emulator.Org, userID string) []emulator.LogEntry {
	var out []emulator.LogEntry
	for _, le := range org.Log() {
		if userSeg(le.Path) == userID && le.Op != emulator.OpGetUser && le.Op != emulator.OpGetMe {
			out = append(out, le)
		}
	}
	return out
}

// describe renders a row for failure messages, never its secrets.
func describe(r *report.Row) string {
	return fmt.Sprintf("line %d %s %s: outcome %s http %d code %q summary %q attempts %d",
		r.Line, r.User, r.Action, r.Outcome, r.HTTPStatus, r.ErrorCode, r.ErrorSummary, r.Attempts)
}
