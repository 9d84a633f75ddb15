package agent

import (
	"encoding/json"
	"unicode/utf8"
)

// Request bodies are built by appending to one exactly sized byte slice:
// this is the hot path of a load test, and a reflection-free encoder makes
// one allocation per body instead of several (see BenchmarkSendBody).

const hexDigits = "0123456789abcdef"

// appendJSONString appends s to dst as a JSON string literal. Invalid UTF-8
// becomes U+FFFD, as encoding/json does; control characters and the line
// separators U+2028/U+2029 are escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// sendBody encodes the body of one message: {"chat_id","content"} and, for
// API v2, "metadata" with client_id and session_id when set and source
// (default "evalrun").
func sendBody(chatID string, msg Message, version int) []byte {
	// Worst-case growth of escaping is rare; size for the common case.
	n := 40 + len(chatID) + len(msg.Content)
	if version != 1 {
		n += 60 + len(msg.ClientID) + len(msg.SessionID) + len(msg.Source) + len("evalrun")
	}
	b := make([]byte, 0, n+n/8)
	b = append(b, `{"chat_id":`...)
	b = appendJSONString(b, chatID)
	b = append(b, `,"content":`...)
	b = appendJSONString(b, msg.Content)
	if version != 1 {
		b = append(b, `,"metadata":{`...)
		if msg.ClientID != "" {
			b = append(b, `"client_id":`...)
			b = appendJSONString(b, msg.ClientID)
			b = append(b, ',')
		}
		if msg.SessionID != "" {
			b = append(b, `"session_id":`...)
			b = appendJSONString(b, msg.SessionID)
			b = append(b, ',')
		}
		src := msg.Source
		if src == "" {
			src = "evalrun"
		}
		b = append(b, `"source":`...)
		b = appendJSONString(b, src)
		b = append(b, '}')
	}
	return append(b, '}')
}

// newChatBody encodes {"client_id": ..., "metadata"?: {...}}. Metadata is
// caller-supplied arbitrary data, so it goes through encoding/json.
func newChatBody(req NewChatRequest) ([]byte, error) {
	b := make([]byte, 0, 32+len(req.ClientID))
	b = append(b, `{"client_id":`...)
	b = appendJSONString(b, req.ClientID)
	if len(req.Metadata) > 0 {
		md, err := json.Marshal(req.Metadata)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"metadata":`...)
		b = append(b, md...)
	}
	return append(b, '}'), nil
}
