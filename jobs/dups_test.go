package jobs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestDuplicatesListedInLineOrder: duplicates, found after the manifest was
// read, are listed where they would have been met: after the other problems
// of their row, before later rows', within the first MaxListed; every one
// is counted; a pair met three times names its first line twice.
func TestDuplicatesListedInLineOrder(t *testing.T) {
	var b strings.Builder
	b.WriteString("user,action,send_email\n")
	for line := 2; line <= 40; line++ {
		user := fmt.Sprintf("u%02d@example.com", line)
		switch line {
		case 6, 9:
			user = "U03@example.com" // line 3's user, another spelling
		case 35:
			user = "u02@example.com"
		}
		fmt.Fprintf(&b, "%s,reset_password,maybe\n", user) // every row: not a boolean
	}
	_, err := writeManifest(t, "m.csv", b.String()).Validate(Defaults{})
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Validate = %v", err)
	}
	if errs.Total != 39+3 || len(errs.List) != MaxListed {
		t.Fatalf("%d problems, %d listed; want 42, %d", errs.Total, len(errs.List), MaxListed)
	}
	var got []string
	for _, e := range errs.List {
		kind := "bool"
		if strings.Contains(e.Msg, "duplicate") {
			kind = "dup of " + strings.Fields(e.Msg)[5] // "duplicate (user, action) pair: line N has ..."
		}
		got = append(got, fmt.Sprintf("%d %s", e.Line, kind))
	}
	want := []string{"2 bool", "3 bool", "4 bool", "5 bool", "6 bool", "6 dup of 3", "7 bool", "8 bool", "9 bool", "9 dup of 3"}
	for line := 10; line <= 19; line++ {
		want = append(want, fmt.Sprintf("%d bool", line))
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("listed:\n%s\nwant:\n%s", strings.Join(got, ", "), strings.Join(want, ", "))
	}
}

// TestDupDetectorFootprint: a million rows' pairs take 8 bytes each (and
// the buckets' slack): under 10 MiB, where a map of hashes to rows took 53.
// None repeats.
func TestDupDetectorFootprint(t *testing.T) {
	dd := &dupDetector{}
	for i := range 1_000_000 {
		dd.add(fmt.Sprintf("00u%017d", i), ExpirePassword)
	}
	size := 0
	for _, b := range dd.buckets {
		size += 8 * cap(b)
	}
	if size > 10<<20 {
		t.Errorf("a million pairs take %.1f MiB, want at most 10", float64(size)/(1<<20))
	}
	if rep := dd.repeated(); rep != nil {
		t.Errorf("repeated() = %d hashes for a million different pairs", len(rep))
	}
}
