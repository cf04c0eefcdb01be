package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// stateFormat is the state file's format version.
const stateFormat = 1

// State is what OUT.partial.state records after each page: enough to
// resume from the last saved next link without fetching a page twice or
// writing a user twice.
type State struct {
	Format      int      `json:"format"`
	ToolVersion string   `json:"tool_version"`
	Settings    Settings `json:"settings"`
	// Next is the next page's URL exactly as Okta gave it (the first
	// page's URL before any page was saved); "" once the listing ended.
	Next string `json:"next"`
	// Done: every page was written; OUT.partial is complete and about to
	// become OUT.
	Done bool `json:"done"`
	// Pages and Listed count the pages saved and the users they held.
	Pages  int `json:"pages"`
	Listed int `json:"listed"`
	// Written rows fill the first Length bytes of OUT.partial, whose
	// SHA-256 is SHA256 (hex); anything after Length is a page whose state
	// was never saved.
	Written int    `json:"written"`
	Length  int64  `json:"length"`
	SHA256  string `json:"sha256"`
	// LeftOut counts the users listed and not written, by reason:
	// a status ("DEPROVISIONED", "STAGED"…), "duplicate", "gone" (deleted
	// while the export ran).
	LeftOut map[string]int `json:"left_out,omitempty"`
}

// Settings are what an export was started with; a resume must give the
// same, or it is refused.
type Settings struct {
	OrgURL string `json:"org_url"`
	Source Kind   `json:"source"`
	Value  string `json:"value,omitempty"`
	// GroupID and GroupName: the group a FromGroup source resolved to
	// (a resume does not look it up again).
	GroupID      string   `json:"group_id,omitempty"`
	GroupName    string   `json:"group_name,omitempty"`
	StatusFilter string   `json:"status_filter,omitempty"`
	Statuses     []string `json:"statuses"`
	Format       Format   `json:"format"`
	Action       string   `json:"action,omitempty"`
	SendEmail    string   `json:"send_email,omitempty"`
	Revoke       string   `json:"revoke_sessions,omitempty"`
	Strict       string   `json:"strict,omitempty"`
}

// SettingsDiff is one setting that differs between the state and now.
type SettingsDiff struct{ Field, Saved, Now string }

// diff lists the settings that differ, ignoring the resolved group (a
// resume names the group as the first run did and reuses its ID).
func (s Settings) diff(now Settings) []SettingsDiff {
	var out []SettingsDiff
	add := func(field, a, b string) {
		if a != b {
			out = append(out, SettingsDiff{field, a, b})
		}
	}
	add("org", s.OrgURL, now.OrgURL)
	add("source", string(s.Source), string(now.Source))
	add("--"+string(s.Source), s.Value, now.Value)
	add("--status", fmt.Sprint(s.Statuses), fmt.Sprint(now.Statuses))
	add("format", string(s.Format), string(now.Format))
	add("--action", s.Action, now.Action)
	add("--send-email", s.SendEmail, now.SendEmail)
	add("--revoke-sessions", s.Revoke, now.Revoke)
	add("--strict", s.Strict, now.Strict)
	return out
}

func boolSetting(b *bool) string {
	if b == nil {
		return ""
	}
	return strconv.FormatBool(*b)
}

// ErrStateDamaged is wrapped when the state file cannot be read.
var ErrStateDamaged = errors.New("the export's state file is damaged")

// loadState reads path; (nil, nil) when it does not exist.
func loadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrStateDamaged, err)
	}
	if st.Format != stateFormat {
		return nil, fmt.Errorf("%s: %w: format %d (this credbatch writes %d)", path, ErrStateDamaged, st.Format, stateFormat)
	}
	if st.Length < 0 || st.Written < 0 || st.Written > st.Listed {
		return nil, fmt.Errorf("%s: %w: %d rows in %d bytes", path, ErrStateDamaged, st.Written, st.Length)
	}
	return &st, nil
}

// saveState replaces path with st durably: written beside it, fsynced,
// renamed over it, and the directory fsynced.
func saveState(path string, st *State) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a directory's entries (a rename, a new link) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func cloneCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
