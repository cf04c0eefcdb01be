package okta

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/internal/secret"
)

// GetUserEvidence reads the timestamps, status, login and recovery question
// Okta serves, as the emulator recorded them after each change; a null
// passwordChanged is the zero time; the answer's Date is in the page.
func TestGetUserEvidence(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 4, 5, 6, 7, 8, 0, time.UTC)}
	users := emulator.GenerateUsers(5, 20)
	org, base := emuOrg(t, emulator.Config{UserList: users, Now: clk.Now})
	c := emuClient(t, org, base, AuthSSWS)
	ctx := testCtx(t)
	u := users[1] // ACTIVE, OKTA, with a recovery question

	clk.Add(1500 * time.Millisecond)
	if _, err := c.ChangePassword(ctx, u.ID, secret.New(u.Password), secret.New("N3w-Passw0rd-1!"), nil, nil, CallOptions{}); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Second)
	if _, err := c.ChangeRecoveryQuestion(ctx, u.ID, secret.New("N3w-Passw0rd-1!"), "Which street?", secret.New("elm-1"), CallOptions{}); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Second)
	if _, err := c.ExpirePassword(ctx, u.ID, CallOptions{}); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Second)
	ev, pg, err := c.GetUserEvidence(ctx, u.ID, CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	times, _ := org.Times(u.ID)
	want := UserEvidence{ID: u.ID, Login: u.Login, Status: "PASSWORD_EXPIRED",
		StatusChanged: times.StatusChanged, PasswordChanged: times.PasswordChanged, LastUpdated: times.LastUpdated,
		RecoveryQuestion: "Which street?"}
	if *ev != want {
		t.Errorf("evidence:\n got %+v\nwant %+v", *ev, want)
	}
	if !ev.PasswordChanged.Equal(clk.t.Add(-4 * time.Second)) {
		t.Errorf("passwordChanged %v, want the change_password's time %v", ev.PasswordChanged, clk.t.Add(-4*time.Second))
	}
	if !pg.Rate.Date.Equal(clk.Now().Truncate(time.Second)) || pg.RequestID == "" {
		t.Errorf("page: Date %v (want the org's clock %v), request ID %q", pg.Rate.Date, clk.Now(), pg.RequestID)
	}

	// A federated user has no password: passwordChanged is null.
	var fed emulator.User
	for _, x := range users {
		if x.Provider == emulator.ProviderFederation {
			fed = x
			break
		}
	}
	ev, _, err = c.GetUserEvidence(ctx, fed.ID, CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !ev.PasswordChanged.IsZero() || ev.RecoveryQuestion != "" || ev.LastUpdated.IsZero() {
		t.Errorf("federated user: %+v, want no passwordChanged, no question, a lastUpdated", *ev)
	}

	// An unknown user: a 404 whose answer still says its rate and Date.
	_, pg, err = c.GetUserEvidence(ctx, "00unknown00000000000", CallOptions{})
	wantAPIError(t, err, http.StatusNotFound, "E0000007")
	if ri, ok := AnswerRate(pg, err); !ok || !ri.Date.Equal(clk.Now().Truncate(time.Second)) {
		t.Errorf("AnswerRate of the 404: %+v %v, want the org's Date", ri, ok)
	}
}

// LogQuery.Path writes since and until in milliseconds UTC, the filter with
// %20 for spaces, and a limit no larger than Okta's maximum.
func TestLogQueryPath(t *testing.T) {
	q := LogQuery{
		Since:  time.Date(2026, 1, 2, 3, 4, 5, 6_789_000, time.FixedZone("X", 3600)),
		Until:  time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC),
		Filter: `eventType eq "user.session.clear" and (target.id eq "00u1" or target.id eq "00u2")`,
		Limit:  5000,
	}
	p := q.Path()
	if strings.Contains(p, "+") {
		t.Errorf("%s: a + in the query", p)
	}
	u, err := url.Parse(p)
	if err != nil {
		t.Fatal(err)
	}
	v := u.Query()
	if u.Path != "/api/v1/logs" || v.Get("since") != "2026-01-02T02:04:05.006Z" || v.Get("until") != "2026-01-02T04:00:00.000Z" ||
		v.Get("filter") != q.Filter || v.Get("limit") != "1000" {
		t.Errorf("Path() = %s", p)
	}
	if got := (LogQuery{}).Path(); got != "/api/v1/logs" {
		t.Errorf("empty query: %s", got)
	}
}

