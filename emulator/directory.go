package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Group types, as Okta spells them.
const (
	GroupTypeOkta    = "OKTA_GROUP"
	GroupTypeApp     = "APP_GROUP"
	GroupTypeBuiltIn = "BUILT_IN"
)

// EveryoneGroup is the name of the group that a group reference creates with
// type BUILT_IN (Okta's own "Everyone" group).
const EveryoneGroup = "Everyone"

// Group is a group of the org, in the JSON form LoadDirectory reads. Type
// is OKTA_GROUP (the default), APP_GROUP or BUILT_IN.
type Group struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Type        string `json:"type,omitempty"`
}

// App is an app instance of the org, in the JSON form LoadDirectory reads.
// Name defaults to the label, lower-cased, with every run of other
// characters than letters and digits made "_". The members of Groups (IDs
// or names) are assigned to the app with scope GROUP, unless a user also
// names the app (scope USER).
type App struct {
	ID     string   `json:"id"`
	Label  string   `json:"label"`
	Name   string   `json:"name,omitempty"`
	Groups []string `json:"groups,omitempty"`
}

// Directory is an org's users, groups and apps: what LoadDirectory reads.
// Config.UserList, Config.Groups and Config.Apps take its three lists.
type Directory struct {
	Users  []User  `json:"users"`
	Groups []Group `json:"groups,omitempty"`
	Apps   []App   `json:"apps,omitempty"`
}

var (
	groupIDPattern   = regexp.MustCompile(`^00g[0-9A-Za-z]{17}$`)
	appIDPattern     = regexp.MustCompile(`^0oa[0-9A-Za-z]{17}$`)
	profileAttrName  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	validGroupTypes  = map[string]bool{GroupTypeOkta: true, GroupTypeApp: true, GroupTypeBuiltIn: true}
	reservedProfiles = map[string]bool{"login": true, "email": true, "firstName": true, "lastName": true}
	// baseProfileStrings are the other attributes of Okta's base user
	// profile (the UserProfile schema): strings or null.
	baseProfileStrings = map[string]bool{"city": true, "costCenter": true, "countryCode": true, "department": true,
		"displayName": true, "division": true, "employeeNumber": true, "honorificPrefix": true, "honorificSuffix": true,
		"locale": true, "manager": true, "managerId": true, "middleName": true, "mobilePhone": true, "nickName": true,
		"organization": true, "postalAddress": true, "preferredLanguage": true, "primaryPhone": true, "profileUrl": true,
		"secondEmail": true, "state": true, "streetAddress": true, "timezone": true, "title": true, "userType": true, "zipCode": true}
)

// LoadDirectory reads either a JSON array of User (as LoadUsers) or an
// object {"users": [...], "groups": [...], "apps": [...]}. Users are checked
// as LoadUsers checks them. Besides: group IDs match ^00g[0-9A-Za-z]{17}$,
// app IDs ^0oa[0-9A-Za-z]{17}$, IDs and group names are unique, names and
// labels not empty, group types known; a user's groups and apps and an app's
// groups name a declared group (by ID or name) or app (by ID or label), or
// — when they do not look like an ID — a group or app made for that name;
// profile attributes have names like ^[A-Za-z][A-Za-z0-9_]*$ (not login,
// email, firstName, lastName: those are the User's own fields) and values
// that are strings, numbers, booleans, null or arrays of strings (only
// strings or null for the attributes of Okta's base profile: city,
// costCenter, department, title...). Errors
// name the list and the index.
func LoadDirectory(r io.Reader) (Directory, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Directory{}, fmt.Errorf("load directory: %w", err)
	}
	var d Directory
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			return Directory{}, fmt.Errorf("load directory: %w: %w", ErrInvalidUsers, err)
		}
		if d.Users, err = checkUsers(d.Users); err != nil {
			return Directory{}, err
		}
	} else if d.Users, err = LoadUsers(bytes.NewReader(data)); err != nil {
		return Directory{}, err
	}
	if err := checkDirectory(d); err != nil {
		return Directory{}, err
	}
	return d, nil
}

