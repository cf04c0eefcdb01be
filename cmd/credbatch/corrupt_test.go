package main

// Issue 13, "Data is never given up silently": the real binary against the
// emulator, with a checkpoint damaged on disk. Every command that reads it
// refuses (exit 2), names the file and the byte offset, sends nothing and
// changes nothing.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// exec runs the binary with args (any command) in the fixture's directory,
// with the fixture's token and nothing else of the caller's Okta settings.
func (f *crashFixture) exec(t *testing.T, args ...string) runEnd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	c, out := f.command(ctx, "")
	c.Args = append([]string{f.bin}, args...)
	if err := c.Start(); err != nil {
		t.Fatalf("starting credbatch: %v", err)
	}
	end := wait(t, ctx, c, out)
	if end.killed {
		t.Fatalf("credbatch %s was killed", strings.Join(args, " "))
	}
	return end
}

// dirState is every file of dir (not below it) with its size and SHA-256:
// what a refused command must leave as it found it.
func dirState(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprintf("%s %d %x", e.Name(), len(b), sha256.Sum256(b)))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// frames walks a journal's frames (<len>\t<crc>\t<body>\n) from its start
// and returns where each begins and ends.
func frames(t *testing.T, b []byte) [][2]int {
	t.Helper()
	var out [][2]int
	for off := 0; off < len(b); {
		tab := bytes.IndexByte(b[off:], '\t')
		n, err := strconv.Atoi(string(b[off : off+max(tab, 0)]))
		if tab < 0 || err != nil {
			t.Fatalf("byte %d does not start a frame", off)
		}
		end := off + tab + 1 + 8 + 1 + n + 1
		if end > len(b) {
			t.Fatalf("the frame at byte %d runs past the end (%d bytes)", off, len(b))
		}
		out = append(out, [2]int{off, end})
		off = end
	}
	return out
}

// requestsSent counts the emulator's logged requests, of any kind.
func (f *crashFixture) requestsSent() int { return len(f.org.Log()) }

// TestCorruptCheckpointRefused: a finished run's checkpoint gets one byte
// changed in the middle (a frame's length, its checksum, its payload) or in
// its header; rerunning the command, `report`, and `report
// --failed-manifest` all exit 2, name the checkpoint and the byte offset
// where the damage begins, send no request at all, and leave every file in
// the directory byte for byte as it was. Put back, the checkpoint works.
func TestCorruptCheckpointRefused(t *testing.T) {
	t.Parallel()
	f := newCrashFixture(t, 30)
	if first := f.run(t, ""); first.killed || first.code != 0 {
		t.Fatalf("the first run ended with %s, want exit 0; output:\n%s", first, first.out)
	}
	good, err := os.ReadFile(f.checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	fr := frames(t, good)
	if len(fr) < 30 {
		t.Fatalf("the checkpoint holds %d frames, want at least 30", len(fr))
	}
	start, end := fr[len(fr)/2][0], fr[len(fr)/2][1]
	tab := bytes.IndexByte(good[start:], '\t')
	cases := []struct {
		name   string
		pos    int
		offset int
	}{
		{"a frame's length", start, start},
		{"a frame's checksum", start + tab + 3, start},
		{"a frame's payload", end - 20, start},
		{"the header", 40, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := bytes.Clone(good)
			bad[c.pos] ^= 0x04
			if err := os.WriteFile(f.checkpoint, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			before, sent := dirState(t, f.dir), f.requestsSent()
			want := fmt.Sprintf("byte %d", c.offset)
			for _, args := range [][]string{
				nil, // the run command itself
				{"report", f.reportPath},
				{"report", f.reportPath, "--failed-manifest", filepath.Join(f.dir, "next.csv")},
				{"report", f.reportPath, "--json"},
			} {
				var end runEnd
				if args == nil {
					end = f.run(t, "")
				} else {
					end = f.exec(t, args...)
				}
				if end.killed || end.code != 2 {
					t.Errorf("%v: ended with %s, want exit 2; output:\n%s", args, end, end.out)
				}
				if !strings.Contains(end.out, f.checkpoint) || !strings.Contains(end.out, want) {
					t.Errorf("%v: the output does not name %s and %q:\n%s", args, f.checkpoint, want, end.out)
				}
				if !strings.Contains(end.out, "credbatch: hint: restore it from a backup") {
					t.Errorf("%v: the output does not say what to do:\n%s", args, end.out)
				}
				if n := f.requestsSent(); n != sent {
					t.Errorf("%v: the emulator got %d requests, want none", args, n-sent)
				}
				if after := dirState(t, f.dir); after != before {
					t.Errorf("%v: the directory changed:\nbefore:\n%s\nafter:\n%s", args, before, after)
				}
			}
		})
	}
	if err := os.WriteFile(f.checkpoint, good, 0o600); err != nil {
		t.Fatal(err)
	}
	sent := f.requestsSent()
	again := f.run(t, "")
	if again.killed || again.code != 0 || !strings.Contains(again.out, "already finished") || f.requestsSent() != sent {
		t.Errorf("the restored checkpoint: %s, %d requests; want exit 0, already finished, none sent; output:\n%s",
			again, f.requestsSent()-sent, again.out)
	}
}
