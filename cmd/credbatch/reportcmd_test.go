package main

// Tests of `credbatch report` (summary text and JSON, --failed-manifest,
// --clean-manifest) and of run's --summary-json, calling execute directly
// with files in t.TempDir and, where a run is needed, an emulator on
// 127.0.0.1. Golden files live in testdata/golden; `go test -run
// 'Golden' -update` rewrites them.

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
	"github.com/credbatch/credbatch/runner/checkpoint"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of testdata/golden")

// testEnv is an env whose output goes to buffers and whose environment
// holds only vars.
func rcEnv(vars map[string]string) (*env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &env{
		stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
		getenv:     func(k string) string { return vars[k] },
		isTerminal: func() bool { return false },
		feed:       context.Background(), hard: context.Background(),
	}, &out, &errb
}

// golden compares got with testdata/golden/NAME, or rewrites it with -update.
func rcGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// The manifest passwords below must never reach the output.
const (
	pwOld = "Old-Secret-Pw-41!"
	pwNew = "New-Secret-Pw-42!"
)

// fixtureCSV has rows on lines 2-11, a blank line before line 5, and a
// quoted cell spanning two lines (the row on line 9, which ends on 10).
var fixtureCSV = "user,action,old_password,new_password\r\n" +
	"00udemo0000000000001,expire_password,,\r\n" + // 2 succeeded
	"00udemo0000000000002,expire_password,,\r\n" + // 3 failed 429
	"\r\n" +
	"00udemo0000000000003,clear_sessions,,\r\n" + // 5 failed 503
	"00udemo0000000000004,expire_password,,\r\n" + // 6 failed CB_NETWORK
	"00udemo0000000000005,expire_password,,\r\n" + // 7 failed 409 E0000112
	"ana.lopez@example.com,change_password," + pwOld + "," + pwNew + "\r\n" + // 8 failed 403 E0000014
	"\"ben.okafor@example.com\",\"change_password\",\"" + pwOld + "\",\"" + pwNew + "\nsecond line\"\r\n" + // 9 in_doubt
	"chen.wei@example.com,expire_password,,\r\n" + // 11 failed CB_LOGIN_MISMATCH
	"dana.kim@example.com,expire_password,,\r\n" + // 12 skipped
	"eli.moss@example.com,expire_password,,\r\n" // 13 pending (no report row)

var fixtureJSONL = `{"user":"00udemo0000000000001","action":"expire_password"}
{"user":"00udemo0000000000002","action":"expire_password"}

{"user":"00udemo0000000000003","action":"clear_sessions"}
{"user":"00udemo0000000000004","action":"expire_password"}
{"user":"00udemo0000000000005","action":"expire_password"}
{"user":"ana.lopez@example.com","action":"change_password","old_password":"` + pwOld + `","new_password":"` + pwNew + `"}
{"user":"ben.okafor@example.com","action":"change_password","old_password":"` + pwOld + `","new_password":"` + pwNew + `"}
{"user":"chen.wei@example.com","action":"expire_password"}
{"user":"dana.kim@example.com","action":"expire_password"}
{"user":"eli.moss@example.com","action":"expire_password"}
`

// fixtureRows are the report rows of the fixture, by line, given the
// lines of the manifest's rows in order (CSV and JSONL differ).
func fixtureRows(lines []int) []*report.Row {
	at := time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.UTC)
	// the manifest rows' actions, in order
	actions := []string{"expire_password", "expire_password", "clear_sessions", "expire_password", "expire_password",
		"change_password", "change_password", "expire_password", "expire_password", "expire_password"}
	mk := func(i int, o report.Outcome, status int, code string) *report.Row {
		return &report.Row{Line: lines[i], User: "u", UserID: "00udemo0000000000001", Action: actions[i], Outcome: o,
			HTTPStatus: status, ErrorCode: code, Attempts: 1, StartedAt: at.Add(time.Duration(i) * time.Second), FinishedAt: at.Add(time.Duration(i)*time.Second + 250*time.Millisecond)}
	}
	return []*report.Row{
		mk(8, report.Skipped, 0, ""),
		mk(0, report.Succeeded, 200, ""),
		mk(1, report.Failed, 429, "E0000047"),
		mk(2, report.Failed, 503, "E0000009"),
		mk(3, report.Failed, 0, report.CodeNetwork),
		mk(4, report.Failed, 409, "E0000112"),
		mk(5, report.Failed, 403, "E0000014"),
		mk(6, report.InDoubt, 0, report.CodeTimeout),
		mk(7, report.Failed, 0, report.CodeLoginMismatch),
	}
}

