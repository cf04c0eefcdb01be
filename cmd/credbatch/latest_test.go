package main

// Tests of `credbatch report R1 [R2 …] --latest OUT`'s rule (latest.go), on
// reports written here with the outcomes a real run cannot be made to give
// on demand (a temp password issued, then a later attempt lost). The
// end-to-end run against the emulator is testdata/script/report_latest.txtar.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

const ltOrg = "https://acme.okta.com"

// ltRun writes a run's manifest (when given), report and checkpoint in dir.
func ltRun(t *testing.T, dir, name, manifest string, rows []*report.Row, org string, dry bool) string {
	t.Helper()
	mp := filepath.Join(dir, name+".csv")
	if manifest == "" {
		manifest = "user,action\n"
	}
	if err := os.WriteFile(mp, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	sha, size, err := (&jobs.Manifest{Path: mp, Format: jobs.CSV}).Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	rp := filepath.Join(dir, name+".report.csv")
	f, err := report.Create(rp)
	if err != nil {
		t.Fatal(err)
	}
	writeReportRows(t, f, rows)
	j, err := checkpoint.Create(rp+".checkpoint", checkpoint.Header{OrgURL: org, ManifestPath: mp, ManifestSHA256: sha,
		ManifestSize: size, Rows: strings.Count(manifest, "\n") - 1, DryRun: dry, ReportPath: rp, ReportFormat: "csv"})
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	return rp
}

var ltT0 = time.Date(2026, 5, 1, 3, 0, 0, 0, time.UTC)

func ltRow(line int, user, id, action string, o report.Outcome, status int, code string, min int) *report.Row {
	return &report.Row{Line: line, User: user, UserID: id, Action: action, Outcome: o, HTTPStatus: status, ErrorCode: code,
		Attempts: 1, StartedAt: ltT0.Add(time.Duration(min) * time.Minute), FinishedAt: ltT0.Add(time.Duration(min)*time.Minute + time.Second)}
}

func withSecret(r *report.Row, temp, link string) *report.Row {
	r.TempPassword, r.ResetURL = secret.New(temp), secret.New(link)
	return r
}

// ltLatest runs report --latest and returns the rows of OUT by line (extra
// rows, line 0, by user), stdout+stderr and the exit code.
func ltLatest(t *testing.T, dir string, args ...string) (map[string]*report.Row, string, int) {
	t.Helper()
	out := filepath.Join(dir, "latest.csv")
	e, o, errb := rcEnv(nil)
	err := execute(e, append(append([]string{"report"}, args...), "--latest", out))
	rows := map[string]*report.Row{}
	if _, serr := os.Stat(out); serr == nil {
		rcMode(t, out, 0o600)
		if err := report.ReadFile(out, func(r *report.Row) error {
			k := r.User
			if r.Line != 0 {
				k = string(rune('0' + r.Line))
			}
			rows[k] = r
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		os.Remove(out)
	}
	text := o.String() + errb.String()
	if err != nil {
		text += "error: " + err.Error() + "\n"
	}
	return rows, text, exitCode(err)
}

const ltManifest = "user,action,send_email\n" +
	"ana.lopez@example.com,expire_password_with_temp_password,\n" + // 2
	"ben.okafor@example.com,reset_password,false\n" + // 3
	"chen.wei@example.com,expire_password_with_temp_password,\n" + // 4
	"dana.kim@example.com,forgot_password,\n" + // 5
	"eli.moss@example.com,reset_password,false\n" + // 6
	"fay.ng@example.com,change_password,\n" + // 7 (no passwords: read with Each, never run)
	"gus.hale@example.com,expire_password,\n" // 8

func TestLatestRule(t *testing.T) {
	// change_password without its passwords does not validate: use a
	// manifest whose rows all do
	manifest := strings.Replace(ltManifest, "fay.ng@example.com,change_password,\n", "fay.ng@example.com,clear_sessions,\n", 1)
	// eli by ID in R1, by login in R2: only the user_id links them
	manifest = strings.Replace(manifest, "eli.moss@example.com,reset_password,false", "00ueli0000000000000e,reset_password,false", 1)
	dir := t.TempDir()
	const (
		ana, ben, chen, dana, eli, fay, gus = "00uana0000000000000a", "00uben0000000000000b", "00uchen000000000000c", "00udana000000000000d", "00ueli0000000000000e", "00ufay0000000000000f", "00ugus0000000000000g"
	)
	r1 := ltRun(t, dir, "r1", manifest, []*report.Row{
		withSecret(ltRow(2, "ana.lopez@example.com", ana, "expire_password_with_temp_password", report.Succeeded, 200, "", 0), "TEMP-ANA-1", ""),
		withSecret(ltRow(3, "ben.okafor@example.com", ben, "reset_password", report.Succeeded, 200, "", 0), "", "https://x/LINK-BEN-1"),
		withSecret(ltRow(4, "chen.wei@example.com", chen, "expire_password_with_temp_password", report.Succeeded, 200, "", 0), "TEMP-CHEN-1", ""),
		withSecret(ltRow(5, "dana.kim@example.com", dana, "forgot_password", report.Succeeded, 200, "", 0), "", "https://x/LINK-DANA-1"),
		ltRow(6, eli, eli, "reset_password", report.InDoubt, 0, report.CodeTimeout, 0),
		ltRow(7, "fay.ng@example.com", fay, "clear_sessions", report.Succeeded, 204, "", 0),
		// gus (line 8) pending in R1, and nowhere else
	}, ltOrg, false)
	r1rows := readAll(t, r1)
	r1rows[0].Login, r1rows[0].Email, r1rows[0].FirstName, r1rows[0].LastName = "ana.lopez@example.com", "ana@example.com", "Ana", "López"
	rewrite(t, r1, r1rows)
	r2 := ltRun(t, dir, "r2", "", []*report.Row{
		// ana by ID: a newer temp password, then chen's rerun is lost
		withSecret(ltRow(2, ana, ana, "expire_password_with_temp_password", report.Succeeded, 200, "", 10), "TEMP-ANA-2", ""),
		ltRow(3, "CHEN.WEI@example.com", chen, "expire_password_with_temp_password", report.InDoubt, 0, report.CodeNetwork, 10),
		// ben's rerun refused (a 4xx): his link stands
		ltRow(4, "ben.okafor@example.com", ben, "reset_password", report.Failed, 403, "E0000006", 10),
		// dana's newest link was emailed
		ltRow(5, "dana.kim@example.com", dana, "forgot_password", report.Succeeded, 200, "", 10),
		// eli's lost again, with a 5xx
		ltRow(6, "eli.moss@example.com", eli, "reset_password", report.Failed, 503, "E0000009", 10),
		// fay's sessions: failed now, succeeded before
		ltRow(7, "fay.ng@example.com", fay, "clear_sessions", report.Failed, 0, report.CodeNetwork, 10),
		// a row R1 does not have
		ltRow(8, "hana.ito@example.com", "00uhana000000000000h", "expire_password", report.Succeeded, 200, "", 10),
	}, ltOrg, false)
	r3 := ltRun(t, dir, "r3", "", []*report.Row{
		// the same instant as r2's: the later report wins the tie
		withSecret(ltRow(2, "ana.lopez@example.com", ana, "expire_password_with_temp_password", report.Succeeded, 200, "", 10), "TEMP-ANA-3", ""),
		// hana again, by another spelling: the same extra row
		ltRow(3, "Hana.Ito@example.com", "00uhana000000000000h", "expire_password", report.Failed, 403, "E0000006", 20),
		// fay's sessions in a report given last, but finished before r2's
		// attempt: r2's stays the newest
		ltRow(4, "fay.ng@example.com", fay, "clear_sessions", report.Succeeded, 204, "", 5),
	}, ltOrg, false)

	rows, out, code := ltLatest(t, dir, r1, r2, r3)
	if code != exitFailures {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	for _, s := range []string{"TEMP-", "LINK-"} {
		if strings.Contains(out, s) {
			t.Errorf("the output holds a secret:\n%s", out)
		}
	}
	check := func(k string, outcome report.Outcome, temp, link, source, note string) *report.Row {
		t.Helper()
		r := rows[k]
		if r == nil {
			t.Errorf("%s: no row", k)
			return &report.Row{}
		}
		if r.Outcome != outcome || r.TempPassword.Reveal() != temp || r.ResetURL.Reveal() != link || filepath.Base(r.Source) != source {
			t.Errorf("%s: %s temp %q link %q source %s; want %s %q %q %s", k, r.Outcome, r.TempPassword.Reveal(), r.ResetURL.Reveal(), r.Source, outcome, temp, link, source)
		}
		if !strings.Contains(r.Note, note) || (note == "" && r.Note != "") {
			t.Errorf("%s: note %q, want %q", k, r.Note, note)
		}
		return r
	}
	a := check("2", report.Succeeded, "TEMP-ANA-3", "", "r3.report.csv", "")
	if a.Login != "ana.lopez@example.com" || a.Email != "ana@example.com" || a.FirstName != "Ana" || a.LastName != "López" || a.UserID != ana {
		t.Errorf("ana's names are not carried from R1: %q %q %q %q %q", a.UserID, a.Login, a.Email, a.FirstName, a.LastName)
	}
	check("3", report.Failed, "", "https://x/LINK-BEN-1", "r2.report.csv", "the later attempt ("+r2+" line 4: failed E0000006) issued none: it still stands")
	check("3", report.Failed, "", "https://x/LINK-BEN-1", "r2.report.csv", "the secret is from "+r1+" line 3, finished 2026-05-01T03:00:01.000Z")
	check("4", report.InDoubt, "TEMP-CHEN-1", "", "r2.report.csv", "a later attempt ("+r2+" line 3: in_doubt CB_NETWORK) may have issued a newer one, so this one may no longer work: run it again to issue a new one")
	check("5", report.Succeeded, "", "", "r2.report.csv", "the newest link was emailed to the user ("+r2+" line 5)")
	check("6", report.Failed, "", "", "r2.report.csv", report.ReasonSecretLost)
	check("7", report.Failed, "", "", "r2.report.csv", "succeeded earlier ("+r3+" line 4, finished 2026-05-01T03:05:01.000Z)")
	check("Hana.Ito@example.com", report.Failed, "", "", "r3.report.csv", "not in "+r1+": first in "+r2+" line 8; succeeded earlier ("+r2+" line 8")
	if rows["8"] != nil || len(rows) != 7 {
		t.Errorf("%d rows (gus's, pending everywhere, must be in none)", len(rows))
	}
	for _, l := range []string{
		"wrote " + filepath.Join(dir, "latest.csv") + ": 7 rows (the newest outcome from " + r1 + " 0, " + r2 + " 5, " + r3 + " 2)",
		"secrets in it: 2 temporary passwords, 1 reset link (never printed)",
		"1 row of the reruns matches no row of " + r1 + ": after its rows",
		"warning: 1 row holds a secret that may no longer work (a later attempt may have issued a newer one): see the note; run it again",
		"warning: 1 row of " + r1 + " finished in no report (line 8)",
	} {
		if !strings.Contains(out, l) {
			t.Errorf("output lacks %q:\n%s", l, out)
		}
	}
	// the rows are in R1's manifest order, the extra one last
	var lines []int
	e, _, _ := rcEnv(nil)
	outPath := filepath.Join(dir, "order.csv")
	execute(e, []string{"report", r1, r2, r3, "--latest", outPath})
	report.ReadFile(outPath, func(r *report.Row) error { lines = append(lines, r.Line); return nil })
	if want := []int{2, 3, 4, 5, 6, 7, 0}; !slicesEqualInt(lines, want) {
		t.Errorf("lines %v, want %v", lines, want)
	}
}

// TestLatestMatchesLoginsIgnoringCase: R1 named a user by login and never
// learnt the ID (the lookup was lost); the rerun, from --failed-manifest,
// names the login in another case and finished it. Logins are not
// case-sensitive in Okta, so the rerun's row is R1's row, not an extra one.
// It fails when a login key keeps its case.
func TestLatestMatchesLoginsIgnoringCase(t *testing.T) {
	dir := t.TempDir()
	const ivy = "00uivy0000000000000i"
	manifest := "user,action\nIvy.Quinn@Example.com,expire_password_with_temp_password\n"
	r1 := ltRun(t, dir, "r1", manifest, []*report.Row{
		ltRow(2, "Ivy.Quinn@Example.com", "", "expire_password_with_temp_password", report.Failed, 0, report.CodeNetwork, 0),
	}, ltOrg, false)
	r2 := ltRun(t, dir, "r2", "", []*report.Row{
		withSecret(ltRow(2, "IVY.QUINN@example.com", ivy, "expire_password_with_temp_password", report.Succeeded, 200, "", 10), "TEMP-IVY-2", ""),
	}, ltOrg, false)
	rows, out, code := ltLatest(t, dir, r1, r2)
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	r := rows["2"]
	if len(rows) != 1 || r == nil || r.Outcome != report.Succeeded || r.TempPassword.Reveal() != "TEMP-IVY-2" || r.UserID != ivy {
		t.Errorf("%d rows, line 2 %+v; want one row, line 2, succeeded with r2's temp password", len(rows), r)
	}
}

func slicesEqualInt(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func readAll(t *testing.T, path string) []*report.Row {
	t.Helper()
	var rows []*report.Row
	if err := report.ReadFile(path, func(r *report.Row) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return rows
}

func rewrite(t *testing.T, path string, rows []*report.Row) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	writeReportRows(t, f, rows)
}

// writeReportRows writes a CSV report's header and rows to f and closes it.
func writeReportRows(t *testing.T, f *os.File, rows []*report.Row) {
	t.Helper()
	w := report.NewWriter(f, report.CSV)
	w.WriteHeader()
	for _, r := range rows {
		w.Write(r)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// What --latest refuses, creating nothing: reports of different orgs, a dry
// run, a report without its checkpoint, R1's manifest changed since.
func TestLatestRefusals(t *testing.T) {
	rows := []*report.Row{withSecret(ltRow(2, "ana.lopez@example.com", "00uana0000000000000a", "expire_password_with_temp_password", report.Succeeded, 200, "", 0), "TEMP-ANA-1", "")}
	manifest := "user,action\nana.lopez@example.com,expire_password_with_temp_password\n"
	for _, tc := range []struct {
		name  string
		setup func(dir string) []string
		want  string
	}{
		{"different orgs", func(dir string) []string {
			return []string{ltRun(t, dir, "r1", manifest, rows, ltOrg, false), ltRun(t, dir, "r2", "", rows, "https://other.okta.com", false)}
		}, "the reports are of different orgs: "},
		{"a dry run", func(dir string) []string {
			return []string{ltRun(t, dir, "r1", manifest, rows, ltOrg, false), ltRun(t, dir, "r2", "", rows, ltOrg, true)}
		}, "r2.report.csv is a dry run's report: it issued nothing"},
		{"no checkpoint", func(dir string) []string {
			r2 := ltRun(t, dir, "r2", "", rows, ltOrg, false)
			os.Remove(r2 + ".checkpoint")
			return []string{ltRun(t, dir, "r1", manifest, rows, ltOrg, false), r2}
		}, "--latest needs the checkpoint of every report (it names the run's org), and " + "DIR/r2.report.csv has none"},
		{"R1's manifest changed", func(dir string) []string {
			r1 := ltRun(t, dir, "r1", manifest, rows, ltOrg, false)
			os.WriteFile(filepath.Join(dir, "r1.csv"), []byte(manifest+"ben.okafor@example.com,expire_password\n"), 0o600)
			return []string{r1, ltRun(t, dir, "r2", "", rows, ltOrg, false)}
		}, "the manifest changed since the run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := tc.setup(dir)
			_, out, code := ltLatest(t, dir, args...)
			if code != exitUsage {
				t.Errorf("exit %d, want 2:\n%s", code, out)
			}
			if want := strings.ReplaceAll(tc.want, "DIR", dir); !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
			if strings.Contains(tc.name, "orgs") && (!strings.Contains(out, "is of "+ltOrg) || !strings.Contains(out, "is of https://other.okta.com")) {
				t.Errorf("the refusal does not name each report's org:\n%s", out)
			}
			if _, err := os.Stat(filepath.Join(dir, "latest.csv")); err == nil {
				t.Errorf("latest.csv written despite the refusal")
			}
			if strings.Contains(out, "TEMP-ANA") {
				t.Errorf("a secret in the output")
			}
		})
	}
}
