package jobs

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf16"
)

// toUTF16 encodes s as UTF-16 with a byte-order mark, with the standard
// library (independent of the x/text decoder under test).
func toUTF16(s string, bigEndian bool) []byte {
	units := utf16.Encode([]rune("\uFEFF" + s))
	b := make([]byte, 2*len(units))
	for i, u := range units {
		if bigEndian {
			binary.BigEndian.PutUint16(b[2*i:], u)
		} else {
			binary.LittleEndian.PutUint16(b[2*i:], u)
		}
	}
	return b
}

// writeRaw writes raw bytes to a new manifest file called name.
func writeRaw(t testing.TB, name string, b []byte) *Manifest {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A manifest with what transcoding must keep: CRLF, a quoted cell over two
// lines, a blank line, non-ASCII text and a character outside the BMP (a
// surrogate pair in UTF-16).
const utf16CSV = "user,action,password,recovery_question,recovery_answer,first_name\r\n" +
	"josé@exämple.com,change_recovery_question,Pässwörd,\"Favourite\r\ndog? 🐶\",Rex 🐕,José\r\n" +
	"\r\n" +
	"00uABCDEFGHIJ0123456,expire_password,,,,山田\r\n" +
	"bob@example.com,clear_sessions,,,,\r\n"

// TestUTF16Read: a UTF-16 manifest (LE or BE, with its BOM; commas, tabs or
// JSONL) reads as the same jobs, on the same lines, as its UTF-8 text;
// Summary's SHA-256 and size are those of the file's own bytes (which
// Fingerprint, and so a checkpoint, agree with).
func TestUTF16Read(t *testing.T) {
	utf8Tab := resep(t, utf16CSV, '\t', true)
	utf8JSONL := `{"user":"josé@exämple.com","action":"change_recovery_question","password":"Pässwörd","recovery_question":"Favourite\r\ndog? 🐶","recovery_answer":"Rex 🐕","first_name":"José"}` + "\r\n\r\n" +
		`{"user":"00uABCDEFGHIJ0123456","action":"expire_password","first_name":"山田"}` + "\n" +
		`{"user":"bob@example.com","action":"clear_sessions"}`
	for _, c := range []struct {
		name, text string
		sep        rune
		line2      int // the second row's line
	}{
		{"m.csv", utf16CSV, ',', 5},
		{"tab.csv", utf8Tab, '\t', 4}, // no blank line after resep; Excel's "Unicode Text"
		{"m.jsonl", utf8JSONL, 0, 3},
	} {
		want := collect(t, writeManifest(t, c.name, c.text), Defaults{})
		for _, be := range []bool{false, true} {
			enc := map[bool]Encoding{false: UTF16LE, true: UTF16BE}[be]
			t.Run(c.name+"/"+string(enc), func(t *testing.T) {
				raw := toUTF16(c.text, be)
				m := writeRaw(t, c.name, raw)
				sum, err := m.Validate(Defaults{})
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				h := sha256.Sum256(raw)
				if sum.SHA256 != hex.EncodeToString(h[:]) || sum.Size != int64(len(raw)) {
					t.Errorf("Summary SHA-256 %s size %d: not the file's bytes", sum.SHA256, sum.Size)
				}
				if fp, size, err := m.Fingerprint(); err != nil || fp != sum.SHA256 || size != sum.Size {
					t.Errorf("Fingerprint = %s, %d, %v; Validate said %s, %d", fp, size, err, sum.SHA256, sum.Size)
				}
				if sum.Encoding != enc || sum.Separator != c.sep || sum.Rows != 3 || !sum.HasPasswords {
					t.Errorf("Summary %+v", sum)
				}
				got := collect(t, m, Defaults{})
				if len(got) != len(want) {
					t.Fatalf("%d jobs, want %d", len(got), len(want))
				}
				for i := range got {
					if view(got[i]) != view(want[i]) || got[i].FirstName != want[i].FirstName {
						t.Errorf("job %d = %+v %q, want %+v %q", i, view(got[i]), got[i].FirstName, view(want[i]), want[i].FirstName)
					}
				}
				if got[1].Line != c.line2 {
					t.Errorf("second job on line %d, want %d", got[1].Line, c.line2)
				}
			})
		}
	}
}

// TestUTF16Refused: UTF-32, and UTF-16 without a byte-order mark, are
// refused on line 1, by name; nothing is read as garbage.
func TestUTF16Refused(t *testing.T) {
	noBOM := toUTF16("user,action\nalice,expire_password\n", false)[2:]
	noBOMBE := toUTF16("user,action\nalice,expire_password\n", true)[2:]
	for _, c := range []struct {
		name string
		raw  []byte
		msg  string
	}{
		{"utf32le.csv", append([]byte{0xFF, 0xFE, 0, 0}, "u\x00\x00\x00"...), "this file is UTF-32"},
		{"utf32be.jsonl", []byte{0, 0, 0xFE, 0xFF, 0, 0, 0, '{'}, "this file is UTF-32"},
		{"nobom.csv", noBOM, "UTF-16 without a byte-order mark"},
		{"nobom-be.jsonl", noBOMBE, "UTF-16 without a byte-order mark"},
	} {
		m := writeRaw(t, c.name, c.raw)
		sum, err := m.Validate(Defaults{})
		got := lineErrors(t, err)
		if len(got) != 1 || got[0].Line != 1 || !strings.Contains(got[0].Msg, c.msg) || !strings.Contains(got[0].Hint, "UTF-8") {
			t.Errorf("%s: Validate = %v; want one error on line 1: %s", c.name, err, c.msg)
		}
		if sum == nil || sum.Size != int64(len(c.raw)) {
			t.Errorf("%s: Summary %+v", c.name, sum)
		}
		if err := m.Each(Defaults{}, func(*Job) error { return nil }); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: Each = %v", c.name, err)
		}
	}
}

