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
// null), empty arrays, or — one level down, handed to sub — objects of such
// scalars. It reports false for anything else, including malformed JSON and
// keys with escapes or non-ASCII characters.
func scanFlat(b []byte, dst []flatMember, sub func(key, obj []byte) bool) ([]flatMember, bool) {
	dst, end, ok := scanObject(b, skipWS(b, 0), dst, sub)
	return dst, ok && skipWS(b, end) == len(b)
}

// scanObject scans the object at b[i] as scanFlat describes and returns
// the index after it.
func scanObject(b []byte, i int, dst []flatMember, sub func(key, obj []byte) bool) ([]flatMember, int, bool) {
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
		case i < len(b) && b[i] == '{' && sub != nil:
			var inner [8]flatMember
			if _, end, ok = scanObject(b, i, inner[:0], nil); !ok || !sub(key, b[i:end]) {
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

// members binds the keys of a flat object to their handlers. A key must
// match exactly and at most once; a key that matches a known one only
// when case is ignored (encoding/json would take it) makes it decline.
func members(ms []flatMember, names []string, set func(k int, val []byte) bool) bool {
	var seen uint64
	for _, m := range ms {
		for k, name := range names {
			if string(m.key) == name {
				if seen&(1<<k) != 0 {
					return false
				}
				seen |= 1 << k
				if !set(k, m.val) {
					return false
				}
				break
			}
			if bytes.EqualFold(m.key, []byte(name)) {
				return false
			}
		}
	}
	return true
}

// loose decodes a scalar as looseString does.
func loose(val []byte) (looseString, bool) {
	var l looseString
	if len(val) > 0 && (val[0] == '{' || val[0] == '[') {
		return l, false
	}
	return l, l.UnmarshalJSON(val) == nil
}

var replyKeys = []string{"success", "data", "response", "message_id", "agent_id", "timestamp", "tools_executed", "handoff_data", "metadata"}

var metaKeys = []string{"processing_time", "tokens_used", "knowledge_chunks_used"}

// decodeReplyFast decodes the common shape of a reply; false means
// decodeReply must do it.
func decodeReplyFast(body []byte) (Reply, bool) {
	var buf [12]flatMember
	var meta metaWire
	metaOK := true
	ms, ok := scanFlat(body, buf[:0], func(key, obj []byte) bool {
		if string(key) != "metadata" {
			return false
		}
		var mbuf [8]flatMember
		mm, ok := scanFlat(obj, mbuf[:0], nil)
		if !ok {
			return false
		}
		metaOK = members(mm, metaKeys, func(k int, val []byte) bool {
			if val[0] == '[' {
				return false
			}
			var n looseNum
			_ = n.UnmarshalJSON(val)
			switch k {
			case 0:
				meta.ProcessingTime = n
			case 1:
				meta.TokensUsed = n
			case 2:
				meta.KnowledgeUsed = n
			}
			return true
		})
		return metaOK
	})
	if !ok || !metaOK {
		return Reply{}, false
	}
	var r Reply
	hasText := false
	ok = members(ms, replyKeys, func(k int, val []byte) bool {
		switch k {
		case 0, 1: // an envelope
			return false
		case 2:
			if val[0] != '"' {
				return false
			}
			r.Text, hasText = string(val[1:len(val)-1]), true
		case 3, 4, 5:
			l, ok := loose(val)
			if !ok {
				return false
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
			return val[0] == '[' || string(val) == "null"
		case 7: // handoff_data: only none
			return string(val) == "null"
		case 8: // metadata: an object, read above; null leaves it zero
			return val[0] == '{' || string(val) == "null"
		}
		return true
	})
	if !ok || !hasText {
		return Reply{}, false
	}
	r.Raw = json.RawMessage(body)
	r.ProcessingTime = float64(meta.ProcessingTime)
	r.TokensUsed = int(meta.TokensUsed)
	r.KnowledgeUsed = int(meta.KnowledgeUsed)
	return r, true
}

var chatKeys = []string{"success", "data", "chat_id", "agent_id", "client_id", "created_at", "status"}

// decodeChatFast decodes the common shape of a new chat; false means
// decodeChat must do it.
func decodeChatFast(body []byte) (Chat, bool) {
	var buf [10]flatMember
	ms, ok := scanFlat(body, buf[:0], nil)
	if !ok {
		return Chat{}, false
	}
	var ch Chat
	ok = members(ms, chatKeys, func(k int, val []byte) bool {
		if k < 2 {
			return false
		}
		l, ok := loose(val)
		if !ok {
			return false
		}
		switch k {
		case 2:
			if !l.set || l.s == "" {
				return false // decodeChat says what is wrong
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
		return true
	})
	if !ok || ch.ID == "" {
		return Chat{}, false
	}
	return ch, true
}
