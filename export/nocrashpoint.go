//go:build !crashpoints

package export

// crash does nothing: the crash points of the kill tests (crashpoint.go) are
// compiled only with -tags crashpoints, so a release binary neither reads
// CREDBATCH_TEST_CRASH nor can kill itself.
func crash(string) {}