// checkDirectory checks groups, apps and the references to them.
func checkDirectory(d Directory) error {
	var errs []error
	bad := func(list string, i int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("load directory: %w: %s %d: %s", ErrInvalidUsers, list, i, fmt.Sprintf(format, args...)))
	}
	groupIDs, groupNames := map[string]bool{}, map[string]bool{}
	for i, g := range d.Groups {
		switch {
		case !groupIDPattern.MatchString(g.ID):
			bad("group", i, "id %q does not match ^00g[0-9A-Za-z]{17}$", g.ID)
		case groupIDs[g.ID]:
			bad("group", i, "id %q used twice", g.ID)
		}
		groupIDs[g.ID] = true
		switch {
		case strings.TrimSpace(g.Name) == "":
			bad("group", i, "empty name")
		case groupNames[strings.ToLower(g.Name)]:
			bad("group", i, "name %q used twice", g.Name)
		}
		groupNames[strings.ToLower(g.Name)] = true
		if g.Type != "" && !validGroupTypes[g.Type] {
			bad("group", i, "unknown type %q", g.Type)
		}
	}
	groupRef := func(list string, i int, ref string) {
		if strings.TrimSpace(ref) == "" {
			bad(list, i, "an empty group name")
		} else if groupIDPattern.MatchString(ref) && !groupIDs[ref] {
			bad(list, i, "group %q is not declared", ref)
		}
	}
	appIDs, appLabels := map[string]bool{}, map[string]bool{}
	for i, a := range d.Apps {
		switch {
		case !appIDPattern.MatchString(a.ID):
			bad("app", i, "id %q does not match ^0oa[0-9A-Za-z]{17}$", a.ID)
		case appIDs[a.ID]:
			bad("app", i, "id %q used twice", a.ID)
		}
		appIDs[a.ID] = true
		if strings.TrimSpace(a.Label) == "" {
			bad("app", i, "empty label")
		}
		appLabels[strings.ToLower(a.Label)] = true
		for _, g := range a.Groups {
			groupRef("app", i, g)
		}
	}
	for i, u := range d.Users {
		for _, g := range u.Groups {
			groupRef("user", i, g)
		}
		for _, a := range u.Apps {
			if strings.TrimSpace(a) == "" {
				bad("user", i, "an empty app label")
			} else if appIDPattern.MatchString(a) && !appIDs[a] {
				bad("user", i, "app %q is not declared", a)
			}
		}
		for k, v := range u.Profile {
			if !profileAttrName.MatchString(k) || reservedProfiles[k] {
				bad("user", i, "profile attribute %q: not a custom attribute name", k)
			} else if !profileValueOK(v) {
				bad("user", i, "profile attribute %q: not a string, number, boolean, null or array of strings", k)
			} else if _, str := v.(string); baseProfileStrings[k] && !str && v != nil {
				bad("user", i, "profile attribute %q: Okta's base profile holds a string here", k)
			}
		}
	}
	return errors.Join(errs...)
}

func profileValueOK(v any) bool {
	switch v := v.(type) {
	case nil, string, float64, bool, int, int64:
		return true
	case []any:
		for _, e := range v {
			if _, ok := e.(string); !ok {
				return false
			}
		}
		return true
	case []string:
		return true
	}
	return false
}

// derivedID makes a stable ID for a group or app named only by a name:
// prefix and 17 characters drawn from the SHA-256 of kind and name.
func derivedID(prefix, kind, name string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + name))
	b := make([]byte, 17)
	for i := range b {
		b[i] = alnum[int(sum[i])%len(alnum)]
	}
	return prefix + string(b)
}

// appName is the default name of an app: its label lower-cased, every run
// of other characters than ASCII letters and digits made "_".
func appName(label string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(label) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			under = false
		} else if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}

type groupState struct {
	Group
	created, lastUpdated, lastMembershipUpdated time.Time
	members                                     []*userState // sorted by ID
}

type appAssignment struct {
	u     *userState
	scope string // USER or GROUP
}

type appState struct {
	App
	created time.Time
	users   []appAssignment // sorted by user ID
}

