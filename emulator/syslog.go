package emulator

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// System Log event types the emulator publishes (Okta's names).
const (
	EventUpdatePassword = "user.account.update_password" // change_password, forgot_password_recovery_question
	EventExpirePassword = "user.account.expire_password" // both expire operations
	EventResetPassword  = "user.account.reset_password"  // reset_password
	EventSessionClear   = "user.session.clear"           // DELETE sessions
)

// eventTypes maps each operation to the event it publishes; forgot_password
// and change_recovery_question publish none.
var eventTypes = map[string]string{
	OpExpirePassword:                 EventExpirePassword,
	OpExpirePasswordWithTempPassword: EventExpirePassword,
	OpResetPassword:                  EventResetPassword,
	OpForgotPasswordSetNewPassword:   EventUpdatePassword,
	OpChangePassword:                 EventUpdatePassword,
	OpRevokeUserSessions:             EventSessionClear,
}

// displayMessages: the emulator's wording, after Okta's event catalog.
var displayMessages = map[string]string{
	EventUpdatePassword: "User update password for Okta",
	EventExpirePassword: "Expire user password",
	EventResetPassword:  "Reset Okta password",
	EventSessionClear:   "Clear user session",
}

// Page sizes of GET /api/v1/logs (Okta: 100 by default, at most 1000).
const (
	logsDefaultLimit = 100
	logsMaxLimit     = 1000
	logsDefaultSpan  = 7 * 24 * time.Hour // since defaults to until minus this
)

// Event is one System Log event, as Events returns it.
type Event struct {
	UUID          string    `json:"uuid"`
	Published     time.Time `json:"published"`
	Visible       time.Time `json:"visible"` // when GET /api/v1/logs starts showing it
	EventType     string    `json:"eventType"`
	Result        string    `json:"result"`           // SUCCESS or FAILURE
	Reason        string    `json:"reason,omitempty"` // why a FAILURE failed
	TargetID      string    `json:"targetId"`
	TargetLogin   string    `json:"targetLogin"`
	TransactionID string    `json:"transactionId"` // the request ID of the request that caused it
	ActorID       string    `json:"actorId"`       // the token's owner, or the OAuth app's client ID
}

// sysEvent is an event as the org keeps it: small, with no allocation of
// its own (a million-row run publishes a million events); the rest is
// derived when it is shown.
type sysEvent struct {
	published time.Time
	seq       int    // 1, 2, ... in publication order
	eventType string // one of the Event* constants
	failed    bool   // outcome FAILURE (else SUCCESS)
	reason    string // a FAILURE's cause
	u         *userState
	logIdx    int    // the causing request's entry in the request log
	clientID  string // the OAuth app that sent it; "" for the API token's owner
}

func (e *sysEvent) result() string {
	if e.failed {
		return "FAILURE"
	}
	return "SUCCESS"
}

// Events returns the System Log, every event (visible or not yet), in
// publication order.
func (o *Org) Events() []Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Event, len(o.events))
	for i := range o.events {
		e := &o.events[i]
		out[i] = Event{UUID: o.eventUUID(e.seq), Published: e.published, Visible: e.published.Add(o.cfg.LogDelay),
			EventType: e.eventType, Result: e.result(), Reason: e.reason, TargetID: e.u.ID, TargetLogin: e.u.Login,
			TransactionID: o.log[e.logIdx].RequestID, ActorID: o.actor(e).ID}
	}
	return out
}

// publish records an event about u caused by this request, at x.now. The
// caller holds o.mu.
func (x *exchange) publish(eventType, result, reason string, u *userState) {
	o := x.o
	o.events = append(o.events, sysEvent{
		published: x.now.UTC().Truncate(time.Millisecond), seq: len(o.events) + 1,
		eventType: eventType, failed: result == "FAILURE", reason: reason,
		u: u, logIdx: x.idx, clientID: x.clientID,
	})
}

// eventUUID is event seq's uuid: a version 4 UUID drawn from the seed.
func (o *Org) eventUUID(seq int) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], splitmix(o.uuidSeed+2*uint64(seq)))
	binary.BigEndian.PutUint64(b[8:], splitmix(o.uuidSeed+2*uint64(seq)+1))
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// actor is who sent the event's request: the API token's owner (a User)
// or the OAuth app. The caller holds o.mu.
func (o *Org) actor(e *sysEvent) logActorJSON {
	if e.clientID != "" {
		return logActorJSON{ID: e.clientID, Type: "PublicClientApp", AlternateID: e.clientID, DisplayName: e.clientID}
	}
	if len(o.users) == 0 {
		return logActorJSON{}
	}
	a := o.users[0]
	return logActorJSON{ID: a.ID, Type: "User", AlternateID: a.Login, DisplayName: displayName(a)}
}

