package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/credbatch/credbatch/jobs"
)

// readExclude reads --exclude: one user ID or login a line, blank lines and
// # comments skipped. at says where each entry stands (FILE:LINE; logins
// lower-cased as the runner keys them), for the warning about an entry that
// matches no user.
func readExclude(path string) (entries []string, at map[string]string, err error) {
	if path == "" {
		return nil, nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, usagef("", "--exclude: %w", err)
	}
	at = map[string]string{}
	for i, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(strings.TrimSuffix(l, "\r"))
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		entries = append(entries, l)
		at[jobs.UserKey(l)] = fmt.Sprintf("%s:%d", path, i+1)
	}
	return entries, at, nil
}
