package emulator

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Bucket names, as WindowStat and Stats report them.
const (
	BucketCredentials = "credentials" // the seven POSTs, DELETE sessions and GET /api/v1/users (Okta's /api/v1/users bucket)
	BucketUsers       = "users"       // GET /api/v1/users/{id} and /me
	BucketGroups      = "groups"      // GET /api/v1/groups, /groups/{id}, /groups/{id}/users
	BucketApps        = "apps"        // GET /api/v1/apps/{id}/users
	BucketLogs        = "logs"        // GET /api/v1/logs (the System Log)
)

// UnlimitedLimit is the X-Rate-Limit-Limit reported for a bucket without a
// limit (Remaining is then UnlimitedLimit minus the window's use, at least 0).
const UnlimitedLimit = 10000

// Config sets up an Org. The zero value (but for Seed) is a 100-user org with
// no limits and no faults.
type Config struct {
	Seed     int64   // drives user generation, the derived token, secrets, faults
	Users    int     // number of generated users (ignored when UserList != nil); default 100
	UserList []User  // explicit users (e.g. from LoadUsers); UserList[0] is the token's owner
	Groups   []Group // declared groups (e.g. from LoadDirectory); users' references make the others
	Apps     []App   // declared apps (e.g. from LoadDirectory); users' references make the others
	Token    string  // the accepted API token (SSWS or Bearer); if empty, derived from Seed (40 chars)

	// Rate limits: fixed windows per bucket aligned on whole epoch multiples of Window.
	PostLimit          int           // per window for BucketCredentials; 0 = unlimited
	GetLimit           int           // per window for BucketUsers; 0 = unlimited
	GroupLimit         int           // per window for BucketGroups; 0 = unlimited
	AppLimit           int           // per window for BucketApps; 0 = unlimited
	LogLimit           int           // per window for BucketLogs; 0 = unlimited (Okta: 20-120 a minute)
	Window             time.Duration // default 60s
	ConcurrencyLimit   int           // 0 = none; see the package documentation
	RetryAfter         bool          // send Retry-After (seconds) on 429s
	RetryAfterHTTPDate bool          // send Retry-After as an HTTP-date instead
	RepeatRateHeaders  bool          // send each X-Rate-Limit-* header twice
	OmitDate           bool          // no Date header

	// Faults, drawn from a generator seeded by Seed, only on BucketCredentials.
	Fail5xxRate float64       // fraction answered 500/502/503/504 (E0000009) before applying anything
	DropRate    float64       // fraction applied, logged with Dropped, then closed without an answer
	Latency     time.Duration // added before handling
	Jitter      time.Duration // up to this much more, uniformly
	// Now is the org's clock (default time.Now): the rate-limit windows,
	// every timestamp the org serves, the System Log's times.
	Now func() time.Time

	// Neighbour: another integration's requests per second, counted in
	// BucketCredentials from the org's creation (by its clock) though no
	// client sends them; NeighbourSchedule changes the rate at given times
	// (bursts, a stop); Org.SetNeighbour changes it from now on. See the
	// package documentation.
	Neighbour         float64
	NeighbourSchedule []NeighbourStep

	// LogDelay: a System Log event becomes visible to GET /api/v1/logs
	// this long after it is published (Okta's log is eventually
	// consistent).
	LogDelay time.Duration

	// OAuth 2.0 (POST /oauth2/v1/token; see the package documentation).
	Clients       []OAuthClient // service apps that may get access tokens
	TokenLifetime time.Duration // access token lifetime; default DefaultTokenLifetime
	// RotateNonces: the DPoP nonce changes silently after every few
	// accepted proofs, and API calls with a DPoP-bound token must carry it.
	RotateNonces bool
}

// Org is an in-memory Okta org. It implements http.Handler and is safe for
// concurrent use.
type Org struct {
	cfg    Config
	token  string
	now    func() time.Time
	window time.Duration
	prefix string // request ID prefix
	reqN   atomic.Uint64

	mu                  sync.Mutex
	users               []*userState  // creation order
	sorted              []*userState  // by ID: the order of every user listing
	groups              []*groupState // by ID
	groupByID           map[string]*groupState
	apps                []*appState // by ID
	appByID             map[string]*appState
	byID                map[string]*userState
	byLogin             map[string]*userState   // lower-cased login
	byShort             map[string][]*userState // lower-cased short name
	secrets             *rand.Rand
	faults              *rand.Rand
	log                 []LogEntry
	windows             map[windowKey]*WindowStat
	winOrder            []windowKey
	inflight            int
	concurrencyRejected int

	auth *authState // OAuth clients, access tokens, DPoP state (own lock)

	events    []sysEvent      // the System Log, in publication order
	neighbour []neighbourStep // the neighbour's rate, a step function of time
	uuidSeed  uint64          // event UUIDs derive from it

	closed    chan struct{} // closed by Close: held requests are let go
	closeOnce sync.Once
}

type userState struct {
	User
	created, statusChanged, lastUpdated, passwordChanged time.Time
	resetToken                                           string // current reset token ("" when none is valid)
	lastSecret                                           string
	emails                                               int
	sessionsRevoked                                      int
}

