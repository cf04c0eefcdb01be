package report_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/report"
)

var (
	t0 = time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)
	t1 = t0.Add(1234 * time.Millisecond)
)

// trickyRows covers what a report cell can hold.
func trickyRows() []report.Row {
	return []report.Row{
		// happy: a temp password issued
		{Line: 2, User: "alice@example.com", UserID: "00u1a2b3c4d5e6f7g8h9", Action: "expire_password_with_temp_password",
			Outcome: report.Succeeded, HTTPStatus: 200, OktaRequestID: "req-1", TempPassword: secret.New("Tmp,Pass\"word\n1"),
			UserStatus: "PASSWORD_EXPIRED", Attempts: 1, StartedAt: t0, FinishedAt: t1,
			Login: "alice@example.com", Email: "alice.l@example.com", FirstName: "Alice", LastName: "Liddell"},
		// sad: Okta error with causes, commas, quotes and newlines in the summary
		{Line: 3, User: "bob", Action: "change_password", Outcome: report.Failed, HTTPStatus: 403, ErrorCode: "E0000006",
			ErrorSummary: "You do not have permission, \"really\";\nline two\r\nline three\rend", OktaRequestID: "req-2",
			Attempts: 2, StartedAt: t0, FinishedAt: t1},
		// nothing sent: every optional cell empty, zero times
		{Line: 4, User: "carol", Action: "reset_password", Outcome: report.Skipped},
		// spreadsheet-looking and space-led cells are kept as they are
		{Line: 5, User: "=HYPERLINK(\"x\")", UserID: "+00u", Action: "-forgot_password", Outcome: report.InDoubt,
			ErrorCode: report.CodeTimeout, ErrorSummary: " leading space", OktaRequestID: "\tleading tab", ResetURL: secret.New("@https://example.okta.com/reset?t=a&b=c"),
			Attempts: 3, StartedAt: t0},
		// unicode, escapes and control characters
		{Line: 6, User: "zoë@exämple.com", UserID: "00uZZZZZZZZZZZZZZZZZ", Action: "clear_sessions", Outcome: report.WouldFail, TempPassword: secret.New("cr\ronly\r"),
			ErrorSummary: "emoji 🔑, back\\slash, nul\x00, bell\x07, del\x7f, sep\u2028\u2029, 日本語", Attempts: 1, FinishedAt: t1,
			Login: "zoë@exämple.com", Email: "\"Zoë, Q\" <zoe@example.com>", FirstName: " Zoë", LastName: "O'Brien-Łukasz\n日本"},
		// dry run, large numbers, a quote-only cell
		{Line: 1_000_000, User: `"`, Action: `""`, Outcome: report.WouldSucceed, HTTPStatus: 599, UserStatus: "ACTIVE", Attempts: 1 << 30,
			StartedAt: time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC), FinishedAt: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)},
		// a time in another zone is written in UTC
		{Line: 7, User: "dave", Action: "expire_password", Outcome: report.Succeeded, HTTPStatus: 200,
			StartedAt: t0.In(time.FixedZone("X", -7*3600)), FinishedAt: t1.In(time.FixedZone("Y", 5*3600+1800))},
	}
}

// diffRow returns a description of the first difference, or "".
func diffRow(got, want *report.Row) string {
	pairs := []struct {
		name string
		g, w any
	}{
		{"Line", got.Line, want.Line}, {"User", got.User, want.User}, {"UserID", got.UserID, want.UserID},
		{"Action", got.Action, want.Action}, {"Outcome", got.Outcome, want.Outcome}, {"HTTPStatus", got.HTTPStatus, want.HTTPStatus},
		{"ErrorCode", got.ErrorCode, want.ErrorCode}, {"ErrorSummary", got.ErrorSummary, want.ErrorSummary},
		{"OktaRequestID", got.OktaRequestID, want.OktaRequestID},
		{"TempPassword", got.TempPassword.Reveal(), want.TempPassword.Reveal()}, {"ResetURL", got.ResetURL.Reveal(), want.ResetURL.Reveal()},
		{"UserStatus", got.UserStatus, want.UserStatus}, {"Attempts", got.Attempts, want.Attempts},
		{"Login", got.Login, want.Login}, {"Email", got.Email, want.Email},
		{"FirstName", got.FirstName, want.FirstName}, {"LastName", got.LastName, want.LastName},
	}
	for _, p := range pairs {
		if p.g != p.w {
			return fmt.Sprintf("%s: got %q, want %q", p.name, fmt.Sprint(p.g), fmt.Sprint(p.w))
		}
	}
	if !got.StartedAt.Equal(want.StartedAt) || got.StartedAt.Location() != time.UTC && !got.StartedAt.IsZero() {
		return fmt.Sprintf("StartedAt: got %v, want %v", got.StartedAt, want.StartedAt)
	}
	if !got.FinishedAt.Equal(want.FinishedAt) || got.FinishedAt.Location() != time.UTC && !got.FinishedAt.IsZero() {
		return fmt.Sprintf("FinishedAt: got %v, want %v", got.FinishedAt, want.FinishedAt)
	}
	return ""
}

