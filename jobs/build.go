package jobs

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/credbatch/credbatch/internal/secret"
)

// build validates a row and returns its Job, reporting each problem to add.
// It returns nil for a row that could not be mapped to columns.
func build(file string, r *rawRow, d Defaults, add func(*LineError)) *Job {
	j := new(Job)
	if !fill(j, file, r, d, add) {
		return nil
	}
	return j
}

// fill is build into a Job the caller owns (Validate reuses one); it
// returns false where build returns nil.
func fill(j *Job, file string, r *rawRow, d Defaults, add func(*LineError)) bool {
	for _, e := range r.errs {
		add(e)
	}
	if r.broken {
		return false
	}
	fail := func(c col, msg, hint string) {
		add(&LineError{File: file, Line: r.line, Column: r.colName(c), Msg: msg, Hint: hint})
	}
	*j = Job{Line: r.line}
	j.User = strings.TrimSpace(r.vals[colUser])
	j.UserIsID = IsUserID(j.User)
	if j.User == "" && !r.headerLacks[colUser] {
		fail(colUser, "missing user", "name the user by Okta ID (00u...) or by login")
	} else if !j.UserIsID && j.User != "" {
		if msg, hint, ok := checkUser(j.User); !ok {
			fail(colUser, msg, hint)
		}
	}

	if text := strings.TrimSpace(r.vals[colAction]); text == "" {
		if d.Action != "" {
			j.Action = d.Action
		} else if !r.headerLacks[colAction] {
			fail(colAction, "missing action", "fill the action column, or pass --action for rows that leave it empty")
		}
	} else if a, err := ParseAction(text); err != nil {
		// The cell is never quoted: in a manifest whose columns are out of
		// order it may be a password. The nearest action name is safe.
		hint := "actions: " + actionList()
		if near, ok := nearestAction(text); ok {
			hint = fmt.Sprintf("did you mean %s? actions: %s", near, actionList())
		}
		fail(colAction, "unknown action", hint)
	} else {
		j.Action = a
	}

	var bools [numCols]*bool
	for _, c := range []col{colSendEmail, colRevokeSessions, colStrict} {
		v := strings.TrimSpace(r.vals[c])
		switch {
		case v == "":
		case strings.EqualFold(v, "true"):
			t := true
			bools[c] = &t
		case strings.EqualFold(v, "false"):
			f := false
			bools[c] = &f
		default:
			fail(c, "not a boolean", "write true or false")
		}
	}

	j.RecoveryQuestion = strings.TrimSpace(r.vals[colRecoveryQuestion])
	j.Login = strings.TrimSpace(r.vals[colLogin])
	j.Email = strings.TrimSpace(r.vals[colEmail])
	j.FirstName = strings.TrimSpace(r.vals[colFirstName])
	j.LastName = strings.TrimSpace(r.vals[colLastName])
	j.Status = strings.TrimSpace(r.vals[colStatus])
	j.OldPassword = secret.New(r.vals[colOldPassword])
	j.NewPassword = secret.New(r.vals[colNewPassword])
	j.Password = secret.New(r.vals[colPassword])
	j.RecoveryAnswer = secret.New(r.vals[colRecoveryAnswer])

	if !j.Action.valid() {
		return true
	}
	tbl := takes[j.Action] // once a row, not once a column
	for c := colSendEmail; c < numActionCols; c++ {
		present := r.vals[c] != ""
		if !c.isSecret() {
			present = strings.TrimSpace(r.vals[c]) != ""
		}
		req := tbl[c]
		if present && (c.isSecret() || c == colRecoveryQuestion) && (!utf8.ValidString(r.vals[c]) || strings.ContainsRune(r.vals[c], utf8.RuneError)) {
			// encoding/json would send U+FFFD in place of each bad byte (and a
			// JSONL line's bad bytes already are U+FFFD): a password Okta
			// checks would be wrong and count towards lockout.
			fail(c, "not valid UTF-8 (the file may be in another encoding, e.g. Windows-1252 from Excel)",
				"save the manifest as UTF-8 (Excel: CSV UTF-8), then validate it again")
		}
		switch {
		case present && req == Refused:
			fail(c, fmt.Sprintf("%s does not take %s: leave it empty", j.Action, colNames[c]), refusedHint(j.Action, c))
		case !present && req == Required && !(c.isBool() && d.flag(c) != nil):
			fail(c, fmt.Sprintf("%s requires %s", j.Action, colNames[c]), requiredHint(j.Action, c))
		}
		if c.isBool() && req != Refused {
			v := bools[c]
			if v == nil && d.flag(c) != nil {
				x := *d.flag(c)
				v = &x
			}
			switch c {
			case colSendEmail:
				j.SendEmail = v
			case colRevokeSessions:
				j.RevokeSessions = v
			case colStrict:
				j.Strict = v
			}
		}
	}
	return true
}

// nearestAction returns the action name within a small edit distance of s,
// ignoring case: a hint that reveals nothing of the cell.
func nearestAction(s string) (Action, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	best, bestD := Action(""), 4
	for _, a := range Actions {
		if d := editDistance(s, string(a)); d < bestD {
			best, bestD = a, d
		}
	}
	return best, best != ""
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
