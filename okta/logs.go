package okta

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// LogTimeLayout is how a System Log query writes since and until: RFC 3339,
// UTC, milliseconds (Okta's own timestamps).
const LogTimeLayout = "2006-01-02T15:04:05.000Z"

// MaxLogLimit is the most events Okta returns on one page of the System Log.
const MaxLogLimit = 1000

// LogQuery is a bounded System Log query: GET /api/v1/logs with since
// (inclusive), until (exclusive), a filter expression and a page size.
// A query with until is bounded: its pages end.
type LogQuery struct {
	Since, Until time.Time
	Filter       string // e.g. eventType eq "user.session.clear" and (target.id eq "00u…")
	Limit        int    // events a page; 0: Okta's default (100); at most MaxLogLimit
}

// Path is the query's first page as a path with its query string: what
// ListLogEvents takes.
func (q LogQuery) Path() string {
	v := url.Values{}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(LogTimeLayout))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(LogTimeLayout))
	}
	if q.Filter != "" {
		v.Set("filter", q.Filter)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(min(q.Limit, MaxLogLimit)))
	}
	if len(v) == 0 {
		return "/api/v1/logs"
	}
	// url.Values.Encode writes a space as "+", which Okta's query parser
	// reads as a space too; %20 is unambiguous everywhere.
	return "/api/v1/logs?" + strings.ReplaceAll(v.Encode(), "+", "%20")
}

// LogEvent is the part of a System Log event (Okta's LogEvent) that says
// what happened to whom, when, and through which request.
type LogEvent struct {
	UUID      string
	Published time.Time // UTC
	EventType string
	Result    string // outcome.result: SUCCESS, FAILURE, ...
	// Targets are the event's target[] (a user target has type User).
	Targets []LogTarget
	// TransactionID is transaction.id: the X-Okta-Request-Id of the
	// request that caused the event.
	TransactionID string
	// RequestURI is debugContext.debugData.requestUri ("" when absent):
	// the path of the API request that caused the event.
	RequestURI string
	// UserAgent is client.userAgent.rawUserAgent ("" when absent).
	UserAgent string
}

// LogTarget is one entry of an event's target[].
type LogTarget struct {
	ID, Type, AlternateID string
}

// logEventJSON is the part of Okta's LogEvent that LogEvent reads.
type logEventJSON struct {
	UUID      string    `json:"uuid"`
	Published time.Time `json:"published"`
	EventType string    `json:"eventType"`
	Outcome   struct {
		Result string `json:"result"`
	} `json:"outcome"`
	Target []struct {
		ID          string `json:"id"`
		Type        string `json:"type"`
		AlternateID string `json:"alternateId"`
	} `json:"target"`
	Transaction struct {
		ID string `json:"id"`
	} `json:"transaction"`
	Client struct {
		UserAgent struct {
			RawUserAgent string `json:"rawUserAgent"`
		} `json:"userAgent"`
	} `json:"client"`
	DebugContext struct {
		DebugData map[string]any `json:"debugData"`
	} `json:"debugContext"`
}

// ListLogEvents sends GET pageURL — a LogQuery's Path, or the Page.Next
// link of the previous page exactly as given — on the System Log's bucket
// and returns the page's events in the order Okta gave them. It is GetPage
// (one attempt; a link off the org is refused; the *Page with its Next link
// and RateInfo returned beside a bad answer too). Without the
// okta.logs.read scope (OAuth) or a role that may read the System Log,
// Okta answers 403 E0000006: an *APIError.
func (c *Client) ListLogEvents(ctx context.Context, pageURL string, o CallOptions) ([]LogEvent, *Page, error) {
	var raw []logEventJSON
	pg, err := c.GetPage(ctx, pageURL, &raw, o)
	if err != nil {
		return nil, pg, err
	}
	out := make([]LogEvent, len(raw))
	for i, r := range raw {
		e := LogEvent{
			UUID: r.UUID, Published: r.Published.UTC(), EventType: r.EventType, Result: r.Outcome.Result,
			TransactionID: r.Transaction.ID, UserAgent: r.Client.UserAgent.RawUserAgent,
		}
		if s, ok := r.DebugContext.DebugData["requestUri"].(string); ok {
			e.RequestURI = s
		}
		for _, t := range r.Target {
			e.Targets = append(e.Targets, LogTarget{ID: t.ID, Type: t.Type, AlternateID: t.AlternateID})
		}
		out[i] = e
	}
	return out, pg, nil
}
