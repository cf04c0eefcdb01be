package emulator

import (
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

type sysEvent struct {
	Event
	seq                                          int
	targetName                                   string
	actorType, actorLogin, actorName             string
	method, path, userAgent, ipAddress, severity string
}

// Events returns the System Log, every event (visible or not yet), in
// publication order.
func (o *Org) Events() []Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Event, len(o.events))
	for i, e := range o.events {
		out[i] = e.Event
	}
	return out
}

// publish records an event about u caused by this request, at x.now. The
// caller holds o.mu.
func (x *exchange) publish(eventType, result, reason string, u *userState) {
	o := x.o
	now := x.now.UTC().Truncate(time.Millisecond)
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(o.uuids.Uint32())
	}
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80 // a version 4 UUID
	e := &sysEvent{
		Event: Event{
			UUID:      fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]),
			Published: now, Visible: now.Add(o.cfg.LogDelay),
			EventType: eventType, Result: result, Reason: reason,
			TargetID: u.ID, TargetLogin: u.Login, TransactionID: x.e.RequestID,
		},
		seq:        len(o.events) + 1,
		targetName: strings.TrimSpace(u.FirstName + " " + u.LastName),
		method:     x.r.Method, path: x.r.URL.Path, userAgent: x.r.UserAgent(), severity: "INFO",
	}
	if host, _, ok := strings.Cut(x.r.RemoteAddr, ":"); ok {
		e.ipAddress = host
	}
	switch {
	case x.oauth:
		e.ActorID, e.actorType, e.actorLogin, e.actorName = x.clientID, "PublicClientApp", x.clientID, x.clientID
	case len(o.users) > 0:
		a := o.users[0] // the API token's owner
		e.ActorID, e.actorType, e.actorLogin = a.ID, "User", a.Login
		e.actorName = strings.TrimSpace(a.FirstName + " " + a.LastName)
	}
	o.events = append(o.events, e)
}

// key orders events: by publication, then by sequence.
func (e *sysEvent) key() string {
	return fmt.Sprintf("%d_%d", e.Published.UnixNano(), e.seq)
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
	p := e.Published.UnixNano()
	return p < ns || p == ns && e.seq < seq
}

// after reports whether e comes after the event with key (ns, seq).
func (e *sysEvent) after(ns int64, seq int) bool {
	p := e.Published.UnixNano()
	return p > ns || p == ns && e.seq > seq
}

// eventAttr gives eval the event's attributes (filter).
func eventAttr(e *sysEvent) func(string) []any {
	return func(attr string) []any {
		switch attr {
		case "eventType":
			return []any{e.EventType}
		case "uuid":
			return []any{e.UUID}
		case "published":
			return []any{e.Published}
		case "severity":
			return []any{e.severity}
		case "displayMessage":
			return []any{displayMessages[e.EventType]}
		case "outcome.result":
			return []any{e.Result}
		case "outcome.reason":
			return []any{e.Reason}
		case "actor.id":
			return []any{e.ActorID}
		case "actor.type":
			return []any{e.actorType}
		case "actor.alternateId":
			return []any{e.actorLogin}
		case "actor.displayName":
			return []any{e.actorName}
		case "target.id":
			return []any{e.TargetID}
		case "target.type":
			return []any{"User"}
		case "target.alternateId":
			return []any{e.TargetLogin}
		case "target.displayName":
			return []any{e.targetName}
		case "transaction.id":
			return []any{e.TransactionID}
		case "transaction.type":
			return []any{"WEB"}
		case "client.ipAddress":
			return []any{e.ipAddress}
		}
		return nil
	}
}

var logAttrs = map[string]bool{"eventType": true, "uuid": true, "published": true, "severity": true,
	"displayMessage": true, "outcome.result": true, "outcome.reason": true, "actor.id": true, "actor.type": true,
	"actor.alternateId": true, "actor.displayName": true, "target.id": true, "target.type": true,
	"target.alternateId": true, "target.displayName": true, "transaction.id": true, "transaction.type": true,
	"client.ipAddress": true}

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
	for _, ev := range o.events {
		switch {
		case ev.Visible.After(x.now), ev.Published.Before(since), bounded && !ev.Published.Before(until):
			continue // not yet visible, or outside [since, until) (a polling query: until now)
		case hasAfter && desc && !ev.before(afterNS, afterSeq):
			continue // DESCENDING: only events before the cursor
		case hasAfter && !desc && !ev.after(afterNS, afterSeq):
			continue // ASCENDING: only events after the cursor
		}
		if e != nil && !e.eval(eventAttr(ev), logFilter.fold) || !hasKeywords(ev, keywords) {
			continue
		}
		sel = append(sel, ev)
	}
	sort.Slice(sel, func(i, j int) bool {
		if desc {
			return sel[j].before(sel[i].Published.UnixNano(), sel[i].seq)
		}
		return sel[i].before(sel[j].Published.UnixNano(), sel[j].seq)
	})
	page := []logEventJSON{}
	for _, ev := range sel {
		if len(page) == limit {
			break
		}
		page = append(page, x.eventBody(ev))
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

func hasKeywords(e *sysEvent, keywords []string) bool {
	if len(keywords) == 0 {
		return true
	}
	text := strings.ToLower(strings.Join([]string{e.EventType, displayMessages[e.EventType], e.Result, e.Reason,
		e.TargetID, e.TargetLogin, e.targetName, e.ActorID, e.actorLogin, e.actorName}, " "))
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
	IPAddress string           `json:"ipAddress"`
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

func (x *exchange) eventBody(e *sysEvent) logEventJSON {
	return logEventJSON{
		UUID: e.UUID, Published: stamp(e.Published), EventType: e.EventType, Version: "0", Severity: e.severity,
		DisplayMessage: displayMessages[e.EventType],
		Actor:          logActorJSON{ID: e.ActorID, Type: e.actorType, AlternateID: e.actorLogin, DisplayName: e.actorName},
		Client:         logClientJSON{UserAgent: logUserAgentJSON{RawUserAgent: e.userAgent}, IPAddress: e.ipAddress},
		Outcome:        logOutcomeJSON{Result: e.Result, Reason: e.Reason},
		Target:         []logActorJSON{{ID: e.TargetID, Type: "User", AlternateID: e.TargetLogin, DisplayName: e.targetName}},
		Transaction:    logTransactionJSON{Type: "WEB", ID: e.TransactionID, Detail: map[string]any{}},
		DebugContext: logDebugContextJSON{DebugData: map[string]any{"requestId": e.TransactionID,
			"requestUri": e.path, "url": e.path}},
	}
}
