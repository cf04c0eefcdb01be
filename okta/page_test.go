package okta

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/credbatch/credbatch/emulator"
)

// pageRecorder wraps a handler and keeps each request's URI as it arrived.
type pageRecorder struct {
	h    http.Handler
	mu   sync.Mutex
	uris []string
	auth []string
}

func (r *pageRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.uris = append(r.uris, req.RequestURI)
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	r.mu.Unlock()
	r.h.ServeHTTP(w, req)
}

func (r *pageRecorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.uris)
}

// TestGetPageWalksEmulatorListing follows the emulator's listing of users
// page by page: every request after the first is the previous answer's next
// link byte for byte, and the pages hold exactly the users the org lists.
func TestGetPageWalksEmulatorListing(t *testing.T) {
	org := emulator.New(emulator.Config{Seed: 42, Users: 450})
	rec := &pageRecorder{h: org}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	c := emuClient(t, org, srv.URL, AuthSSWS)
	ctx := testCtx(t)

	var got []string
	var nexts []string
	url := "/api/v1/users?limit=200"
	for pages := 0; url != ""; pages++ {
		if pages > 10 {
			t.Fatal("more than 10 pages for 450 users")
		}
		var users []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		pg, err := c.GetPage(ctx, url, &users, CallOptions{})
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if pg.HTTPStatus != 200 || pg.RequestID == "" || !pg.Rate.Present {
			t.Errorf("page %d: %+v lacks status, request ID or rate", pages, pg)
		}
		for _, u := range users {
			got = append(got, u.ID)
		}
		if pg.Next != "" {
			nexts = append(nexts, pg.Next)
		}
		url = pg.Next
	}
	want := listableIDs(org)
	if !slices.Equal(got, want) {
		t.Errorf("listed %d users, the org has %d listable ones", len(got), len(want))
	}
	reqs := rec.requests()
	if len(reqs) != len(nexts)+1 {
		t.Fatalf("%d requests for %d next links", len(reqs), len(nexts))
	}
	if reqs[0] != "/api/v1/users?limit=200" {
		t.Errorf("first request %q", reqs[0])
	}
	for i, n := range nexts {
		if want := strings.TrimPrefix(n, srv.URL); reqs[i+1] != want {
			t.Errorf("request %d was %q, the next link said %q", i+1, reqs[i+1], n)
		}
	}
	for _, a := range rec.auth {
		if a != "SSWS "+org.Token() {
			t.Errorf("a page was sent with Authorization %q", a)
		}
	}
}

// TestGetPageQueryByteForByte: a next link's query reaches the server as
// written, odd escapes and all (it is never parsed and rebuilt).
func TestGetPageQueryByteForByte(t *testing.T) {
	const odd = "/api/v1/users?after=00u%2aZ+x&search=profile.login%20sw%20%22a%22&limit=2&z=%7e"
	var seen []string
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.RequestURI)
		if r.URL.Query().Get("limit") == "1" {
			w.Header().Set("Link", "<http://"+r.Host+odd+`>; rel="next"`)
		}
		fmt.Fprint(w, "[]")
	})
	c := newClient(t, srv.URL, AuthSSWS, 0)
	var v []any
	pg, err := c.GetPage(testCtx(t), "/api/v1/users?limit=1", &v, CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pg.Next != srv.URL+odd {
		t.Fatalf("Next %q, want the link as given", pg.Next)
	}
	if _, err := c.GetPage(testCtx(t), pg.Next, &v, CallOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[1] != odd {
		t.Errorf("server saw %q, want %q second", seen, odd)
	}
}

// TestGetPageRefusesForeignLinks: a next link to another host, port or
// scheme is refused and nothing reaches that server; neither is a page URL
// given that way sent.
func TestGetPageRefusesForeignLinks(t *testing.T) {
	var foreignHits int
	var mu sync.Mutex
	foreign := serve(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		foreignHits++
		mu.Unlock()
		fmt.Fprint(w, "[]")
	})
	for _, tc := range []struct{ name, link string }{
		{"another port", foreign.URL + "/api/v1/users?after=x"},
		{"another host", "http://localhost" + strings.TrimPrefix(foreign.URL, "http://127.0.0.1") + "/api/v1/users"},
		{"another scheme", "https://" + strings.TrimPrefix(foreign.URL, "http://") + "/api/v1/users"},
		{"protocol-relative", "//" + strings.TrimPrefix(foreign.URL, "http://") + "/api/v1/users"},
		{"user info", "http://x@" + strings.TrimPrefix(foreign.URL, "http://") + "/api/v1/users"},
		{"relative path", "users?after=x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Link", "<"+tc.link+`>; rel="next"`)
				fmt.Fprint(w, `[{"id":"a"}]`)
			})
			c := newClient(t, srv.URL, AuthSSWS, 0)
			var v []map[string]any
			pg, err := c.GetPage(testCtx(t), "/api/v1/users", &v, CallOptions{})
			if !errors.Is(err, ErrForeignLink) {
				t.Fatalf("err %v, want ErrForeignLink", err)
			}
			if pg == nil || pg.Next != "" || !strings.Contains(err.Error(), "next page") {
				t.Errorf("page %+v, err %v: want the answer's page without a next link", pg, err)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("the error carries the token: %v", err)
			}
			if _, err := c.GetPage(testCtx(t), tc.link, &v, CallOptions{}); !errors.Is(err, ErrForeignLink) {
				t.Fatalf("GetPage(%q): %v, want ErrForeignLink", tc.link, err)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if foreignHits != 0 {
		t.Errorf("the foreign server got %d requests", foreignHits)
	}
}

