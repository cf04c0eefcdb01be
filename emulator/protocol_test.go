package emulator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAuth(t *testing.T) {
	e := newEnv(t, Config{Users: 3})
	path := "/api/v1/users/" + e.user(iActive).ID
	cases := []struct {
		name, header string
		status       int
		scheme       string
	}{
		{"SSWS", "SSWS " + e.org.Token(), 200, "SSWS"},
		{"Bearer", "Bearer " + e.org.Token(), 200, "Bearer"},
		{"missing", "", 401, ""},
		{"wrong token", "SSWS not-the-token", 401, "SSWS"},
		{"DPoP unsupported", "DPoP " + e.org.Token(), 401, "DPoP"},
		{"no scheme", e.org.Token(), 401, ""},
	}
	for i, c := range cases {
		r := e.call("GET", path, nil, func(r *http.Request) {
			if c.header == "" {
				r.Header.Del("Authorization")
			} else {
				r.Header.Set("Authorization", c.header)
			}
		})
		if r.status != c.status {
			t.Errorf("%s: status %d, want %d", c.name, r.status, c.status)
		}
		if c.status == 401 {
			m := r.json(t)
			if m["errorCode"] != "E0000011" || m["errorSummary"] != "Invalid token provided" {
				t.Errorf("%s: 401 body %v", c.name, m)
			}
			if strings.Contains(string(r.body), e.org.Token()) {
				t.Errorf("%s: the answer echoes the token", c.name)
			}
		}
		le := e.org.Log()[i]
		if le.AuthScheme != c.scheme {
			t.Errorf("%s: logged scheme %q", c.name, le.AuthScheme)
		}
	}
	if s := e.org.Windows(); len(s) != 1 || s[0].Used != 2 {
		t.Errorf("401s counted as use: %+v", s)
	}
	if len(e.org.Token()) != 40 {
		t.Errorf("derived token has %d chars, want 40", len(e.org.Token()))
	}
	if New(Config{Seed: 42}).Token() != e.org.Token() || New(Config{Seed: 43}).Token() == e.org.Token() {
		t.Errorf("derived token does not follow the seed")
	}
}

// rawPost sends a request written by hand and returns the answer's status.
func rawPost(t *testing.T, e *env, head string) int {
	t.Helper()
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	return res.StatusCode
}

func TestLengthRequired(t *testing.T) {
	e := newEnv(t, Config{Users: 3})
	u := e.user(iActive)
	req := "POST /api/v1/users/" + u.ID + "/lifecycle/expire_password HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: SSWS " +
		e.org.Token() + "\r\nConnection: close\r\n"
	if got := rawPost(t, e, req+"\r\n"); got != 411 {
		t.Errorf("POST without Content-Length: %d, want 411", got)
	}
	if e.current(u.ID).Status != StatusActive {
		t.Errorf("a 411 applied the change")
	}
	if got := rawPost(t, e, req+"Content-Length: 0\r\n\r\n"); got != 200 {
		t.Errorf("POST with Content-Length: 0: %d, want 200", got)
	}
	if got := rawPost(t, e, req+"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"); got == 411 {
		t.Errorf("chunked POST answered 411")
	}
	if log := e.org.Log(); log[0].Status != 411 || log[1].Status != 200 {
		t.Errorf("log statuses %d, %d", log[0].Status, log[1].Status)
	}
}

func intHeader(t *testing.T, h http.Header, name string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(h.Get(name), 10, 64)
	if err != nil {
		t.Fatalf("%s = %q", name, h.Get(name))
	}
	return v
}

