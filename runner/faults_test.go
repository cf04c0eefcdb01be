package runner_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
)

var allActions = []jobs.Action{
	jobs.ExpirePassword, jobs.ExpirePasswordWithTempPassword, jobs.ResetPassword, jobs.ForgotPassword,
	jobs.ForgotPasswordSetNewPassword, jobs.ChangePassword, jobs.ChangeRecoveryQuestion, jobs.ClearSessions,
}

// SPEC.md "Rate limits and faults": the actions repeated after an attempt
// that may have applied.
var repeatableActions = map[jobs.Action]bool{
	jobs.ExpirePassword: true, jobs.ExpirePasswordWithTempPassword: true, jobs.ResetPassword: true,
	jobs.ForgotPassword: true, jobs.ClearSessions: true,
}

var secretActions = map[jobs.Action]bool{
	jobs.ExpirePasswordWithTempPassword: true, jobs.ResetPassword: true, jobs.ForgotPassword: true,
}

const mayHaveApplied = "an earlier attempt may have applied"

// Faults of the emulator itself: a few jobs get 5xx answers and are retried
// until they succeed; every retry names the failed attempt's request ID and
// counts itself.
func TestServerErrorsThenSuccess(t *testing.T) {
	const n = 20
	e := newEnv(t, emulator.Config{UserList: activeUsers(n), Fail5xxRate: 0.4, Seed: 11})
	var rows []mrow
	for i := 1; i <= n; i++ {
		rows = append(rows, rowFor(jobs.ExpirePassword, mkUser(i, emulator.StatusActive)))
	}
	opt := baseOptions()
	opt.MaxRetries = 15
	r := e.run(rows, opt)
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	if len(r.rows) != n {
		t.Fatalf("report has %d rows, want %d", len(r.rows), n)
	}
	retried := 0
	for k := range rows {
		row := r.row(t, k)
		id := uid(k + 1)
		if row.Outcome != report.Succeeded {
			t.Errorf("%s: want succeeded", describe(row))
			continue
		}
		es := orgActions(e.org, id)
		if len(es) != row.Attempts {
			t.Errorf("%s: the org saw %d requests, the report counts %d attempts", id, len(es), row.Attempts)
		}
		if len(es) == 0 {
			continue
		}
		if len(es) > 1 {
			retried++
		}
		for i, le := range es {
			last := i == len(es)-1
			switch {
			case last && le.Status != http.StatusOK:
				t.Errorf("%s: last request answered %d, want 200", id, le.Status)
			case !last && (le.Status < 500 || le.ErrorCode != "E0000009"):
				t.Errorf("%s: request %d answered %d %s before a retry, want a 5xx E0000009", id, i+1, le.Status, le.ErrorCode)
			}
			if i == 0 {
				if le.RetryFor != "" || le.RetryCount != "" {
					t.Errorf("%s: the first attempt carries retry headers (%q, %q)", id, le.RetryFor, le.RetryCount)
				}
				continue
			}
			if le.RetryFor != es[i-1].RequestID {
				t.Errorf("%s: retry %d: X-Okta-Retry-For %q, want the failed attempt's %q", id, i, le.RetryFor, es[i-1].RequestID)
			}
			if le.RetryCount != strconv.Itoa(i) {
				t.Errorf("%s: retry %d: X-Okta-Retry-Count %q", id, i, le.RetryCount)
			}
		}
		if last := es[len(es)-1]; row.OktaRequestID != last.RequestID {
			t.Errorf("%s: okta_request_id %q, want the successful attempt's %q", id, row.OktaRequestID, last.RequestID)
		}
		if row.UserStatus != emulator.StatusPasswordExpired {
			t.Errorf("%s: user_status %q", id, row.UserStatus)
		}
	}
	if retried == 0 {
		t.Fatalf("no job was retried: the fault rate did not bite, the test proves nothing")
	}
}

