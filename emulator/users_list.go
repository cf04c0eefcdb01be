package emulator

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// Page sizes of GET /api/v1/users (Okta's: 200 by default and at most; 10
// by default with q).
const (
	usersDefaultLimit  = 200
	usersMaxLimit      = 200
	usersQDefaultLimit = 10
)

// listUsers answers GET /api/v1/users: search, filter or q, limit, after;
// users in ID order, the cursor being the last ID of the page.
func (x *exchange) listUsers() result {
	q := x.r.URL.Query()
	e, fold, err := queryExpr(q, userSearch, userFilter)
	if err != nil {
		return result{err: errSearch(err)}
	}
	find, def := "", usersDefaultLimit
	qMode := e == nil && q.Has("q") // q: not paged (Okta: "doesn't support pagination")
	if qMode {
		find, def = strings.ToLower(q.Get("q")), usersQDefaultLimit
	}
	limit, ae := limitParam(q, def, usersMaxLimit)
	if ae != nil {
		return result{err: ae}
	}
	match := func(u *userState) bool {
		switch {
		case e != nil:
			return e.eval(userAttr(u), fold)
		case u.Status == StatusDeprovisioned:
			return false // left out without search or filter, as Okta does
		case find != "":
			return strings.HasPrefix(strings.ToLower(u.FirstName), find) ||
				strings.HasPrefix(strings.ToLower(u.LastName), find) ||
				strings.HasPrefix(strings.ToLower(u.Email), find)
		}
		return true
	}
	after := q.Get("after")
	o := x.o
	o.mu.Lock()
	defer o.mu.Unlock()
	page := []userJSON{}
	last := ""
	start := sort.Search(len(o.sorted), func(i int) bool { return o.sorted[i].ID > after })
	for _, u := range o.sorted[start:] {
		if len(page) == limit {
			break
		}
		if match(u) {
			page = append(page, x.userBody(u))
			last = u.ID
		}
	}
	next := ""
	if len(page) == limit && !qMode {
		next = last // a full page has a next link, even when nothing follows
	}
	return result{status: http.StatusOK, body: page, links: x.pageLinks(next)}
}

// queryExpr parses a listing's search or filter parameter (never both) in
// its dialect, and whether that dialect compares ignoring case; nil when
// neither is given.
func queryExpr(q url.Values, search, filter *dialect) (e *expr, fold bool, err error) {
	var d *dialect
	switch {
	case q.Has("search") && q.Has("filter"):
		return nil, false, errors.New("search and filter cannot be combined")
	case q.Has("search"):
		d = search
	case q.Has("filter"):
		d = filter
	default:
		return nil, false, nil
	}
	e, err = parseQuery(q.Get(d.param), d)
	return e, d.fold, err
}
