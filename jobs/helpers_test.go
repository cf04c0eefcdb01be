package jobs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// writeManifest writes content to a file called name in a fresh temporary
// directory and opens it.
func writeManifest(t testing.TB, name, content string) *Manifest {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return m
}

// lineErrors returns the LineErrors inside err (nil when err holds none).
func lineErrors(t testing.TB, err error) []*LineError {
	t.Helper()
	var errs *Errors
	if !errors.As(err, &errs) {
		return nil
	}
	if errs.Total != len(errs.List) {
		t.Fatalf("Total %d but %d listed", errs.Total, len(errs.List))
	}
	return errs.List
}

// collect validates m and, when it validates, returns its jobs.
func collect(t testing.TB, m *Manifest, d Defaults) []*Job {
	t.Helper()
	if _, err := m.Validate(d); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	var out []*Job
	if err := m.Each(d, func(j *Job) error {
		c := *j // j is Each's, refilled for the next row
		out = append(out, &c)
		return nil
	}); err != nil {
		t.Fatalf("Each: %v", err)
	}
	return out
}

func ptr(b bool) *bool { return &b }

func boolStr(p *bool) string {
	if p == nil {
		return "nil"
	}
	if *p {
		return "true"
	}
	return "false"
}

func asErrors(err error, target **Errors) bool { return errors.As(err, target) }