func TestRateLimitWindows(t *testing.T) {
	e := newEnv(t, Config{Users: 5, PostLimit: 2, GetLimit: 3, Window: time.Minute, RetryAfter: true})
	t0 := time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC) // a whole minute
	e.clk.Set(t0.Add(10 * time.Second))
	u := e.user(iActive)
	post := func() resp {
		return e.call("POST", "/api/v1/users/"+u.ID+"/lifecycle/reset_password?sendEmail=true", nil)
	}
	wantReset := t0.Add(time.Minute).Unix()
	for i, wantRemaining := range []int64{1, 0} {
		r := post()
		if r.status != 200 {
			t.Fatalf("POST %d: %d", i, r.status)
		}
		if intHeader(t, r.header, "X-Rate-Limit-Limit") != 2 || intHeader(t, r.header, "X-Rate-Limit-Remaining") != wantRemaining ||
			intHeader(t, r.header, "X-Rate-Limit-Reset") != wantReset {
			t.Errorf("POST %d rate headers %v", i, r.header)
		}
		if r.header.Get("Retry-After") != "" {
			t.Errorf("Retry-After on a 200")
		}
	}
	emails := e.org.EmailsSent(u.ID)
	r := post()
	if r.status != 429 || r.errorCode(t) != "E0000047" || intHeader(t, r.header, "X-Rate-Limit-Remaining") != 0 {
		t.Fatalf("third POST: %d %s", r.status, r.body)
	}
	if r.header.Get("Retry-After") != "50" {
		t.Errorf("Retry-After = %q, want 50", r.header.Get("Retry-After"))
	}
	if e.org.EmailsSent(u.ID) != emails {
		t.Errorf("a 429 applied the change")
	}
	// The GET bucket is separate.
	if g := e.call("GET", "/api/v1/users/"+u.ID, nil); g.status != 200 || intHeader(t, g.header, "X-Rate-Limit-Limit") != 3 ||
		intHeader(t, g.header, "X-Rate-Limit-Remaining") != 2 {
		t.Errorf("GET bucket: %d %v", g.status, g.header)
	}
	// The next window starts afresh.
	e.clk.Set(t0.Add(time.Minute + 500*time.Millisecond))
	if r := post(); r.status != 200 || intHeader(t, r.header, "X-Rate-Limit-Remaining") != 1 ||
		intHeader(t, r.header, "X-Rate-Limit-Reset") != t0.Add(2*time.Minute).Unix() {
		t.Errorf("new window: %d %v", r.status, r.header)
	}
	ws := e.org.Windows()
	want := []WindowStat{
		{Bucket: BucketCredentials, Start: t0, Reset: wantReset, Limit: 2, Used: 2, Rejected: 1},
		{Bucket: BucketCredentials, Start: t0.Add(time.Minute), Reset: t0.Add(2 * time.Minute).Unix(), Limit: 2, Used: 1},
		{Bucket: BucketUsers, Start: t0, Reset: wantReset, Limit: 3, Used: 1},
	}
	if len(ws) != len(want) {
		t.Fatalf("windows %+v", ws)
	}
	for i := range want {
		if !ws[i].Start.Equal(want[i].Start) || ws[i].Bucket != want[i].Bucket || ws[i].Used != want[i].Used ||
			ws[i].Rejected != want[i].Rejected || ws[i].Limit != want[i].Limit || ws[i].Reset != want[i].Reset {
			t.Errorf("window %d = %+v, want %+v", i, ws[i], want[i])
		}
	}
	st := e.org.Stats()
	if st.RateLimited != 1 || st.MaxShare[BucketCredentials] != 1 || st.ByOp[OpResetPassword]["429"] != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestRateHeaderOptions(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)
	cases := []struct {
		name  string
		cfg   Config
		check func(t *testing.T, r resp, now time.Time)
	}{
		{"Retry-After HTTP date", Config{PostLimit: 1, RetryAfterHTTPDate: true}, func(t *testing.T, r resp, now time.Time) {
			at, err := http.ParseTime(r.header.Get("Retry-After"))
			if err != nil || !at.Equal(t0.Add(time.Minute)) {
				t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
			}
		}},
		{"no Retry-After by default", Config{PostLimit: 1}, func(t *testing.T, r resp, now time.Time) {
			if _, ok := r.header["Retry-After"]; ok {
				t.Errorf("Retry-After sent unasked")
			}
		}},
		{"repeated headers", Config{PostLimit: 1, RepeatRateHeaders: true}, func(t *testing.T, r resp, now time.Time) {
			for _, h := range []string{"X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"} {
				if v := r.header.Values(h); len(v) != 2 || v[0] != v[1] {
					t.Errorf("%s = %q", h, v)
				}
			}
		}},
		{"Date from Now", Config{PostLimit: 1}, func(t *testing.T, r resp, now time.Time) {
			if r.header.Get("Date") != now.Format(http.TimeFormat) {
				t.Errorf("Date = %q", r.header.Get("Date"))
			}
		}},
		{"OmitDate", Config{PostLimit: 1, OmitDate: true}, func(t *testing.T, r resp, now time.Time) {
			if _, ok := r.header["Date"]; ok {
				t.Errorf("Date sent: %q", r.header.Get("Date"))
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.Users = 3
			e := newEnv(t, c.cfg)
			now := t0.Add(30 * time.Second)
			e.clk.Set(now)
			path := "/api/v1/users/" + e.user(iActive).ID + "/lifecycle/expire_password"
			if r := e.call("POST", path, nil); r.status != 200 {
				t.Fatalf("first POST %d", r.status)
			}
			r := e.call("POST", path, nil)
			if r.status != 429 {
				t.Fatalf("second POST %d", r.status)
			}
			c.check(t, r, now)
		})
	}
}