// csvReadsAs is what a CSV report gives back for rows written: every cell
// as written, but a CR before a LF inside a cell reads as the LF alone
// (encoding/csv's rule).
func csvReadsAs(rows []report.Row) []report.Row {
	out := make([]report.Row, len(rows))
	for i, r := range rows {
		n := func(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }
		r.User, r.UserID, r.Action, r.ErrorCode, r.ErrorSummary = n(r.User), n(r.UserID), n(r.Action), n(r.ErrorCode), n(r.ErrorSummary)
		r.OktaRequestID, r.UserStatus = n(r.OktaRequestID), n(r.UserStatus)
		r.Login, r.Email, r.FirstName, r.LastName = n(r.Login), n(r.Email), n(r.FirstName), n(r.LastName)
		r.TempPassword, r.ResetURL = secret.New(n(r.TempPassword.Reveal())), secret.New(n(r.ResetURL.Reveal()))
		out[i] = r
	}
	return out
}

func encode(t testing.TB, f report.Format, rows []report.Row) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := report.NewWriter(&buf, f)
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if err := w.Write(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decode(t testing.TB, f report.Format, data []byte) []report.Row {
	t.Helper()
	var rows []report.Row
	if err := report.Read(bytes.NewReader(data), f, func(r *report.Row) error {
		rows = append(rows, *r)
		return nil
	}); err != nil {
		t.Fatalf("Read: %v", err)
	}
	return rows
}

func TestRoundTrip(t *testing.T) {
	for _, f := range []report.Format{report.CSV, report.JSONL} {
		t.Run(f.String(), func(t *testing.T) {
			want := trickyRows()
			data := encode(t, f, want)
			got := decode(t, f, data)
			if f == report.CSV {
				want = csvReadsAs(want)
				data = encode(t, f, want)
			}
			if len(got) != len(want) {
				t.Fatalf("read %d rows, want %d", len(got), len(want))
			}
			for i := range want {
				if d := diffRow(&got[i], &want[i]); d != "" {
					t.Errorf("row %d: %s", i, d)
				}
			}
			// Reading then writing again gives the same bytes.
			if again := encode(t, f, got); !bytes.Equal(again, data) {
				t.Errorf("re-encoded report differs:\n%s\nwant:\n%s", again, data)
			}
			// One line per row (plus the CSV header), outside quoted cells.
			if f == report.JSONL {
				if n := bytes.Count(data, []byte{'\n'}); n != len(want) {
					t.Errorf("JSONL has %d lines, want %d", n, len(want))
				}
			}
		})
	}
}

// TestAppendRowExact pins the encoding of SPEC.md "Report".
func TestAppendRowExact(t *testing.T) {
	rows := trickyRows()
	tests := []struct {
		row        report.Row
		csv, jsonl string
	}{
		{rows[0],
			"2,alice@example.com,00u1a2b3c4d5e6f7g8h9,expire_password_with_temp_password,succeeded,200,,,req-1,\"Tmp,Pass\"\"word\n1\",,PASSWORD_EXPIRED,1,2025-03-14T15:09:26.535Z,2025-03-14T15:09:27.769Z,alice@example.com,alice.l@example.com,Alice,Liddell\n",
			`{"line":2,"user":"alice@example.com","user_id":"00u1a2b3c4d5e6f7g8h9","action":"expire_password_with_temp_password","outcome":"succeeded","http_status":200,"okta_request_id":"req-1","temp_password":"Tmp,Pass\"word\n1","user_status":"PASSWORD_EXPIRED","attempts":1,"started_at":"2025-03-14T15:09:26.535Z","finished_at":"2025-03-14T15:09:27.769Z","login":"alice@example.com","email":"alice.l@example.com","first_name":"Alice","last_name":"Liddell"}` + "\n"},
		{rows[2], "4,carol,,reset_password,skipped,,,,,,,,,,,,,,\n", `{"line":4,"user":"carol","action":"reset_password","outcome":"skipped"}` + "\n"},
		{rows[3],
			"5,\"=HYPERLINK(\"\"x\"\")\",+00u,-forgot_password,in_doubt,,CB_TIMEOUT,\" leading space\",\"\tleading tab\",,@https://example.okta.com/reset?t=a&b=c,,3,2025-03-14T15:09:26.535Z,,,,,\n",
			`{"line":5,"user":"=HYPERLINK(\"x\")","user_id":"+00u","action":"-forgot_password","outcome":"in_doubt","error_code":"CB_TIMEOUT","error_summary":" leading space","okta_request_id":"\tleading tab","reset_url":"@https://example.okta.com/reset?t=a&b=c","attempts":3,"started_at":"2025-03-14T15:09:26.535Z"}` + "\n"},
		{report.Row{Line: 8, Outcome: report.Failed, ErrorSummary: "a\x01\u2028\xffz"},
			"8,,,,failed,,,a\x01\u2028\xffz,,,,,,,,,,,\n",
			`{"line":8,"outcome":"failed","error_summary":"a\u0001\u2028\ufffdz"}` + "\n"},
		{rows[6], "7,dave,,expire_password,succeeded,200,,,,,,,,2025-03-14T15:09:26.535Z,2025-03-14T15:09:27.769Z,,,,\n", ""},
		{rows[4],
			"6,zoë@exämple.com,00uZZZZZZZZZZZZZZZZZ,clear_sessions,would_fail,,,\"emoji 🔑, back\\slash, nul\x00, bell\x07, del\x7f, sep\u2028\u2029, 日本語\",,\"cr\ronly\r\",,,1,,2025-03-14T15:09:27.769Z,zoë@exämple.com,\"\"\"Zoë, Q\"\" <zoe@example.com>\",\" Zoë\",\"O'Brien-Łukasz\n日本\"\n",
			`{"line":6,"user":"zoë@exämple.com","user_id":"00uZZZZZZZZZZZZZZZZZ","action":"clear_sessions","outcome":"would_fail","error_summary":"emoji 🔑, back\\slash, nul\u0000, bell\u0007, del` + "\x7f" + `, sep\u2028\u2029, 日本語","temp_password":"cr\ronly\r","attempts":1,"finished_at":"2025-03-14T15:09:27.769Z","login":"zoë@exämple.com","email":"\"Zoë, Q\" <zoe@example.com>","first_name":" Zoë","last_name":"O'Brien-Łukasz\n日本"}` + "\n"},
	}
	for i, tt := range tests {
		if got := string(report.AppendRow(nil, &tt.row, report.CSV)); got != tt.csv {
			t.Errorf("%d: CSV\n got %q\nwant %q", i, got, tt.csv)
		}
		if tt.jsonl == "" {
			continue
		}
		if got := string(report.AppendRow([]byte("keep:"), &tt.row, report.JSONL)); got != "keep:"+tt.jsonl {
			t.Errorf("%d: JSONL\n got %q\nwant %q", i, got, "keep:"+tt.jsonl)
		}
	}
	if got := string(report.AppendHeader(nil, report.CSV)); got != strings.Join(report.Columns, ",")+"\n" {
		t.Errorf("CSV header %q", got)
	}
	if got := report.AppendHeader(nil, report.JSONL); got != nil {
		t.Errorf("JSONL header %q, want nil", got)
	}
}

func TestInvalidUTF8JSONL(t *testing.T) {
	row := report.Row{Line: 1, Outcome: report.Failed, User: "a\xffb"}
	got := decode(t, report.JSONL, report.AppendRow(nil, &row, report.JSONL))
	if len(got) != 1 || got[0].User != "a\uFFFDb" {
		t.Fatalf("got %+v", got)
	}
	// CSV keeps the bytes.
	got = decode(t, report.CSV, append(report.AppendHeader(nil, report.CSV), report.AppendRow(nil, &row, report.CSV)...))
	if len(got) != 1 || got[0].User != "a\xffb" {
		t.Fatalf("got %+v", got)
	}
}

func TestParseOutcome(t *testing.T) {
	for _, o := range report.Outcomes {
		got, err := report.ParseOutcome(string(o))
		if err != nil || got != o {
			t.Errorf("ParseOutcome(%q) = %q, %v", o, got, err)
		}
	}
	for _, s := range []string{"", "Succeeded", "success", "in-doubt", " failed"} {
		if _, err := report.ParseOutcome(s); !errors.Is(err, report.ErrUnknownOutcome) {
			t.Errorf("ParseOutcome(%q): err %v, want ErrUnknownOutcome", s, err)
		}
	}
}

func TestFormatOf(t *testing.T) {
	tests := []struct {
		path string
		want report.Format
	}{
		{"a.csv", report.CSV}, {"dir.x/a.report.CSV", report.CSV}, {"a.jsonl", report.JSONL}, {"/x/A.JSONL", report.JSONL},
		{"a.json", 0}, {"a.csv.bak", 0}, {"csv", 0}, {"", 0},
	}
	for _, tt := range tests {
		got, err := report.FormatOf(tt.path)
		if got != tt.want || (tt.want == 0) != errors.Is(err, report.ErrFormat) {
			t.Errorf("FormatOf(%q) = %v, %v", tt.path, got, err)
		}
	}
}

func TestReadErrors(t *testing.T) {
	const h = "line,user,user_id,action,outcome,http_status,error_code,error_summary,okta_request_id,temp_password,reset_url,user_status,attempts,started_at,finished_at\n"
	const good = "2,u,,a,failed,,,,,,,,,,\n"
	tests := []struct {
		name   string
		f      report.Format
		in     string
		line   int
		column string
		torn   bool
	}{
		{"csv empty", report.CSV, "", 1, "", true},
		{"csv wrong header", report.CSV, "line,user\n" + good, 1, "", false},
		{"csv header renamed", report.CSV, strings.Replace(h, "attempts", "tries", 1) + good, 1, "", false},
		{"csv too few cells", report.CSV, h + good + "3,u,,a,failed\n", 3, "", false},
		{"csv too many cells", report.CSV, h + "3,u,,a,failed,,,,,,,,,,,\n", 2, "", false},
		{"csv bad line number", report.CSV, h + "x,u,,a,failed,,,,,,,,,,\n", 2, "line", false},
		{"csv empty line number", report.CSV, h + ",u,,a,failed,,,,,,,,,,\n", 2, "line", false},
		{"csv bad outcome", report.CSV, h + good + good + "4,u,,a,SECRETVALUE,,,,,,,,,,\n", 4, "outcome", false},
		{"csv bad status", report.CSV, h + "2,u,,a,failed,-1,,,,,,,,,\n", 2, "http_status", false},
		{"csv bad attempts", report.CSV, h + "2,u,,a,failed,,,,,,,,1e3,,\n", 2, "attempts", false},
		{"csv bad started_at", report.CSV, h + "2,u,,a,failed,,,,,,,,,2025-03-14T15:09:26Z,\n", 2, "started_at", false},
		{"csv bad finished_at", report.CSV, h + "2,u,,a,failed,,,,,,,,,,yesterday\n", 2, "finished_at", false},
		{"csv stray quote", report.CSV, h + "2,u\"SECRETVALUE,,a,failed,,,,,,,,,,\n", 2, "user", false},
		{"csv text after quote", report.CSV, h + "2,\"u\"SECRETVALUE,,a,failed,,,,,,,,,,\n", 2, "user", false},
		{"csv blank line", report.CSV, h + good + "\n", 3, "", false},
		{"csv blank line between rows", report.CSV, h + good + "\r\n" + good, 3, "", false},
		{"csv blank line before the header", report.CSV, "\n" + h + good, 1, "", false},
		{"csv blank line after a multi-line cell", report.CSV, h + "2,u,,a,failed,,,\"x\ny\",,,,,,,\n\n" + good, 4, "", false},
		{"csv quote left open at a line end", report.CSV, h + good + "3,u,,a,failed,,,\"SECRETVALUE\n", 3, "", true},
		{"csv text after quote, then a row", report.CSV, h + "2,\"u\"SECRETVALUE,,a,failed,,,,,,,,,,\n" + good, 2, "user", false},
		{"csv no final newline", report.CSV, h + good + "3,u,,a,failed,,,,,,,,,,", 3, "", true},
		{"csv unterminated quote", report.CSV, h + good + "3,u,,a,failed,,,\"SECRET\nVALUE,,,,,,,\n", 3, "", true},
		{"csv multiline then bad", report.CSV, h + "2,u,,a,failed,,,\"x\ny\nz\",,,,,,,\n" + "3,u,,a,nope,,,,,,,,,,\n", 5, "outcome", false},
		{"jsonl blank line", report.JSONL, `{"line":1,"outcome":"failed"}` + "\n\n", 2, "", false},
		{"jsonl not json", report.JSONL, `{"line":1,"outcome":"failed"}` + "\nSECRETVALUE\n", 2, "", false},
		{"jsonl unknown key", report.JSONL, `{"line":1,"outcome":"failed","SECRETVALUE":1}` + "\n", 1, "", false},
		{"jsonl missing line", report.JSONL, `{"outcome":"failed"}` + "\n", 1, "line", false},
		{"jsonl line not number", report.JSONL, `{"line":"1","outcome":"failed"}` + "\n", 1, "line", false},
		{"jsonl missing outcome", report.JSONL, `{"line":1}` + "\n", 1, "outcome", false},
		{"jsonl bad outcome", report.JSONL, `{"line":1,"outcome":"SECRETVALUE"}` + "\n", 1, "outcome", false},
		{"jsonl wrong type", report.JSONL, `{"line":1,"outcome":"failed","temp_password":["SECRETVALUE"]}` + "\n", 1, "temp_password", false},
		{"jsonl negative attempts", report.JSONL, `{"line":1,"outcome":"failed","attempts":-2}` + "\n", 1, "attempts", false},
		{"jsonl bad time", report.JSONL, `{"line":1,"outcome":"failed","started_at":"SECRETVALUE"}` + "\n", 1, "started_at", false},
		{"jsonl two values", report.JSONL, `{"line":1,"outcome":"failed"} {}` + "\n", 1, "", false},
		{"jsonl array", report.JSONL, `[1]` + "\n", 1, "", false},
		{"jsonl no final newline", report.JSONL, `{"line":1,"outcome":"failed"}` + "\n" + `{"line":2,"outcome":"failed"}`, 2, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := 0
			err := report.Read(strings.NewReader(tt.in), tt.f, func(*report.Row) error { rows++; return nil })
			var le *report.LineError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want a *LineError", err)
			}
			if le.Line != tt.line || le.Column != tt.column {
				t.Errorf("line %d column %q, want line %d column %q (%v)", le.Line, le.Column, tt.line, tt.column, err)
			}
			if errors.Is(err, report.ErrTorn) != tt.torn || errors.Is(err, report.ErrMalformed) == tt.torn {
				t.Errorf("torn %v, want %v: %v", errors.Is(err, report.ErrTorn), tt.torn, err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("line %d", tt.line)) {
				t.Errorf("error %q does not name line %d", err, tt.line)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error %q echoes a cell", err)
			}
		})
	}
}