// buildDirectory makes the groups and apps of cfg and of the users'
// references, and sorts every listing by ID. The caller is New.
func (o *Org) buildDirectory(cfg Config, created time.Time) {
	o.groupByID = map[string]*groupState{}
	o.appByID = map[string]*appState{}
	groupByName := map[string]*groupState{}
	appByLabel := map[string]*appState{}
	addGroup := func(g Group) *groupState {
		if g.Type == "" {
			g.Type = GroupTypeOkta
		}
		gs := &groupState{Group: g, created: created, lastUpdated: created, lastMembershipUpdated: created}
		o.groupByID[g.ID] = gs
		groupByName[strings.ToLower(g.Name)] = gs
		o.groups = append(o.groups, gs)
		return gs
	}
	group := func(ref string) *groupState {
		if g := o.groupByID[ref]; g != nil {
			return g
		}
		if g := groupByName[strings.ToLower(ref)]; g != nil {
			return g
		}
		g := Group{ID: derivedID("00g", "group", ref), Name: ref}
		if ref == EveryoneGroup {
			g.Type, g.Description = GroupTypeBuiltIn, "All users in your organization"
		}
		return addGroup(g)
	}
	addApp := func(a App) *appState {
		if a.Name == "" {
			a.Name = appName(a.Label)
		}
		as := &appState{App: a, created: created}
		o.appByID[a.ID] = as
		appByLabel[strings.ToLower(a.Label)] = as
		o.apps = append(o.apps, as)
		return as
	}
	app := func(ref string) *appState {
		if a := o.appByID[ref]; a != nil {
			return a
		}
		if a := appByLabel[strings.ToLower(ref)]; a != nil {
			return a
		}
		return addApp(App{ID: derivedID("0oa", "app", ref), Label: ref})
	}
	for _, g := range cfg.Groups {
		addGroup(g)
	}
	for _, a := range cfg.Apps {
		addApp(a)
	}
	direct := map[*appState]map[*userState]bool{}
	for _, u := range o.users {
		for _, ref := range u.Groups {
			g := group(ref)
			if !slices.Contains(g.members, u) {
				g.members = append(g.members, u)
			}
		}
		for _, ref := range u.Apps {
			a := app(ref)
			if direct[a] == nil {
				direct[a] = map[*userState]bool{}
			}
			if !direct[a][u] {
				direct[a][u] = true
				a.users = append(a.users, appAssignment{u: u, scope: "USER"})
			}
		}
	}
	for _, a := range o.apps {
		seen := maps.Clone(direct[a])
		if seen == nil {
			seen = map[*userState]bool{}
		}
		for _, ref := range a.Groups {
			for _, u := range group(ref).members {
				if !seen[u] {
					seen[u] = true
					a.users = append(a.users, appAssignment{u: u, scope: "GROUP"})
				}
			}
		}
		sort.Slice(a.users, func(i, j int) bool { return a.users[i].u.ID < a.users[j].u.ID })
	}
	for _, g := range o.groups {
		sort.Slice(g.members, func(i, j int) bool { return g.members[i].ID < g.members[j].ID })
	}
	sort.Slice(o.groups, func(i, j int) bool { return o.groups[i].ID < o.groups[j].ID })
	sort.Slice(o.apps, func(i, j int) bool { return o.apps[i].ID < o.apps[j].ID })
}

// Groups returns every group (those of Config.Groups and those the users'
// references made), sorted by ID.
func (o *Org) Groups() []Group {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Group, len(o.groups))
	for i, g := range o.groups {
		out[i] = g.Group
	}
	return out
}

// Apps returns every app, sorted by ID.
func (o *Org) Apps() []App {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]App, len(o.apps))
	for i, a := range o.apps {
		out[i] = a.App
		out[i].Groups = slices.Clone(a.Groups)
	}
	return out
}

// GroupMembers returns the IDs of a group's members (the group named by ID
// or name), sorted, and whether the group exists.
func (o *Org) GroupMembers(idOrName string) ([]string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	g := o.findGroup(idOrName)
	if g == nil {
		return nil, false
	}
	out := make([]string, len(g.members))
	for i, u := range g.members {
		out[i] = u.ID
	}
	return out, true
}

// AppUsers returns the IDs of the users assigned to an app (named by ID or
// label), directly or through a group, sorted, and whether the app exists.
func (o *Org) AppUsers(idOrLabel string) ([]string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.appByID[idOrLabel]
	for _, x := range o.apps {
		if a == nil && strings.EqualFold(x.Label, idOrLabel) {
			a = x
		}
	}
	if a == nil {
		return nil, false
	}
	out := make([]string, len(a.users))
	for i, au := range a.users {
		out[i] = au.u.ID
	}
	return out, true
}

// findGroup finds a group by ID, then by name ignoring case. The caller
// holds o.mu.
func (o *Org) findGroup(idOrName string) *groupState {
	if g := o.groupByID[idOrName]; g != nil {
		return g
	}
	for _, g := range o.groups {
		if strings.EqualFold(g.Name, idOrName) {
			return g
		}
	}
	return nil
}