func TestConcurrencyLimit(t *testing.T) {
	e := newEnv(t, Config{Users: 3, ConcurrencyLimit: 1, Latency: time.Hour, PostLimit: 10})
	cancel, done := e.heldRequest(t)
	// Wait (bounded) until the first request is in flight.
	for deadline := time.Now().Add(5 * time.Second); ; {
		e.org.mu.Lock()
		n := e.org.inflight
		e.org.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first request never got in flight")
		}
		time.Sleep(time.Millisecond)
	}
	r := e.call("POST", "/api/v1/users/"+e.user(iActive).ID+"/lifecycle/expire_password", nil)
	if r.status != 429 || r.errorCode(t) != "E0000047" || r.header.Get("X-Rate-Limit-Limit") != "0" || r.header.Get("X-Rate-Limit-Remaining") != "0" {
		t.Errorf("concurrency 429: %d %v", r.status, r.header)
	}
	if e.current(e.user(iActive).ID).Status != StatusActive {
		t.Errorf("a concurrency 429 applied the change")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("first request: %v", err)
	}
	if st := e.org.Stats(); st.ConcurrencyRejected != 1 || st.RateLimited != 1 {
		t.Errorf("stats %+v", st)
	}
	for _, w := range e.org.Windows() {
		if w.Used != 0 {
			t.Errorf("window use counted: %+v", w)
		}
	}
}

func TestFault5xx(t *testing.T) {
	e := newEnv(t, Config{Users: 3, Fail5xxRate: 1})
	u := e.user(iActive)
	seen := map[int]bool{}
	for range 20 {
		r := e.call("POST", "/api/v1/users/"+u.ID+"/lifecycle/expire_password_with_temp_password", nil)
		if r.status < 500 || r.status == 501 || r.status > 504 || r.errorCode(t) != "E0000009" {
			t.Fatalf("fault answer %d %s", r.status, r.body)
		}
		seen[r.status] = true
	}
	if len(seen) < 2 {
		t.Errorf("only statuses %v in 20 faults", seen)
	}
	if after := e.current(u.ID); after.Status != StatusActive || e.org.LastSecret(u.ID) != "" {
		t.Errorf("a 5xx fault applied the change")
	}
	if g := e.call("GET", "/api/v1/users/"+u.ID, nil); g.status != 200 {
		t.Errorf("fault hit the GET bucket: %d", g.status)
	}
	if st := e.org.Stats(); st.Faults5xx != 20 || st.Applied != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestFaultDrop(t *testing.T) {
	e := newEnv(t, Config{Users: 3, DropRate: 1})
	u := e.user(iActive)
	_, err := e.try("POST", "/api/v1/users/"+u.ID+"/lifecycle/expire_password_with_temp_password", nil)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("client error %v, want EOF", err)
	}
	after := e.current(u.ID)
	if after.Status != StatusPasswordExpired || e.org.LastSecret(u.ID) == "" || after.Password != e.org.LastSecret(u.ID) {
		t.Errorf("the dropped request was not applied")
	}
	log := e.org.Log()
	if len(log) != 1 || !log[0].Dropped || !log[0].Applied || log[0].Status != 200 || log[0].Secret == "" {
		t.Errorf("log %+v", log)
	}
	if g := e.call("GET", "/api/v1/users/"+u.ID, nil); g.status != 200 {
		t.Errorf("drop hit the GET bucket: %d", g.status)
	}
}

