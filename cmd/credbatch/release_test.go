package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"
)

// The release configuration a maintainer uses as it is: static binaries for
// linux, darwin and windows on amd64 and arm64 from this command, the version
// stamped into the variable that exists, checksums, an SBOM, and a container
// image from a Dockerfile that runs as non-root with no shell. (goreleaser
// itself is not installed here; this reads its file.)
func TestReleaseConfiguration(t *testing.T) {
	raw, err := os.ReadFile("../../.goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Version int `yaml:"version"`
		Builds  []struct {
			Main    string   `yaml:"main"`
			Env     []string `yaml:"env"`
			Ldflags []string `yaml:"ldflags"`
			Goos    []string `yaml:"goos"`
			Goarch  []string `yaml:"goarch"`
		} `yaml:"builds"`
		Checksum struct {
			Name string `yaml:"name_template"`
		} `yaml:"checksum"`
		Sboms []struct {
			Artifacts string `yaml:"artifacts"`
		} `yaml:"sboms"`
		Dockers []struct {
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"dockers"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf(".goreleaser.yaml: %v", err)
	}
	if cfg.Version != 2 {
		t.Errorf("version %d, want GoReleaser's configuration version 2", cfg.Version)
	}
	if len(cfg.Builds) != 1 {
		t.Fatalf("%d builds, want 1", len(cfg.Builds))
	}
	b := cfg.Builds[0]
	if _, err := os.Stat(filepath.Join("../..", b.Main, "main.go")); err != nil {
		t.Errorf("build main %q: %v", b.Main, err)
	}
	if !slices.Contains(b.Env, "CGO_ENABLED=0") {
		t.Errorf("env %v: want CGO_ENABLED=0 (static binaries)", b.Env)
	}
	if !strings.Contains(strings.Join(b.Ldflags, " "), "-X main.version=") {
		t.Errorf("ldflags %v: want -X main.version=", b.Ldflags)
	}
	for _, goos := range []string{"linux", "darwin", "windows"} {
		if !slices.Contains(b.Goos, goos) {
			t.Errorf("goos %v lacks %s", b.Goos, goos)
		}
	}
	for _, arch := range []string{"amd64", "arm64"} {
		if !slices.Contains(b.Goarch, arch) {
			t.Errorf("goarch %v lacks %s", b.Goarch, arch)
		}
	}
	if cfg.Checksum.Name == "" {
		t.Errorf("no checksum file")
	}
	if len(cfg.Sboms) == 0 {
		t.Errorf("no SBOM")
	}
	dockerfiles := []string{"Dockerfile"}
	for _, d := range cfg.Dockers {
		dockerfiles = append(dockerfiles, d.Dockerfile)
	}
	if len(dockerfiles) < 2 {
		t.Errorf("no container image in the release")
	}
	for _, name := range dockerfiles {
		df, err := os.ReadFile(filepath.Join("../..", name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		stages := strings.Split(string(df), "\nFROM ")
		last := stages[len(stages)-1]
		if !strings.Contains(last, "distroless/static") {
			t.Errorf("%s: the final image is not a static base without a shell", name)
		}
		if !strings.Contains(last, "USER nonroot") {
			t.Errorf("%s: the final image does not run as non-root", name)
		}
	}
}