// One fault on the first attempt of one user, for each action: an attempt
// that applied but got no answer, and a 500 (which "may have applied").
func TestFaultOnFirstAttemptEachAction(t *testing.T) {
	faults := []struct {
		name string
		f    fault
	}{
		{"dropped after applying", fault{kind: dropAfter}},
		{"500", errAnswer(500, "E0000009", "Internal Server Error")},
	}
	for _, fc := range faults {
		for _, a := range allActions {
			t.Run(fc.name+"/"+string(a), func(t *testing.T) {
				e := newEnv(t, emulator.Config{UserList: activeUsers(2)})
				target := uid(1)
				e.prx.setPlan(func(ri reqInfo) fault {
					if ri.Action && ri.UserSeg == target && ri.N == 1 {
						return fc.f
					}
					return fault{}
				})
				rows := []mrow{rowFor(a, mkUser(1, emulator.StatusActive)), rowFor(a, mkUser(2, emulator.StatusActive))}
				r := e.run(rows, baseOptions())
				if r.err != nil {
					t.Fatalf("Run: %v", r.err)
				}
				if len(r.rows) != 2 {
					t.Fatalf("report has %d rows, want 2", len(r.rows))
				}
				// The control row: no fault, one attempt.
				if c := r.row(t, 1); c.Outcome != report.Succeeded || c.Attempts != 1 {
					t.Errorf("control row: %s", describe(c))
				}
				row := r.row(t, 0)
				reqs := e.prx.actions(target)
				if repeatableActions[a] {
					if row.Outcome != report.Succeeded {
						t.Fatalf("%s: want succeeded after a repeat", describe(row))
					}
					if len(reqs) != 2 || row.Attempts != 2 {
						t.Fatalf("%s: %d requests reached the proxy, want 2 (and attempts 2)", describe(row), len(reqs))
					}
					if reqs[1].RetryCount != "1" {
						t.Errorf("the repeat carries X-Okta-Retry-Count %q, want 1", reqs[1].RetryCount)
					}
					if fc.f.kind == answer && reqs[1].RetryFor != reqs[0].RequestID {
						t.Errorf("the repeat carries X-Okta-Retry-For %q, want %q", reqs[1].RetryFor, reqs[0].RequestID)
					}
					if secretActions[a] {
						got, want := secretOf(row), e.org.LastSecret(target)
						if got == "" || got != want {
							t.Errorf("the report's secret is not the last one the org issued (empty: %v)", got == "")
						}
					}
					if a == jobs.ExpirePasswordWithTempPassword {
						if u, _ := e.org.User(target); u.Password != secretOf(row) {
							t.Errorf("the user's password is not the reported temp password")
						}
					}
					return
				}
				if row.Outcome != report.InDoubt {
					t.Fatalf("%s: want in_doubt", describe(row))
				}
				if len(reqs) != 1 || row.Attempts != 1 {
					t.Fatalf("%s: %d requests reached the proxy, want exactly 1 (and attempts 1)", describe(row), len(reqs))
				}
				if !strings.Contains(row.ErrorSummary, mayHaveApplied) {
					t.Errorf("error_summary %q lacks %q", row.ErrorSummary, mayHaveApplied)
				}
				if fc.f.kind == answer && (row.HTTPStatus != 500 || row.ErrorCode != "E0000009") {
					t.Errorf("%s: want http_status 500, E0000009", describe(row))
				}
				if row.StartedAt.IsZero() {
					t.Errorf("started_at is empty though a request was sent")
				}
				if _, open := r.state.LastAttempt[lineOf(0)]; open {
					t.Errorf("the checkpoint still holds an open attempt of a finished row")
				}
				if !r.state.Done.Has(lineOf(0)) {
					t.Errorf("the checkpoint has no outcome for the in_doubt row")
				}
				// A finished row's attempts are in its report row; the
				// checkpoint's state keeps counts only for unfinished rows.
				if row.Attempts != 1 || r.state.Attempts[lineOf(0)] != 0 {
					t.Errorf("attempts: report %d (want 1), checkpoint state %d (want 0 for a finished row)", row.Attempts, r.state.Attempts[lineOf(0)])
				}
			})
		}
	}
}