func TestReadAccepts(t *testing.T) {
	// CRLF line ends (a report saved by another tool) and JSON nulls.
	in := strings.ReplaceAll(string(report.AppendHeader(nil, report.CSV))+"2,u,,a,failed,,,\"x\r\ny\",,,,,,,,,,,\n", "\n", "\r\n")
	rows := decode(t, report.CSV, []byte(in))
	if len(rows) != 1 || rows[0].ErrorSummary != "x\r\ny" || rows[0].Line != 2 {
		t.Errorf("CRLF: got %+v", rows)
	}
	// A CR inside a cell is kept, but before a LF (encoding/csv's rule).
	in = string(report.AppendHeader(nil, report.CSV)) + "2,u\rv,,a,failed,,,\"x\r\ny\rz\r\",,,,,,,,,,,\n"
	rows = decode(t, report.CSV, []byte(in))
	if len(rows) != 1 || rows[0].User != "u\rv" || rows[0].ErrorSummary != "x\ny\rz\r" {
		t.Errorf("CR: got %q, %q", rows[0].User, rows[0].ErrorSummary)
	}
	rows = decode(t, report.JSONL, []byte(`{"line":3,"outcome":"skipped","user":null}`+"\r\n"))
	if len(rows) != 1 || rows[0].Line != 3 || rows[0].Outcome != report.Skipped {
		t.Errorf("JSONL: got %+v", rows)
	}
	if rows := decode(t, report.JSONL, nil); len(rows) != 0 {
		t.Errorf("empty JSONL: %d rows", len(rows))
	}
	if rows := decode(t, report.CSV, report.AppendHeader(nil, report.CSV)); len(rows) != 0 {
		t.Errorf("header-only CSV: %d rows", len(rows))
	}
}

