package agent

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// The fast decoders below read the common shape of a reply or a new chat —
// one flat JSON object of plain strings and numbers, an empty tool list and
// a null handoff — without reflection, in one pass. Anything else (an
// envelope, escapes in a string, tools, nested data, a duplicate or
// differently cased key, malformed JSON) makes them decline, and
// encoding/json decodes the body as before: the result is the same either
// way (FuzzDecodeFast checks that), only cheaper in the common case.

// flatMember is one member of a flat object.
type flatMember struct {
	key []byte
	val []byte // the value's JSON text
}

// scanFlat splits body, a JSON object, into members whose values are
// scalars (strings without escapes, valid UTF-8; numbers; true, false,
// null), empty arrays, or — one level down, when nested — objects of such
// scalars. It reports false for anything else, including malformed JSON and
// keys with escapes or non-ASCII characters.
func scanFlat(b []byte, dst []flatMember, nested bool) ([]flatMember, bool) {
	dst, end, ok := scanObject(b, skipWS(b, 0), dst, nested)
	return dst, ok && skipWS(b, end) == len(b)
}

// scanObject scans the object at b[i] as scanFlat describes and returns
// the index after it.
func scanObject(b []byte, i int, dst []flatMember, nested bool) ([]flatMember, int, bool) {
	if i >= len(b) || b[i] != '{' {
		return nil, 0, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return dst, i + 1, true
	}
	for {
		key, j, ok := scanKey(b, i)
		if !ok {
			return nil, 0, false
		}
		i = skipWS(b, j)
		if i >= len(b) || b[i] != ':' {
			return nil, 0, false
		}
		i = skipWS(b, i+1)
		var end int
		switch {
		case i < len(b) && b[i] == '{' && nested:
			if end, ok = skipFlatObject(b, i); !ok {
				return nil, 0, false
			}
		case i < len(b) && b[i] == '[':
			k := skipWS(b, i+1)
			if k >= len(b) || b[k] != ']' {
				return nil, 0, false
			}
			end = k + 1
		default:
			if end, ok = scanScalar(b, i); !ok {
				return nil, 0, false
			}
		}
		dst = append(dst, flatMember{key: key, val: b[i:end]})
		i = skipWS(b, end)
		if i >= len(b) {
			return nil, 0, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return dst, i + 1, true
		default:
			return nil, 0, false
		}
	}
}

