package export

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/runner/pace"
)

// okta429 answers as Okta does when a bucket's window is spent.
func okta429(w http.ResponseWriter, reset time.Time) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Rate-Limit-Limit", "600")
	h.Set("X-Rate-Limit-Remaining", "0")
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	w.WriteHeader(http.StatusTooManyRequests)
	fmt.Fprint(w, `{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests.","errorCauses":[]}`)
}

// faulty answers the listing requests whose numbers fault says with its
// answer, and passes the others (and every other request) to the org.
func faulty(fault func(n int64, w http.ResponseWriter) bool) func(http.Handler) http.Handler {
	var n atomic.Int64
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/users") && fault(n.Add(1), w) {
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// TestRateLimitedPageAskedAgain: a 429 pauses the bucket until its Reset,
// then the same page is asked for again, and the export completes.
func TestRateLimitedPageAskedAgain(t *testing.T) {
	var mu sync.Mutex
	var answered429, retried time.Time
	o := newOrg(t, emulator.Config{Users: 700}, faulty(func(n int64, w http.ResponseWriter) bool {
		mu.Lock()
		defer mu.Unlock()
		switch n {
		case 2:
			answered429 = time.Now()
			okta429(w, answered429.Add(2*time.Second))
			return true
		case 3:
			retried = time.Now()
		}
		return false
	}))
	out := outPath(t, "m.csv")
	x, f, err := o.open(t, opts{src: Source{Kind: FromAll}, out: out})
	if err != nil {
		t.Fatal(err)
	}
	res, err := x.Run()
	if err != nil {
		t.Fatal(err)
	}
	o.wantUsers(t, "after a 429", readManifest(t, out), o.usersWhere(nil, notDeprovisioned))
	reqs := o.listingRequests()
	if len(reqs) < 3 || reqs[1] != reqs[2] || f.RateLimited() != 1 || int(f.Requests()) != res.Pages+1 {
		t.Errorf("requests %v, %d 429s, %d requests for %d pages: want the rate-limited page asked for again", reqs, f.RateLimited(), f.Requests(), res.Pages)
	}
	mu.Lock()
	defer mu.Unlock()
	// The Reset is whole seconds: the retry waits at least until the next
	// whole second after the 429 (a lower bound: never flaky).
	if gap := retried.Sub(answered429); gap < time.Second {
		t.Errorf("the page was asked for again %v after the 429, before its Reset", gap)
	}
}

// TestServerErrorsRetried: 5xx answers (the emulator's fault in the
// credential bucket, which listing users shares) are retried with backoff.
func TestServerErrorsRetried(t *testing.T) {
	o := newOrg(t, emulator.Config{Users: 1000, Fail5xxRate: 0.3}, nil)
	out := outPath(t, "m.csv")
	x, f, err := o.open(t, opts{src: Source{Kind: FromAll}, out: out, retries: 20})
	if err != nil {
		t.Fatal(err)
	}
	res, err := x.Run()
	if err != nil {
		t.Fatal(err)
	}
	o.wantUsers(t, "through 5xx answers", readManifest(t, out), o.usersWhere(nil, notDeprovisioned))
	if int(f.Requests()) <= res.Pages {
		t.Errorf("%d requests for %d pages: no 5xx met?", f.Requests(), res.Pages)
	}
}

// TestRetriesRunOut: a page that keeps failing ends the export after
// --max-retries retries; before the first page, no file is left.
func TestRetriesRunOut(t *testing.T) {
	o := newOrg(t, emulator.Config{Users: 30}, faulty(func(n int64, w http.ResponseWriter) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"errorCode":"E0000009","errorSummary":"Internal Server Error"}`)
		return true
	}))
	out := outPath(t, "m.csv")
	x, f, err := o.open(t, opts{src: Source{Kind: FromAll}, out: out, retries: 3})
	if err != nil {
		t.Fatal(err)
	}
	_, err = x.Run()
	var re *RefusedError
	if err == nil || errors.As(err, &re) || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("Run: %v, want the 503", err)
	}
	if f.Requests() != 4 {
		t.Errorf("%d requests, want 1 + 3 retries", f.Requests())
	}
	noFiles(t, out)
}

// TestPauseBeyondMaxWait: a 429 whose Reset is farther than the pacer's
// MaxWait stops the export with a *pace.WaitTooLongError.
func TestPauseBeyondMaxWait(t *testing.T) {
	o := newOrg(t, emulator.Config{Users: 30}, faulty(func(n int64, w http.ResponseWriter) bool {
		okta429(w, time.Now().Add(time.Hour))
		return true
	}))
	out := outPath(t, "m.csv")
	x, _, err := o.open(t, opts{src: Source{Kind: FromAll}, out: out})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Run(); !errors.Is(err, pace.ErrWaitTooLong) {
		t.Fatalf("Run: %v, want ErrWaitTooLong", err)
	}
	noFiles(t, out)
}

// TestStopDuringBackoff: a stop while waiting to retry ends the export at
// once with ErrStopped and the stop's cause.
func TestStopDuringBackoff(t *testing.T) {
	feed, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("the operator pressed Ctrl-C")
	o := newOrg(t, emulator.Config{Users: 30}, faulty(func(n int64, w http.ResponseWriter) bool {
		w.WriteHeader(http.StatusBadGateway)
		cancel(cause)
		return true
	}))
	out := outPath(t, "m.csv")
	x, f, err := o.open(t, opts{src: Source{Kind: FromAll}, out: out, feed: feed})
	if err != nil {
		t.Fatal(err)
	}
	f.BackoffMin, f.BackoffMax = time.Hour, time.Hour
	_, err = x.Run()
	if !errors.Is(err, ErrStopped) || !errors.Is(err, cause) || f.Requests() != 1 {
		t.Fatalf("Run: %v after %d requests; want ErrStopped with the cause after 1", err, f.Requests())
	}
	noFiles(t, out)
}
