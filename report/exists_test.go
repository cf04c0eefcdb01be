package report

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Create refuses an existing file with an error that says so once
// ("report: PATH already exists"), and that errors.Is matches both as
// ErrExists and as fs.ErrExist.
func TestCreateExistingSaysItOnce(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.csv")
	if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Create(p)
	if !errors.Is(err, ErrExists) || !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create(existing) = %v; want ErrExists and fs.ErrExist", err)
	}
	if got, want := err.Error(), "report: "+p+" already exists"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if strings.Count(err.Error(), "exist") != 1 {
		t.Errorf("message repeats itself: %q", err)
	}
}