// A 503 applied nothing (SPEC.md: 500/502/504 may have applied): even a
// password-checking action is retried after it.
func TestServiceUnavailableIsRetriedForPasswordChecks(t *testing.T) {
	for _, a := range []jobs.Action{jobs.ChangePassword, jobs.ChangeRecoveryQuestion, jobs.ForgotPasswordSetNewPassword} {
		t.Run(string(a), func(t *testing.T) {
			e := newEnv(t, emulator.Config{UserList: activeUsers(1)})
			e.prx.setPlan(func(ri reqInfo) fault {
				if ri.Action && ri.N == 1 {
					return errAnswer(503, "E0000009", "Service Unavailable")
				}
				return fault{}
			})
			r := e.run([]mrow{rowFor(a, mkUser(1, emulator.StatusActive))}, baseOptions())
			if r.err != nil {
				t.Fatalf("Run: %v", r.err)
			}
			row := r.row(t, 0)
			if row.Outcome != report.Succeeded || row.Attempts != 2 {
				t.Fatalf("%s: want succeeded in 2 attempts", describe(row))
			}
			if reqs := e.prx.actions(uid(1)); len(reqs) != 2 || reqs[1].RetryFor != reqs[0].RequestID {
				t.Errorf("want 2 requests, the second naming the first: %+v", reqs)
			}
		})
	}
}

// A 4xx to a repeat that follows a possibly applied attempt: in_doubt.
// After a 503 (nothing applied), the same 4xx is a plain failure.
func TestClientErrorAfterPossiblyAppliedAttempt(t *testing.T) {
	forbidden := errAnswer(403, "E0000038", "This operation is not allowed in the user's current status.")
	cases := []struct {
		name        string
		first       fault
		want        report.Outcome
		wantSummary bool
	}{
		{"after a drop", fault{kind: dropAfter}, report.InDoubt, true},
		{"after a 502", errAnswer(502, "E0000009", "Bad Gateway"), report.InDoubt, true},
		{"after a 503", errAnswer(503, "E0000009", "Service Unavailable"), report.Failed, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, emulator.Config{UserList: activeUsers(1)})
			e.prx.setPlan(actionsPlan(firstAttempt, c.first, forbidden))
			r := e.run([]mrow{rowFor(jobs.ExpirePassword, mkUser(1, emulator.StatusActive))}, baseOptions())
			if r.err != nil {
				t.Fatalf("Run: %v", r.err)
			}
			row := r.row(t, 0)
			if row.Outcome != c.want || row.HTTPStatus != 403 || row.ErrorCode != "E0000038" || row.Attempts != 2 {
				t.Fatalf("%s: want %s, 403 E0000038, 2 attempts", describe(row), c.want)
			}
			if got := strings.Contains(row.ErrorSummary, mayHaveApplied); got != c.wantSummary {
				t.Errorf("error_summary %q: contains %q = %v, want %v", row.ErrorSummary, mayHaveApplied, got, c.wantSummary)
			}
			if len(e.prx.actions(uid(1))) != 2 {
				t.Errorf("want exactly 2 requests")
			}
		})
	}
}

// Retries running out: in_doubt when some attempt may have applied, else
// failed with the code of the last failure.
func TestRetriesRunOut(t *testing.T) {
	cases := []struct {
		name       string
		f          fault // every attempt; kind pass means "never reaches the server"
		unreached  bool
		want       report.Outcome
		wantStatus int
		wantCode   string
	}{
		{"dropped every time", fault{kind: dropAfter}, false, report.InDoubt, 0, report.CodeNetwork},
		{"500 every time", errAnswer(500, "E0000009", ""), false, report.InDoubt, 500, "E0000009"},
		{"503 every time", errAnswer(503, "E0000009", ""), false, report.Failed, 503, "E0000009"},
		{"unreached every time", fault{}, true, report.Failed, 0, report.CodeNetwork},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, emulator.Config{UserList: activeUsers(1)})
			target := uid(1)
			var ur *unreachable
			if c.unreached {
				ur = &unreachable{count: map[string]int{}, refuse: func(r *http.Request) bool {
					return r.Method == http.MethodPost && userSeg(r.URL.Path) == target
				}}
				e.roundTripper = func(next http.RoundTripper) http.RoundTripper { ur.next = next; return ur }
			} else {
				e.prx.setPlan(func(ri reqInfo) fault {
					if ri.Action {
						return c.f
					}
					return fault{}
				})
			}
			opt := baseOptions()
			opt.MaxRetries = 2
			r := e.run([]mrow{rowFor(jobs.ExpirePassword, mkUser(1, emulator.StatusActive))}, opt)
			if r.err != nil {
				t.Fatalf("Run: %v", r.err)
			}
			row := r.row(t, 0)
			if row.Outcome != c.want || row.HTTPStatus != c.wantStatus || row.ErrorCode != c.wantCode || row.Attempts != 3 {
				t.Fatalf("%s: want %s, http %d, %s, 3 attempts", describe(row), c.want, c.wantStatus, c.wantCode)
			}
			if got, want := strings.Contains(row.ErrorSummary, mayHaveApplied), c.want == report.InDoubt; got != want {
				t.Errorf("error_summary %q: contains %q = %v, want %v", row.ErrorSummary, mayHaveApplied, got, want)
			}
			sent := len(e.prx.actions(target))
			if c.unreached {
				if sent != 0 || ur.count[target] != 3 {
					t.Errorf("unreached: %d requests reached the server, %d refused; want 0 and 3", sent, ur.count[target])
				}
			} else if sent != 3 {
				t.Errorf("%d requests reached the server, want 3", sent)
			}
		})
	}
}

