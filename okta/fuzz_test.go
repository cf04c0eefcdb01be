package okta

import (
	"net/http"
	"testing"
	"time"
)

// FuzzDecode: no body and no header set makes the decoders panic, and what
// they return keeps its invariants.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"tempPassword":"x","status":"ACTIVE"}`), "600", "599", "1772373660", "30")
	f.Add([]byte(`{"id":"00u1","_links":{"self":{}},"credentials":{"password":{}}}`), "1, 2", "x", "", "Sun, 01 Mar 2026 14:00:00 GMT")
	f.Add([]byte(`{"errorCode":"E1","errorCauses":[{"errorSummary":"a"},null]}`), "-1", "0", "99999999999999999999", "-5")
	f.Add([]byte(`[`), "", "", "", "")
	f.Fuzz(func(t *testing.T, body []byte, limit, remaining, reset, retryAfter string) {
		var r Response
		_ = decodeSuccess(body, &r)
		if r.User != nil && r.User.ID == "" {
			t.Error("a User without an ID")
		}
		e := decodeError(418, body, "rid", RateInfo{})
		if e.Summary == "" || e.HTTPStatus != 418 {
			t.Errorf("error without summary: %+v", e)
		}
		h := http.Header{}
		h.Add("X-Rate-Limit-Limit", limit)
		h.Add("X-Rate-Limit-Remaining", remaining)
		h.Add("X-Rate-Limit-Reset", reset)
		h.Add("Retry-After", retryAfter)
		rx := time.Unix(1772373600, 0)
		ri := parseRate(h, rx)
		if ri.Present && (ri.Limit < 0 || ri.Remaining < 0 || ri.Reset.IsZero()) {
			t.Errorf("present but invalid: %+v", ri)
		}
		if !ri.Present && (ri.Limit != 0 || ri.Remaining != 0 || !ri.Reset.IsZero()) {
			t.Errorf("absent but filled: %+v", ri)
		}
		if !ri.Received.Equal(rx) {
			t.Error("Received changed")
		}
	})
}
