package emulator

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"testing/synctest"
	"time"
)

// remaining sends one credential request at the clock's time and returns
// its status and X-Rate-Limit-Remaining.
func (e *env) remaining(at time.Time) (int, int) {
	e.t.Helper()
	e.clk.Set(at)
	r := e.call("DELETE", "/api/v1/users/"+e.user(iActive).ID+"/sessions", nil)
	n, err := strconv.Atoi(r.header.Get("X-Rate-Limit-Remaining"))
	if err != nil {
		e.t.Fatalf("X-Rate-Limit-Remaining %q", r.header.Get("X-Rate-Limit-Remaining"))
	}
	return r.status, n
}

func credWindows(o *Org) []WindowStat {
	var out []WindowStat
	for _, w := range o.Windows() {
		if w.Bucket == BucketCredentials {
			out = append(out, w)
		}
	}
	return out
}

// TestNeighbourSteady: a steady neighbour's requests are counted in the
// credential bucket's windows as time passes, as if they had been sent.
func TestNeighbourSteady(t *testing.T) {
	e := newEnv(t, Config{Users: 5, PostLimit: 200, Window: 10 * time.Second, Neighbour: 6})
	t0 := e.clk.Now() // 05:06:10, a window's start, and the org's creation
	for _, c := range []struct {
		after     time.Duration
		remaining int
	}{
		{5 * time.Second, 200 - 1 - 30},
		{9*time.Second + 500*time.Millisecond, 200 - 2 - 57},
		{12 * time.Second, 200 - 1 - 12}, // the next window
	} {
		if status, rem := e.remaining(t0.Add(c.after)); status != 204 || rem != c.remaining {
			t.Errorf("at +%v: %d, remaining %d, want %d", c.after, status, rem, c.remaining)
		}
	}
	// An answer that is not counted (401) shows the neighbour's use too.
	e.clk.Set(t0.Add(13 * time.Second))
	r := e.call("DELETE", "/api/v1/users/"+e.user(iActive).ID+"/sessions", nil, withAuth("SSWS nope"))
	if r.status != 401 || r.header.Get("X-Rate-Limit-Remaining") != strconv.Itoa(200-1-18) {
		t.Errorf("401 at +13s: remaining %s", r.header.Get("X-Rate-Limit-Remaining"))
	}
	// So does one in a window no client has used yet.
	e.clk.Set(t0.Add(35 * time.Second))
	r = e.call("DELETE", "/api/v1/users/"+e.user(iActive).ID+"/sessions", nil, withAuth("SSWS nope"))
	if r.status != 401 || r.header.Get("X-Rate-Limit-Remaining") != strconv.Itoa(200-30) {
		t.Errorf("401 at +35s: remaining %s", r.header.Get("X-Rate-Limit-Remaining"))
	}
	e.clk.Set(t0.Add(13 * time.Second))
	// Other buckets do not see it.
	if g := e.call("GET", "/api/v1/users/me", nil); g.header.Get("X-Rate-Limit-Remaining") != strconv.Itoa(UnlimitedLimit-1) {
		t.Errorf("the user-GET bucket counts the neighbour: %s", g.header.Get("X-Rate-Limit-Remaining"))
	}
	e.clk.Set(t0.Add(25 * time.Second))
	ws := credWindows(e.org)
	if len(ws) != 3 || ws[0].Neighbour != 60 || ws[0].Used != 2 || ws[1].Neighbour != 60 || ws[1].Used != 1 {
		t.Errorf("windows %+v", ws)
	}
	if st := e.org.Stats(); st.MaxShare[BucketCredentials] != 62.0/200 || st.NeighbourRejected != 0 || st.Requests != 6 {
		t.Errorf("stats: max share %v, neighbour 429s %d, requests %d", st.MaxShare, st.NeighbourRejected, st.Requests)
	}
}