// A request that outlives --timeout but reached Okta (and applied): the
// repeatable action is repeated, the password-checking one ends in_doubt
// with CB_TIMEOUT.
func TestTimeoutOnFirstAttempt(t *testing.T) {
	for _, a := range []jobs.Action{jobs.ExpirePasswordWithTempPassword, jobs.ChangePassword} {
		t.Run(string(a), func(t *testing.T) {
			e := newEnv(t, emulator.Config{UserList: activeUsers(1)})
			e.timeout = 100 * time.Millisecond
			e.prx.setPlan(func(ri reqInfo) fault {
				if ri.Action && ri.N == 1 {
					return fault{kind: slow, delay: 400 * time.Millisecond}
				}
				return fault{}
			})
			r := e.run([]mrow{rowFor(a, mkUser(1, emulator.StatusActive))}, baseOptions())
			if r.err != nil {
				t.Fatalf("Run: %v", r.err)
			}
			row := r.row(t, 0)
			reqs := e.prx.actions(uid(1))
			if repeatableActions[a] {
				if row.Outcome != report.Succeeded || row.Attempts != 2 || len(reqs) != 2 {
					t.Fatalf("%s (%d requests): want succeeded after one repeat", describe(row), len(reqs))
				}
				if secretOf(row) != e.org.LastSecret(uid(1)) {
					t.Errorf("the report's temp password is not the last one issued")
				}
				return
			}
			if row.Outcome != report.InDoubt || row.ErrorCode != report.CodeTimeout || row.Attempts != 1 || len(reqs) != 1 {
				t.Fatalf("%s (%d requests): want in_doubt %s after exactly one request", describe(row), len(reqs), report.CodeTimeout)
			}
			if !strings.Contains(row.ErrorSummary, mayHaveApplied) {
				t.Errorf("error_summary %q lacks %q", row.ErrorSummary, mayHaveApplied)
			}
		})
	}
}

// A repeatable action's attempt applied with no answer, then Ctrl-C; the
// resume's repeat gets a 4xx and ends in_doubt (the first attempt may have
// applied), not failed.
func TestEarlierAttemptAppliedAcrossRuns(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	users := activeUsers(2)
	f := e.prepare([]mrow{rowFor(jobs.ResetPassword, users[1])})
	feed, stopFeed := context.WithCancel(context.Background())
	defer stopFeed()
	e.prx.setPlan(func(ri reqInfo) fault {
		if ri.Action && ri.N == 1 {
			go func() { time.Sleep(200 * time.Millisecond); stopFeed() }()
			return fault{kind: dropAfter}
		}
		if ri.Action {
			return errAnswer(403, "E0000006", "You do not have permission to perform the requested action")
		}
		return fault{}
	})
	opt := baseOptions()
	opt.BackoffMin, opt.BackoffMax = 5*time.Second, 5*time.Second
	r1 := e.executeCtx(f, opt, e.token, feed, context.Background())
	t.Logf("run1 err=%v rows=%d lastAttempt=%v", r1.err, len(r1.rows), r1.state.LastAttempt)
	if len(r1.rows) != 0 {
		t.Fatalf("the first run recorded %d rows, want the row pending", len(r1.rows))
	}
	r2 := e.execute(f, baseOptions())
	if len(r2.rows) != 1 {
		t.Fatalf("resume recorded %d rows, want 1", len(r2.rows))
	}
	row := r2.rows[0]
	if row.Outcome != report.InDoubt || !strings.Contains(row.ErrorSummary, "may have applied") {
		t.Errorf("resume's repeat got a 4xx after an attempt that may have applied: %s, want in_doubt", describe(row))
	}
}