// skipFlatObject checks the object of scalars at b[i] (one level, as
// scanObject takes it) and returns the index after it.
func skipFlatObject(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		_, j, ok := scanKey(b, i)
		if !ok {
			return 0, false
		}
		i = skipWS(b, j)
		if i >= len(b) || b[i] != ':' {
			return 0, false
		}
		i = skipWS(b, i+1)
		var end int
		if i < len(b) && b[i] == '[' {
			k := skipWS(b, i+1)
			if k >= len(b) || b[k] != ']' {
				return 0, false
			}
			end = k + 1
		} else if end, ok = scanScalar(b, i); !ok {
			return 0, false
		}
		i = skipWS(b, end)
		if i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanKey reads a key of plain ASCII letters, digits and punctuation.
func scanKey(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		c := b[j]
		if c == '"' {
			return b[i+1 : j], j + 1, true
		}
		if c < 0x20 || c >= utf8.RuneSelf || c == '\\' {
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// scanScalar returns the end of the scalar at b[i].
func scanScalar(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch c := b[i]; {
	case c == '"':
		for j := i + 1; j < len(b); j++ {
			switch c := b[j]; {
			case c == '"':
				return j + 1, utf8.Valid(b[i+1 : j])
			case c < 0x20 || c == '\\':
				return 0, false
			}
		}
		return 0, false
	case c == 't':
		return i + 4, bytes.HasPrefix(b[i:], []byte("true"))
	case c == 'f':
		return i + 5, bytes.HasPrefix(b[i:], []byte("false"))
	case c == 'n':
		return i + 4, bytes.HasPrefix(b[i:], []byte("null"))
	case c == '-' || c >= '0' && c <= '9':
		return scanNumber(b, i)
	}
	return 0, false
}

// scanNumber reads a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) (int, bool) {
	digits := func(i int) int {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i
	}
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(i)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

// keyIndex returns the index of key in names; -1 when it is none of them;
// -2 when it matches one only with case ignored (encoding/json would take
// it: the fast decoders then decline).
func keyIndex(key []byte, names []string) int {
	for k, name := range names {
		if string(key) == name {
			return k
		}
	}
	for _, name := range names {
		if len(key) == len(name) && bytes.EqualFold(key, []byte(name)) {
			return -2
		}
	}
	return -1
}

// loose decodes a scalar as looseString does, its string a substring of
// text (the body as a string) when the scalar lies at off in the body.
func loose(val []byte, text string, off int) (looseString, bool) {
	switch c := val[0]; {
	case c == '"':
		// scanScalar accepted it: no escapes, valid UTF-8.
		return looseString{s: text[off+1 : off+len(val)-1], set: true}, true
	case c == '-' || c >= '0' && c <= '9':
		return looseString{s: text[off : off+len(val)], set: true}, true
	case c == '{' || c == '[':
		return looseString{}, false
	}
	return looseString{}, true // null, true, false: nothing
}

// offset returns where sub, a subslice of body, starts in it.
func offset(body, sub []byte) int {
	return cap(body) - cap(sub)
}

var replyKeys = []string{"success", "data", "response", "message_id", "agent_id", "timestamp", "tools_executed", "handoff_data", "metadata"}

var metaKeys = []string{"processing_time", "tokens_used", "knowledge_chunks_used"}

// decodeReplyFast decodes the common shape of a reply; false means
// decodeReply must do it. Its strings share one copy of the body.
func decodeReplyFast(body []byte) (Reply, bool) {
	var buf [12]flatMember
	ms, ok := scanFlat(body, buf[:0], true)
	if !ok {
		return Reply{}, false
	}
	var r Reply
	var text string
	var seen uint64
	hasText := false
	for _, m := range ms {
		k := keyIndex(m.key, replyKeys)
		if k == -2 || k >= 0 && seen&(1<<k) != 0 {
			return Reply{}, false
		}
		if k >= 0 {
			seen |= 1 << k
		}
		if k >= 2 && k <= 5 && text == "" {
			text = string(body)
		}
		switch k {
		case 0, 1: // an envelope
			return Reply{}, false
		case 2:
			if m.val[0] != '"' {
				return Reply{}, false
			}
			off := offset(body, m.val)
			r.Text, hasText = text[off+1:off+len(m.val)-1], true
		case 3, 4, 5:
			l, ok := loose(m.val, text, offset(body, m.val))
			if !ok {
				return Reply{}, false
			}
			switch k {
			case 3:
				r.MessageID = l.s
			case 4:
				r.AgentID = l.s
			case 5:
				r.Timestamp = l.s
			}
		case 6: // tools_executed: only none
			if m.val[0] != '[' && string(m.val) != "null" {
				return Reply{}, false
			}
		case 7: // handoff_data: only none
			if string(m.val) != "null" {
				return Reply{}, false
			}
		case 8: // metadata: an object of scalars; null leaves it zero
			if string(m.val) == "null" {
				continue
			}
			if m.val[0] != '{' {
				return Reply{}, false
			}
			var mbuf [8]flatMember
			mm, ok := scanFlat(m.val, mbuf[:0], false)
			if !ok {
				return Reply{}, false
			}
			var mseen uint64
			for _, x := range mm {
				j := keyIndex(x.key, metaKeys)
				if j == -2 || j >= 0 && mseen&(1<<j) != 0 || x.val[0] == '[' {
					return Reply{}, false
				}
				if j < 0 {
					continue
				}
				mseen |= 1 << j
				var n looseNum
				_ = n.UnmarshalJSON(x.val)
				switch j {
				case 0:
					r.ProcessingTime = float64(n)
				case 1:
					r.TokensUsed = int(n)
				case 2:
					r.KnowledgeUsed = int(n)
				}
			}
		}
	}
	if !hasText {
		return Reply{}, false
	}
	r.Raw = json.RawMessage(body)
	return r, true
}

var chatKeys = []string{"success", "data", "chat_id", "agent_id", "client_id", "created_at", "status"}

// decodeChatFast decodes the common shape of a new chat; false means
// decodeChat must do it. Its strings share one copy of the body.
func decodeChatFast(body []byte) (Chat, bool) {
	var buf [10]flatMember
	ms, ok := scanFlat(body, buf[:0], false)
	if !ok {
		return Chat{}, false
	}
	text := string(body)
	var ch Chat
	var seen uint64
	for _, m := range ms {
		k := keyIndex(m.key, chatKeys)
		if k == -2 || k == 0 || k == 1 || k >= 0 && seen&(1<<k) != 0 {
			return Chat{}, false
		}
		if k < 0 {
			continue
		}
		seen |= 1 << k
		l, ok := loose(m.val, text, offset(body, m.val))
		if !ok {
			return Chat{}, false
		}
		switch k {
		case 2:
			if !l.set || l.s == "" {
				return Chat{}, false // decodeChat says what is wrong
			}
			ch.ID = l.s
		case 3:
			ch.AgentID = l.s
		case 4:
			ch.ClientID = l.s
		case 5:
			ch.CreatedAt = l.s
		case 6:
			ch.Status = l.s
		}
	}
	if ch.ID == "" {
		return Chat{}, false
	}
	return ch, true
}
