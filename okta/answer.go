package okta

import (
	"bytes"
	"unicode/utf8"

	"github.com/credbatch/credbatch/internal/secret"
)

// decodeAnswer fills r from the 2xx body of a credential operation, which
// needs only three top-level members: tempPassword, resetPasswordUrl and
// status. It walks the object once without building anything, and leaves
// every case it does not fully understand to decodeSuccess: a body that is not
// one well-formed object, a key with an escape or a non-ASCII byte, a wanted
// member whose string has an escape. What it fills is what decodeSuccess
// fills for the same body (FuzzDecodeAnswer checks), but for Response.User,
// which only GetUser and GetMe set.
//
// Why not encoding/json: an expire_password answer is a whole User (about
// 1.5 KB), and even into a struct of just these three fields encoding/json
// takes ~6.9 us of CPU per answer against this scan's ~0.8 us
// (BenchmarkDecodeAnswer), ~7 us more per job once its garbage is collected
// (BenchmarkClientOverhead 4.9 -> 12.2 us): 13-16 % of the 45-55 us a job
// costs the whole process, over issue 14's 5 % bar.
func decodeAnswer(body []byte, r *Response) error {
	f, ok := scanAnswer(body)
	if !ok {
		var full Response
		if err := decodeSuccess(body, &full); err != nil {
			return err
		}
		r.TempPassword, r.ResetURL, r.UserStatus = full.TempPassword, full.ResetURL, full.UserStatus
		return nil
	}
	r.TempPassword = secret.New(f.temp)
	r.ResetURL = secret.New(f.reset)
	r.UserStatus = f.status
	return nil
}

// answerFields are the members decodeAnswer keeps ("" when absent or not a
// string, as jsonString reads them).
type answerFields struct {
	temp, reset, status string
}

// scanAnswer reads body as one JSON object (white space around it allowed,
// or an empty body) and returns its wanted members; ok is false whenever
// decodeSuccess must decide instead.
func scanAnswer(body []byte) (f answerFields, ok bool) {
	s := answerScanner{b: body}
	s.space()
	if s.i == len(s.b) {
		return f, true // no body: nothing to fill, as decodeSuccess
	}
	if !s.byte('{') {
		return f, false
	}
	s.space()
	if s.byte('}') {
		return f, s.end()
	}
	for {
		s.space()
		key, ok := s.plainString()
		if !ok || !asciiOnly(key) {
			return f, false
		}
		s.space()
		if !s.byte(':') {
			return f, false
		}
		s.space()
		var dst *string
		switch {
		case bytes.EqualFold(key, keyTempPassword):
			dst = &f.temp
		case bytes.EqualFold(key, keyResetPasswordURL):
			dst = &f.reset
		case bytes.EqualFold(key, keyStatus):
			dst = &f.status
		}
		if dst != nil {
			if s.i < len(s.b) && s.b[s.i] == '"' {
				v, ok := s.plainString()
				if !ok || !utf8.Valid(v) {
					// An escape or a bad string; encoding/json turns
					// invalid UTF-8 into U+FFFD: leave both to it.
					return f, false
				}
				*dst = string(v) // the last of repeated keys wins, as in encoding/json
			} else {
				if !s.value(0) {
					return f, false
				}
				*dst = "" // not a string: jsonString reads ""
			}
		} else if !s.value(0) {
			return f, false
		}
		s.space()
		if s.byte(',') {
			continue
		}
		if s.byte('}') {
			return f, s.end()
		}
		return f, false
	}
}

// maxAnswerDepth bounds nesting (encoding/json allows 10,000; an Okta answer
// nests four deep).
const maxAnswerDepth = 64

type answerScanner struct {
	b []byte
	i int
}

func (s *answerScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *answerScanner) byte(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only white space follows.
func (s *answerScanner) end() bool {
	s.space()
	return s.i == len(s.b)
}

// plainString reads a string with no escape and no control character, and
// returns its contents (a slice of the body); ok is false for anything else
// (including an escape, which decodeSuccess then handles).
func (s *answerScanner) plainString() ([]byte, bool) {
	if !s.byte('"') {
		return nil, false
	}
	start := s.i
	s.i = skipPlain(s.b, s.i)
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false // the end, an escape or a control character
	}
	v := s.b[start:s.i]
	s.i++
	return v, true
}

// skipPlain returns the index of the first byte of b from i on that a
// string does not hold as it is (a quote, a backslash or a control
// character), or len(b).
func skipPlain(b []byte, i int) int {
	for i < len(b) && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
		i++
	}
	return i
}

// skipString skips a well-formed string, escapes included (any byte from
// 0x20 up is allowed, as encoding/json allows it).
func (s *answerScanner) skipString() bool {
	if !s.byte('"') {
		return false
	}
	for s.i < len(s.b) {
		if s.i = skipPlain(s.b, s.i); s.i >= len(s.b) {
			return false
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			s.i++
			if s.i >= len(s.b) {
				return false
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				s.i++
				for k := 0; k < 4; k++ {
					if s.i >= len(s.b) || !isHex(s.b[s.i]) {
						return false
					}
					s.i++
				}
			default:
				return false
			}
			continue
		}
		s.i++
	}
	return false
}

// value skips one well-formed JSON value.
func (s *answerScanner) value(depth int) bool {
	if s.i >= len(s.b) || depth > maxAnswerDepth {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.skipString()
	case c == '{':
		s.i++
		s.space()
		if s.byte('}') {
			return true
		}
		for {
			s.space()
			if !s.skipString() {
				return false
			}
			s.space()
			if !s.byte(':') {
				return false
			}
			s.space()
			if !s.value(depth + 1) {
				return false
			}
			s.space()
			if s.byte(',') {
				continue
			}
			return s.byte('}')
		}
	case c == '[':
		s.i++
		s.space()
		if s.byte(']') {
			return true
		}
		for {
			s.space()
			if !s.value(depth + 1) {
				return false
			}
			s.space()
			if s.byte(',') {
				continue
			}
			return s.byte(']')
		}
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return false
}

func (s *answerScanner) literal(w string) bool {
	if len(s.b)-s.i < len(w) || string(s.b[s.i:s.i+len(w)]) != w {
		return false
	}
	s.i += len(w)
	return true
}

// number skips a number in JSON's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *answerScanner) number() bool {
	s.byte('-')
	switch {
	case s.byte('0'):
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.byte('.') {
		if s.digits() == 0 {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if !s.byte('+') {
			s.byte('-')
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

func (s *answerScanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func asciiOnly(s []byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// The wanted members' names, matched as encoding/json matches keys to
// fields: without regard to case (bytes.EqualFold; keys reach it ASCII only).
var (
	keyTempPassword     = []byte("tempPassword")
	keyResetPasswordURL = []byte("resetPasswordUrl")
	keyStatus           = []byte("status")
)
