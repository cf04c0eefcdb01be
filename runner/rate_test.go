package runner_test

import (
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
)

// expireRows is one expire_password row (by ID) for users 1..n.
func expireRows(a jobs.Action, n int) []mrow {
	rows := make([]mrow, 0, n)
	for i := 1; i <= n; i++ {
		rows = append(rows, rowFor(a, mkUser(i, emulator.StatusActive)))
	}
	return rows
}

// checkAllSucceededOnce asserts one succeeded report row per manifest row and
// that the org applied each user's action exactly once (a 429 applies
// nothing, so nothing is ever applied twice here).
func checkAllSucceededOnce(t *testing.T, e *env, r *result, n int) {
	t.Helper()
	if len(r.rows) != n {
		t.Fatalf("report has %d rows, want %d", len(r.rows), n)
	}
	if got := r.count(report.Succeeded); got != n {
		for _, row := range r.rows {
			if row.Outcome != report.Succeeded {
				t.Errorf("%s", describe(row))
			}
		}
		t.Fatalf("%d of %d rows succeeded", got, n)
	}
	applied := map[string]int{}
	for _, le := range e.org.Log() {
		if le.Applied {
			applied[le.UserID]++
		}
	}
	for i := 1; i <= n; i++ {
		if applied[uid(i)] != 1 {
			t.Errorf("%s: applied %d times, want once", uid(i), applied[uid(i)])
		}
	}
}

func TestRateLimitStorms(t *testing.T) {
	window := emulator.Config{PostLimit: 20, Window: time.Second}
	with := func(f func(c *emulator.Config)) emulator.Config { c := window; f(&c); return c }
	cases := []struct {
		name string
		cfg  emulator.Config
		n    int
	}{
		{"1s windows of 20", window, 60},
		{"Retry-After seconds", with(func(c *emulator.Config) { c.RetryAfter = true }), 30},
		{"Retry-After HTTP date", with(func(c *emulator.Config) { c.RetryAfterHTTPDate = true }), 30},
		{"no Date header", with(func(c *emulator.Config) { c.OmitDate = true }), 30},
		{"repeated rate headers", with(func(c *emulator.Config) { c.RepeatRateHeaders = true }), 30},
		{"concurrency limit", emulator.Config{ConcurrencyLimit: 2, Latency: 5 * time.Millisecond}, 40},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.UserList = activeUsers(c.n)
			e := newEnv(t, cfg)
			opt := baseOptions()
			opt.Workers = 8
			opt.MaxShare = 100
			r := e.run(expireRows(jobs.ExpirePassword, c.n), opt)
			if r.err != nil {
				t.Fatalf("Run: %v", r.err)
			}
			checkAllSucceededOnce(t, e, r, c.n)
		})
	}
}

// Random 5xx answers and dropped connections over 1,000 secret-issuing jobs:
// exactly one row each, none failed, and every reported temp password is
// the one the user has now.
func TestThousandJobsUnderFaults(t *testing.T) {
	const n = 1000
	e := newEnv(t, emulator.Config{UserList: activeUsers(n), Fail5xxRate: 0.05, DropRate: 0.02, Seed: 1234})
	opt := baseOptions()
	opt.Workers = 16
	r := e.run(expireRows(jobs.ExpirePasswordWithTempPassword, n), opt)
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	if len(r.rows) != n {
		t.Fatalf("report has %d rows, want %d", len(r.rows), n)
	}
	st := e.org.Stats()
	if st.Dropped == 0 || st.Faults5xx == 0 {
		t.Fatalf("faults did not happen (dropped %d, 5xx %d): the test proves nothing", st.Dropped, st.Faults5xx)
	}
	bad := 0
	for _, row := range r.rows {
		if row.Outcome == report.Failed || row.Outcome == report.InDoubt {
			t.Errorf("%s", describe(row))
			continue
		}
		if row.Outcome != report.Succeeded {
			t.Errorf("%s: unexpected outcome", describe(row))
			continue
		}
		if s := secretOf(row); s == "" || s != e.org.LastSecret(row.UserID) {
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d succeeded rows hold a temp password that is not the user's last one", bad)
	}
	if r.state.Done.Count() != n {
		t.Errorf("the checkpoint holds %d outcomes, want %d", r.state.Done.Count(), n)
	}
}

// --max-share reaches the pacer: at 50 no window of the credential bucket is
// used past half its Limit (one request of slack: the window's first answer
// is what tells the pacer the window exists), and at 100 the same run uses
// more than half of some window, so a runner that dropped the setting (or
// always passed 100) fails one of the two.
func TestMaxShareReachesThePacer(t *testing.T) {
	const limit, n = 20, 40
	busiest := func(share int) (used int) {
		e := newEnv(t, emulator.Config{UserList: activeUsers(n), PostLimit: limit, Window: time.Second})
		opt := baseOptions()
		opt.Workers = 8
		opt.MaxShare = share
		r := e.run(expireRows(jobs.ExpirePassword, n), opt)
		if r.err != nil {
			t.Fatalf("max-share %d: Run: %v", share, r.err)
		}
		checkAllSucceededOnce(t, e, r, n)
		for _, w := range e.org.Windows() {
			if w.Bucket != emulator.BucketCredentials {
				continue
			}
			if w.Rejected > 0 {
				t.Errorf("max-share %d: %d requests answered 429 in the window ending %d", share, w.Rejected, w.Reset)
			}
			used = max(used, w.Used)
		}
		return used
	}
	if used := busiest(50); used > limit/2+1 {
		t.Errorf("--max-share 50: the busiest window held %d of %d requests, want at most %d", used, limit, limit/2+1)
	}
	if used := busiest(100); used <= limit/2+1 {
		t.Errorf("--max-share 100: the busiest window held %d of %d requests; the run should use more than half", used, limit)
	}
}
