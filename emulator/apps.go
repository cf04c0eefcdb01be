package emulator

import (
	"net/http"
	"sort"
	"strings"
)

type appUserCredentialsJSON struct {
	UserName string `json:"userName"`
}

// appUserJSON is Okta's AppUser (an app assignment).
type appUserJSON struct {
	ID              string                 `json:"id"`
	ExternalID      string                 `json:"externalId,omitempty"` // not populated for SSO assignments
	Created         string                 `json:"created"`
	LastUpdated     string                 `json:"lastUpdated"`
	Scope           string                 `json:"scope"`
	Status          string                 `json:"status"`
	StatusChanged   string                 `json:"statusChanged"`
	PasswordChanged *string                `json:"passwordChanged"`
	SyncState       string                 `json:"syncState"`
	Credentials     appUserCredentialsJSON `json:"credentials"`
	Profile         map[string]any         `json:"profile"`
	Links           map[string]link        `json:"_links"`
	Embedded        map[string]any         `json:"_embedded,omitempty"`
}

// appUserStatus is the assignment's status: DEPROVISIONED for a
// deprovisioned user, else ACTIVE (an assumption: see the package
// documentation).
func appUserStatus(u *userState) string {
	if u.Status == StatusDeprovisioned {
		return StatusDeprovisioned
	}
	return StatusActive
}

func (x *exchange) appUserBody(a *appState, au appAssignment, expand bool) appUserJSON {
	u := au.u
	host := x.scheme() + "://" + x.r.Host
	b := appUserJSON{
		ID: u.ID, Created: stamp(a.created), LastUpdated: stamp(a.created),
		Scope: au.scope, Status: appUserStatus(u), StatusChanged: stamp(a.created),
		SyncState:   appUserSyncStateDisabled,
		Credentials: appUserCredentialsJSON{UserName: u.Login},
		Profile: map[string]any{"email": optString(u.Email),
			"firstName": optString(u.FirstName), "lastName": optString(u.LastName)},
		Links: map[string]link{"app": {Href: host + "/api/v1/apps/" + a.ID}, "user": {Href: host + "/api/v1/users/" + u.ID}},
	}
	if expand {
		b.Embedded = map[string]any{"user": x.userBody(u)}
	}
	return b
}

// listAppUsers answers GET /api/v1/apps/{appId}/users: every assignment
// (direct: scope USER; through a group: GROUP), in user ID order; q is a
// prefix of userName, firstName, lastName or email; expand=user embeds the
// User.
func (x *exchange) listAppUsers(id string) result {
	q := x.r.URL.Query()
	limit, ae := limitParam(q, appUsersDefaultLimit, appUsersMaxLimit)
	if ae != nil {
		return result{err: ae}
	}
	expand := q.Get("expand") == "user"
	find := strings.ToLower(q.Get("q"))
	after := q.Get("after")
	o := x.o
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.appByID[id]
	if a == nil {
		return result{err: errNotFoundOf(id, appInstanceNotFoundKind)}
	}
	page := []appUserJSON{}
	start := sort.Search(len(a.users), func(i int) bool { return a.users[i].u.ID > after })
	for _, au := range a.users[start:] {
		if len(page) == limit {
			break
		}
		u := au.u
		if find != "" && !strings.HasPrefix(strings.ToLower(u.Login), find) &&
			!strings.HasPrefix(strings.ToLower(u.FirstName), find) &&
			!strings.HasPrefix(strings.ToLower(u.LastName), find) &&
			!strings.HasPrefix(strings.ToLower(u.Email), find) {
			continue
		}
		page = append(page, x.appUserBody(a, au, expand))
	}
	next := ""
	if len(page) == limit {
		next = page[len(page)-1].ID
	}
	return result{status: http.StatusOK, body: page, links: x.pageLinks(next)}
}