// TestGetPageSameOriginSpellings: the org's own host in another case, or
// with its scheme's default port written out, is the org.
func TestGetPageSameOriginSpellings(t *testing.T) {
	c, err := New(Config{OrgURL: "https://acme.okta.com", Token: tok(testToken)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{"https://ACME.okta.com/api/v1/users?after=1", "/api/v1/users?after=1"},
		{"https://acme.okta.com:443/api/v1/users", "/api/v1/users"},
		{"HTTPS://acme.okta.com?x=1", "/?x=1"},
		{"/api/v1/groups?q=a#frag", "/api/v1/groups?q=a"},
	} {
		got, err := c.pageTarget(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("pageTarget(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"https://acme.okta.com:8443/api", "http://acme.okta.com/api", "https://acme.okta.com.evil.example/api", "https://acme-admin.okta.com/api", "mailto:x@y"} {
		if _, err := c.pageTarget(bad); !errors.Is(err, ErrForeignLink) {
			t.Errorf("pageTarget(%q): %v, want ErrForeignLink", bad, err)
		}
	}
}

func TestNextLink(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		want  string
		bad   bool
	}{
		{"none", nil, "", false},
		{"self only", []string{`<https://a/x?after=1>; rel="self"`}, "", false},
		{"two lines", []string{`<https://a/x>; rel="self"`, `<https://a/x?after=2>; rel="next"`}, "https://a/x?after=2", false},
		{"comma joined", []string{`<https://a/x>; rel="self", <https://a/x?after=3>; rel="next"`}, "https://a/x?after=3", false},
		{"unquoted, upper case", []string{`<https://a/x?after=4>; REL=NEXT`}, "https://a/x?after=4", false},
		{"several rels", []string{`<https://a/x?after=5>; rel="last next"`}, "https://a/x?after=5", false},
		{"commas and semicolons inside", []string{`<https://a/x?search=a,b;c&after=6>; title="x, y; z"; rel="next"`}, "https://a/x?search=a,b;c&after=6", false},
		{"repeated", []string{`<https://a/x?after=7>; rel="next"`, `<https://a/x?after=7>; rel="next"`}, "https://a/x?after=7", false},
		{"nextpage is not next", []string{`<https://a/x?after=8>; rel="nextpage"`}, "", false},
		{"two different", []string{`<https://a/x?after=1>; rel="next"`, `<https://a/x?after=2>; rel="next"`}, "", true},
		{"no brackets", []string{`https://a/x; rel="next"`}, "", true},
		{"unclosed", []string{`<https://a/x; rel="next"`}, "", true},
		{"unterminated quote", []string{`<https://a/x>; rel="next`}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, l := range tc.lines {
				h.Add("Link", l)
			}
			got, err := NextLink(h)
			if tc.bad {
				if !errors.Is(err, ErrBadLink) {
					t.Fatalf("NextLink = %q, %v; want ErrBadLink", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("NextLink = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestGetPageErrors: Okta's refusals are APIErrors with their rate
// headers; an unusable 2xx is a NetError wrapping ErrBadResponse with the
// page beside it; no error names the query.
func TestGetPageErrors(t *testing.T) {
	org, base := emuOrg(t, emulator.Config{Users: 20, PostLimit: 2})
	c := emuClient(t, org, base, AuthSSWS)
	ctx := testCtx(t)
	var v []map[string]any
	_, err := c.GetPage(ctx, "/api/v1/users?search=profile.login%20zz%20%22a%22", &v, CallOptions{})
	ae := wantAPIError(t, err, 400, "E0000031")
	if ae.Summary != "Invalid search criteria." {
		t.Errorf("summary %q", ae.Summary)
	}
	// The credential bucket allows 2 a window: the third listing is a 429.
	_, _ = c.GetPage(ctx, "/api/v1/users?limit=1", &v, CallOptions{})
	_, err = c.GetPage(ctx, "/api/v1/users?limit=1", &v, CallOptions{})
	ae = wantAPIError(t, err, 429, "E0000047")
	if ae.Rate.Remaining != 0 || ae.Rate.Limit != 2 || ae.Rate.Reset.IsZero() {
		t.Errorf("429 rate %+v", ae.Rate)
	}

	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
	}{
		{"not JSON", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>") }},
		{"wrong shape", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"id":"x"}`) }},
		{"cut off", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			fmt.Fprint(w, `[{"id":"x"}`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Rate-Limit-Limit", "600")
				w.Header().Set("X-Rate-Limit-Remaining", "599")
				w.Header().Set("X-Rate-Limit-Reset", "2000000000")
				w.Header().Set("X-Okta-Request-Id", "req-1")
				tc.h(w, r)
			})
			c := newClient(t, srv.URL, AuthSSWS, 0)
			var v []map[string]any
			pg, err := c.GetPage(testCtx(t), "/api/v1/users?search=secretish", &v, CallOptions{})
			var ne *NetError
			if !errors.As(err, &ne) || !errors.Is(err, ErrBadResponse) {
				t.Fatalf("err %T %v, want a NetError wrapping ErrBadResponse", err, err)
			}
			if ne.Op != "GET /api/v1/users" || strings.Contains(err.Error(), "secretish") {
				t.Errorf("error %q names the query (Op %q)", err, ne.Op)
			}
			if pg == nil || !pg.Rate.Present || pg.Rate.Remaining != 599 || pg.RequestID != "req-1" {
				t.Errorf("page %+v: want the answer's rate beside the error", pg)
			}
		})
	}
}

// TestGetPageWithDPoP: a listing walked with a DPoP-bound access token
// (PrivateKey mode): each page, next links included, carries a proof whose
// htu is the page's URL without its query, which the emulator accepts; a
// listing the token's scopes do not cover is a 403 E0000006.
func TestGetPageWithDPoP(t *testing.T) {
	org, c := pkOrg(t, pkSetup{key: "ec-pkcs8.pem", pub: "ec-public.pem", requireDPoP: true})
	var got []string
	url := "/api/v1/users?limit=7"
	for n := 0; url != ""; n++ {
		if n == 10 {
			t.Fatal("more than 10 pages")
		}
		var users []struct {
			ID string `json:"id"`
		}
		pg, err := c.GetPage(testCtx(t), url, &users, CallOptions{})
		if err != nil {
			t.Fatalf("page %d: %v", n+1, err)
		}
		for _, u := range users {
			got = append(got, u.ID)
		}
		url = pg.Next
	}
	want := listableIDs(org)
	if !slices.Equal(got, want) {
		t.Errorf("listed %d users, want %d", len(got), len(want))
	}
	_, _, err := c.GroupsPage(testCtx(t), FindGroupsURL("Everyone"), CallOptions{})
	wantAPIError(t, err, 403, "E0000006")
}

// listableIDs are the IDs of the org's users a list without a filter
// returns (all but DEPROVISIONED ones), sorted.
func listableIDs(org *emulator.Org) []string {
	var ids []string
	for _, u := range org.Users() {
		if u.Status != "DEPROVISIONED" {
			ids = append(ids, u.ID)
		}
	}
	slices.Sort(ids)
	return ids
}