// New builds an Org from cfg.
func New(cfg Config) *Org {
	o := &Org{cfg: cfg, now: cfg.Now, window: cfg.Window, closed: make(chan struct{})}
	if o.now == nil {
		o.now = time.Now
	}
	if o.window <= 0 {
		o.window = 60 * time.Second
	}
	seed := uint64(cfg.Seed)
	o.secrets = rand.New(rand.NewPCG(seed, 0x5ec4e75))
	o.faults = rand.New(rand.NewPCG(seed, 0xfa0175))
	meta := rand.New(rand.NewPCG(seed, 0x70ce2))
	o.uuidSeed = rand.New(rand.NewPCG(seed, 0x10905)).Uint64()
	o.token = cfg.Token
	if o.token == "" {
		o.token = "00" + randomString(meta, 38, alnum+"-_")
	}
	o.prefix = randomString(meta, 8, alnum)
	list := cfg.UserList
	if list == nil {
		n := cfg.Users
		if n <= 0 {
			n = 100
		}
		list = GenerateUsers(cfg.Seed, n)
	}
	created := o.now().UTC().Add(-24 * time.Hour).Truncate(time.Millisecond)
	o.byID = make(map[string]*userState, len(list))
	o.byLogin = make(map[string]*userState, len(list))
	o.byShort = make(map[string][]*userState, len(list))
	for _, u := range list {
		if u.Status == "" {
			u.Status = StatusActive
		}
		if u.Provider == "" {
			u.Provider = ProviderOkta
		}
		s := &userState{User: u, created: created, statusChanged: created, lastUpdated: created}
		if u.Password != "" {
			s.passwordChanged = created
		}
		o.users = append(o.users, s)
		o.byID[u.ID] = s
		o.byLogin[strings.ToLower(u.Login)] = s
		short := strings.ToLower(shortName(u.Login))
		o.byShort[short] = append(o.byShort[short], s)
	}
	o.sorted = slices.Clone(o.users)
	sort.Slice(o.sorted, func(i, j int) bool { return o.sorted[i].ID < o.sorted[j].ID })
	o.buildDirectory(cfg, created)
	o.windows = make(map[windowKey]*WindowStat)
	o.initNeighbour(cfg, o.now())
	o.auth = newAuthState(cfg)
	return o
}

// Close lets go every request the Org is holding in a Latency wait, and
// every later request that would wait ends at once: a server that serves
// the Org can then shut down at once, whatever its Latency. Such requests
// end without an answer (their log entries keep Status 0); requests without
// a wait are answered as before. Close is idempotent. Close the Org before
// the server (with httptest: register t.Cleanup(org.Close) after
// t.Cleanup(srv.Close), so that it runs first).
func (o *Org) Close() {
	o.closeOnce.Do(func() { close(o.closed) })
}

// Token returns the accepted API token.
func (o *Org) Token() string { return o.token }

// Users returns a snapshot of every user's current state, in creation order.
func (o *Org) Users() []User {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]User, len(o.users))
	for i, u := range o.users {
		out[i] = u.snapshot()
	}
	return out
}

// snapshot copies the user, slices and map included. The caller holds o.mu.
func (u *userState) snapshot() User {
	c := u.User
	c.Profile = maps.Clone(u.Profile)
	c.Groups = slices.Clone(u.Groups)
	c.Apps = slices.Clone(u.Apps)
	return c
}

// User returns the current state of the user named by an ID, a login or an
// unambiguous login short name (the same resolution as the API's {id}).
func (o *Org) User(idOrLogin string) (User, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	u := o.resolve(idOrLogin)
	if u == nil {
		return User{}, false
	}
	return u.snapshot(), true
}

// UserTimes are a user's timestamps, as the User object serves them
// (milliseconds): a zero Activated or PasswordChanged is served as null.
type UserTimes struct {
	Created, Activated, StatusChanged, LastUpdated, PasswordChanged time.Time
}

// Times returns the timestamps of the user named by an ID, a login or an
// unambiguous login short name.
func (o *Org) Times(idOrLogin string) (UserTimes, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	u := o.resolve(idOrLogin)
	if u == nil {
		return UserTimes{}, false
	}
	return UserTimes{Created: u.created, Activated: activatedAt(u), StatusChanged: u.statusChanged,
		LastUpdated: u.lastUpdated, PasswordChanged: u.passwordChanged}, true
}

// LastSecret returns the last temp password or reset URL issued to the user
// (emailed reset URLs included), or "" if none.
func (o *Org) LastSecret(userID string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if u := o.byID[userID]; u != nil {
		return u.lastSecret
	}
	return ""
}

// ResetURLValid reports whether url is the user's current, unused reset URL:
// every new reset URL, and every password change, makes the previous one
// stop working.
func (o *Org) ResetURLValid(idOrLogin, url string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	u := o.resolve(idOrLogin)
	if u == nil || u.resetToken == "" {
		return false
	}
	return strings.HasSuffix(url, "/signin/reset-password/"+u.resetToken)
}

// EmailsSent returns how many reset emails the user has been "sent".
func (o *Org) EmailsSent(userID string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if u := o.byID[userID]; u != nil {
		return u.emails
	}
	return 0
}

// SessionsRevoked returns how many times the user's sessions were revoked
// (DELETE sessions, or revokeSessions=true on an operation that applied).
func (o *Org) SessionsRevoked(userID string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if u := o.byID[userID]; u != nil {
		return u.sessionsRevoked
	}
	return 0
}

// resolve finds a user by exact ID, then login, then unique short name. The
// caller holds o.mu.
func (o *Org) resolve(ref string) *userState {
	if ref == "" {
		return nil
	}
	if u := o.byID[ref]; u != nil {
		return u
	}
	key := strings.ToLower(ref)
	if u := o.byLogin[key]; u != nil {
		return u
	}
	if !strings.Contains(key, "@") {
		if list := o.byShort[key]; len(list) == 1 {
			return list[0]
		}
	}
	return nil
}

func (o *Org) newRequestID() string {
	return fmt.Sprintf("%s%012d", o.prefix, o.reqN.Add(1))
}

func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }
