package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credbatch/credbatch/emulator"
)

// activeUsers are n+1 generated users (index 0: the token's owner), every
// one ACTIVE with an Okta password, so that every action applies.
func activeUsers(seed int64, n int) []emulator.User {
	users := emulator.GenerateUsers(seed, n+1)
	for i := range users {
		users[i].Status, users[i].Provider = emulator.StatusActive, emulator.ProviderOkta
		users[i].Password = emulator.GeneratedPassword(users[i].Login)
	}
	return users
}

// serveOrg starts cfg's org (with scriptToken) on 127.0.0.1 until the test
// ends and returns it and its URL.
func serveOrg(t *testing.T, cfg emulator.Config) (*emulator.Org, string) {
	t.Helper()
	cfg.Token = scriptToken
	org := emulator.New(cfg)
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	return org, srv.URL
}

// expireManifest writes, in a new directory, m.csv: one expire_password
// row per user but the owner, by ID. It returns its path.
func expireManifest(t *testing.T, users []emulator.User) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("user,action\n")
	for _, u := range users[1:] {
		b.WriteString(u.ID + ",expire_password\n")
	}
	p := filepath.Join(t.TempDir(), "m.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkShareKept runs the command at --max-share 50 and 100 (busiest runs
// it against a fresh org and returns that org's credential windows) and
// fails t unless 50 keeps every window at or under half of limit plus the
// first answer's one of slack, 100 goes past that, and no request was
// answered 429. A command that dropped the flag fails one of the two.
func checkShareKept(t *testing.T, limit int, busiest func(share string) []emulator.WindowStat) {
	t.Helper()
	most := func(share string) (used int) {
		for _, w := range busiest(share) {
			if w.Bucket != emulator.BucketCredentials {
				continue
			}
			if w.Rejected > 0 {
				t.Errorf("--max-share %s: %d requests answered 429", share, w.Rejected)
			}
			used = max(used, w.Used)
		}
		return used
	}
	if used := most("50"); used > limit/2+1 {
		t.Errorf("--max-share 50: the busiest window held %d of %d requests, want at most %d", used, limit, limit/2+1)
	}
	if used := most("100"); used <= limit/2+1 {
		t.Errorf("--max-share 100: the busiest window held %d of %d requests; the command should use more than half", used, limit)
	}
}
