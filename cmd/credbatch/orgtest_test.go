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