// writeRun writes what a finished (or stopped) run leaves: the manifest at
// manifestPath (already written), a report of rows and its checkpoint, whose
// header names the manifest as recordedManifest. It returns the report path.
func rcWriteRun(t *testing.T, dir, reportName, manifestPath, recordedManifest string, rows []*report.Row, dry bool) string {
	t.Helper()
	m := &jobs.Manifest{Path: manifestPath, Format: jobs.CSV}
	if strings.HasSuffix(manifestPath, ".jsonl") {
		m.Format = jobs.JSONL
	}
	sha, size, err := m.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	rp := filepath.Join(dir, reportName)
	f, err := report.Create(rp)
	if err != nil {
		t.Fatal(err)
	}
	format, _ := report.FormatOf(rp)
	w := report.NewWriter(f, format)
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	j, err := checkpoint.Create(rp+".checkpoint", checkpoint.Header{
		OrgURL: "http://127.0.0.1:1", ManifestPath: recordedManifest, ManifestSHA256: sha, ManifestSize: size,
		Rows: 10, DryRun: dry, ReportPath: rp, ReportFormat: format.String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return rp
}

func rcRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func rcMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != want {
		t.Errorf("%s has mode %04o, want %04o", path, fi.Mode().Perm(), want)
	}
}

func rcNoSecrets(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, pwOld) || strings.Contains(s, pwNew) {
			t.Errorf("output holds a manifest password")
		}
	}
}

