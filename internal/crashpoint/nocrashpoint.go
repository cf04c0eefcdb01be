//go:build !crashpoints

// Package crashpoint: see crashpoint.go. Without -tags crashpoints, Hit does
// nothing: a release binary neither reads CREDBATCH_TEST_CRASH nor can kill
// itself.
package crashpoint

// Hit does nothing in a release build.
func Hit(string) {}
