package checkpoint

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds one record's body, so a corrupt length never makes recovery
// allocate without bound. Eight decimal digits allow up to 99,999,999 bytes;
// a report row is far smaller.
const (
	maxBody      = 1<<26 - 1 // 64 MiB
	maxLenDigits = 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const hexDigits = "0123456789abcdef"

// appendFrame appends one frame around body to dst.
func appendFrame(dst, body []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, '\t')
	c := crc32.Checksum(body, castagnoli)
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, hexDigits[(c>>uint(shift))&0xf])
	}
	dst = append(dst, '\t')
	dst = append(dst, body...)
	return append(dst, '\n')
}

func headerBody(h Header) ([]byte, error) {
	js, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: encode header: %w", err)
	}
	return append([]byte("H\t"), js...), nil
}

func attemptBody(dst []byte, a Attempt) []byte {
	dst = append(dst, 'A', '\t')
	dst = strconv.AppendInt(dst, int64(a.Line), 10)
	dst = append(dst, '\t')
	dst = strconv.AppendInt(dst, int64(a.N), 10)
	dst = append(dst, '\t')
	dst = strconv.AppendInt(dst, a.At.UnixNano(), 10)
	dst = append(dst, '\t')
	return append(dst, a.UserID...)
}

func releaseBody(dst []byte, line int) []byte {
	dst = append(dst, 'R', '\t')
	return strconv.AppendInt(dst, int64(line), 10)
}

func outcomeBody(dst []byte, o Outcome) []byte {
	dst = append(dst, 'O', '\t')
	dst = strconv.AppendInt(dst, int64(o.Line), 10)
	dst = append(dst, '\t')
	dst = append(dst, o.Outcome...)
	dst = append(dst, '\t')
	return append(dst, o.Payload...)
}

// errBadFrame marks a frame that does not read back whole and valid: the end
// of the valid prefix.
var errBadFrame = errors.New("bad frame")

// frameReader reads frames from r, counting the bytes of whole frames read.
type frameReader struct {
	r   *bufio.Reader
	off int64  // end of the last whole frame
	buf []byte // scratch for the body and its newline
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 1<<20)}
}

// next returns the next frame's body (valid until the next call). It returns
// io.EOF at a clean end and errBadFrame (possibly wrapping a read error) at a
// torn, corrupt or unreadable frame.
func (fr *frameReader) next() ([]byte, error) {
	// Length: 1..8 decimal digits then a tab.
	n, used := 0, 0
	for {
		c, err := fr.r.ReadByte()
		if err != nil {
			if err == io.EOF && used == 0 {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("%w: %w", errBadFrame, err)
		}
		used++
		if c == '\t' {
			if used == 1 {
				return nil, errBadFrame
			}
			break
		}
		if c < '0' || c > '9' || used > maxLenDigits {
			return nil, errBadFrame
		}
		n = n*10 + int(c-'0')
	}
	if n > maxBody {
		return nil, errBadFrame
	}
	// CRC: 8 lowercase hex digits then a tab.
	var want uint32
	for i := 0; i < 9; i++ {
		c, err := fr.r.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errBadFrame, err)
		}
		used++
		switch {
		case i == 8:
			if c != '\t' {
				return nil, errBadFrame
			}
		case c >= '0' && c <= '9':
			want = want<<4 | uint32(c-'0')
		case c >= 'a' && c <= 'f':
			want = want<<4 | uint32(c-'a'+10)
		default:
			return nil, errBadFrame
		}
	}
	if cap(fr.buf) < n+1 {
		fr.buf = make([]byte, n+1, max(n+1, 2*cap(fr.buf)))
	}
	b := fr.buf[:n+1]
	if _, err := io.ReadFull(fr.r, b); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadFrame, err)
	}
	if b[n] != '\n' || crc32.Checksum(b[:n], castagnoli) != want {
		return nil, errBadFrame
	}
	fr.off += int64(used + n + 1)
	return b[:n], nil
}

// record is one decoded body.
type record struct {
	kind    byte // 'H', 'A', 'R' or 'O'
	header  Header
	attempt Attempt
	release int     // the line of an 'R' record
	outcome Outcome // Payload aliases the body
}

// cut splits s at the first tab.
func cut(s []byte) (before, after []byte, ok bool) {
	i := bytes.IndexByte(s, '\t')
	if i < 0 {
		return nil, nil, false
	}
	return s[:i], s[i+1:], true
}

func atoi(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0') // 19 digits never overflow a uint64
	}
	switch {
	case neg && v <= 1<<63:
		return int64(-v), true //nolint:gosec // -v wraps to the negative value
	case !neg && v < 1<<63:
		return int64(v), true
	}
	return 0, false
}

// decodeHeader is apart from decodeBody so that the record decodeBody returns
// does not escape to the heap (one allocation per record otherwise).
func decodeHeader(b []byte) (Header, error) {
	var h Header
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(&h)
	return h, err
}

// interner shares one string per outcome name, so reading a million outcome
// records does not allocate a million copies of "succeeded".
type interner map[string]string

func (m interner) intern(b []byte) string {
	if s, ok := m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(m) < 64 { // outcome names are few; never let this grow unbounded
		m[s] = s
	}
	return s
}

// decodeBody parses a body whose checksum already matched. wantHeader says
// whether this is the first frame (which must be, and is the only, header).
// Outcome names are interned in names.
func decodeBody(body []byte, wantHeader bool, names interner) (record, error) {
	var rec record
	kind, rest, ok := cut(body)
	if !ok || len(kind) != 1 {
		return rec, errBadFrame
	}
	rec.kind = kind[0]
	if (rec.kind == 'H') != wantHeader {
		return rec, errBadFrame
	}
	switch rec.kind {
	case 'H':
		h, err := decodeHeader(rest)
		if err != nil {
			return rec, errBadFrame
		}
		rec.header = h
	case 'A':
		f1, rest, ok1 := cut(rest)
		f2, rest, ok2 := cut(rest)
		f3, user, ok3 := cut(rest)
		line, okL := atoi(f1)
		n, okN := atoi(f2)
		at, okT := atoi(f3)
		if !ok1 || !ok2 || !ok3 || !okL || !okN || !okT || line < 0 || line > MaxLine {
			return rec, errBadFrame
		}
		rec.attempt = Attempt{Line: int(line), N: int(n), At: time.Unix(0, at).UTC(), UserID: string(user)}
	case 'R':
		line, okL := atoi(rest)
		if !okL || line < 0 || line > MaxLine {
			return rec, errBadFrame
		}
		rec.release = int(line)
	case 'O':
		f1, rest, ok1 := cut(rest)
		name, payload, ok2 := cut(rest)
		line, okL := atoi(f1)
		if !ok1 || !ok2 || !okL || line < 0 || line > MaxLine || len(name) == 0 {
			return rec, errBadFrame
		}
		rec.outcome = Outcome{Line: int(line), Outcome: names.intern(name), Payload: payload}
	default:
		return rec, errBadFrame
	}
	return rec, nil
}

// validOutcomeName reports whether name can be written in an outcome record.
func validOutcomeName(name string) bool {
	return name != "" && !strings.ContainsAny(name, "\t\n\r")
}