// TestNeighbourFillsWindow: the neighbour and the clients share the limit;
// when it is spent, clients get 429 and the neighbour's own 429s are
// counted.
func TestNeighbourFillsWindow(t *testing.T) {
	e := newEnv(t, Config{Users: 5, PostLimit: 20, Window: 10 * time.Second, Neighbour: 3})
	t0 := e.clk.Now()
	for i := range 6 {
		status, rem := e.remaining(t0.Add(5 * time.Second))
		want, wantRem := 204, 20-15-(i+1)
		if i == 5 {
			want, wantRem = 429, 0
		}
		if status != want || rem != wantRem {
			t.Errorf("request %d at +5s: %d, remaining %d; want %d, %d", i, status, rem, want, wantRem)
		}
	}
	e.clk.Set(t0.Add(9 * time.Second))
	ws := credWindows(e.org)
	if len(ws) != 1 || ws[0].Used != 5 || ws[0].Rejected != 1 || ws[0].Neighbour != 15 || ws[0].NeighbourRejected != 12 {
		t.Errorf("window %+v", ws)
	}
	if st := e.org.Stats(); st.NeighbourRejected != 12 || st.MaxShare[BucketCredentials] != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestNeighbourSchedule: a schedule makes bursts and stops; SetNeighbour
// replaces what is left of it.
func TestNeighbourSchedule(t *testing.T) {
	e := newEnv(t, Config{Users: 5, PostLimit: 1000, Window: 10 * time.Second, Neighbour: 10,
		NeighbourSchedule: []NeighbourStep{{After: 5 * time.Second, Rate: 50}, {After: 2 * time.Second, Rate: 0},
			{After: 6 * time.Second, Rate: 0}, {After: 15 * time.Second, Rate: 100}}})
	t0 := e.clk.Now()
	// 10/s for 2 s, nothing, a burst of 50/s for 1 s, nothing.
	if _, rem := e.remaining(t0.Add(8 * time.Second)); rem != 1000-1-70 {
		t.Errorf("at +8s: remaining %d, want %d", rem, 1000-1-70)
	}
	e.clk.Set(t0.Add(12 * time.Second))
	e.org.SetNeighbour(5) // from +12 s, instead of the 100/s burst at +15 s
	if _, rem := e.remaining(t0.Add(18 * time.Second)); rem != 1000-1-30 {
		t.Errorf("at +18s: remaining %d, want %d", rem, 1000-1-30)
	}
	e.clk.Set(t0.Add(18 * time.Second))
	e.org.SetNeighbour(0) // stops
	if _, rem := e.remaining(t0.Add(19*time.Second + 900*time.Millisecond)); rem != 1000-2-30 {
		t.Errorf("after the stop: remaining %d, want %d", rem, 1000-2-30)
	}
	ws := credWindows(e.org)
	if len(ws) != 2 || ws[0].Neighbour != 70 || ws[1].Neighbour != 30 {
		t.Errorf("windows %+v", ws)
	}
}

// TestNeighbourSynctest: the neighbour follows a fake clock exactly and
// runs no goroutine (the bubble would not end with one left).
func TestNeighbourSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		org := New(Config{Seed: 1, Users: 3, PostLimit: 200, Window: 10 * time.Second, Neighbour: 4})
		defer org.Close()
		// synctest's clock starts at midnight UTC 2000-01-01: a window start.
		time.Sleep(7500 * time.Millisecond)
		req := httptest.NewRequest("DELETE", "/api/v1/users/"+org.Users()[1].ID+"/sessions", nil)
		req.Header.Set("Authorization", "SSWS "+org.Token())
		rec := httptest.NewRecorder()
		org.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent || rec.Header().Get("X-Rate-Limit-Remaining") != strconv.Itoa(200-1-30) {
			t.Errorf("at +7.5s: %d, remaining %s", rec.Code, rec.Header().Get("X-Rate-Limit-Remaining"))
		}
		time.Sleep(time.Minute)
		ws := credWindows(org)
		if len(ws) != 1 || ws[0].Neighbour != 40 {
			t.Errorf("windows %+v", ws)
		}
	})
}
