//go:build tools

package tools

import (
	_ "github.com/getkin/kin-openapi/openapi3filter"
	_ "github.com/gocarina/gocsv"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/spf13/cobra"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/term"
	_ "golang.org/x/time/rate"
)