func TestFailedManifestSplitsRowsByClass(t *testing.T) {
	csvRetry := "user,action,old_password,new_password\r\n" +
		"00udemo0000000000002,expire_password,,\r\n" +
		"\r\n" +
		"00udemo0000000000003,clear_sessions,,\r\n" +
		"00udemo0000000000004,expire_password,,\r\n" +
		"00udemo0000000000005,expire_password,,\r\n"
	csvFix := "user,action,old_password,new_password\r\n" +
		"ana.lopez@example.com,change_password," + pwOld + "," + pwNew + "\r\n" +
		"chen.wei@example.com,expire_password,,\r\n"
	csvDoubt := "user,action,old_password,new_password\r\n" +
		"\"ben.okafor@example.com\",\"change_password\",\"" + pwOld + "\",\"" + pwNew + "\nsecond line\"\r\n"
	jl := strings.Split(fixtureJSONL, "\n")
	for _, tc := range []struct {
		name, manifest, content string
		lines                   []int
		want                    map[string]string // file suffix → content
	}{
		{"csv", "m.csv", fixtureCSV, []int{2, 3, 5, 6, 7, 8, 9, 11, 12, 13},
			map[string]string{"retryable.csv": csvRetry, "needs-fix.csv": csvFix, "in-doubt.csv": csvDoubt,
				"pending.csv": "user,action,old_password,new_password\r\neli.moss@example.com,expire_password,,\r\n"}},
		{"jsonl", "m.jsonl", fixtureJSONL, []int{1, 2, 4, 5, 6, 7, 8, 9, 10, 11},
			map[string]string{
				"retryable.jsonl": jl[1] + "\n" + jl[3] + "\n" + jl[4] + "\n" + jl[5] + "\n",
				"needs-fix.jsonl": jl[6] + "\n" + jl[8] + "\n",
				"in-doubt.jsonl":  jl[7] + "\n",
				"pending.jsonl":   jl[10] + "\n",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			mp := filepath.Join(dir, tc.manifest)
			if err := os.WriteFile(mp, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			rp := rcWriteRun(t, dir, "r.report.csv", mp, mp, fixtureRows(tc.lines), false)
			e, out, errb := rcEnv(nil)
			err := execute(e, []string{"report", rp, "--failed-manifest", filepath.Join(dir, "next.txt")})
			if code := exitCode(err); code != exitFailures {
				t.Fatalf("exit %d (%v), want 1; stderr:\n%s", code, err, errb)
			}
			for suffix, want := range tc.want {
				p := filepath.Join(dir, "next."+suffix)
				if got := rcRead(t, p); got != want {
					t.Errorf("%s:\n got %q\nwant %q", suffix, got, want)
				}
				rcMode(t, p, 0o600)
				// each file is a valid manifest
				m, err := jobs.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := m.Validate(jobs.Defaults{}); err != nil {
					t.Errorf("%s is not a valid manifest: %v", suffix, err)
				}
			}
			for _, l := range []string{
				"wrote " + filepath.Join(dir, "next.retryable") + filepath.Ext(tc.manifest) + ": 4 rows (",
				"wrote " + filepath.Join(dir, "next.needs-fix") + filepath.Ext(tc.manifest) + ": 2 rows (",
				"wrote " + filepath.Join(dir, "next.in-doubt") + filepath.Ext(tc.manifest) + ": 1 row (",
				"wrote " + filepath.Join(dir, "next.pending") + filepath.Ext(tc.manifest) + ": 1 row (never sent",
				// clear_sessions 503, expire_password CB_NETWORK: safe to repeat, and said so
				fmt.Sprintf("  2 of them (lines %d and %d): it may have applied, and applying it again is harmless: run it again\n", tc.lines[2], tc.lines[3]),
				"credbatch: warning: 1 row is still pending: rerun the original command to finish it first\n",
			} {
				if !strings.Contains(errb.String(), l) {
					t.Errorf("stderr lacks %q:\n%s", l, errb)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "next.txt")); err == nil {
				t.Errorf("OUT itself was written")
			}
			rcNoSecrets(t, out.String(), errb.String())
		})
	}
}

func TestFailedManifestOnlyNonEmptyFiles(t *testing.T) {
	dir := t.TempDir()
	mp := filepath.Join(dir, "m.csv")
	os.WriteFile(mp, []byte(fixtureCSV), 0o600)
	lines := []int{2, 3, 5, 6, 7, 8, 9, 11, 12, 13}
	rows := fixtureRows(lines)
	// only the 429 row failed: everything else succeeded
	for _, r := range rows {
		if r.HTTPStatus != 429 {
			r.Outcome, r.ErrorCode, r.HTTPStatus = report.Succeeded, "", 200
		}
	}
	rows = append(rows, &report.Row{Line: 13, User: "eli.moss@example.com", Action: "expire_password", Outcome: report.Succeeded})
	rp := rcWriteRun(t, dir, "r.report.csv", mp, mp, rows, false)
	e, _, errb := rcEnv(nil)
	err := execute(e, []string{"report", rp, "--failed-manifest", filepath.Join(dir, "retry")})
	if exitCode(err) != exitFailures {
		t.Fatalf("exit %d: %v", exitCode(err), err)
	}
	want := "user,action,old_password,new_password\r\n00udemo0000000000002,expire_password,,\r\n"
	if got := rcRead(t, filepath.Join(dir, "retry.retryable.csv")); got != want {
		t.Errorf("retryable: %q, want %q", got, want)
	}
	for _, c := range []string{"needs-fix", "in-doubt"} {
		if _, err := os.Stat(filepath.Join(dir, "retry."+c+".csv")); err == nil {
			t.Errorf("the empty %s file was written", c)
		}
	}
	if strings.Contains(errb.String(), "pending") {
		t.Errorf("a pending warning with no row pending:\n%s", errb)
	}
}

func TestFailedManifestRefusals(t *testing.T) {
	setup := func(t *testing.T) (dir, mp, rp string) {
		dir = t.TempDir()
		mp = filepath.Join(dir, "m.csv")
		os.WriteFile(mp, []byte(fixtureCSV), 0o600)
		rp = rcWriteRun(t, dir, "r.report.csv", mp, mp, fixtureRows([]int{2, 3, 5, 6, 7, 8, 9, 11, 12, 13}), false)
		return
	}
	noFiles := func(t *testing.T, dir string) {
		t.Helper()
		m, _ := filepath.Glob(filepath.Join(dir, "out.*"))
		if len(m) > 0 {
			t.Errorf("files written despite the refusal: %v", m)
		}
	}
	t.Run("run in progress", func(t *testing.T) {
		dir, _, rp := setup(t)
		j, _, err := checkpoint.Open(rp + ".checkpoint") // a run holds the lock
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		e, _, _ := rcEnv(nil)
		err = execute(e, []string{"report", rp, "--failed-manifest", filepath.Join(dir, "out")})
		if !errors.Is(err, errRunInProgress) || exitCode(err) != exitUsage {
			t.Fatalf("got %v (exit %d), want errRunInProgress, exit 2", err, exitCode(err))
		}
		noFiles(t, dir)
	})
	t.Run("manifest changed", func(t *testing.T) {
		dir, mp, rp := setup(t)
		os.WriteFile(mp, []byte(fixtureCSV+"sam.cole@example.com,expire_password,,\r\n"), 0o600)
		e, _, _ := rcEnv(nil)
		err := execute(e, []string{"report", rp, "--failed-manifest", filepath.Join(dir, "out")})
		if !errors.Is(err, errManifestChanged) || exitCode(err) != exitUsage {
			t.Fatalf("got %v (exit %d), want errManifestChanged, exit 2", err, exitCode(err))
		}
		if !strings.Contains(err.Error(), "the manifest changed since the run") {
			t.Errorf("message %q", err)
		}
		noFiles(t, dir)
	})
	t.Run("an existing file is not overwritten, and nothing is written", func(t *testing.T) {
		dir, _, rp := setup(t)
		os.WriteFile(filepath.Join(dir, "out.in-doubt.csv"), []byte("keep"), 0o600)
		e, _, _ := rcEnv(nil)
		err := execute(e, []string{"report", rp, "--failed-manifest", filepath.Join(dir, "out")})
		if exitCode(err) != exitUsage || !strings.Contains(err.Error(), "never overwritten") {
			t.Fatalf("got %v (exit %d)", err, exitCode(err))
		}
		if got := rcRead(t, filepath.Join(dir, "out.in-doubt.csv")); got != "keep" {
			t.Errorf("the existing file was changed")
		}
		for _, c := range []string{"retryable", "needs-fix"} {
			if _, err := os.Stat(filepath.Join(dir, "out."+c+".csv")); err == nil {
				t.Errorf("%s written despite the refusal", c)
			}
		}
	})
	t.Run("clean manifest from a real run", func(t *testing.T) {
		dir, _, rp := setup(t)
		e, _, _ := rcEnv(nil)
		err := execute(e, []string{"report", rp, "--clean-manifest", filepath.Join(dir, "out.csv")})
		if exitCode(err) != exitUsage || !strings.Contains(err.Error(), "dry run") {
			t.Fatalf("got %v (exit %d)", err, exitCode(err))
		}
		noFiles(t, dir)
	})
	t.Run("report rows that name no manifest row", func(t *testing.T) {
		dir := t.TempDir()
		mp := filepath.Join(dir, "m.csv")
		os.WriteFile(mp, []byte(fixtureCSV), 0o600)
		rp := rcWriteRun(t, dir, "r.report.csv", mp, mp, fixtureRows([]int{2, 3, 4, 6, 7, 8, 9, 11, 12, 13}), false)
		e, _, _ := rcEnv(nil)
		err := execute(e, []string{"report", rp, "--failed-manifest", filepath.Join(dir, "out")})
		if exitCode(err) != exitUsage || !strings.Contains(err.Error(), "1 of the report's rows name no row of the manifest") {
			t.Fatalf("got %v (exit %d)", err, exitCode(err))
		}
		noFiles(t, dir)
	})
}

// A standard-input run's manifest is REPORT.manifest, read as CSV; the
// files take .csv.
func TestFailedManifestStdinRun(t *testing.T) {
	dir := t.TempDir()
	rp := filepath.Join(dir, "in.report.jsonl")
	mp := rp + ".manifest"
	os.WriteFile(mp, []byte(fixtureCSV), 0o600)
	rcWriteRun(t, dir, "in.report.jsonl", mp, mp, fixtureRows([]int{2, 3, 5, 6, 7, 8, 9, 11, 12, 13}), false)
	e, _, errb := rcEnv(nil)
	err := execute(e, []string{"report", rp, "--failed-manifest", filepath.Join(dir, "again")})
	if exitCode(err) != exitFailures {
		t.Fatalf("exit %d: %v\n%s", exitCode(err), err, errb)
	}
	got := rcRead(t, filepath.Join(dir, "again.needs-fix.csv"))
	want := "user,action,old_password,new_password\r\n" +
		"ana.lopez@example.com,change_password," + pwOld + "," + pwNew + "\r\n" +
		"chen.wei@example.com,expire_password,,\r\n"
	if got != want {
		t.Errorf("needs-fix: %q, want %q", got, want)
	}
}

// A relative manifest path is found from the directory the run started in,
// inferred from the report path the checkpoint recorded.
func TestFailedManifestRelativePaths(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "sub")
	os.Mkdir(sub, 0o700)
	os.WriteFile(filepath.Join(sub, "m.csv"), []byte(fixtureCSV), 0o600)
	m := &jobs.Manifest{Path: filepath.Join(sub, "m.csv"), Format: jobs.CSV}
	sha, size, _ := m.Fingerprint()
	rp := filepath.Join(sub, "r.report.csv")
	f, _ := report.Create(rp)
	w := report.NewWriter(f, report.CSV)
	w.WriteHeader()
	for _, r := range fixtureRows([]int{2, 3, 5, 6, 7, 8, 9, 11, 12, 13}) {
		w.Write(r)
	}
	w.Flush()
	f.Close()
	// the run was started in root as `credbatch run sub/m.csv --report sub/r.report.csv`
	j, err := checkpoint.Create(rp+".checkpoint", checkpoint.Header{
		OrgURL: "http://127.0.0.1:1", ManifestPath: "sub/m.csv", ManifestSHA256: sha, ManifestSize: size,
		Rows: 10, ReportPath: "sub/r.report.csv", ReportFormat: "csv",
	})
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	t.Chdir(sub)
	e, _, errb := rcEnv(nil)
	if err := execute(e, []string{"report", "r.report.csv", "--failed-manifest", "next.csv"}); exitCode(err) != exitFailures {
		t.Fatalf("exit %d: %v\n%s", exitCode(err), err, errb)
	}
	if !strings.Contains(rcRead(t, "next.needs-fix.csv"), "chen.wei@example.com") {
		t.Errorf("needs-fix file lacks its rows")
	}
}