// TestUTF16BadText: a lone surrogate decodes to U+FFFD, which a user cell
// refuses; a line over MaxLine is refused by its line number after
// transcoding too.
func TestUTF16BadText(t *testing.T) {
	raw := toUTF16("user,action\nalice,expire_password\nbob", false)
	raw = append(raw, 0x00, 0xD8) // a high surrogate alone
	raw = append(raw, toUTF16(",expire_password\n", false)[2:]...)
	_, err := writeRaw(t, "m.csv", raw).Validate(Defaults{})
	got := lineErrors(t, err)
	if len(got) != 1 || got[0].Line != 3 || got[0].Column != "user" || !strings.Contains(got[0].Msg, "not valid UTF-8") {
		t.Errorf("Validate = %v; want line 3's user refused", err)
	}

	long := toUTF16("user,action\n\nalice,expire_password,"+strings.Repeat("é", MaxLine/2+1)+"\n", true)
	_, err = writeRaw(t, "long.csv", long).Validate(Defaults{})
	got = lineErrors(t, err)
	if len(got) != 1 || got[0].Line != 3 || !strings.Contains(got[0].Msg, "line 3 is longer than 1 MiB") {
		t.Errorf("Validate = %v; want line 3 too long", err)
	}
}

// TestUTF16Duplicates: a duplicate far into a large UTF-16 manifest is
// confirmed by reading the manifest again, and a hash collision between
// different pairs is told apart the same way (CSV and JSONL).
func TestUTF16Duplicates(t *testing.T) {
	orig := hashKey
	t.Cleanup(func() { hashKey = orig })
	hashKey = func(k string, a Action) uint64 {
		if strings.HasPrefix(k, "collide-") {
			return 7
		}
		return orig(k, a)
	}
	users := make([]string, 12_000) // about 500 KB of text: several marks
	for i := range users {
		users[i] = fmt.Sprintf("user%05d@exämple.com", i)
	}
	users[100] = "collide-1"
	users[8_000] = "collide-2" // same hash as row 100: not a duplicate
	users[10_000] = users[3_000]
	users[11_999] = "DUP-" + users[6_000]
	users[6_000] = "dup-" + users[6_000]
	for _, c := range []struct {
		name, head, row string
		first           int // the line of users[0]
	}{
		{"big.csv", "user;action;first_name\n", "%s;clear_sessions;Zoë 🐶\n", 2},
		{"big.jsonl", "", `{"user":"%s","action":"clear_sessions","first_name":"Zoë 🐶"}` + "\n", 1},
	} {
		var b strings.Builder
		b.WriteString(c.head)
		for _, u := range users {
			fmt.Fprintf(&b, c.row, u)
		}
		m := writeRaw(t, c.name, toUTF16(b.String(), false))
		_, err := m.Validate(Defaults{})
		got := lineErrors(t, err)
		want := []wantErr{
			{10_000 + c.first, "user", fmt.Sprintf("line %d", 3_000+c.first), ""},
			{11_999 + c.first, "user", fmt.Sprintf("line %d", 6_000+c.first), ""},
		}
		if len(got) != len(want) {
			t.Fatalf("%s: Validate = %v; want %d errors", c.name, err, len(want))
		}
		for i, w := range want {
			if got[i].Line != w.line || !strings.HasSuffix(got[i].Msg, w.msg+" has the same user and action clear_sessions") {
				t.Errorf("%s: error %d = %v; want line %d ~%q", c.name, i, got[i], w.line, w.msg)
			}
		}
	}
}