// JSONL rows are read by key, in any order and with any spacing, as
// encoding/json reads them.
func TestReadJSONLKeyOrder(t *testing.T) {
	want := trickyRows()[:2]
	in := `{ "last_name": "Liddell", "first_name": "Alice", "email": "alice.l@example.com", "login": "alice@example.com", "finished_at" : "2025-03-14T15:09:27.769Z", "outcome" : "succeeded", "temp_password": "Tmp,Pass\"word\n1", "user_status": "PASSWORD_EXPIRED", "attempts": 1, "started_at": "2025-03-14T15:09:26.535Z", "http_status": 200, "okta_request_id": "req-1", "action": "expire_password_with_temp_password", "user_id": "00u1a2b3c4d5e6f7g8h9", "user": "alice@example.com", "line" : 2 }` + "\n" +
		string(report.AppendRow(nil, &want[1], report.JSONL))
	got := decode(t, report.JSONL, []byte(in))
	if len(got) != len(want) {
		t.Fatalf("%d rows", len(got))
	}
	for i := range want {
		if d := diffRow(&got[i], &want[i]); d != "" {
			t.Errorf("row %d: %s", i, d)
		}
	}
	// Repair checks such lines too, and still cuts a torn tail after them.
	path := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(path, []byte(in+`{"outcome":"failed","line":`), 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err := report.Repair(path); n != 2 || err != nil {
		t.Errorf("Repair = %d, %v; want 2 rows", n, err)
	}
	if b, _ := os.ReadFile(path); string(b) != in {
		t.Errorf("Repair left %q", b)
	}
}

func TestReadStopsOnCallbackError(t *testing.T) {
	stop := errors.New("stop")
	data := encode(t, report.CSV, trickyRows())
	n := 0
	err := report.Read(bytes.NewReader(data), report.CSV, func(*report.Row) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Fatalf("err %v after %d rows, want stop after 2", err, n)
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	for _, ext := range []string{"csv", "jsonl"} {
		f, _ := report.FormatOf("x." + ext)
		path := filepath.Join(dir, "r."+ext)
		if err := os.WriteFile(path, encode(t, f, trickyRows()), 0o600); err != nil {
			t.Fatal(err)
		}
		n := 0
		if err := report.ReadFile(path, func(*report.Row) error { n++; return nil }); err != nil || n != len(trickyRows()) {
			t.Errorf("%s: %d rows, %v", ext, n, err)
		}
	}
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{\"line\":1,\"outcome\":\"failed\"}\nnope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := report.ReadFile(bad, func(*report.Row) error { return nil })
	if !errors.Is(err, report.ErrMalformed) || !strings.Contains(err.Error(), bad+": line 2") {
		t.Errorf("err = %v", err)
	}
	if err := report.ReadFile(filepath.Join(dir, "missing.csv"), nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	if err := report.ReadFile(filepath.Join(dir, "r.txt"), nil); !errors.Is(err, report.ErrFormat) {
		t.Errorf("txt: %v", err)
	}
}

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	// A umask that would take the owner's write bit: Create still makes 0600.
	old := syscall.Umask(0o277)
	path := filepath.Join(dir, "r.csv")
	f, err := report.Create(path)
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	w := report.NewWriter(f, report.CSV)
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}

	// An existing file is refused and left as it was.
	_, err = report.Create(path)
	if !errors.Is(err, report.ErrExists) || !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Create: %v, want ErrExists", err)
	}
	if got, _ := os.ReadFile(path); string(got) != strings.Join(report.Columns, ",")+"\n" {
		t.Errorf("existing report changed: %q", got)
	}
	// So is a dangling symlink (O_EXCL does not follow it).
	link := filepath.Join(dir, "link.csv")
	if err := os.Symlink(filepath.Join(dir, "target.csv"), link); err != nil {
		t.Fatal(err)
	}
	if _, err := report.Create(link); !errors.Is(err, report.ErrExists) {
		t.Errorf("symlink: %v, want ErrExists", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "target.csv")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("symlink target created: %v", err)
	}
	// A missing directory is an error, not ErrExists.
	if _, err := report.Create(filepath.Join(dir, "nope", "r.csv")); err == nil || errors.Is(err, report.ErrExists) {
		t.Errorf("missing dir: %v", err)
	}
}
