package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Response bodies come in two shapes (DESIGN §1): the documented fields at
// the top level, or wrapped as {"success": true, "data": {...}}. The decoders
// below read both in one pass over the body: the outer struct holds the
// envelope fields and the reply fields side by side, and only an envelope's
// "data" object is decoded a second time.

// failureBody is returned by the decoders for a 2xx body that is an envelope
// with "success": false: the server reported an error with a success status.
type failureBody struct{ msg string }

func (f *failureBody) Error() string { return "server reported failure: " + f.msg }

// looseString accepts a JSON string or number (kept as written); null,
// booleans, objects and arrays leave it empty. Identifiers and timestamps are
// not worth failing a turn over when a server types them differently.
type looseString struct {
	s   string
	set bool
}

func (l *looseString) UnmarshalJSON(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	switch c := b[0]; {
	case c == '"':
		if len(b) >= 2 && bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b) {
			l.s, l.set = string(b[1:len(b)-1]), true
			return nil
		}
		if err := json.Unmarshal(b, &l.s); err != nil {
			return err
		}
		l.set = true
	case c == '-' || (c >= '0' && c <= '9'):
		l.s, l.set = string(b), true
	}
	return nil
}

// looseNum accepts a JSON number or a numeric string; anything else is 0.
type looseNum float64

func (n *looseNum) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		*n = looseNum(f)
	}
	return nil
}

type toolWire struct {
	Tool   looseString `json:"tool"`
	Name   looseString `json:"name"`
	Status looseString `json:"status"`
	Data   any         `json:"data"` // kept when it is an object
}

type metaWire struct {
	ProcessingTime looseNum `json:"processing_time"`
	TokensUsed     looseNum `json:"tokens_used"`
	KnowledgeUsed  looseNum `json:"knowledge_chunks_used"`
}

type replyWire struct {
	// envelope
	Success *bool           `json:"success"`
	Data    json.RawMessage `json:"data"`
	// reply
	Response    *string         `json:"response"`
	MessageID   looseString     `json:"message_id"`
	AgentID     looseString     `json:"agent_id"`
	Timestamp   looseString     `json:"timestamp"`
	Tools       []toolWire      `json:"tools_executed"`
	HandoffData json.RawMessage `json:"handoff_data"`
	Metadata    metaWire        `json:"metadata"`
}

type chatWire struct {
	Success   *bool           `json:"success"`
	Data      json.RawMessage `json:"data"`
	ChatID    looseString     `json:"chat_id"`
	AgentID   looseString     `json:"agent_id"`
	ClientID  looseString     `json:"client_id"`
	CreatedAt looseString     `json:"created_at"`
	Status    looseString     `json:"status"`
}

// decodeReply parses the body of a 2xx answer to a v2 or v1 message. It
// fails when the body is not JSON, when the reply has no string "response"
// field, or (with a *failureBody) when an envelope says "success": false.
// The returned Reply's Raw aliases body (top-level shape) or is a copy of
// the envelope's data object.
func decodeReply(body []byte) (Reply, error) {
	var w replyWire
	if err := unmarshalObject(body, &w); err != nil {
		return Reply{}, err
	}
	if w.Success != nil && !*w.Success {
		return Reply{}, &failureBody{errorMessage(body)}
	}
	raw := json.RawMessage(body)
	if w.Response == nil {
		if !isObject(w.Data) {
			return Reply{}, errors.New(`body has no "response" field`)
		}
		raw = w.Data
		w = replyWire{}
		if err := json.Unmarshal(raw, &w); err != nil {
			return Reply{}, fmt.Errorf("envelope data: %w", jsonProblem(err))
		}
		if w.Response == nil {
			return Reply{}, errors.New(`envelope data has no "response" field`)
		}
	}
	r := Reply{
		Text:      *w.Response,
		MessageID: w.MessageID.s,
		AgentID:   w.AgentID.s,
		Timestamp: w.Timestamp.s,
		Raw:       raw,
	}
	if len(w.Tools) > 0 {
		r.Tools = make([]ToolExecution, len(w.Tools))
		for i, t := range w.Tools {
			name := t.Tool.s
			if name == "" {
				name = t.Name.s
			}
			r.Tools[i] = ToolExecution{Tool: name, Status: t.Status.s}
			if m, ok := t.Data.(map[string]any); ok {
				r.Tools[i].Data = m
			}
			if name == "email_handoff" && strings.EqualFold(t.Status.s, "executed") {
				r.Handoff = true
			}
		}
	}
	if len(w.HandoffData) > 0 && !bytes.Equal(w.HandoffData, []byte("null")) {
		r.HandoffData = w.HandoffData
		if nonEmptyJSON(w.HandoffData) {
			r.Handoff = true
		}
	}
	r.ProcessingTime = float64(w.Metadata.ProcessingTime)
	r.TokensUsed = int(w.Metadata.TokensUsed)
	r.KnowledgeUsed = int(w.Metadata.KnowledgeUsed)
	return r, nil
}

// decodeChat parses the body of a 2xx answer to new-chat, which must carry a
// non-empty "chat_id".
func decodeChat(body []byte) (Chat, error) {
	var w chatWire
	if err := unmarshalObject(body, &w); err != nil {
		return Chat{}, err
	}
	if w.Success != nil && !*w.Success {
		return Chat{}, &failureBody{errorMessage(body)}
	}
	if !w.ChatID.set {
		if !isObject(w.Data) {
			return Chat{}, errors.New(`body has no "chat_id" field`)
		}
		data := w.Data
		w = chatWire{}
		if err := json.Unmarshal(data, &w); err != nil {
			return Chat{}, fmt.Errorf("envelope data: %w", jsonProblem(err))
		}
		if !w.ChatID.set {
			return Chat{}, errors.New(`envelope data has no "chat_id" field`)
		}
	}
	if w.ChatID.s == "" {
		return Chat{}, errors.New(`"chat_id" is empty`)
	}
	return Chat{
		ID:        w.ChatID.s,
		AgentID:   w.AgentID.s,
		ClientID:  w.ClientID.s,
		CreatedAt: w.CreatedAt.s,
		Status:    w.Status.s,
	}, nil
}

// unmarshalObject decodes a body that must be a JSON object.
func unmarshalObject(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("empty body")
	}
	if !isObject(body) {
		return errors.New("body is not a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return jsonProblem(err)
	}
	return nil
}

// jsonProblem rewords an encoding/json error without echoing body content.
func jsonProblem(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("malformed JSON at byte %d: %w", se.Offset, err)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %q is a JSON %s, want %s", te.Field, te.Value, te.Type)
	}
	return fmt.Errorf("malformed JSON: %w", err)
}

// isObject reports whether b, ignoring leading white space, starts a JSON
// object.
func isObject(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}

// nonEmptyJSON reports whether a JSON value carries information: not null,
// false, "", {} or [].
func nonEmptyJSON(b []byte) bool {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return false
	}
	switch b[0] {
	case 'n', 'f':
		return false
	case '"':
		return len(b) > 2
	case '{', '[':
		return len(bytes.TrimSpace(b[1:len(b)-1])) > 0
	}
	return true
}

// marshalJSON encodes v as encoding/json does, without escaping <, > and &
// (a body is not HTML) and without the trailing newline. v is one of the
// transports' own request types, which always encode.
func marshalJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // strings and structs of strings always encode
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
}