// startOrg serves an emulator with the demo users on 127.0.0.1.
func rcOrg(t *testing.T, fail5xx float64) (*emulator.Org, string) {
	t.Helper()
	raw, err := os.ReadFile(usersFile)
	if err != nil {
		t.Fatal(err)
	}
	users, err := emulator.LoadUsers(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	org := emulator.New(emulator.Config{Seed: 11, UserList: users, Token: scriptToken, Fail5xxRate: fail5xx})
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	return org, srv.URL
}

// A run against a faulty org (every credential request answered 5xx, no
// retries) leaves retryable and in-doubt rows; the retryable file holds
// exactly the retryable rows, and running it against a healthy org
// succeeds for every one of them.
func TestFailedManifestRetryableFileRuns(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("user,action\n")
	for _, id := range []string{"01", "02", "03", "04", "11", "12", "13", "14", "15", "16", "19"} {
		b.WriteString("00udemo00000000000" + id + ",expire_password\n")
		b.WriteString("00udemo00000000000" + id + ",clear_sessions\n")
	}
	for _, id := range []string{"01", "02", "03"} {
		b.WriteString("00udemo00000000000" + id + ",expire_password_with_temp_password\n")
	}
	mp := filepath.Join(dir, "m.csv")
	os.WriteFile(mp, []byte(b.String()), 0o600)
	_, faulty := rcOrg(t, 1)
	vars := map[string]string{"OKTA_CLIENT_TOKEN": scriptToken}
	e, _, errb := rcEnv(vars)
	err := execute(e, []string{"run", mp, "--org-url", faulty, "--yes", "--rate", "0", "--workers", "1", "--max-retries", "0", "--backoff-min", "1ms"})
	if exitCode(err) != exitFailures {
		t.Fatalf("faulty run: exit %d: %v\n%s", exitCode(err), err, errb)
	}
	rp := filepath.Join(dir, "m.report.csv")
	want := map[report.RetryClass][]string{}
	if err := report.ReadFile(rp, func(r *report.Row) error {
		if c := report.Classify(r); c != report.ClassNone {
			want[c] = append(want[c], r.User+","+r.Action)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(want[report.ClassRetryable]) == 0 {
		t.Fatalf("the faulty run left no retryable row: the test proves nothing")
	}
	e, _, errb = rcEnv(vars)
	if err := execute(e, []string{"report", rp, "--failed-manifest", filepath.Join(dir, "retry.csv")}); exitCode(err) != exitFailures {
		t.Fatalf("report: exit %d: %v\n%s", exitCode(err), err, errb)
	}
	// the temp passwords that may have been issued are called lost, by line
	if !regexp.MustCompile(`(?m)^credbatch:   3 of them \(lines 24, 25 and 26\): a secret may have been issued and lost: run again to issue a new one$`).MatchString(errb.String()) {
		t.Errorf("the retryable file's reason for the temp password rows is not shown:\n%s", errb)
	}
	for c, rows := range want {
		p := filepath.Join(dir, "retry."+c.String()+".csv")
		recs, err := csv.NewReader(strings.NewReader(rcRead(t, p))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs[1:] {
			got = append(got, r[0]+","+r[1])
		}
		slices.Sort(got)
		slices.Sort(rows)
		if !slices.Equal(got, rows) {
			t.Errorf("%s file rows %v, want %v", c, got, rows)
		}
	}
	_, healthy := rcOrg(t, 0)
	e, _, errb = rcEnv(vars)
	retry := filepath.Join(dir, "retry.retryable.csv")
	if err := execute(e, []string{"run", retry, "--org-url", healthy, "--yes", "--rate", "0"}); err != nil {
		t.Fatalf("retryable run: exit %d: %v\n%s", exitCode(err), err, errb)
	}
	s, err := report.Summarize(filepath.Join(dir, "retry.retryable.report.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(want[report.ClassRetryable]); s.Total != n || s.ByOutcome[report.Succeeded] != n {
		t.Errorf("retryable run: %d rows, %d succeeded; want %d, all succeeded", s.Total, s.ByOutcome[report.Succeeded], n)
	}
}

func TestReportSummaryGolden(t *testing.T) {
	dir := t.TempDir()
	mp := filepath.Join(dir, "m.csv")
	os.WriteFile(mp, []byte(fixtureCSV), 0o600)
	rows := fixtureRows([]int{2, 3, 5, 6, 7, 8, 9, 11, 12, 13})
	rows[1].UserStatus = "PASSWORD_EXPIRED"
	rows[1].TempPassword = secret.New("Temp-Secret-Pw-43!")
	rp := rcWriteRun(t, dir, "r.report.csv", mp, mp, rows, false)
	for _, tc := range []struct {
		name string
		args []string
	}{{"report_summary.txt", nil}, {"report_summary.json", []string{"--json"}}} {
		e, out, errb := rcEnv(nil)
		err := execute(e, append([]string{"report", rp}, tc.args...))
		if exitCode(err) != exitFailures {
			t.Fatalf("exit %d: %v", exitCode(err), err)
		}
		if strings.Contains(out.String()+errb.String(), "Temp-Secret") {
			t.Errorf("%s: the output holds the temp password", tc.name)
		}
		if want := "credbatch: warning: 1 row is still pending: rerun the original command to finish it first\n"; errb.String() != want {
			t.Errorf("%s: stderr %q, want %q", tc.name, errb, want)
		}
		rcGolden(t, tc.name, out.Bytes())
	}
}

// normalizeSummary replaces what changes from run to run (times, durations,
// the org URL, temporary paths) in a --summary-json file.
func rcNormalize(t *testing.T, b []byte, dir, org string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("--summary-json is not JSON: %v", err)
	}
	for _, k := range []string{"started_at", "finished_at", "first_started_at", "last_finished_at"} {
		if v, ok := m[k].(string); ok {
			if _, err := time.Parse(report.TimeLayout, v); err != nil {
				t.Errorf("%s %q is not RFC 3339 UTC with milliseconds", k, v)
			}
			m[k] = "TIME"
		}
	}
	if w, ok := m["wall_seconds"].(float64); !ok || w <= 0 {
		t.Errorf("wall_seconds %v", m["wall_seconds"])
	}
	m["wall_seconds"] = "SECONDS"
	if m["org_url"] != org {
		t.Errorf("org_url %v, want %s", m["org_url"], org)
	}
	m["org_url"] = "ORG"
	m["tool_version"] = "VERSION"
	out, _ := json.MarshalIndent(m, "", "  ")
	return append(bytes.ReplaceAll(out, []byte(dir), []byte("DIR")), '\n')
}

func TestRunSummaryJSONGolden(t *testing.T) {
	manifest := "user,action,send_email\n" +
		"ana.lopez@example.com,expire_password,\n" +
		"00udemo0000000000002,expire_password_with_temp_password,\n" +
		"hana.ito@example.com,expire_password,\n" +
		"nobody.here@example.com,reset_password,false\n" +
		"admin@example.com,clear_sessions,\n"
	for _, tc := range []struct {
		name string
		dry  bool
	}{{"run_summary_dryrun.json", true}, {"run_summary.json", false}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			mp := filepath.Join(dir, "m.csv")
			os.WriteFile(mp, []byte(manifest), 0o600)
			_, org := rcOrg(t, 0)
			sj := filepath.Join(dir, "summary.json")
			args := []string{"run", mp, "--org-url", org, "--yes", "--rate", "0", "--workers", "1", "--summary-json", sj}
			if tc.dry {
				args = append(args, "--dry-run")
			}
			e, _, errb := rcEnv(map[string]string{"OKTA_CLIENT_TOKEN": scriptToken})
			if err := execute(e, args); exitCode(err) != exitFailures {
				t.Fatalf("exit %d: %v\n%s", exitCode(err), err, errb)
			}
			b := []byte(rcRead(t, sj))
			rcMode(t, sj, 0o600)
			if bytes.Contains(b, []byte(scriptToken)) || regexp.MustCompile(`/reset_password/|tempPassword|temp_password`).Match(b) {
				t.Errorf("--summary-json holds a secret or a secret's field")
			}
			rcGolden(t, tc.name, rcNormalize(t, b, dir, org))
		})
	}
}

// The dry run's estimate of the real run, in --summary-json and in the
// terminal summary, when run passes its pacing.
func TestDryRunEstimate(t *testing.T) {
	dir := t.TempDir()
	rp := filepath.Join(dir, "m.dryrun.csv")
	f, _ := report.Create(rp)
	w := report.NewWriter(f, report.CSV)
	w.WriteHeader()
	// 10 logins that reach their action, 2 IDs, a login not found, a
	// duplicate by ID and a skipped login: 11 credential requests, 12 + 1
	// user lookups (the logins, and /users/me).
	line := 2
	add := func(user, id string, o report.Outcome, code string) {
		w.Write(&report.Row{Line: line, User: user, UserID: id, Action: "expire_password", Outcome: o, ErrorCode: code})
		line++
	}
	for i := 0; i < 9; i++ {
		add("user@example.com", "00udemo0000000000001", report.WouldSucceed, "")
	}
	add("staged@example.com", "00udemo0000000000008", report.WouldFail, "")
	add("00udemo0000000000002", "00udemo0000000000002", report.WouldSucceed, "")
	add("nobody@example.com", "", report.WouldFail, "E0000007")
	add("00udemo0000000000001", "00udemo0000000000001", report.WouldFail, report.CodeDuplicateUser)
	add("admin@example.com", "00udemo0000000000000", report.Skipped, "")
	w.Flush()
	f.Close()

	for _, tc := range []struct {
		p        pacing
		wantSecs float64
	}{
		// rate 10: 24 requests need 2.4 s; each bucket at 50% of 600/min
		// allows 5/s: 13 lookups need 2.6 s, 11 credential 2.2 s → 2.6 s
		{pacing{rate: 10, maxShare: 50}, 2.6},
		// no --rate cap: the busier bucket decides
		{pacing{rate: 0, maxShare: 50}, 2.6},
		// rate 1 dominates
		{pacing{rate: 1, maxShare: 50}, 24},
		// share 100: 10/s per bucket → 1.3 s; rate 10 → 2.4 s
		{pacing{rate: 10, maxShare: 100}, 2.4},
	} {
		est, err := estimateRealRun(rp, tc.p)
		if err != nil {
			t.Fatal(err)
		}
		if est.Credential != 11 || est.Lookups != 13 || est.Requests != 24 || est.Rows != 14 {
			t.Fatalf("counts: %+v", est)
		}
		if est.Seconds != tc.wantSecs {
			t.Errorf("%+v: %g s, want %g", tc.p, est.Seconds, tc.wantSecs)
		}
		if want := float64(est.Requests) / tc.wantSecs; est.EffectiveRS < want-0.01 || est.EffectiveRS > want+0.01 {
			t.Errorf("%+v: effective rate %g, want %g", tc.p, est.EffectiveRS, want)
		}
	}

	// the terminal summary and --summary-json show it (a dry run, none pending)
	res := &runner.Result{StatusCount: map[string]int{"ACTIVE": 12, "STAGED": 1}, Requests: 14}
	total := map[string]int{"would_succeed": 10, "would_fail": 3, "skipped": 1}
	e, out, errb := rcEnv(nil)
	printSummary(e, rp, total, res, 1500*time.Millisecond, true, 14, pacing{rate: 10, maxShare: 50})
	if out.Len() != 0 {
		t.Errorf("printSummary wrote to stdout")
	}
	wantLine := "credbatch: estimated real run: about 3s for 24 requests (11 credential, 13 user lookups) at --rate 10 and --max-share 50, assuming Okta's default limit of 600 a minute (an estimate: the org's limits may differ)\n"
	if !strings.Contains(errb.String(), wantLine) {
		t.Errorf("terminal summary lacks the estimate %q:\n%s", wantLine, errb)
	}
	// a real run, or no pacing: no estimate
	e, _, errb = rcEnv(nil)
	printSummary(e, rp, total, res, time.Second, false, 14, pacing{rate: 10, maxShare: 50})
	printSummary(e, rp, total, res, time.Second, true, 14)
	if strings.Contains(errb.String(), "estimate") {
		t.Errorf("an estimate without a dry run or without pacing:\n%s", errb)
	}

	sj := filepath.Join(dir, "s.json")
	sum := &jobs.Summary{Rows: 14, SHA256: strings.Repeat("ab", 32)}
	if err := writeSummaryJSON(sj, "https://example.okta.com", sum, "m.csv", rp, total, res, 1500*time.Millisecond, errRowsFailed, true, pacing{rate: 10, maxShare: 50}); err != nil {
		t.Fatal(err)
	}
	rcGolden(t, "dryrun_estimate_summary.json", rcNormalize(t, []byte(rcRead(t, sj)), dir, "https://example.okta.com"))
}
