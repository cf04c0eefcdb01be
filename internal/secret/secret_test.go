package secret_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/credbatch/credbatch/internal/secret"
)

const value = "Sup3r-s3cret-Temp!"

func TestNeverPrinted(t *testing.T) {
	s := secret.New(value)
	holder := struct {
		Name string
		Pw   secret.String
		Ptr  *secret.String
	}{"alice", s, &s}

	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	logger.Debug("issued", "pw", s, "holder", holder)
	text := slog.New(slog.NewTextHandler(&logs, nil))
	text.Info("issued", "pw", s)

	js, err := json.Marshal(holder)
	if err != nil {
		t.Fatal(err)
	}
	mapKey, err := json.Marshal(map[secret.String]int{s: 1})
	if err != nil {
		t.Fatal(err)
	}

	outputs := map[string]string{
		"%v":       fmt.Sprintf("%v", s),
		"%s":       fmt.Sprintf("%s", s),
		"%q":       fmt.Sprintf("%q", s),
		"%x":       fmt.Sprintf("%x", s),
		"%#v":      fmt.Sprintf("%#v", s),
		"%+v":      fmt.Sprintf("%+v", holder),
		"%#v-hold": fmt.Sprintf("%#v", holder),
		"%v-ptr":   fmt.Sprintf("%v", &s),
		"Sprint":   fmt.Sprint(s, holder),
		"error":    fmt.Errorf("wrap: %v", s).Error(),
		"errors":   errors.New(s.String()).Error(),
		"json":     string(js),
		"jsonkey":  string(mapKey),
		"slog":     logs.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, value) {
			t.Errorf("%s printed the secret: %s", name, out)
		}
		if !strings.Contains(out, secret.Redacted) {
			t.Errorf("%s did not print %s: %s", name, secret.Redacted, out)
		}
	}
}

func TestReveal(t *testing.T) {
	s := secret.New(value)
	if s.Reveal() != value {
		t.Fatalf("Reveal() = %q", s.Reveal())
	}
	if s.IsZero() || !secret.New("").IsZero() {
		t.Fatal("IsZero is wrong")
	}
	if !s.Equal(secret.New(value)) || s.Equal(secret.New("other")) {
		t.Fatal("Equal is wrong")
	}
}
