package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/credbatch/credbatch/internal/secret"
)

// Log records are printed in the command's own format, with the level as a
// word, attributes as key=value, and a secret as [REDACTED].
func TestLineHandlerFormat(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(newLineHandler(&buf, slog.LevelWarn))
	log.Warn("stopping: no new requests will start", "reason", "--halt-on 3 reached", "token", secret.New("s3cr3t-value"))
	log.Info("not shown at warn level")
	log.With("bucket", "post").Debug("not shown either")
	got := buf.String()
	want := "credbatch: warning: stopping: no new requests will start reason=\"--halt-on 3 reached\" token=[REDACTED]\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if strings.Contains(got, "time=") || strings.Contains(got, "level=") {
		t.Errorf("slog's text format leaked: %q", got)
	}
	buf.Reset()
	slog.New(newLineHandler(&buf, slog.LevelDebug)).With("bucket", "post").Debug("attempt", "try", 2)
	if got := buf.String(); got != "credbatch: debug: attempt bucket=post try=2\n" {
		t.Errorf("debug line: %q", got)
	}
}
