package emulator

import (
	"net/http"
	"sort"
	"strings"
	"time"
)

// Page sizes of the group calls. Okta: GET /api/v1/groups takes at most
// 10000 (and q answers at most 300 by default, unpaged); group members
// default to 1000.
const (
	groupsDefaultLimit       = 10000
	groupsMaxLimit           = 10000
	groupsQDefaultLimit      = 300
	groupUsersDefaultLimit   = 1000
	groupUsersMaxLimit       = 1000
	groupObjectClass         = "okta:user_group"
	groupNotFoundKind        = "UserGroup"
	appInstanceNotFoundKind  = "AppInstance"
	appUsersDefaultLimit     = 50
	appUsersMaxLimit         = 500
	appUserSyncStateDisabled = "DISABLED"
)

type groupProfileJSON struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

type groupJSON struct {
	ID                    string           `json:"id"`
	Created               string           `json:"created"`
	LastUpdated           string           `json:"lastUpdated"`
	LastMembershipUpdated string           `json:"lastMembershipUpdated"`
	ObjectClass           []string         `json:"objectClass"`
	Type                  string           `json:"type"`
	Profile               groupProfileJSON `json:"profile"`
	Links                 map[string]link  `json:"_links"`
}

func (x *exchange) groupBody(g *groupState) groupJSON {
	base := x.scheme() + "://" + x.r.Host + "/api/v1/groups/" + g.ID
	return groupJSON{
		ID: g.ID, Created: stamp(g.created), LastUpdated: stamp(g.lastUpdated),
		LastMembershipUpdated: stamp(g.lastMembershipUpdated),
		ObjectClass:           []string{groupObjectClass}, Type: g.Type,
		Profile: groupProfileJSON{Name: g.Name, Description: g.Description},
		Links:   map[string]link{"self": {Href: base}, "users": {Href: base + "/users"}, "apps": {Href: base + "/apps"}},
	}
}

// groupAttr gives eval the group's attributes (search and filter).
func groupAttr(g *groupState) func(string) []any {
	return func(attr string) []any {
		var t time.Time
		switch attr {
		case "id":
			return []any{g.ID}
		case "type":
			return []any{g.Type}
		case "profile.name":
			return []any{g.Name}
		case "profile.description":
			return []any{g.Description}
		case "created":
			t = g.created
		case "lastUpdated":
			t = g.lastUpdated
		case "lastMembershipUpdated":
			t = g.lastMembershipUpdated
		default:
			return nil
		}
		return []any{t}
	}
}

// listGroups answers GET /api/v1/groups: search, filter or q (a name
// prefix, unpaged), limit, after; groups in ID order.
func (x *exchange) listGroups() result {
	q := x.r.URL.Query()
	e, fold, err := queryExpr(q, groupSearch, groupFilter)
	if err != nil {
		return result{err: errSearch(err)}
	}
	qMode := e == nil && q.Has("q")
	def := groupsDefaultLimit
	if qMode {
		def = groupsQDefaultLimit
	}
	limit, ae := limitParam(q, def, groupsMaxLimit)
	if ae != nil {
		return result{err: ae}
	}
	prefix := strings.ToLower(q.Get("q"))
	after := q.Get("after")
	o := x.o
	o.mu.Lock()
	defer o.mu.Unlock()
	page := []groupJSON{}
	last := ""
	start := sort.Search(len(o.groups), func(i int) bool { return o.groups[i].ID > after })
	for _, g := range o.groups[start:] {
		if len(page) == limit {
			break
		}
		ok := true
		switch {
		case e != nil:
			ok = e.eval(groupAttr(g), fold)
		case qMode:
			ok = strings.HasPrefix(strings.ToLower(g.Name), prefix)
		}
		if ok {
			page = append(page, x.groupBody(g))
			last = g.ID
		}
	}
	next := ""
	if len(page) == limit && !qMode {
		next = last
	}
	return result{status: http.StatusOK, body: page, links: x.pageLinks(next)}
}

// getGroup answers GET /api/v1/groups/{groupId}.
func (x *exchange) getGroup(id string) result {
	o := x.o
	o.mu.Lock()
	defer o.mu.Unlock()
	g := o.groupByID[id]
	if g == nil {
		return result{err: errNotFoundOf(id, groupNotFoundKind)}
	}
	return result{status: http.StatusOK, body: x.groupBody(g)}
}

// listGroupUsers answers GET /api/v1/groups/{groupId}/users: User objects
// of every member (whatever their status), in ID order.
func (x *exchange) listGroupUsers(id string) result {
	q := x.r.URL.Query()
	limit, ae := limitParam(q, groupUsersDefaultLimit, groupUsersMaxLimit)
	if ae != nil {
		return result{err: ae}
	}
	after := q.Get("after")
	o := x.o
	o.mu.Lock()
	defer o.mu.Unlock()
	g := o.groupByID[id]
	if g == nil {
		return result{err: errNotFoundOf(id, groupNotFoundKind)}
	}
	start := sort.Search(len(g.members), func(i int) bool { return g.members[i].ID > after })
	end := min(start+limit, len(g.members))
	page := make([]userJSON, 0, end-start)
	for _, u := range g.members[start:end] {
		page = append(page, x.userBody(u))
	}
	next := ""
	if len(page) == limit {
		next = page[len(page)-1].ID
	}
	return result{status: http.StatusOK, body: page, links: x.pageLinks(next)}
}
