package okta

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/credbatch/credbatch/internal/secret"
)

// tokenTimes records, on the fake clock, when each token request arrived.
type tokenTimes struct {
	mu    sync.Mutex
	clk   *fakeClock
	times []time.Time
}

func (tt *tokenTimes) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == TokenPath {
			tt.mu.Lock()
			tt.times = append(tt.times, tt.clk.Now())
			tt.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

// renewals returns the distinct times token requests began at (a DPoP
// renewal's challenge retries share their renewal's time).
func (tt *tokenTimes) renewals() []time.Time {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return slices.CompactFunc(slices.Clone(tt.times), time.Time.Equal)
}

// fakeSleep makes the client's waits advance the fake clock, and records them.
func fakeSleep(c *Client, clk *fakeClock) *[]time.Duration {
	var mu sync.Mutex
	waits := new([]time.Duration)
	c.oauth.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*waits = append(*waits, d)
		mu.Unlock()
		clk.Add(d)
		return ctx.Err()
	}
	return waits
}

// TestPrivateKeyShortLifetimes runs 24 seconds (on a fake clock shared with
// the emulator) of calls, three at a time every 250 ms, against tokens of 1,
// 2, 4 and 8 seconds: no request is refused for an expired token, each
// token is renewed at 3/4 of its lifetime and at least a second before it
// ends, and token requests are at least a second apart.
func TestPrivateKeyShortLifetimes(t *testing.T) {
	cases := []struct {
		life  time.Duration
		dpop  bool
		every time.Duration // renewal interval
	}{
		{1 * time.Second, false, time.Second}, // due at once; one a second at most
		{2 * time.Second, false, time.Second}, // one second before it ends
		{4 * time.Second, false, 3 * time.Second},
		{4 * time.Second, true, 3 * time.Second},
		{8 * time.Second, false, 6 * time.Second},
	}
	const steps, step = 96, 250 * time.Millisecond
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s dpop=%v", c.life, c.dpop), func(t *testing.T) {
			clk := newFakeClock()
			tt := &tokenTimes{clk: clk}
			org, cl := pkOrg(t, pkSetup{key: "ec-pkcs8.pem", pub: "ec-public.pem", requireDPoP: c.dpop,
				lifetime: c.life, clock: clk, wrap: tt.wrap})
			waits := fakeSleep(cl, clk)
			ctx := testCtx(t)
			users := org.Users()
			for i := range steps {
				var wg sync.WaitGroup
				for w := range 3 {
					wg.Go(func() {
						if _, err := cl.GetUser(ctx, users[1+(3*i+w)%20].ID, CallOptions{}); err != nil {
							t.Errorf("at %s: %v", time.Duration(i)*step, err)
						}
					})
				}
				wg.Wait()
				clk.Add(step)
			}
			st := org.Stats()
			if st.ByStatus["401"] != 0 || st.ByStatus["200"] != 3*steps {
				t.Errorf("statuses %v: requests were refused", st.ByStatus)
			}
			want := int((steps-1)*step/c.every) + 1
			if st.Token.Issued != want {
				t.Errorf("%d tokens issued over %s, want %d (one every %s)", st.Token.Issued, steps*step, want, c.every)
			}
			r := tt.renewals()
			for i := 1; i < len(r); i++ {
				if gap := r[i].Sub(r[i-1]); gap < time.Second {
					t.Errorf("token requests %s apart", gap)
				}
			}
			if len(*waits) != 0 {
				t.Errorf("renewals waited %v: none should have had to", *waits)
			}
		})
	}
}

// TestPrivateKeyLifetimeMissingOrZero: expires_in missing, zero or negative
// is taken as 60 s: the token is renewed at 45 s, not before.
func TestPrivateKeyLifetimeMissingOrZero(t *testing.T) {
	for name, life := range map[string]string{"missing": ``, "null": `,"expires_in":null`, "0": `,"expires_in":0`, "-5": `,"expires_in":-5`} {
		t.Run("expires_in "+name, func(t *testing.T) {
			clk := newFakeClock()
			start := clk.Now()
			var mu sync.Mutex
			tokens, api := 0, 0
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				if r.URL.Path == TokenPath {
					tokens++
					fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer"%s}`, tokens, life)
					return
				}
				api++
				fmt.Fprint(w, `{"id":"00u1","status":"PASSWORD_EXPIRED"}`)
			})
			cl, err := New(Config{OrgURL: srv.URL, AuthMode: AuthPrivateKey, ClientID: testClientID,
				PrivateKey: secret.New(readKey(t, "ec-pkcs8.pem")), Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			fakeSleep(cl, clk)
			count := func() (int, int) { mu.Lock(); defer mu.Unlock(); return tokens, api }
			for _, at := range []time.Duration{0, 10 * time.Second, 44*time.Second + 900*time.Millisecond} {
				clk.Add(at - clk.Now().Sub(start))
				if _, err := cl.ExpirePassword(testCtx(t), "00u1", CallOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if n, a := count(); n != 1 || a != 3 {
				t.Fatalf("%d token requests for %d calls within 45 s, want 1", n, a)
			}
			clk.Add(45*time.Second - clk.Now().Sub(start))
			if _, err := cl.ExpirePassword(testCtx(t), "00u1", CallOptions{}); err != nil {
				t.Fatal(err)
			}
			if n, _ := count(); n != 2 {
				t.Errorf("%d token requests at 45 s, want 2 (a 60 s token renewed at 3/4)", n)
			}
		})
	}
}

// TestPrivateKeyRenewalWaitsASecond: a token refused (401) just after it was
// fetched is renewed only once a second has passed since the last token
// request; a renewal that must wait gives up when the caller's context ends.
func TestPrivateKeyRenewalWaitsASecond(t *testing.T) {
	clk := newFakeClock()
	tt := &tokenTimes{clk: clk}
	org, cl := pkOrg(t, pkSetup{key: "rsa-pkcs1.pem", pub: "rsa-public.pem", clock: clk, wrap: tt.wrap})
	waits := fakeSleep(cl, clk)
	ctx := testCtx(t)
	u := org.Users()[1].ID
	if _, err := cl.GetUser(ctx, u, CallOptions{}); err != nil {
		t.Fatal(err)
	}
	clk.Add(300 * time.Millisecond)
	org.ExpireAccessTokens()
	if _, err := cl.GetUser(ctx, u, CallOptions{}); err != nil {
		t.Fatalf("after a 401: %v", err)
	}
	if !slices.Equal(*waits, []time.Duration{700 * time.Millisecond}) {
		t.Errorf("the renewal waited %v, want 700ms (a second after the last token request)", *waits)
	}
	if r := tt.renewals(); len(r) != 2 || r[1].Sub(r[0]) != time.Second {
		t.Errorf("token requests at %v, want two a second apart", r)
	}
	if st := org.Stats(); st.Token.Issued != 2 || st.ByStatus["401"] != 1 || st.ByStatus["200"] != 2 {
		t.Errorf("stats %+v %v", st.Token, st.ByStatus)
	}

	// The same wait, on the real clock, for a caller that has given up.
	cl.oauth.sleep = sleepCtx
	cl.oauth.mu.Lock()
	cl.oauth.lastFetch = clk.Now() // as if a token request had just begun
	cl.oauth.cur.token = secret.String{}
	cl.oauth.mu.Unlock()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err := cl.GetUser(cctx, u, CallOptions{})
	var ne *NetError
	if !errors.As(err, &ne) || ne.Op != tokenOp || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want the token request's NetError wrapping context.Canceled", err)
	}
	if org.Stats().Token.Requests != 2 {
		t.Error("a token request was sent for a caller that had given up")
	}
}
