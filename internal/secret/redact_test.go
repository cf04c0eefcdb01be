package secret_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/credbatch/credbatch/internal/secret"
)

// nasty holds every character that escapes differently in JSON and in URLs.
const nasty = `Pa"ss\wo<r>d&%+ é日本/🔑-9fX`

// jsonForm is s as encoding/json writes it inside a string (no quotes).
func jsonForm(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

// asciiJSONForm is s JSON-escaped with every non-ASCII character as \uXXXX
// (surrogate pairs above U+FFFF), as servers that write ASCII only do, and
// / as \/; hex in upper or lower case.
func asciiJSONForm(s string, upper bool) string {
	var b strings.Builder
	hex := "\\u%04x"
	if upper {
		hex = "\\u%04X"
	}
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r == '/':
			b.WriteString(`\/`)
		case r < 0x20 || r > 0x7e:
			for _, c := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, hex, c)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

var pctHex = regexp.MustCompile(`%[0-9A-F]{2}`)

func lowerHex(s string) string { return pctHex.ReplaceAllStringFunc(s, strings.ToLower) }

// spellings are the forms a server may echo a secret in.
func spellings(s string) map[string]string {
	forms := map[string]string{
		"raw":                   s,
		"json":                  jsonForm(s, true),
		"json, no HTML escapes": jsonForm(s, false),
		"json, ASCII lower":     asciiJSONForm(s, false),
		"json, ASCII upper":     asciiJSONForm(s, true),
		"query":                 url.QueryEscape(s),
		"query, lower hex":      lowerHex(url.QueryEscape(s)),
		"path":                  url.PathEscape(s),
		"path, lower hex":       lowerHex(url.PathEscape(s)),
		"json inside a query":   url.QueryEscape(jsonForm(s, false)),
		"query inside json":     jsonForm(url.QueryEscape(s), true),
		"json twice":            jsonForm(jsonForm(s, true), true),
		"query twice":           url.QueryEscape(url.QueryEscape(s)),
	}
	return forms
}

func TestRedactEverySpelling(t *testing.T) {
	for i, s := range []string{nasty, "plain-Secret-0123", `a"b\c`, "日本語のパスワード", "  +  ", "abab+abac%"} {
		for name, form := range spellings(s) {
			text := `{"errorSummary":"before:` + form + `:after"}`
			got := secret.Redact(text, secret.New("unrelated-one"), secret.New(s))
			if want := `{"errorSummary":"before:[REDACTED]:after"}`; got != want {
				// (the secret's spelling is not printed: test output shows no secret)
				t.Errorf("secret #%d, %s spelling: not redacted to the mark alone", i, name)
			}
		}
	}
}

func TestRedactEveryOccurrenceAndOverlaps(t *testing.T) {
	a, b := secret.New("abcdef"), secret.New("defghi")
	got := secret.Redact("x abcdefghi y abcdef z "+url.QueryEscape(nasty)+" "+nasty, a, b, secret.New(nasty))
	if want := "x [REDACTED] y [REDACTED] z [REDACTED] [REDACTED]"; got != want {
		t.Errorf("got %d marks and %d bytes, want %q", strings.Count(got, secret.Redacted), len(got), want)
	}
	// A secret that starts again inside itself.
	for _, c := range []struct{ text, secret, want string }{
		{"xababacy", "abac", "xab[REDACTED]y"},
		{"abcabcabc!", "abcabc", "[REDACTED]!"},
		{"a%2Bb%2Ba%2Bb%2Ba%2Bb", "a+b+a+b", "[REDACTED]"},
	} {
		if got := secret.Redact(c.text, secret.New(c.secret)); got != c.want {
			t.Errorf("Redact(%q, %q) = %q, want %q", c.text, c.secret, got, c.want)
		}
	}
}

// TestRedactLeavesTheRest: text without a secret comes back as it is,
// escapes and all; so do secrets too short to look for, and a secret's
// prefix.
func TestRedactLeavesTheRest(t *testing.T) {
	text := `{"errorSummary":"Password requirements: \u003c 8 chars, 50%25 \"off\" a+b \\ \ud83d\udd11 %zz \u12"}`
	for _, secrets := range [][]secret.String{
		nil,
		{secret.New("")},
		{secret.New("abc")}, // shorter than MinRedact
		{secret.New(nasty)},
		{secret.New("Password requirements!")},
		{secret.New("chars, 50% \"off\" a+c")},
	} {
		if got := secret.Redact(text, secrets...); got != text {
			t.Errorf("%v: got %q", secrets, got)
		}
	}
	if got := secret.Redact("abcd abc", secret.New("abcd")); got != "[REDACTED] abc" {
		t.Errorf("got %q", got)
	}
	if got := secret.Redact("", secret.New("abcd")); got != "" {
		t.Errorf("got %q", got)
	}
}

// TestRedactBrokenEscapes: an escape cut short or invalid is read as the
// characters it is made of.
func TestRedactBrokenEscapes(t *testing.T) {
	for _, c := range []struct{ text, secret, want string }{
		{`x%4aby`, "%4ab", "x[REDACTED]y"},
		{`xy%4`, "xy%4", "[REDACTED]"},
		{`x\u12zy`, `\u12z`, "x[REDACTED]y"},
		{`x\u12`, `x\u12`, "[REDACTED]"},
		{`\q\qy`, `\q\q`, "[REDACTED]y"},
		{`abc\`, `abc\`, "[REDACTED]"},
		{`%%41%`, "%%41", "[REDACTED]%"},
		{`x%%41bcy`, "%Abc", "x[REDACTED]y"}, // "%%4" is no escape: "%41" is
		{`x\\u12\u0041bcy`, `\u12Abc`, "x[REDACTED]y"},
		{`\ud83d\u0041bc`, "\ufffdAbc", "[REDACTED]"}, // a lone surrogate reads as U+FFFD, as encoding/json has it
		{`\ud83d\u`, "\ufffd\\u", "[REDACTED]"},
		{`\ud83d`, "\ufffd", `\ud83d`}, // shorter than MinRedact
	} {
		if got := secret.Redact(c.text, secret.New(c.secret)); got != c.want {
			t.Errorf("Redact(%q, %q) = %q, want %q", c.text, c.secret, got, c.want)
		}
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("hello "+url.QueryEscape(nasty), nasty)
	f.Add(`{"a":"`+jsonForm(nasty, true)+`"}`, nasty)
	f.Add("D]zzzz", "D]zz")
	f.Fuzz(func(t *testing.T, text, s string) {
		if len(s) < secret.MinRedact || strings.Contains(s, "\x00") {
			return
		}
		// Outside the marks, the secret is gone.
		got := secret.Redact(text, secret.New(s))
		if strings.Contains(strings.ReplaceAll(got, secret.Redacted, "\x00"), s) {
			t.Fatalf("secret left in %q", got)
		}
		// The secret in any spelling is gone, and nothing else is.
		if !utf8.ValidString(s) {
			return // encoding/json would send U+FFFD: the secret is not on the wire
		}
		for name, form := range spellings(s) {
			out := secret.Redact("\x00"+form+"\x00", secret.New(s))
			if !strings.Contains(out, secret.Redacted) || strings.ReplaceAll(out, secret.Redacted, "") != "\x00\x00" {
				t.Fatalf("%s: %q", name, out)
			}
		}
	})
}

// BenchmarkRedact: a 1 MiB answer (the most the okta client reads) made of
// near-copies of a 1 KB secret in an escaped spelling, the worst case for
// a matcher that restarts at every byte; Redact's time stays linear.
func BenchmarkRedact(b *testing.B) {
	s := strings.Repeat("eyJhbGciOiJSUzI1NiJ9", 50)
	near := url.QueryEscape(jsonForm(s[:len(s)-1], true)) + "!"
	text := strings.Repeat(near, (1<<20)/len(near))
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if secret.Redact(text, secret.New(s), secret.New(nasty)) != text {
			b.Fatal("redacted a near-copy")
		}
	}
}
