package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// buildInfo is what the binary knows of its own build: the version set with
// -ldflags "-X main.version=…", the VCS revision, its time and whether the
// tree was modified (stamped by go build in a checkout), and the Go version.
type buildInfo struct {
	Version, Revision, Time, GoVersion string
	Modified                           bool
}

func readBuildInfo() buildInfo {
	bi := buildInfo{Version: version, GoVersion: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return bi
	}
	if bi.Version == defaultVersion && info.Main.Version != "" && info.Main.Version != "(devel)" {
		bi.Version = info.Main.Version // go install …/cmd/credbatch@v1.2.3
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			bi.Revision = s.Value
		case "vcs.time":
			bi.Time = s.Value
		case "vcs.modified":
			bi.Modified = s.Value == "true"
		}
	}
	return bi
}

// String is the one line `credbatch version` and `--version` print.
func (bi buildInfo) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "credbatch %s", bi.Version)
	if bi.Revision != "" {
		fmt.Fprintf(&b, " (revision %s", bi.Revision)
		if bi.Time != "" {
			fmt.Fprintf(&b, ", %s", bi.Time)
		}
		if bi.Modified {
			b.WriteString(", modified tree")
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, " %s %s/%s", bi.GoVersion, runtime.GOOS, runtime.GOARCH)
	return b.String()
}

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, VCS revision and time, and the Go version",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Fprintln(e.stdout, readBuildInfo())
			return nil
		},
	}
}
