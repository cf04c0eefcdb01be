package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// Summary counts a report's rows. It holds no cell value but outcomes,
// actions, error codes and user statuses, so it never holds a secret. The
// zero Summary is ready to use.
type Summary struct {
	Total         int
	ByOutcome     map[Outcome]int
	ByAction      map[string]int
	ByCode        map[string]int // error_code counts (rows without one are not counted)
	ByStatus      map[string]int // user_status counts (rows without one are not counted)
	SecretsIssued int            // rows with a temp password or reset URL (count only)
	First, Last   time.Time      // earliest started_at, latest finished_at (zero: none)
	Requests      int            // sum of attempts
	// Pending is how many of the run's manifest rows the report does not
	// hold yet, when PendingKnown: the report alone cannot tell (the run's
	// checkpoint knows the manifest's row count), so the caller sets both.
	Pending      int
	PendingKnown bool
}

// Summarize reads the report at path (strictly, as ReadFile does) and
// returns its Summary.
func Summarize(path string) (*Summary, error) {
	s := &Summary{}
	if err := ReadFile(path, func(r *Row) error { s.Add(r); return nil }); err != nil {
		return nil, err
	}
	return s, nil
}

// Add counts one row.
func (s *Summary) Add(r *Row) {
	if s.ByOutcome == nil {
		s.ByOutcome = map[Outcome]int{}
	}
	if s.ByAction == nil {
		s.ByAction = map[string]int{}
	}
	if s.ByCode == nil {
		s.ByCode = map[string]int{}
	}
	if s.ByStatus == nil {
		s.ByStatus = map[string]int{}
	}
	s.Total++
	s.ByOutcome[r.Outcome]++
	s.ByAction[r.Action]++
	if r.ErrorCode != "" {
		s.ByCode[r.ErrorCode]++
	}
	if r.UserStatus != "" {
		s.ByStatus[r.UserStatus]++
	}
	if !r.TempPassword.IsZero() || !r.ResetURL.IsZero() {
		s.SecretsIssued++
	}
	if !r.StartedAt.IsZero() && (s.First.IsZero() || r.StartedAt.Before(s.First)) {
		s.First = r.StartedAt
	}
	if r.FinishedAt.After(s.Last) {
		s.Last = r.FinishedAt
	}
	s.Requests += r.Attempts
}

// outcomeKeys returns the outcomes counted, the known ones first in
// Outcomes order, then any other sorted.
func (s *Summary) outcomeKeys() []Outcome {
	var keys, other []Outcome
	for _, o := range Outcomes {
		if s.ByOutcome[o] != 0 {
			keys = append(keys, o)
		}
	}
	for o := range s.ByOutcome {
		if !slices.Contains(Outcomes, o) {
			other = append(other, o)
		}
	}
	slices.Sort(other)
	return append(keys, other...)
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayout)
}

// WriteText writes the summary for people: rows, pending (when known) and requests, counts by
// outcome (in Outcomes order), by action, by error_code and by user_status
// (sorted), secrets issued (a count), and the first start and last finish.
// It never writes a secret.
func (s *Summary) WriteText(w io.Writer) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "rows\t%d\n", s.Total)
	if s.PendingKnown {
		fmt.Fprintf(tw, "pending\t%d\n", s.Pending)
	}
	fmt.Fprintf(tw, "requests\t%d\n", s.Requests)
	fmt.Fprintf(tw, "secrets issued\t%d\n", s.SecretsIssued)
	if !s.First.IsZero() {
		fmt.Fprintf(tw, "first started\t%s\n", fmtTime(s.First))
	}
	if !s.Last.IsZero() {
		fmt.Fprintf(tw, "last finished\t%s\n", fmtTime(s.Last))
	}
	if keys := s.outcomeKeys(); len(keys) > 0 {
		fmt.Fprintf(tw, "by outcome\t\n")
		for _, o := range keys {
			fmt.Fprintf(tw, "  %s\t%d\n", o, s.ByOutcome[o])
		}
	}
	section := func(title string, m map[string]int) {
		if len(m) == 0 {
			return
		}
		fmt.Fprintf(tw, "%s\t\n", title)
		for _, k := range sortedKeys(m) {
			name := k
			if name == "" {
				name = "(none)"
			}
			fmt.Fprintf(tw, "  %s\t%d\n", name, m[k])
		}
	}
	section("by action", s.ByAction)
	section("by error_code", s.ByCode)
	section("by user_status", s.ByStatus)
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("report: summary: %w", err)
	}
	// A section title is a row with an empty count: drop its padding.
	out := make([]byte, 0, buf.Len())
	for _, line := range bytes.SplitAfter(buf.Bytes(), []byte{'\n'}) {
		if body, ok := bytes.CutSuffix(line, []byte{'\n'}); ok {
			out = append(append(out, bytes.TrimRight(body, " ")...), '\n')
		}
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("report: write summary: %w", err)
	}
	return nil
}

// summaryJSON is the JSON form of a Summary. encoding/json writes map keys
// sorted, so the output is stable.
type summaryJSON struct {
	Total         int            `json:"total"`
	Pending       *int           `json:"pending"`
	Requests      int            `json:"requests"`
	SecretsIssued int            `json:"secrets_issued"`
	First         string         `json:"first_started_at,omitempty"`
	Last          string         `json:"last_finished_at,omitempty"`
	ByOutcome     map[string]int `json:"by_outcome"`
	ByAction      map[string]int `json:"by_action"`
	ByCode        map[string]int `json:"by_error_code"`
	ByStatus      map[string]int `json:"by_user_status"`
}

// MarshalJSON writes the summary as one JSON object with the keys total,
// pending (null when not known), requests, secrets_issued, first_started_at and last_finished_at (RFC 3339
// UTC with milliseconds, left out when zero), by_outcome, by_action,
// by_error_code and by_user_status (objects with sorted keys, {} when empty).
// It never writes a secret.
func (s *Summary) MarshalJSON() ([]byte, error) {
	out := summaryJSON{
		Total:         s.Total,
		Requests:      s.Requests,
		SecretsIssued: s.SecretsIssued,
		First:         fmtTime(s.First),
		Last:          fmtTime(s.Last),
		ByOutcome:     make(map[string]int, len(s.ByOutcome)),
		ByAction:      copyMap(s.ByAction),
		ByCode:        copyMap(s.ByCode),
		ByStatus:      copyMap(s.ByStatus),
	}
	if s.PendingKnown {
		out.Pending = &s.Pending
	}
	for o, n := range s.ByOutcome {
		out.ByOutcome[string(o)] = n
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("report: summary: %w", err)
	}
	return b, nil
}

func copyMap(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
