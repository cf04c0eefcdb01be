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
// of the valid prefix. The errors next returns are badFrame values, which
// match it (errors.Is) and say what is wrong: a CorruptError's Reason.
var errBadFrame = errors.New("bad frame")

// badFrame is what is wrong with a frame; it matches errBadFrame.
type badFrame string

func (e badFrame) Error() string        { return string(e) }
func (e badFrame) Is(target error) bool { return target == errBadFrame }

const (
	errFrameShort    badFrame = "the file ends inside the frame"
	errFrameLength   badFrame = "the frame's length field is not 1 to 8 digits and a tab"
	errFrameTooLong  badFrame = "the frame's length is over the limit"
	errFrameCRCField badFrame = "the frame's checksum field is not 8 hex digits and a tab"
	errFrameNewline  badFrame = "the frame does not end with a newline where its length says"
	errFrameChecksum badFrame = "the frame's checksum does not match its body"
	errFrameRecord   badFrame = "the frame's checksum holds but its record does not decode: written by a newer credbatch, or damaged before it was written"
)

// frameReader reads frames from r, counting the bytes of whole frames read.
// A frame is parsed where it lies in the reader's buffer: its head is
// peeked, and its body too when it fits (every record a run writes does), so
// reading a journal copies nothing but what the buffer reads.
type frameReader struct {
	r   *bufio.Reader
	off int64  // end of the last whole frame
	buf []byte // a body longer than the buffer, and its newline
}

// newFrameReader reads the size bytes of r through a buffer of up to 1 MiB
// (no larger than what there is to read, but room for a head).
func newFrameReader(r io.Reader, size int64) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, int(min(1<<20, max(size, 64))))}
}

// readErr classifies an error met inside a frame: the end of the file there
// means a frame cut short; any other error is the file's I/O failing, which
// says nothing about its content and is returned as it is.
func readErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errFrameShort
	}
	return err
}

// next returns the next frame's body (valid until the next call). It returns
// io.EOF at a clean end, an error wrapping errBadFrame (saying what is wrong)
// at a torn, corrupt or short frame, and any other read error as it is. The
// head is checked byte by byte in file order, so a frame that is both short
// and malformed gets the error of its first bad byte.
func (fr *frameReader) next() ([]byte, error) {
	head, perr := fr.r.Peek(maxFrameHead) // fewer bytes only near the end (perr says why)
	if len(head) == 0 && perr == io.EOF {
		return nil, io.EOF
	}
	// Length: 1..8 decimal digits then a tab.
	n, i := 0, 0
	for ; ; i++ {
		if i == len(head) {
			return nil, readErr(perr)
		}
		c := head[i]
		if c == '\t' {
			if i == 0 {
				return nil, errFrameLength
			}
			break
		}
		if c < '0' || c > '9' || i >= maxLenDigits {
			return nil, errFrameLength
		}
		n = n*10 + int(c-'0')
	}
	if n > maxBody {
		return nil, errFrameTooLong
	}
	// CRC: 8 lowercase hex digits then a tab.
	var want uint32
	for k := 0; k < 9; k++ {
		if i+1+k == len(head) {
			return nil, readErr(perr)
		}
		c := head[i+1+k]
		switch {
		case k == 8:
			if c != '\t' {
				return nil, errFrameCRCField
			}
		case c >= '0' && c <= '9':
			want = want<<4 | uint32(c-'0')
		case c >= 'a' && c <= 'f':
			want = want<<4 | uint32(c-'a'+10)
		default:
			return nil, errFrameCRCField
		}
	}
	used := i + 10
	_, _ = fr.r.Discard(used) // peeked: cannot fail
	var b []byte
	if n+1 <= fr.r.Size() {
		var err error
		if b, err = fr.r.Peek(n + 1); err != nil {
			return nil, readErr(err)
		}
		_, _ = fr.r.Discard(n + 1)
	} else {
		if cap(fr.buf) < n+1 {
			fr.buf = make([]byte, n+1)
		}
		b = fr.buf[:n+1]
		if _, err := io.ReadFull(fr.r, b); err != nil {
			return nil, readErr(err)
		}
	}
	if b[n] != '\n' {
		return nil, errFrameNewline
	}
	if crc32.Checksum(b[:n], castagnoli) != want {
		return nil, errFrameChecksum
	}
	fr.off += int64(used + n + 1)
	return b[:n], nil
}

// maxFrameHead is the longest a frame's head (length, tab, checksum, tab) can be.
const maxFrameHead = maxLenDigits + 1 + 8 + 1

// parseHead parses the head of a frame at the start of b: the body's length,
// its checksum and the head's own length. ok is false when b does not start
// with a well-formed head (or ends before one is complete).
func parseHead(b []byte) (n int, crc uint32, head int, ok bool) {
	i := 0
	for ; i < len(b) && i < maxLenDigits && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + int(b[i]-'0')
	}
	if i == 0 || i >= len(b) || b[i] != '\t' || n > maxBody {
		return 0, 0, 0, false
	}
	i++
	if len(b) < i+9 || b[i+8] != '\t' {
		return 0, 0, 0, false
	}
	for _, c := range b[i : i+8] {
		switch {
		case c >= '0' && c <= '9':
			crc = crc<<4 | uint32(c-'0')
		case c >= 'a' && c <= 'f':
			crc = crc<<4 | uint32(c-'a'+10)
		default:
			return 0, 0, 0, false
		}
	}
	return n, crc, i + 9, true
}

// record is one decoded body.
type record struct {
	kind    byte // 'H', 'A', 'R' or 'O'
	header  Header
	attempt Attempt // UserID is left empty: the caller makes it from user
	user    []byte  // an 'A' record's user ID (aliases the body)
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
		rec.attempt = Attempt{Line: int(line), N: int(n), At: time.Unix(0, at).UTC()}
		rec.user = user
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