// TestUTF16CopyRows: the rows of a UTF-16 manifest are copied as UTF-8 text
// (a CSV after a UTF-8 BOM), which reads as the same jobs.
func TestUTF16CopyRows(t *testing.T) {
	for _, name := range []string{"m.csv", "m.jsonl"} {
		text := utf16CSV
		if name == "m.jsonl" {
			text = everyActionJSONL
		}
		m := writeRaw(t, name, toUTF16(text, true))
		all := collect(t, m, Defaults{})
		var out bytes.Buffer
		n, err := m.CopyRows(func(line int) bool { return line != all[0].Line }, &out)
		if err != nil || n != len(all)-1 {
			t.Fatalf("%s: CopyRows = %d, %v", name, n, err)
		}
		if name == "m.csv" && !bytes.HasPrefix(out.Bytes(), []byte("\uFEFFuser,action,")) {
			t.Errorf("%s: copy starts %q", name, out.Bytes()[:min(20, out.Len())])
		}
		copied := collect(t, writeManifest(t, name, out.String()), Defaults{})
		if len(copied) != len(all)-1 {
			t.Fatalf("%s: the copy has %d jobs, want %d", name, len(copied), len(all)-1)
		}
		for i, j := range copied {
			w := view(all[i+1])
			g := view(j)
			g.Line = w.Line
			if g != w {
				t.Errorf("%s: copied job %d = %+v, want %+v", name, i, g, w)
			}
		}
	}
}

// TestCopyStdinKeepsBytes: a UTF-16 manifest on standard input is copied
// byte for byte (REPORT.manifest, read as CSV, transcoded when read), so
// the SHA-256 the checkpoint pins is that of what the user gave.
func TestCopyStdinKeepsBytes(t *testing.T) {
	raw := toUTF16(utf16CSV, false)
	dst := filepath.Join(t.TempDir(), "out.csv.manifest")
	if err := CopyStdin(bytes.NewReader(raw), dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, raw) {
		t.Fatal("the copy is not the bytes given")
	}
	m := &Manifest{Path: dst, Format: CSV} // as the command opens REPORT.manifest
	sum, err := m.Validate(Defaults{})
	h := sha256.Sum256(raw)
	if err != nil || sum.SHA256 != hex.EncodeToString(h[:]) || sum.Rows != 3 || sum.Encoding != UTF16LE {
		t.Errorf("Validate = %+v, %v", sum, err)
	}
}

// TestDecoder: the decoder gives the text the standard library decodes,
// through reads of any size, and every mark it records is a place from
// which decoding gives the rest of the text.
func TestDecoder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var runes []rune
	for len(runes) < 100_000 { // about 200 KB of text: several marks
		switch rng.IntN(4) {
		case 0:
			runes = append(runes, rune('a'+rng.IntN(26)))
		case 1:
			runes = append(runes, '\n')
		case 2:
			runes = append(runes, rune(0xE0+rng.IntN(0x700)))
		case 3:
			runes = append(runes, rune(0x1F400+rng.IntN(0x100))) // a surrogate pair
		}
	}
	text := string(runes)
	for _, be := range []bool{false, true} {
		enc := map[bool]Encoding{false: UTF16LE, true: UTF16BE}[be]
		raw := toUTF16(text, be)
		for rn, wrap := range map[string]func(io.Reader) io.Reader{
			"whole": func(r io.Reader) io.Reader { return r }, "one byte": iotest.OneByteReader, "half": iotest.HalfReader,
		} {
			d := newDecoder(wrap(bytes.NewReader(raw[2:])), enc, 2, 0, true)
			got, err := io.ReadAll(d)
			if err != nil || string(got) != text {
				t.Fatalf("%s %s: decoded %d bytes (%v), want the %d of the text", enc, rn, len(got), err, len(text))
			}
			for i := 1; i < len(d.marks); i++ {
				if gap := d.marks[i].out - d.marks[i-1].out; gap < markEvery || gap > 2*markEvery {
					t.Errorf("%s %s: marks %+v and %+v", enc, rn, d.marks[i-1], d.marks[i])
				}
			}
			if last := d.marks[len(d.marks)-1].out; int64(len(text))-last > 2*markEvery {
				t.Errorf("%s %s: the last mark is at %d of %d", enc, rn, last, len(text))
			}
			for off := int64(0); off < int64(len(text)); off += 997 {
				if mk := d.at(off); mk.out > off || off-mk.out >= 2*markEvery {
					t.Fatalf("%s %s: at(%d) = %+v: not the nearest mark before", enc, rn, off, mk)
				}
			}
			for _, mk := range d.marks {
				rest, err := io.ReadAll(newDecoder(bytes.NewReader(raw[mk.in:]), enc, mk.in, mk.out, false))
				if err != nil || string(rest) != text[mk.out:] {
					t.Fatalf("%s %s: from mark %+v: %d bytes, want %d", enc, rn, mk, len(rest), len(text)-int(mk.out))
				}
			}
		}
	}
}
