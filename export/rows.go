package export

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/credbatch/credbatch/okta"
)

// UserStatuses are Okta's user statuses, in lifecycle order.
var UserStatuses = []string{"STAGED", "PROVISIONED", "ACTIVE", "RECOVERY", "PASSWORD_EXPIRED", "LOCKED_OUT", "SUSPENDED", "DEPROVISIONED"}

// Deprovisioned is the status left out unless asked for.
const Deprovisioned = "DEPROVISIONED"

// Statuses is the set of user statuses an export keeps.
type Statuses map[string]bool

// KeepStatuses returns the statuses kept: those of list (comma-separated,
// any case; empty: every status but DEPROVISIONED), plus DEPROVISIONED with
// includeDeprovisioned. An unknown name, or --include-deprovisioned beside
// a list that leaves DEPROVISIONED out (it would keep nothing more), is an
// error naming it.
func KeepStatuses(list string, includeDeprovisioned bool) (Statuses, error) {
	keep := Statuses{}
	if strings.TrimSpace(list) == "" {
		for _, s := range UserStatuses {
			keep[s] = s != Deprovisioned || includeDeprovisioned
		}
		return keep.compact(), nil
	}
	for _, f := range strings.Split(list, ",") {
		name := strings.ToUpper(strings.TrimSpace(f))
		if name == "" {
			continue
		}
		known := false
		for _, s := range UserStatuses {
			known = known || s == name
		}
		if !known {
			return nil, fmt.Errorf("unknown user status %q (statuses: %s)", strings.TrimSpace(f), strings.Join(UserStatuses, ", "))
		}
		keep[name] = true
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("no status named (statuses: %s)", strings.Join(UserStatuses, ", "))
	}
	if includeDeprovisioned && !keep[Deprovisioned] {
		return nil, fmt.Errorf("--include-deprovisioned with a --status list that does not name DEPROVISIONED: add DEPROVISIONED to the list instead")
	}
	return keep, nil
}

func (k Statuses) compact() Statuses {
	for s, v := range k {
		if !v {
			delete(k, s)
		}
	}
	return k
}

// isDefault: every status but DEPROVISIONED.
func (k Statuses) isDefault() bool {
	return len(k) == len(UserStatuses)-1 && !k[Deprovisioned]
}

// List returns the kept statuses in UserStatuses' order.
func (k Statuses) List() []string {
	var out []string
	for _, s := range UserStatuses {
		if k[s] {
			out = append(out, s)
		}
	}
	return out
}

// Columns are the manifest columns after the six that say who the user is:
// with an Action, the action column, and a column for each row default
// given (send_email, revoke_sessions, strict), every row holding the value.
type Columns struct {
	Action                            string
	SendEmail, RevokeSessions, Strict *bool
}

// Format is a manifest's file format, by its extension.
type Format string

// Formats.
const (
	CSV   Format = "csv"
	JSONL Format = "jsonl"
)

// FormatOf returns the format of a path by its extension (.csv, .jsonl).
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return CSV, nil
	case ".jsonl":
		return JSONL, nil
	}
	return "", fmt.Errorf("%s: name the manifest .csv or .jsonl", path)
}

// encoder writes manifest rows.
type encoder struct {
	format Format
	cols   Columns
	names  []string // the header
	rec    []string // reused
}

func newEncoder(f Format, cols Columns) *encoder {
	e := &encoder{format: f, cols: cols, names: []string{"user", "login", "email", "first_name", "last_name", "status"}}
	if cols.Action != "" {
		e.names = append(e.names, "action")
		for _, c := range []struct {
			name string
			v    *bool
		}{{"send_email", cols.SendEmail}, {"revoke_sessions", cols.RevokeSessions}, {"strict", cols.Strict}} {
			if c.v != nil {
				e.names = append(e.names, c.name)
			}
		}
	}
	return e
}

// header appends the CSV header row (nothing for JSONL).
func (e *encoder) header(buf *bytes.Buffer) error {
	if e.format != CSV {
		return nil
	}
	w := csv.NewWriter(buf)
	if err := w.Write(e.names); err != nil {
		return err
	}
	w.Flush()
	return w.Error()
}

// jsonRow is a JSONL row, keys in the CSV's column order.
type jsonRow struct {
	User           string `json:"user"`
	Login          string `json:"login"`
	Email          string `json:"email"`
	FirstName      string `json:"first_name"`
	LastName       string `json:"last_name"`
	Status         string `json:"status"`
	Action         string `json:"action,omitempty"`
	SendEmail      *bool  `json:"send_email,omitempty"`
	RevokeSessions *bool  `json:"revoke_sessions,omitempty"`
	Strict         *bool  `json:"strict,omitempty"`
}

// row appends one user's row.
func (e *encoder) row(buf *bytes.Buffer, u *okta.ListedUser) error {
	if e.format == JSONL {
		r := jsonRow{User: u.ID, Login: u.Login, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, Status: u.Status}
		if e.cols.Action != "" {
			r.Action, r.SendEmail, r.RevokeSessions, r.Strict = e.cols.Action, e.cols.SendEmail, e.cols.RevokeSessions, e.cols.Strict
		}
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		return enc.Encode(r) // one line, "\n"-terminated
	}
	e.rec = append(e.rec[:0], u.ID, u.Login, u.Email, u.FirstName, u.LastName, u.Status)
	if e.cols.Action != "" {
		e.rec = append(e.rec, e.cols.Action)
		for _, v := range []*bool{e.cols.SendEmail, e.cols.RevokeSessions, e.cols.Strict} {
			if v != nil {
				e.rec = append(e.rec, strconv.FormatBool(*v))
			}
		}
	}
	w := csv.NewWriter(buf)
	if err := w.Write(e.rec); err != nil {
		return err
	}
	w.Flush()
	return w.Error()
}
