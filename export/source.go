package export

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/runner/pace"
)

// Kind is the kind of a Source: what the manifest's users are.
type Kind string

// The kinds of source (SPEC.md "Building a manifest").
const (
	FromGroup  Kind = "group"  // a group's members
	FromSearch Kind = "search" // GET /api/v1/users?search=EXPR
	FromFilter Kind = "filter" // GET /api/v1/users?filter=EXPR
	FromApp    Kind = "app"    // an app's assigned users
	FromAll    Kind = "all"    // every user
)

// Source is where an export's users come from.
type Source struct {
	Kind Kind
	// Value is what the command line gave: a group ID or name, an
	// expression, an app ID; "" for FromAll.
	Value string
	// GroupID and GroupName name the group of a FromGroup source once
	// ResolveGroup found it (or the state of a resumed export says).
	GroupID, GroupName string
	// StatusFilter is the filter a FromAll source sends when only some
	// statuses are kept (AllStatusFilter); "" lists every user but the
	// DEPROVISIONED ones, as Okta does without search or filter.
	StatusFilter string
}

var groupIDPattern = regexp.MustCompile(`^00g[0-9A-Za-z]{17}$`)

// IsGroupID reports whether s has the shape of an Okta group ID.
func IsGroupID(s string) bool { return groupIDPattern.MatchString(s) }

// First is the URL of the listing's first page.
func (s Source) First() string {
	switch s.Kind {
	case FromGroup:
		return okta.ListGroupUsersURL(s.GroupID, 0)
	case FromSearch:
		return okta.ListUsersURL(s.Value, "", 0)
	case FromFilter:
		return okta.ListUsersURL("", s.Value, 0)
	case FromApp:
		return okta.ListAppUsersURL(s.Value, 0)
	}
	return okta.ListUsersURL("", s.StatusFilter, 0)
}

// Bucket is the rate-limit bucket of the listing: listing users shares
// the credential operations' /api/v1/users bucket.
func (s Source) Bucket() pace.Bucket {
	switch s.Kind {
	case FromGroup:
		return pace.Groups
	case FromApp:
		return pace.Apps
	}
	return pace.Post
}

// String names the source exactly, for the incident ticket:
// `group "Contractors" (00g…)`, `search: profile.department eq "Finance"`.
func (s Source) String() string {
	switch s.Kind {
	case FromGroup:
		return fmt.Sprintf("group %q (%s)", s.GroupName, s.GroupID)
	case FromSearch:
		return "search: " + s.Value
	case FromFilter:
		return "filter: " + s.Value
	case FromApp:
		return "app " + s.Value
	}
	if s.StatusFilter != "" {
		return "all users, filter: " + s.StatusFilter
	}
	return "all users (Okta lists every status but DEPROVISIONED)"
}

// AllStatusFilter is the filter that lists the users of the kept
// statuses (`status eq "A" or status eq "B"`), or "" when the kept
// statuses are every one but DEPROVISIONED: what Okta lists without a
// filter.
func AllStatusFilter(keep Statuses) string {
	if keep.isDefault() {
		return ""
	}
	var parts []string
	for _, st := range UserStatuses {
		if keep[st] {
			parts = append(parts, `status eq "`+st+`"`)
		}
	}
	return strings.Join(parts, " or ")
}

// GroupError is a --group NAME that names no group, or more than one.
type GroupError struct {
	Ref        string
	Candidates []okta.Group // the groups whose name matched; none for an unknown name
	// Similar are, for a name no group has, up to maxSimilar groups whose
	// names start with it.
	Similar []okta.Group
}

func (e *GroupError) Error() string {
	var b strings.Builder
	list := func(gs []okta.Group) {
		for i, g := range gs {
			if i > 0 {
				b.WriteString(";")
			}
			fmt.Fprintf(&b, " %s %q (%s)", g.ID, g.Name, g.Type)
		}
	}
	switch {
	case len(e.Candidates) > 0:
		fmt.Fprintf(&b, "%d groups are named %q:", len(e.Candidates), e.Ref)
		list(e.Candidates)
	case IsGroupID(e.Ref):
		fmt.Fprintf(&b, "no group has the ID %s", e.Ref)
	default:
		fmt.Fprintf(&b, "no group is named %q", e.Ref)
		if len(e.Similar) > 0 {
			b.WriteString("; groups whose names start with it:")
			list(e.Similar)
		}
	}
	return b.String()
}

// maxSimilar is how many groups an unknown name's error suggests.
const maxSimilar = 10

// maxGroupPages bounds the pages of a group search by name.
const maxGroupPages = 20

// ResolveGroup finds the group ref names: an ID (00g…) is fetched (to name
// it in the summary), a name must be the profile.name (ignoring case, as
// Okta's search compares it) of exactly one group. None, or several: a
// *GroupError. Requests go through f, in the Groups bucket.
func ResolveGroup(f *Fetcher, c *okta.Client, ref string) (okta.Group, error) {
	if IsGroupID(ref) {
		var g *okta.Group
		err := f.Do(pace.Groups, func(ctx context.Context, o okta.CallOptions) (*okta.Page, error) {
			var pg *okta.Page
			var err error
			g, pg, err = c.GetGroup(ctx, ref, o)
			return pg, err
		})
		if errors.Is(err, okta.ErrNotFound) {
			return okta.Group{}, &GroupError{Ref: ref}
		}
		if err != nil {
			return okta.Group{}, err
		}
		return *g, nil
	}
	var found []okta.Group
	url := okta.FindGroupsURL(ref)
	for n := 0; url != ""; n++ {
		if n == maxGroupPages {
			return okta.Group{}, fmt.Errorf("searching for the group %q: more than %d pages of groups", ref, maxGroupPages)
		}
		var gs []okta.Group
		var pg *okta.Page
		err := f.Do(pace.Groups, func(ctx context.Context, o okta.CallOptions) (*okta.Page, error) {
			var err error
			gs, pg, err = c.GroupsPage(ctx, url, o)
			return pg, err
		})
		if err != nil {
			return okta.Group{}, err
		}
		for _, g := range gs {
			if strings.EqualFold(g.Name, ref) {
				found = append(found, g)
			}
		}
		url = pg.Next
	}
	if len(found) == 0 {
		ge := &GroupError{Ref: ref}
		err := f.Do(pace.Groups, func(ctx context.Context, o okta.CallOptions) (*okta.Page, error) {
			gs, pg, err := c.GroupsPage(ctx, okta.GroupsStartingWithURL(ref, maxSimilar), o)
			ge.Similar = gs
			return pg, err
		})
		if err != nil {
			return okta.Group{}, err
		}
		if len(ge.Similar) > maxSimilar {
			ge.Similar = ge.Similar[:maxSimilar]
		}
		return okta.Group{}, ge
	}
	if len(found) > 1 {
		return okta.Group{}, &GroupError{Ref: ref, Candidates: found}
	}
	return found[0], nil
}
