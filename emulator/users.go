package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"strings"
)

// User statuses, as Okta spells them.
const (
	StatusStaged          = "STAGED"
	StatusProvisioned     = "PROVISIONED"
	StatusActive          = "ACTIVE"
	StatusPasswordExpired = "PASSWORD_EXPIRED"
	StatusRecovery        = "RECOVERY"
	StatusLockedOut       = "LOCKED_OUT"
	StatusSuspended       = "SUSPENDED"
	StatusDeprovisioned   = "DEPROVISIONED"
)

// Providers a User may have.
const (
	ProviderOkta       = "OKTA"
	ProviderFederation = "FEDERATION"
)

// GeneratedQuestion is the recovery question of generated users.
const GeneratedQuestion = "What is your favorite color?"

// The groups and app of generated users (besides EveryoneGroup); see the
// package documentation for who is in them.
const (
	GeneratedContractors = "Contractors"
	GeneratedFinance     = "Finance"
	GeneratedApp         = "Payroll"
)

var validStatuses = map[string]bool{
	StatusStaged: true, StatusProvisioned: true, StatusActive: true, StatusPasswordExpired: true,
	StatusRecovery: true, StatusLockedOut: true, StatusSuspended: true, StatusDeprovisioned: true,
}

// ErrInvalidUsers is wrapped by every error LoadUsers returns for content
// (as opposed to I/O) problems.
var ErrInvalidUsers = errors.New("invalid user list")

var userIDPattern = regexp.MustCompile(`^00u[0-9A-Za-z]{17}$`)

// User is one user of the org, in the JSON form LoadUsers reads. Provider is
// "OKTA" (the default) or "FEDERATION" (no Okta password, no recovery
// question). Password empty means the user has no password credential.
type User struct {
	ID               string `json:"id"`
	Login            string `json:"login"`
	Email            string `json:"email"`
	FirstName        string `json:"firstName"`
	LastName         string `json:"lastName"`
	Status           string `json:"status"`
	Provider         string `json:"provider,omitempty"`
	Password         string `json:"password,omitempty"`
	RecoveryQuestion string `json:"recoveryQuestion,omitempty"`
	RecoveryAnswer   string `json:"recoveryAnswer,omitempty"`

	// Profile holds more profile attributes (custom ones: department,
	// costCenter...), served in the User's profile and searchable.
	Profile map[string]any `json:"profile,omitempty"`
	Groups  []string       `json:"groups,omitempty"` // groups the user is a member of: IDs or names
	Apps    []string       `json:"apps,omitempty"`   // apps assigned to the user: IDs or labels
}

// LoadUsers reads a JSON array of User. It checks that every ID matches
// ^00u[0-9A-Za-z]{17}$, that IDs are unique and logins unique ignoring case,
// that logins are not empty, statuses and providers known, and that a
// FEDERATION user has no password or recovery question. An empty status
// means ACTIVE, an empty provider OKTA. Errors name the array index and never
// a password or answer.
//
// A user may also carry profile (custom attributes), groups and apps (see
// LoadDirectory, which also reads the groups and apps themselves).
func LoadUsers(r io.Reader) ([]User, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var users []User
	if err := dec.Decode(&users); err != nil {
		return nil, fmt.Errorf("load users: %w: %w", ErrInvalidUsers, err)
	}
	users, err := checkUsers(users)
	if err != nil {
		return nil, err
	}
	if err := checkDirectory(Directory{Users: users}); err != nil {
		return nil, err
	}
	return users, nil
}