func displayName(u *userState) string { return strings.TrimSpace(u.FirstName + " " + u.LastName) }

// key orders events: by publication, then by sequence.
func (e *sysEvent) key() string {
	return fmt.Sprintf("%d_%d", e.published.UnixNano(), e.seq)
}

func parseEventKey(s string) (ns int64, seq int, ok bool) {
	a, b, found := strings.Cut(s, "_")
	if !found {
		return 0, 0, false
	}
	ns, err1 := strconv.ParseInt(a, 10, 64)
	seq, err2 := strconv.Atoi(b)
	return ns, seq, err1 == nil && err2 == nil
}

// before reports whether e comes before the event with key (ns, seq).
func (e *sysEvent) before(ns int64, seq int) bool {
	p := e.published.UnixNano()
	return p < ns || p == ns && e.seq < seq
}

// after reports whether e comes after the event with key (ns, seq).
func (e *sysEvent) after(ns int64, seq int) bool {
	p := e.published.UnixNano()
	return p > ns || p == ns && e.seq > seq
}

// eventAttr gives eval the event's attributes (filter). The caller holds
// o.mu.
func (o *Org) eventAttr(e *sysEvent) func(string) []any {
	return func(attr string) []any {
		var v string
		switch attr {
		case "published":
			return []any{e.published}
		case "eventType":
			v = e.eventType
		case "uuid":
			v = o.eventUUID(e.seq)
		case "severity":
			v = "INFO"
		case "displayMessage":
			v = displayMessages[e.eventType]
		case "outcome.result":
			v = e.result()
		case "outcome.reason":
			v = e.reason
		case "actor.id":
			v = o.actor(e).ID
		case "actor.type":
			v = o.actor(e).Type
		case "actor.alternateId":
			v = o.actor(e).AlternateID
		case "actor.displayName":
			v = o.actor(e).DisplayName
		case "target.id":
			v = e.u.ID
		case "target.type":
			v = "User"
		case "target.alternateId":
			v = e.u.Login
		case "target.displayName":
			v = displayName(e.u)
		case "transaction.id":
			v = o.log[e.logIdx].RequestID
		case "transaction.type":
			v = "WEB"
		default:
			return nil
		}
		return []any{v}
	}
}

var logAttrs = map[string]bool{"eventType": true, "uuid": true, "published": true, "severity": true,
	"displayMessage": true, "outcome.result": true, "outcome.reason": true, "actor.id": true, "actor.type": true,
	"actor.alternateId": true, "actor.displayName": true, "target.id": true, "target.type": true,
	"target.alternateId": true, "target.displayName": true, "transaction.id": true, "transaction.type": true}

// logFilter is the `filter` of GET /api/v1/logs: the attributes above,
// every operator; values compare exactly.
var logFilter = &dialect{param: "filter", fold: false, isDate: func(a string) bool { return a == "published" },
	check: func(attr, op string) string {
		if !logAttrs[attr] {
			return fmt.Sprintf("%s cannot be filtered", attr)
		}
		return ""
	}}

// timeParam reads an RFC 3339 timestamp parameter; ok is false when absent.
func timeParam(q map[string][]string, name string) (t time.Time, ok bool, ae *apiError) {
	v := q[name]
	if len(v) == 0 || v[0] == "" {
		return time.Time{}, false, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v[0])
	if err != nil {
		return time.Time{}, false, errValidation(name, "must be an ISO 8601 timestamp such as 2026-01-02T03:04:05.000Z.")
	}
	return t, true, nil
}

// listLogEvents answers GET /api/v1/logs; see the package documentation.
func (x *exchange) listLogEvents() result {
	q := x.r.URL.Query()
	until, bounded, ae := timeParam(q, "until")
	if ae != nil {
		return result{err: ae}
	}
	if !bounded {
		until = x.now
	}
	since, ok, ae := timeParam(q, "since")
	if ae != nil {
		return result{err: ae}
	}
	if !ok {
		since = until.Add(-logsDefaultSpan)
	}
	limit, ae := limitParam(q, logsDefaultLimit, logsMaxLimit)
	if ae != nil {
		return result{err: ae}
	}
	desc := false
	switch q.Get("sortOrder") {
	case "", "ASCENDING":
	case "DESCENDING":
		desc = true
	default:
		return result{err: errValidation("sortOrder", "must be ASCENDING or DESCENDING.")}
	}
	var e *expr
	if q.Has("filter") {
		var err error
		if e, err = parseQuery(q.Get("filter"), logFilter); err != nil {
			return result{err: errSearch(err)}
		}
	}
	keywords := strings.Fields(strings.ToLower(q.Get("q")))
	after := q.Get("after")
	afterNS, afterSeq, hasAfter := parseEventKey(after)
	if after != "" && !hasAfter {
		return result{err: errValidation("after", "is not a cursor this API returned.")}
	}

	o := x.o
	o.mu.Lock()
	defer o.mu.Unlock()
	var sel []*sysEvent
	for i := range o.events {
		ev := &o.events[i]
		switch {
		case ev.published.Add(o.cfg.LogDelay).After(x.now), ev.published.Before(since), bounded && !ev.published.Before(until):
			continue // not yet visible, or outside [since, until) (a polling query: until now)
		case hasAfter && desc && !ev.before(afterNS, afterSeq):
			continue // DESCENDING: only events before the cursor
		case hasAfter && !desc && !ev.after(afterNS, afterSeq):
			continue // ASCENDING: only events after the cursor
		}
		if e != nil && !e.eval(o.eventAttr(ev), logFilter.fold) || !o.hasKeywords(ev, keywords) {
			continue
		}
		sel = append(sel, ev)
	}
	sort.Slice(sel, func(i, j int) bool {
		if desc {
			return sel[j].before(sel[i].published.UnixNano(), sel[i].seq)
		}
		return sel[i].before(sel[j].published.UnixNano(), sel[j].seq)
	})
	page := []logEventJSON{}
	for _, ev := range sel {
		if len(page) == limit {
			break
		}
		page = append(page, o.eventBody(ev))
	}
	next := ""
	switch {
	case len(page) == limit:
		next = sel[len(page)-1].key()
	case !bounded && len(page) > 0:
		next = sel[len(page)-1].key() // a polling query always has a next link
	case !bounded:
		next = after
		if next == "" {
			next = fmt.Sprintf("%d_0", since.UnixNano()-1)
		}
	}
	return result{status: http.StatusOK, body: page, links: x.pageLinks(next)}
}

func (o *Org) hasKeywords(e *sysEvent, keywords []string) bool {
	if len(keywords) == 0 {
		return true
	}
	a := o.actor(e)
	text := strings.ToLower(strings.Join([]string{e.eventType, displayMessages[e.eventType], e.result(), e.reason,
		e.u.ID, e.u.Login, displayName(e.u), a.ID, a.AlternateID, a.DisplayName}, " "))
	for _, k := range keywords {
		if !strings.Contains(text, k) {
			return false
		}
	}
	return true
}

type logActorJSON struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	AlternateID string `json:"alternateId"`
	DisplayName string `json:"displayName"`
}

type logOutcomeJSON struct {
	Result string `json:"result"`
	Reason string `json:"reason,omitempty"`
}

type logTransactionJSON struct {
	Type   string         `json:"type"`
	ID     string         `json:"id"`
	Detail map[string]any `json:"detail"`
}

type logUserAgentJSON struct {
	RawUserAgent string `json:"rawUserAgent"`
}

type logClientJSON struct {
	UserAgent logUserAgentJSON `json:"userAgent"`
}

type logDebugContextJSON struct {
	DebugData map[string]any `json:"debugData"`
}

// logEventJSON is Okta's LogEvent (the fields the emulator knows).
type logEventJSON struct {
	UUID           string              `json:"uuid"`
	Published      string              `json:"published"`
	EventType      string              `json:"eventType"`
	Version        string              `json:"version"`
	Severity       string              `json:"severity"`
	DisplayMessage string              `json:"displayMessage"`
	Actor          logActorJSON        `json:"actor"`
	Client         logClientJSON       `json:"client"`
	Outcome        logOutcomeJSON      `json:"outcome"`
	Target         []logActorJSON      `json:"target"`
	Transaction    logTransactionJSON  `json:"transaction"`
	DebugContext   logDebugContextJSON `json:"debugContext"`
}

// eventBody is the event as Okta's LogEvent. The caller holds o.mu.
func (o *Org) eventBody(e *sysEvent) logEventJSON {
	le := o.log[e.logIdx]
	return logEventJSON{
		UUID: o.eventUUID(e.seq), Published: stamp(e.published), EventType: e.eventType, Version: "0", Severity: "INFO",
		DisplayMessage: displayMessages[e.eventType],
		Actor:          o.actor(e),
		Client:         logClientJSON{UserAgent: logUserAgentJSON{RawUserAgent: le.UserAgent}},
		Outcome:        logOutcomeJSON{Result: e.result(), Reason: e.reason},
		Target:         []logActorJSON{{ID: e.u.ID, Type: "User", AlternateID: e.u.Login, DisplayName: displayName(e.u)}},
		Transaction:    logTransactionJSON{Type: "WEB", ID: le.RequestID, Detail: map[string]any{}},
		DebugContext: logDebugContextJSON{DebugData: map[string]any{"requestId": le.RequestID,
			"requestUri": le.Path, "url": le.Path}},
	}
}