// ListLogEvents walks a bounded query page by page (next links as given):
// only the filtered users' events of the type, each with its time, result,
// target, transaction (the request ID of the request that caused it),
// request URI and user agent; an event is not listed before the log delay.
func TestListLogEvents(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 4, 5, 6, 7, 8, 0, time.UTC)}
	users := emulator.GenerateUsers(5, 20)
	org, base := emuOrg(t, emulator.Config{UserList: users, Now: clk.Now, LogDelay: time.Minute})
	c := emuClient(t, org, base, AuthSSWS)
	ctx := testCtx(t)
	start := clk.Now()
	reqIDs := map[string]string{}
	for _, u := range []emulator.User{users[1], users[2], users[3], users[5]} {
		clk.Add(10 * time.Millisecond)
		r, err := c.ClearSessions(ctx, u.ID, true, CallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		reqIDs[u.ID] = r.RequestID
	}
	if _, err := c.ExpirePassword(ctx, users[1].ID, CallOptions{}); err != nil { // another type
		t.Fatal(err)
	}
	q := LogQuery{Since: start, Until: start.Add(time.Hour), Limit: 2,
		Filter: `eventType eq "user.session.clear" and (target.id eq "` + users[1].ID + `" or target.id eq "` + users[2].ID + `" or target.id eq "` + users[5].ID + `")`}
	walk := func() []LogEvent {
		var all []LogEvent
		next := q.Path()
		for pages := 0; next != ""; pages++ {
			if pages > 5 {
				t.Fatal("more than 5 pages")
			}
			evs, pg, err := c.ListLogEvents(ctx, next, CallOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if pg.Rate.Date.IsZero() {
				t.Error("a page without Date")
			}
			all = append(all, evs...)
			next = pg.Next
		}
		return all
	}
	if got := walk(); len(got) != 0 {
		t.Errorf("before the log delay: %d events, want none", len(got))
	}
	clk.Add(2 * time.Minute)
	got := walk()
	if len(got) != 3 {
		t.Fatalf("%d events, want 3: %+v", len(got), got)
	}
	for i, e := range got {
		id := e.Targets[0].ID
		if want := []string{users[1].ID, users[2].ID, users[5].ID}[i]; id != want {
			t.Errorf("event %d is about %s, want %s", i, id, want)
		}
		if e.EventType != "user.session.clear" || e.Result != "SUCCESS" || e.TransactionID != reqIDs[id] ||
			e.RequestURI != "/api/v1/users/"+id+"/sessions" || !strings.HasPrefix(e.UserAgent, "credbatch/") ||
			e.Targets[0].Type != "User" || e.UUID == "" {
			t.Errorf("event %d: %+v", i, e)
		}
		if !e.Published.Equal(start.Add(time.Duration(10*(i+1))*time.Millisecond)) && i < 2 {
			t.Errorf("event %d published %v", i, e.Published)
		}
	}
}

// An answer that is not the user asked for is refused, not read as evidence.
func TestGetUserEvidenceOtherUser(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"00uother0000000000000","status":"ACTIVE","passwordChanged":"2026-01-01T00:00:00.000Z"}`))
	})
	c, err := New(Config{OrgURL: srv.URL, Token: secret.New("tok-123"), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ev, _, err := c.GetUserEvidence(testCtx(t), "00uasked0000000000000", CallOptions{})
	if err == nil || ev != nil || !strings.Contains(err.Error(), "not the user 00uasked0000000000000") {
		t.Errorf("got %+v, %v; want an error saying the answer is another user", ev, err)
	}
}
