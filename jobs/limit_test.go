package jobs

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// writeLong writes head, then n bytes of fill (repeated), then tail, to a
// new file called name, without holding the long part in memory.
func writeLong(t *testing.T, name, head, fill string, n int, tail string) *Manifest {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	w.WriteString(head)
	chunk := strings.Repeat(fill, (1<<16)/len(fill))
	for n > 0 {
		k := min(n, len(chunk))
		w.WriteString(chunk[:k])
		n -= k
	}
	w.WriteString(tail)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	m, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// allocatedBy returns the bytes f allocated (the test runs no other
// goroutine meanwhile).
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestLongLineRefused: a 64 MiB line (or quoted cell) is refused with the
// line its row starts on, and Validate allocates a small fraction of it:
// the line is never held whole.
func TestLongLineRefused(t *testing.T) {
	const long = 64 << 20
	const bound = 16 << 20 // bytes Validate may allocate; holding the line takes 64 MiB or more
	cases := []struct {
		name             string
		head, fill, tail string
		want             []wantErr
	}{
		{"line.csv",
			"user,action,recovery_question\nalice,expire_password,\nbob,change_recovery_question,", "x", "\ncarol,expire_password,\n",
			[]wantErr{{3, "", "line 3 is longer than 1 MiB", "right file"}}},
		{"quoted.csv", // a quote left open: every line after it would join the cell
			"user,action\r\nalice,expire_password\r\n\r\n\"bob", ",expire_password\r\n", "",
			[]wantErr{{4, "", "the row starting on line 4 is longer than 1 MiB", `closing " missing`}}},
		{"quoted-semicolon.csv", // the limiter follows quotes after the file's own separator
			"user;action;recovery_question\nalice;expire_password;\nbob;change_recovery_question;\"", "a line of a long question\n", "\"\n",
			[]wantErr{{3, "", "the row starting on line 3 is longer than 1 MiB", ""}}},
		{"header.csv", "user,action,", "y", "\nalice,expire_password\n",
			[]wantErr{{1, "", "line 1 is longer than 1 MiB", ""}}},
		{"line.jsonl", // reading goes on after the long line: line 4 repeats line 1
			`{"user":"alice","action":"expire_password"}` + "\n" + `{"user":"bob","action":"expire_password","x":"`, "z",
			`"}` + "\n" + `{"user":"carol","action":"expire_password"}` + "\n" + `{"user":"alice","action":"expire_password"}` + "\n",
			[]wantErr{{2, "", "line 2 is longer than 1 MiB", ""}, {4, "user", "duplicate (user, action) pair: line 1", ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := writeLong(t, c.name, c.head, c.fill, long, c.tail)
			var (
				sum *Summary
				err error
			)
			alloc := allocatedBy(func() { sum, err = m.Validate(Defaults{}) })
			got := lineErrors(t, err)
			if len(got) != len(c.want) {
				t.Fatalf("Validate = %v; want %d errors", err, len(c.want))
			}
			for i, w := range c.want {
				if got[i].Line != w.line || got[i].Column != w.col || !strings.Contains(got[i].Msg, w.msg) || !strings.Contains(got[i].Hint, w.hint) {
					t.Errorf("error %d = %v; want line %d column %q ~%q (hint ~%q)", i, got[i], w.line, w.col, w.msg, w.hint)
				}
			}
			if alloc > bound {
				t.Errorf("Validate allocated %d MiB for a %d MiB line: the line was held in memory", alloc>>20, long>>20)
			}
			if fi, _ := os.Stat(m.Path); sum == nil || sum.Size != fi.Size() {
				t.Errorf("Summary %+v: the whole file's size and hash are still reported", sum)
			}
			eachErr := m.Each(Defaults{}, func(*Job) error { return nil })
			if eachErr == nil || !strings.Contains(eachErr.Error(), "longer than 1 MiB") {
				t.Errorf("Each = %v", eachErr)
			}
		})
	}
}

// endless hands out a CSV header and then one line that never ends (up to
// limit bytes), counting what it hands out.
type endless struct {
	head   string
	served int
	limit  int
}

func (e *endless) Read(p []byte) (int, error) {
	if e.served >= e.limit {
		return 0, io.EOF
	}
	n := min(len(p), e.limit-e.served)
	for i := range n {
		if k := e.served + i; k < len(e.head) {
			p[i] = e.head[k]
		} else {
			p[i] = 'x'
		}
	}
	e.served += n
	return n, nil
}

// TestLongLineReadBounded: the CSV scanner stops reading a line that never
// ends shortly after MaxLine bytes, and names the line.
func TestLongLineReadBounded(t *testing.T) {
	src := &endless{head: "user,action\nalice,expire_password\n", limit: 256 << 20}
	var errs []*LineError
	m := &Manifest{Path: "endless.csv", Format: CSV}
	s := newScanner(m, false, func(le *LineError) { errs = append(errs, le) })
	rows := 0
	if err := s.scan(src, func(*rawRow) error { rows++; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || errs[0].Line != 3 || !strings.Contains(errs[0].Msg, "line 3 is longer than 1 MiB") {
		t.Fatalf("errors %v; want line 3 refused", errs)
	}
	if rows != 1 {
		t.Errorf("%d rows before the long line, want 1", rows)
	}
	if max := MaxLine + 4<<16; src.served > max {
		t.Errorf("read %d bytes; want at most %d (MaxLine and the buffers)", src.served, max)
	}
}

// TestRowLimiter follows quoting as encoding/csv does, through reads of
// every size: a row is measured from its first byte to its line end, quoted
// line breaks included.
func TestRowLimiter(t *testing.T) {
	cases := []struct {
		name  string
		sep   byte
		max   int
		in    string
		line  int // the line named, 0 for none
		multi bool
	}{
		{"at the limit", ',', 3, "a,b\nccc\n\nddd", 0, false},
		{"over on line 2", ',', 3, "a,b\ncccc\n", 2, false},
		{"over on the last line", ',', 3, "a,b\nccc\ndddd", 3, false},
		{"CR counts", ',', 3, "abc\r\n", 1, false},
		{"quoted line break within", ',', 7, "x,\"a\nb\"\ny\n", 0, false},
		{"quoted line break over", ',', 6, "x,\"a\nb\"\ny\n", 1, true},
		{"doubled quotes stay inside", ',', 9, "\"a\"\"\nb\"\nc\n", 0, false},
		{"doubled quotes over", ',', 5, "\"a\"\"\nb\"\nc\n", 1, true},
		{"quote inside an unquoted cell opens nothing", ',', 3, "a\"b\ncc\ndd\n", 0, false},
		{"closing quote then CRLF", ',', 4, "\"a\"\r\nbb\r\n", 0, false},
		{"quote after the separator", ';', 5, "a;\"b\nc\";d\n", 1, true},
		{"quote after another byte than the separator", ',', 5, "a;\"b\nc\";d\n", 0, false},
		{"quote left open", ',', 8, "ok\n\"abc\ndef\nghi\n", 2, true},
		{"text after a closing quote resumes at the line end", ',', 4, "\"a\"b\nccc\n", 0, false},
		{"empty lines", ',', 1, "\n\n\nab\n", 4, false},
	}
	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
	}
	for _, c := range cases {
		for rn, wrap := range readers {
			t.Run(c.name+"/"+rn, func(t *testing.T) {
				l := newRowLimiter(wrap(strings.NewReader(c.in)), c.sep)
				l.max = c.max
				got, err := io.ReadAll(l)
				var tl *lineTooLong
				switch {
				case c.line == 0 && err != nil:
					t.Fatalf("error %v, want none", err)
				case c.line == 0:
					if string(got) != c.in {
						t.Errorf("passed %q, want %q", got, c.in)
					}
				case !errors.As(err, &tl):
					t.Fatalf("error %v, want line %d too long", err, c.line)
				case tl.line != c.line || tl.multiline != c.multi:
					t.Errorf("line %d (multiline %v), want %d (%v)", tl.line, tl.multiline, c.line, c.multi)
				case !strings.HasPrefix(c.in, string(got)):
					t.Errorf("passed %q, not a prefix of the input", got)
				}
			})
		}
	}
}

// TestLineAtTheLimit: a line of exactly MaxLine bytes is read; one more
// byte is refused (CSV and JSONL).
func TestLineAtTheLimit(t *testing.T) {
	for _, c := range []struct{ name, head, tail string }{
		{"m.csv", "user,action,password,recovery_question,recovery_answer\na,change_recovery_question,p,", ",r\n"},
		{"m.jsonl", `{"user":"a","action":"change_recovery_question","password":"p","recovery_answer":"r","recovery_question":"`, "\"}\n"},
	} {
		hdr := 0
		if c.name == "m.csv" {
			hdr = strings.IndexByte(c.head, '\n') + 1
		}
		for _, extra := range []int{0, 1} {
			n := MaxLine - (len(c.head) - hdr) - (len(c.tail) - 1) + extra
			m := writeLong(t, c.name, c.head, "q", n, c.tail)
			_, err := m.Validate(Defaults{})
			if refused := err != nil && strings.Contains(err.Error(), "longer than 1 MiB"); refused != (extra == 1) {
				t.Errorf("%s: a line of MaxLine%+d bytes: Validate = %v", c.name, extra, err)
			}
			if extra == 0 && err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
		}
	}
}
