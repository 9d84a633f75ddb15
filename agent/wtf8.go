package agent

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// rawText is a JSON string decoded to its bytes without repairing them: a
// raw byte that is not valid UTF-8 is kept as it is, and a lone UTF-16
// surrogate escape (\ud83d) is kept as its three-byte (WTF-8) encoding.
// A streamed reply may split one character between two chunks, either as
// raw bytes or as the two halves of a surrogate pair; joining the pieces
// with joinText first and decoding afterwards keeps that character, where
// decoding each piece (encoding/json) would give U+FFFD twice.
type rawText struct {
	b   []byte
	set bool // present and not null
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *rawText) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*t = rawText{}
		return nil
	}
	b, err := unquoteRaw(data)
	if err != nil {
		return err
	}
	t.b, t.set = b, true
	return nil
}

// unquoteRaw decodes a JSON string literal to bytes as rawText describes.
func unquoteRaw(q []byte) ([]byte, error) {
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		return nil, errors.New("want a JSON string")
	}
	s := q[1 : len(q)-1]
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+1 >= len(s) {
			return nil, errors.New("string ends in a backslash")
		}
		i++
		switch s[i] {
		case '"', '\\', '/':
			out = append(out, s[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+4 >= len(s) {
				return nil, errors.New(`short \u escape`)
			}
			v, err := strconv.ParseUint(string(s[i+1:i+5]), 16, 32)
			if err != nil {
				return nil, errors.New(`bad \u escape`)
			}
			i += 4
			out = appendWTF8(out, rune(v))
		default:
			return nil, errors.New("bad escape in a string")
		}
	}
	return out, nil
}

// appendWTF8 appends r as UTF-8, a surrogate included (three bytes, as
// WTF-8 does), so that two halves can be paired later by joinText.
func appendWTF8(b []byte, r rune) []byte {
	if r >= 0xD800 && r <= 0xDFFF {
		return append(b, byte(0xE0|r>>12), byte(0x80|(r>>6)&0x3F), byte(0x80|r&0x3F))
	}
	return utf8.AppendRune(b, r)
}

// joinText turns the joined bytes of a streamed text into a string: a
// surrogate pair (two WTF-8 halves, from one chunk or two) becomes its
// character, and whatever is still not UTF-8 (a character cut off for
// good) becomes one U+FFFD per broken run.
func joinText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if hi, ok := surrogateAt(b, i); ok && hi < 0xDC00 {
			if lo, ok := surrogateAt(b, i+3); ok && lo >= 0xDC00 {
				out = utf8.AppendRune(out, 0x10000+(hi-0xD800)<<10+(lo-0xDC00))
				i += 5
				continue
			}
		}
		out = append(out, b[i])
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// surrogateAt decodes a WTF-8 surrogate at b[i:].
func surrogateAt(b []byte, i int) (rune, bool) {
	if i+2 >= len(b) || b[i] != 0xED || b[i+1] < 0xA0 || b[i+1] > 0xBF || b[i+2]&0xC0 != 0x80 {
		return 0, false
	}
	return 0xD000 | rune(b[i+1]&0x3F)<<6 | rune(b[i+2]&0x3F), true
}

var _ json.Unmarshaler = (*rawText)(nil)
