package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Page sizes of the listings (SPEC.md "Building a manifest"): Okta's
// maxima for users and app users; Okta names none for group members, and
// documents 1000 as the default.
const (
	UsersPageLimit        = 200
	GroupMembersPageLimit = 1000
	AppUsersPageLimit     = 500
)

// ListedUser is a user as a listing shows it: what a manifest row needs.
type ListedUser struct {
	ID, Status, Login, Email, FirstName, LastName string
	// Partial: the listing gave only the assignment (an AppUser without
	// _embedded.user): Status is empty and Login, Email and the names are
	// the app's own, which may differ from the user's profile; the user
	// needs a GetUser of its own.
	Partial bool
}

// Group is what credbatch needs of an Okta Group object.
type Group struct {
	ID, Name, Type string // Name is profile.name
}

// ListUsersURL is the first page of GET /api/v1/users: with search (SCIM
// on any profile attribute) or filter (Okta's short list), at most one of
// them; with neither, Okta leaves DEPROVISIONED users out. limit ≤ 0 means
// UsersPageLimit.
func ListUsersURL(search, filter string, limit int) string {
	q := url.Values{}
	if search != "" {
		q.Set("search", search)
	}
	if filter != "" {
		q.Set("filter", filter)
	}
	return "/api/v1/users?" + withLimit(q, limit, UsersPageLimit)
}

// ListGroupUsersURL is the first page of GET /api/v1/groups/{id}/users
// (every member, DEPROVISIONED ones included). limit ≤ 0 means
// GroupMembersPageLimit.
func ListGroupUsersURL(groupID string, limit int) string {
	return "/api/v1/groups/" + url.PathEscape(groupID) + "/users?" + withLimit(url.Values{}, limit, GroupMembersPageLimit)
}

// ListAppUsersURL is the first page of GET /api/v1/apps/{id}/users with
// expand=user, so that each AppUser carries the User itself (its status and
// profile, not the app's copy). limit ≤ 0 means AppUsersPageLimit.
func ListAppUsersURL(appID string, limit int) string {
	q := url.Values{}
	q.Set("expand", "user")
	return "/api/v1/apps/" + url.PathEscape(appID) + "/users?" + withLimit(q, limit, AppUsersPageLimit)
}

func withLimit(q url.Values, limit, def int) string {
	if limit <= 0 {
		limit = def
	}
	q.Set("limit", strconv.Itoa(limit))
	return q.Encode()
}

// looseString decodes a JSON string, and anything else (null, a number, an
// object) as "": one odd attribute does not spoil a page.
type looseString string

func (s *looseString) UnmarshalJSON(b []byte) error {
	var v string
	if json.Unmarshal(b, &v) == nil {
		*s = looseString(v)
	} else {
		*s = ""
	}
	return nil
}

// wireListedUser is a User object as a listing shows it.
type wireListedUser struct {
	ID      looseString `json:"id"`
	Status  looseString `json:"status"`
	Profile struct {
		Login     looseString `json:"login"`
		Email     looseString `json:"email"`
		FirstName looseString `json:"firstName"`
		LastName  looseString `json:"lastName"`
	} `json:"profile"`
}

func (w *wireListedUser) listed() ListedUser {
	return ListedUser{ID: string(w.ID), Status: string(w.Status), Login: string(w.Profile.Login),
		Email: string(w.Profile.Email), FirstName: string(w.Profile.FirstName), LastName: string(w.Profile.LastName)}
}

// wireAppUser is an AppUser object.
type wireAppUser struct {
	ID          looseString `json:"id"`
	Credentials struct {
		UserName looseString `json:"userName"`
	} `json:"credentials"`
	Profile struct {
		Email     looseString `json:"email"`
		FirstName looseString `json:"firstName"`
		LastName  looseString `json:"lastName"`
	} `json:"profile"`
	Embedded struct {
		User *wireListedUser `json:"user"`
	} `json:"_embedded"`
}

// ErrNoID is wrapped by the page readers' error when an object of a
// listing has no id: a page that cannot be trusted.
var ErrNoID = errors.New("okta: a listed object has no id")

// UsersPage fetches one page of User objects: a page of GET /api/v1/users
// or GET /api/v1/groups/{id}/users (pageURL as for GetPage).
func (c *Client) UsersPage(ctx context.Context, pageURL string, o CallOptions) ([]ListedUser, *Page, error) {
	var wire []wireListedUser
	pg, err := c.GetPage(ctx, pageURL, &wire, o)
	if err != nil {
		return nil, pg, err
	}
	out := make([]ListedUser, len(wire))
	for i := range wire {
		if out[i] = wire[i].listed(); out[i].ID == "" {
			return nil, pg, fmt.Errorf("%w (item %d of the page)", ErrNoID, i+1)
		}
	}
	return out, pg, nil
}

