package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// The README's first command: the whole demo, every example against the
// built-in emulator, gives its expected outcomes (exit 0). (With a short
// name in an example and no --match-short-names, it fails.)
func TestDemoPasses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" },
		isTerminal: func() bool { return false }, feed: ctx, hard: ctx}
	if err := runDemo(e, t.TempDir()); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "every example gave its expected outcomes") {
		t.Errorf("the demo did not say every example passed:\n%s", out.String())
	}
}