// checkUsers applies LoadUsers' rules to users (defaults filled in).
func checkUsers(users []User) ([]User, error) {
	if len(users) == 0 {
		return nil, fmt.Errorf("load users: %w: the list is empty", ErrInvalidUsers)
	}
	ids := make(map[string]int, len(users))
	logins := make(map[string]int, len(users))
	var errs []error
	bad := func(i int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("load users: %w: user %d: %s", ErrInvalidUsers, i, fmt.Sprintf(format, args...)))
	}
	for i := range users {
		u := &users[i]
		if !userIDPattern.MatchString(u.ID) {
			bad(i, "id %q does not match ^00u[0-9A-Za-z]{17}$", u.ID)
		} else if j, dup := ids[u.ID]; dup {
			bad(i, "id %q already used by user %d", u.ID, j)
		} else {
			ids[u.ID] = i
		}
		key := strings.ToLower(u.Login)
		if u.Login == "" {
			bad(i, "empty login")
		} else if j, dup := logins[key]; dup {
			bad(i, "login %q already used by user %d", u.Login, j)
		} else {
			logins[key] = i
		}
		if u.Status == "" {
			u.Status = StatusActive
		}
		if !validStatuses[u.Status] {
			bad(i, "unknown status %q", u.Status)
		}
		switch u.Provider {
		case "":
			u.Provider = ProviderOkta
		case ProviderOkta:
		case ProviderFederation:
			if u.Password != "" || u.RecoveryQuestion != "" || u.RecoveryAnswer != "" {
				bad(i, "a FEDERATION user has no password or recovery question")
			}
		default:
			bad(i, "unknown provider %q", u.Provider)
		}
		if (u.RecoveryQuestion == "") != (u.RecoveryAnswer == "") {
			bad(i, "recoveryQuestion and recoveryAnswer go together")
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return users, nil
}

// GenerateUsers returns n users (at least 1: the token's owner), following
// the rules in the package documentation. The same seed and n give the same
// users; the seed changes only the IDs.
func GenerateUsers(seed int64, n int) []User {
	if n < 1 {
		n = 1
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed05e5))
	users := make([]User, n)
	seen := make(map[string]bool, n)
	for i := range users {
		var id string
		for {
			id = "00u" + randomString(rng, 17, alnum)
			if !seen[id] {
				break
			}
		}
		seen[id] = true
		u := User{ID: id, Status: StatusActive, Provider: ProviderOkta}
		short := fmt.Sprintf("user%05d", i)
		u.FirstName, u.LastName = "User", fmt.Sprintf("%05d", i)
		if i == 0 {
			short = "admin"
			u.FirstName, u.LastName = "Admin", "User"
		} else {
			switch i % 50 {
			case 7:
				u.Status = StatusStaged
			case 13:
				u.Status = StatusProvisioned
			case 19:
				u.Status = StatusPasswordExpired
			case 23:
				u.Status = StatusRecovery
			case 29:
				u.Status = StatusLockedOut
			case 37:
				u.Status = StatusSuspended
			case 43:
				u.Status = StatusDeprovisioned
			}
		}
		u.Login = short + "@example.com"
		u.Email = u.Login
		u.Groups = []string{EveryoneGroup}
		switch {
		case i%4 == 1:
			u.Groups = append(u.Groups, GeneratedContractors)
		case i%10 == 2:
			u.Groups = append(u.Groups, GeneratedFinance)
		}
		if i%3 == 0 {
			u.Apps = []string{GeneratedApp}
		}
		switch {
		case i > 0 && i%20 == 11:
			u.Provider = ProviderFederation
		case i > 0 && i%10 == 4:
			u.Password = GeneratedPassword(u.Login)
		default:
			u.Password = GeneratedPassword(u.Login)
			u.RecoveryQuestion = GeneratedQuestion
			u.RecoveryAnswer = fmt.Sprintf("blue-%d", i)
		}
		users[i] = u
	}
	return users
}

// GeneratedPassword is the initial password GenerateUsers gives the user
// with this login: "Pw-<short name>-1!".
func GeneratedPassword(login string) string {
	return "Pw-" + shortName(login) + "-1!"
}

func shortName(login string) string {
	if i := strings.IndexByte(login, '@'); i >= 0 {
		return login[:i]
	}
	return login
}

const (
	alnum   = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	letters = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	digits  = "23456789"
	symbols = "!#$%*+-=?@^_"
)

func randomString(rng *rand.Rand, n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}
