package secret

import (
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MinRedact is the length, in bytes, of the shortest secret Redact looks
// for: a shorter one would mangle ordinary words of a server's message.
const MinRedact = 4

// Redact returns text with every occurrence of each secret replaced by
// [Redacted], in whatever spelling it appears: as it is; JSON-escaped, the
// way encoding/json writes it (\" \\ \u003c \u0026 \u003e, with or without
// HTML escaping) or any other way JSON allows (\/, \uXXXX in either case for
// any character, surrogate pairs); URL-encoded (url.QueryEscape's and
// url.PathEscape's forms, %XX in either case, + for a space); and one of
// these inside another (a JSON body URL-encoded, a JSON text escaped twice).
// Text a server sends back may echo a request: run it through Redact with
// every secret the request carried before it is shown or stored.
//
// Secrets shorter than MinRedact bytes are not looked for. The text is read
// once for each spelling, whatever the secrets' number and length, so a
// large answer built to slow the search down costs little.
func Redact(text string, secrets ...String) string {
	if !strings.ContainsAny(text, `\%+`) && !containsAny(text, secrets) {
		return text // no escapes: only the raw spelling could be there
	}
	var spans [][2]int
	var vals []string
	for _, s := range secrets {
		if len(s.v) >= MinRedact {
			vals = append(vals, s.v)
		}
	}
	if len(vals) > 0 {
		for _, sp := range spellings {
			if sp.applies(text) {
				spans = find(spans, sp.reader(text), vals, sp.percent)
			}
		}
	}
	if len(spans) == 0 {
		return text
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	var b strings.Builder
	at := 0 // text[:at] is written
	for i := 0; i < len(spans); {
		lo, hi := spans[i][0], spans[i][1]
		for i++; i < len(spans) && spans[i][0] < hi; i++ {
			hi = max(hi, spans[i][1]) // overlapping occurrences: one mark
		}
		b.WriteString(text[at:lo])
		b.WriteString(Redacted)
		at = hi
	}
	b.WriteString(text[at:])
	return b.String()
}

// containsAny reports whether text holds one of the secrets as it is.
func containsAny(text string, secrets []String) bool {
	for _, s := range secrets {
		if len(s.v) >= MinRedact && strings.Contains(text, s.v) {
			return true
		}
	}
	return false
}

// spelling is one way of reading a text: as it is, or with one or two
// layers of escapes undone.
type spelling struct {
	layers  int  // how many layers of escapes it undoes
	percent bool // one of them is URL-encoding
	reader  func(string) reader
}

// applies reports whether reading text this way can differ from reading it
// as it is: only where it holds an escape.
func (sp spelling) applies(text string) bool {
	return sp.layers == 0 || strings.ContainsAny(text, `\%+`)
}

var spellings = []spelling{
	{0, false, func(t string) reader { return &raw{s: t} }},
	{1, true, func(t string) reader { return unPercent(&raw{s: t}) }},
	{1, false, func(t string) reader { return unJSON(&raw{s: t}) }},
	{2, true, func(t string) reader { return unJSON(unPercent(&raw{s: t})) }},
	{2, true, func(t string) reader { return unPercent(unJSON(&raw{s: t})) }},
	{2, true, func(t string) reader { return unPercent(unPercent(&raw{s: t})) }},
	{2, false, func(t string) reader { return unJSON(unJSON(&raw{s: t})) }},
}

// find appends the ranges of the original text where r reads one of the
// secrets. It runs Knuth-Morris-Pratt over the decoded bytes, once for all
// the secrets. Where URL-encoding was undone, a + may have been a space: +
// and space are then the same character.
func find(spans [][2]int, r reader, secrets []string, plusIsSpace bool) [][2]int {
	ms := make([]matcher, len(secrets))
	for i, s := range secrets {
		ms[i] = newMatcher(s, plusIsSpace)
	}
	for k := 0; ; {
		u, ok := r.next()
		if !ok {
			return spans
		}
		for _, c := range u.b[:u.n] {
			for i := range ms {
				if lo, ok := ms[i].feed(c, k, u.lo); ok {
					spans = append(spans, [2]int{lo, u.hi})
				}
			}
			k++
		}
	}
}

// matcher finds one secret in a stream of decoded bytes, remembering where
// in the original text each of the last len(secret) of them began.
type matcher struct {
	pat     []byte
	fail    []int // fail[i]: the longest proper border of pat[:i+1]
	from    []int // from[k%len(pat)]: where decoded byte k began
	matched int   // how much of pat the last bytes match
}

func newMatcher(secret string, plusIsSpace bool) matcher {
	m := matcher{pat: []byte(secret), fail: make([]int, len(secret)), from: make([]int, len(secret))}
	if plusIsSpace {
		for i, c := range m.pat {
			if c == '+' {
				m.pat[i] = ' '
			}
		}
	}
	for i, k := 1, 0; i < len(m.pat); i++ {
		for k > 0 && m.pat[i] != m.pat[k] {
			k = m.fail[k-1]
		}
		if m.pat[i] == m.pat[k] {
			k++
		}
		m.fail[i] = k
	}
	return m
}

// feed reads decoded byte number k, which began at offset lo of the text;
// when it completes the secret, it returns where the secret began.
func (m *matcher) feed(c byte, k, lo int) (start int, ok bool) {
	n := len(m.pat)
	m.from[k%n] = lo
	for m.matched > 0 && c != m.pat[m.matched] {
		m.matched = m.fail[m.matched-1]
	}
	if c == m.pat[m.matched] {
		m.matched++
	}
	if m.matched < n {
		return 0, false
	}
	m.matched = m.fail[n-1]
	return m.from[(k-n+1)%n], true
}

// unit is one character a reader decoded (up to four bytes) and the range
// of the original text it was spelt in.
type unit struct {
	b      [utf8.UTFMax]byte
	n      uint8
	lo, hi int
}

func byteUnit(c byte, lo, hi int) unit {
	return unit{b: [utf8.UTFMax]byte{c}, n: 1, lo: lo, hi: hi}
}

// is reports whether the unit is the one byte c.
func (u unit) is(c byte) bool { return u.n == 1 && u.b[0] == c }

// reader reads a text one unit at a time.
type reader interface {
	next() (unit, bool)
}

// raw reads the text's bytes as they are.
type raw struct {
	s string
	i int
}

func (r *raw) next() (unit, bool) {
	if r.i >= len(r.s) {
		return unit{}, false
	}
	r.i++
	return byteUnit(r.s[r.i-1], r.i-1, r.i), true
}

// decoder reads another reader's units and undoes one kind of escape; an
// escape cut short or invalid is read as the characters it is made of.
type decoder struct {
	in     reader
	back   []unit // units read ahead and given back, next first
	escape func(d *decoder, first unit) unit
}

func (d *decoder) pull() (unit, bool) {
	if len(d.back) > 0 {
		u := d.back[0]
		d.back = d.back[1:]
		return u, true
	}
	return d.in.next()
}

// pullN reads up to n units (fewer at the end).
func (d *decoder) pullN(n int) []unit {
	us := make([]unit, 0, n)
	for range n {
		u, ok := d.pull()
		if !ok {
			break
		}
		us = append(us, u)
	}
	return us
}

// giveBack puts units read ahead back in front of the rest.
func (d *decoder) giveBack(us ...unit) {
	d.back = append(slices.Clip(us), d.back...)
}

func (d *decoder) next() (unit, bool) {
	u, ok := d.pull()
	if !ok {
		return u, false
	}
	return d.escape(d, u), true
}

// unPercent undoes URL-encoding: %XX in either case; a + (which may have
// been a space) is read as a space.
func unPercent(in reader) reader {
	return &decoder{in: in, escape: func(d *decoder, u unit) unit {
		switch {
		case u.is('+'):
			return byteUnit(' ', u.lo, u.hi)
		case !u.is('%'):
			return u
		}
		hex := d.pullN(2)
		v, ok := hexValue(hex, 2)
		if !ok {
			d.giveBack(hex...)
			return u
		}
		if v == '+' {
			v = ' '
		}
		return byteUnit(byte(v), u.lo, hex[1].hi)
	}}
}

// unJSON undoes a JSON string's escapes: \" \\ \/ \b \f \n \r \t and \uXXXX
// (either case; a surrogate pair is one character, a lone surrogate reads
// as U+FFFD, as encoding/json has it).
func unJSON(in reader) reader {
	return &decoder{in: in, escape: func(d *decoder, u unit) unit {
		if !u.is('\\') {
			return u
		}
		e, ok := d.pull()
		if !ok {
			return u
		}
		if e.n == 1 {
			if i := strings.IndexByte(`"\/bfnrt`, e.b[0]); i >= 0 {
				return byteUnit("\"\\/\b\f\n\r\t"[i], u.lo, e.hi)
			}
		}
		if !e.is('u') {
			d.giveBack(e)
			return u
		}
		hex := d.pullN(4)
		v, ok := hexValue(hex, 4)
		if !ok {
			d.giveBack(append([]unit{e}, hex...)...)
			return u
		}
		r, end := rune(v), hex[3].hi
		if utf16.IsSurrogate(r) {
			r = utf8.RuneError
			low := d.pullN(6) // the pair's second half?
			if len(low) == 6 && low[0].is('\\') && low[1].is('u') {
				if v2, ok := hexValue(low[2:], 4); ok {
					if pair := utf16.DecodeRune(rune(v), rune(v2)); pair != utf8.RuneError {
						r, end, low = pair, low[5].hi, nil
					}
				}
			}
			d.giveBack(low...)
		}
		out := unit{lo: u.lo, hi: end}
		out.n = uint8(utf8.EncodeRune(out.b[:], r))
		return out
	}}
}

// hexValue reads n hex digits (either case), one a unit.
func hexValue(us []unit, n int) (int, bool) {
	if len(us) != n {
		return 0, false
	}
	v := 0
	for _, u := range us {
		if u.n != 1 {
			return 0, false
		}
		switch c := int(u.b[0]); {
		case c >= '0' && c <= '9':
			v = v<<4 | (c - '0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | (c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | (c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return v, true
}
