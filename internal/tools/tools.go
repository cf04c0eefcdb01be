//go:build tools

package tools

import (
	_ "github.com/gocarina/gocsv"
	_ "golang.org/x/time/rate"
	_ "golang.org/x/sync/errgroup"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/spf13/cobra"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/getkin/kin-openapi/openapi3filter"
	_ "golang.org/x/term"
	_ "golang.org/x/sys/unix"
)