// AppUsersPage fetches one page of AppUser objects (GET
// /api/v1/apps/{id}/users). An AppUser that embeds its User
// (_embedded.user, expand=user) gives the User's status and profile; one
// that does not is Partial.
func (c *Client) AppUsersPage(ctx context.Context, pageURL string, o CallOptions) ([]ListedUser, *Page, error) {
	var wire []wireAppUser
	pg, err := c.GetPage(ctx, pageURL, &wire, o)
	if err != nil {
		return nil, pg, err
	}
	out := make([]ListedUser, len(wire))
	for i := range wire {
		w := &wire[i]
		if u := w.Embedded.User; u != nil && u.ID != "" {
			out[i] = u.listed()
			if out[i].ID != string(w.ID) {
				return nil, pg, fmt.Errorf("okta: item %d of the page: the assignment of %s embeds the user %s", i+1, w.ID, u.ID)
			}
		} else {
			out[i] = ListedUser{ID: string(w.ID), Login: string(w.Credentials.UserName), Email: string(w.Profile.Email),
				FirstName: string(w.Profile.FirstName), LastName: string(w.Profile.LastName), Partial: true}
		}
		if out[i].ID == "" {
			return nil, pg, fmt.Errorf("%w (item %d of the page)", ErrNoID, i+1)
		}
	}
	return out, pg, nil
}

// ListedUserByID fetches GET /api/v1/users/{id} as a ListedUser (its
// profile's names included: the lookup of a Partial app user). An unknown
// user is an *APIError matching ErrNotFound.
func (c *Client) ListedUserByID(ctx context.Context, id string, o CallOptions) (*ListedUser, *Page, error) {
	p, err := userPath(id, "")
	if err != nil {
		return nil, nil, err
	}
	var w wireListedUser
	pg, err := c.GetPage(ctx, p, &w, o)
	if err != nil {
		return nil, pg, err
	}
	u := w.listed()
	if u.ID == "" {
		return nil, pg, fmt.Errorf("%w (the user)", ErrNoID)
	}
	return &u, pg, nil
}

// wireGroup is a Group object.
type wireGroup struct {
	ID      looseString `json:"id"`
	Type    looseString `json:"type"`
	Profile struct {
		Name looseString `json:"name"`
	} `json:"profile"`
}

func (w *wireGroup) group() Group {
	return Group{ID: string(w.ID), Name: string(w.Profile.Name), Type: string(w.Type)}
}

// FindGroupsURL is the first page of GET /api/v1/groups with
// search=profile.name eq "NAME" (Okta compares the value ignoring case).
func FindGroupsURL(name string) string {
	q := url.Values{}
	q.Set("search", `profile.name eq "`+scimEscape(name)+`"`)
	return "/api/v1/groups?" + q.Encode()
}

// GroupsStartingWithURL is the first page of GET /api/v1/groups with
// search=profile.name sw "PREFIX" and the given limit (≤ 0: Okta's default).
func GroupsStartingWithURL(prefix string, limit int) string {
	q := url.Values{}
	q.Set("search", `profile.name sw "`+scimEscape(prefix)+`"`)
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return "/api/v1/groups?" + q.Encode()
}

// scimEscape escapes a string for a SCIM string literal.
func scimEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// GroupsPage fetches one page of Group objects (GET /api/v1/groups).
func (c *Client) GroupsPage(ctx context.Context, pageURL string, o CallOptions) ([]Group, *Page, error) {
	var wire []wireGroup
	pg, err := c.GetPage(ctx, pageURL, &wire, o)
	if err != nil {
		return nil, pg, err
	}
	out := make([]Group, len(wire))
	for i := range wire {
		if out[i] = wire[i].group(); out[i].ID == "" {
			return nil, pg, fmt.Errorf("%w (item %d of the page)", ErrNoID, i+1)
		}
	}
	return out, pg, nil
}

// GetGroup fetches GET /api/v1/groups/{id}. An unknown group is an
// *APIError matching ErrNotFound.
func (c *Client) GetGroup(ctx context.Context, id string, o CallOptions) (*Group, *Page, error) {
	if id == "" {
		return nil, nil, errors.New("okta: empty group ID")
	}
	var w wireGroup
	pg, err := c.GetPage(ctx, "/api/v1/groups/"+url.PathEscape(id), &w, o)
	if err != nil {
		return nil, pg, err
	}
	g := w.group()
	if g.ID == "" {
		return nil, pg, fmt.Errorf("%w (the group)", ErrNoID)
	}
	return &g, pg, nil
}
