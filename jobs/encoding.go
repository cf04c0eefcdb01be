package jobs

import (
	"bytes"
	"errors"
	"io"
	"sort"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// A manifest is UTF-8 (with or without a BOM), or UTF-16 with a BOM (what
// Excel's "Unicode Text" and some exports write), which is transcoded to
// UTF-8 as it is read, by golang.org/x/text. Nothing is ever rewritten: the
// file's own bytes are what Validate and Fingerprint hash, so the SHA-256 a
// checkpoint pins is that of the bytes the user gave, whatever their
// encoding.
//
// Offsets (a row's start and end, the header's end) are offsets in the
// bytes the scanner reads: the file's for UTF-8, the UTF-8 text's for
// UTF-16. Rereading a row of a UTF-16 file starts from the nearest mark, a
// point the decoder recorded every markEvery bytes of text.

// Encoding names a manifest's text encoding.
type Encoding string

// The encodings a manifest is read in.
const (
	UTF8    Encoding = "UTF-8"
	UTF16LE Encoding = "UTF-16LE"
	UTF16BE Encoding = "UTF-16BE"
)

var (
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
	bomUTF32LE = []byte{0xFF, 0xFE, 0x00, 0x00}
	bomUTF32BE = []byte{0x00, 0x00, 0xFE, 0xFF}
)

// sniffed is what a manifest's first bytes say of its encoding.
type sniffed struct {
	enc     Encoding
	bomLen  int    // bytes of byte-order mark to skip
	refusal string // non-empty: the encoding is not read, and why
}

// sniff looks at a manifest's first four bytes.
func sniff(b []byte) sniffed {
	switch {
	case bytes.HasPrefix(b, bomUTF32LE), bytes.HasPrefix(b, bomUTF32BE):
		return sniffed{refusal: "this file is UTF-32: credbatch reads UTF-8 and UTF-16"}
	case bytes.HasPrefix(b, utf8BOM):
		return sniffed{enc: UTF8, bomLen: len(utf8BOM)}
	case bytes.HasPrefix(b, bomUTF16LE):
		return sniffed{enc: UTF16LE, bomLen: 2}
	case bytes.HasPrefix(b, bomUTF16BE):
		return sniffed{enc: UTF16BE, bomLen: 2}
	case len(b) >= 4 && b[0] != 0 && b[1] == 0 && b[2] != 0 && b[3] == 0,
		len(b) >= 4 && b[0] == 0 && b[1] != 0 && b[2] == 0 && b[3] != 0:
		// ASCII in UTF-16 without a byte-order mark: a NUL every other
		// byte, which no UTF-8 manifest has.
		return sniffed{refusal: "this file looks like UTF-16 without a byte-order mark"}
	}
	return sniffed{enc: UTF8}
}

const encodingHint = "save the manifest as UTF-8 (in Excel: Save As, CSV UTF-8), or as UTF-16 with its byte-order mark"

// markEvery is the least text between two marks of a UTF-16 decoder. One
// Transform call reads at most its 32 KiB input buffer, so gives at most
// 48 KiB of text: marks are less than 2*markEvery apart, and rereading a
// row decodes at most that much before it.
const markEvery = 64 << 10

// mark pairs an offset in the file with the offset of the text decoded
// from the bytes before it.
type mark struct{ in, out int64 }

// decoder transcodes UTF-16 (after its byte-order mark) to UTF-8. It drives
// x/text's UTF-16 transformer itself, rather than through a transform.Reader,
// to know which file offset each piece of text came from: the transformer
// holds no state between calls (the byte order is fixed, and a surrogate
// pair split between two reads is left in the input), so any point between
// two calls is a place to start again.
type decoder struct {
	src    io.Reader
	t      transform.Transformer
	buf    []byte
	r, w   int   // buf[r:w] is read and not yet transcoded
	err    error // the source's error, once it returned one
	in     int64 // file offset of buf[r]
	out    int64 // text bytes produced so far
	marks  []mark
	record bool // keep marks
}

// newDecoder reads UTF-16 in byte order enc from src, which starts at file
// offset in, where the text's offset is out.
func newDecoder(src io.Reader, enc Encoding, in, out int64, record bool) *decoder {
	order := unicode.LittleEndian
	if enc == UTF16BE {
		order = unicode.BigEndian
	}
	d := &decoder{
		src: src, t: unicode.UTF16(order, unicode.IgnoreBOM).NewDecoder(),
		buf: make([]byte, 32<<10), in: in, out: out, record: record,
	}
	if record {
		d.marks = []mark{{in, out}}
	}
	return d
}

// Read returns UTF-8 text. A lone surrogate or an odd final byte becomes
// U+FFFD (which a user cell refuses).
func (d *decoder) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if d.r < d.w || d.err != nil {
			nDst, nSrc, err := d.t.Transform(p, d.buf[d.r:d.w], d.err != nil)
			d.r += nSrc
			d.in += int64(nSrc)
			d.out += int64(nDst)
			if d.record && d.out-d.marks[len(d.marks)-1].out >= markEvery {
				d.marks = append(d.marks, mark{d.in, d.out})
			}
			switch {
			case nDst > 0:
				return nDst, nil
			case err == transform.ErrShortDst:
				return 0, io.ErrShortBuffer // p holds less than one character
			case err != nil && !errors.Is(err, transform.ErrShortSrc):
				return 0, err
			case d.err != nil && d.r == d.w:
				return 0, d.err
			}
		}
		if d.r > 0 {
			d.w = copy(d.buf, d.buf[d.r:d.w])
			d.r = 0
		}
		n, err := d.src.Read(d.buf[d.w:])
		d.w += n
		if err != nil {
			d.err = err
		}
	}
}

// at returns the mark to start from to reach text offset off.
func (d *decoder) at(off int64) mark {
	i := sort.Search(len(d.marks), func(i int) bool { return d.marks[i].out > off })
	return d.marks[max(i-1, 0)]
}