func TestRequestLogFields(t *testing.T) {
	e := newEnv(t, Config{Users: 3})
	u := e.user(iActive)
	e.call("POST", "/api/v1/users/"+u.ID+"/lifecycle/expire_password", nil, func(r *http.Request) {
		r.Header.Set("X-Okta-Retry-For", "req-1")
		r.Header.Set("X-Okta-Retry-Count", "2")
		r.Header.Set("Idempotency-Key", "k")
	})
	e.call("GET", "/api/v1/factors", nil)
	log := e.org.Log()
	if len(log) != 2 {
		t.Fatalf("log %+v", log)
	}
	le := log[0]
	if le.Seq != 1 || le.RetryFor != "req-1" || le.RetryCount != "2" || !le.IdempotencyKey || le.UserAgent != "emulator-test/1" ||
		le.Op != OpExpirePassword || le.UserID != u.ID || !le.Applied || le.RequestID == "" || le.RequestID == log[1].RequestID {
		t.Errorf("entry %+v", le)
	}
	if log[1].Op != "" || log[1].Status != 404 || log[1].Seq != 2 {
		t.Errorf("unknown path entry %+v", log[1])
	}
	var buf bytes.Buffer
	if err := e.org.WriteLog(&buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("WriteLog wrote %d lines", len(lines))
	}
	var back LogEntry
	if err := json.Unmarshal([]byte(lines[0]), &back); err != nil || back.RequestID != le.RequestID || back.Op != le.Op {
		t.Errorf("JSONL line 1 does not round-trip: %v", err)
	}
}

func TestAdminEndpoints(t *testing.T) {
	e := newEnv(t, Config{Users: 3, PostLimit: 4})
	u := e.user(iActive)
	e.call("POST", "/api/v1/users/"+u.ID+"/lifecycle/expire_password", nil)
	e.call("POST", "/api/v1/users/"+u.ID+"/lifecycle/expire_password", nil)
	e.call("GET", "/api/v1/users/nobody", nil)
	get := func(path string) (*http.Response, []byte) {
		res, err := e.srv.Client().Get(e.srv.URL + path) // no Authorization: none needed
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, b
	}
	res, body := get("/_emulator/log")
	if res.StatusCode != 200 || strings.Count(string(body), "\n") != 3 {
		t.Errorf("log: %d, %d lines", res.StatusCode, strings.Count(string(body), "\n"))
	}
	res, body = get("/_emulator/stats")
	var st Stats
	if err := json.Unmarshal(body, &st); err != nil || res.StatusCode != 200 {
		t.Fatalf("stats: %d %v", res.StatusCode, err)
	}
	if st.Requests != 3 || st.ByOp[OpExpirePassword]["200"] != 2 || st.ByOp[OpGetUser]["404"] != 1 || st.ByStatus["200"] != 2 ||
		st.MaxShare[BucketCredentials] != 0.5 || st.Applied != 2 || len(st.Windows) != 2 {
		t.Errorf("stats %+v", st)
	}
	if res, _ := get("/_emulator/nothing"); res.StatusCode != 404 {
		t.Errorf("unknown admin path: %d", res.StatusCode)
	}
	if len(e.org.Log()) != 3 {
		t.Errorf("admin requests were logged")
	}
}

// TestConcurrentLoad hammers one org from many goroutines (run with -race):
// every request is logged once, in Seq order, and windows add up.
func TestConcurrentLoad(t *testing.T) {
	e := newEnv(t, Config{Users: 60, PostLimit: 150})
	users := e.org.Users()
	var wg sync.WaitGroup
	const workers, each = 8, 25
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				u := users[(w*each+i)%len(users)]
				path := fmt.Sprintf("/api/v1/users/%s/sessions", u.ID)
				method := "DELETE"
				if i%2 == 0 {
					path, method = "/api/v1/users/"+u.Login, "GET"
				}
				req, _ := http.NewRequest(method, e.srv.URL+path, nil)
				req.Header.Set("Authorization", "SSWS "+e.org.Token())
				res, err := e.srv.Client().Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}()
	}
	wg.Wait()
	log := e.org.Log()
	if len(log) != workers*each {
		t.Fatalf("%d log entries, want %d", len(log), workers*each)
	}
	posts := 0
	for i, le := range log {
		if le.Seq != i+1 || le.Status == 0 {
			t.Fatalf("entry %d: %+v", i, le)
		}
		if le.Method == "DELETE" {
			posts++
		}
	}
	var used, rejected int
	for _, w := range e.org.Windows() {
		if w.Bucket == BucketCredentials {
			used += w.Used
			rejected += w.Rejected
		}
	}
	if used+rejected != posts || used > 150 {
		t.Errorf("credential windows used %d + rejected %d, want %d requests", used, rejected, posts)
	}
}
