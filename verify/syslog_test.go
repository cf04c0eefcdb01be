package verify

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credbatch/credbatch/jobs"
)

// The log queries ask about many users each, but never more than
// MaxUsersPerQuery, a filter longer than MaxFilterLen or a span longer
// than MaxQuerySpan (plus one window); every target's window lies inside
// a query of its event type that names it; a query never reaches past
// Okta's earliest possible now; an ID that is not letters and digits is
// never put in a filter.
func TestLogQueries(t *testing.T) {
	base := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	now := base.Add(20 * time.Hour)
	var targets []*Target
	add := func(id string, a jobs.Action, at time.Time) {
		targets = append(targets, &Target{Line: len(targets) + 2, UserID: id, Action: a, First: at, Last: at.Add(time.Second)})
	}
	for i := 0; i < 130; i++ { // 130 users over 13 hours: spans and counts both cut
		add(fmt.Sprintf("00uq%016d", i), jobs.ChangePassword, base.Add(time.Duration(i)*6*time.Minute))
	}
	for i := 0; i < 50; i++ { // long IDs: the filter's length cuts first
		add(fmt.Sprintf("00ulong%053d", i), jobs.ForgotPasswordSetNewPassword, base.Add(time.Duration(i)*time.Second))
	}
	for i := 0; i < 6; i++ { // few users, hours apart: the span cuts
		add(fmt.Sprintf("00uspan%013d", i), jobs.ClearSessions, base.Add(time.Duration(i)*3*time.Hour))
	}
	add("00uq0000000000000003", jobs.ChangePassword, base.Add(9*time.Hour)) // a second row of a user
	add("00urecent00000000001", jobs.ExpirePassword, now.Add(-time.Second)) // its window runs past now
	add(`00u" or target.id pr`, jobs.ExpirePassword, base)                  // not an ID: never in a filter
	add("00uquestion000000001", jobs.ChangeRecoveryQuestion, base)          // no event type
	add("00uforgot00000000001", jobs.ForgotPassword, base)                  // no event type
	qs := logQueries(targets, off, now)

	for _, q := range qs {
		if n := len(q.users); n == 0 || n > MaxUsersPerQuery {
			t.Errorf("a query of %d users", n)
		}
		if n := len(q.q.Filter); n > MaxFilterLen {
			t.Errorf("a filter of %d bytes", n)
		}
		if span := q.q.Until.Sub(q.q.Since); span > MaxQuerySpan+RequestLife+2*time.Second {
			t.Errorf("a query spanning %v", span)
		}
		if !q.q.Until.After(q.q.Since) || q.q.Until.After(now.Add(off.Lo).Add(time.Millisecond)) {
			t.Errorf("a query from %v to %v (Okta's now is at least %v)", q.q.Since, q.q.Until, now.Add(off.Lo))
		}
		if !strings.HasPrefix(q.q.Filter, `eventType eq "`+q.eventType+`" and (target.id eq "`) || strings.Contains(q.q.Filter, "pr") {
			t.Errorf("filter %s", q.q.Filter)
		}
		if q.q.Limit != 1000 {
			t.Errorf("limit %d", q.q.Limit)
		}
	}
	for _, tg := range targets {
		et := eventType(tg.Action)
		c := Case{Target: tg, Offset: off}
		from, to := c.window()
		covered := false
		for _, q := range qs {
			if q.eventType == et && slices.Contains(q.users, tg.UserID) && !from.Before(q.q.Since) &&
				(to.Before(q.q.Until) || !q.q.Until.Before(now.Add(off.Lo))) {
				covered = true
			}
		}
		if want := et != "" && filterSafe(tg.UserID); covered != want {
			t.Errorf("line %d (%s, %s): covered %v, want %v", tg.Line, tg.UserID, tg.Action, covered, want)
		}
	}
	if len(qs) < 5 || len(qs) > 16 {
		t.Errorf("%d queries for 191 users of 4 event types", len(qs))
	}
}
