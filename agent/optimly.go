package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
)

// Optimly is a Conn to an agent on the Optimly external API (DESIGN §1):
// new chats via POST /external/message/new-chat, messages via
// POST /external/agent/v2 (or the legacy /external/agent with APIVersion 1),
// chat history via GET /external/chat/{chat_id}/messages, health via
// GET /health. It accepts both documented response shapes (fields at the
// top level, or a {"success": true, "data": {...}} envelope) and returns
// every failure as an *Error classified by Kind.
//
// Every request carries an X-Request-ID and a W3C traceparent whose trace
// id is the chat's (see Chat.TraceID).
//
// An Optimly keeps a pool of keep-alive connections sized by
// Options.MaxConns and is safe for concurrent use. Call Close when done to
// release idle connections.
type Optimly struct {
	*core
	apiVersion int

	base, newChatURL, sendURL, healthURL string
	// newChatU and sendU are newChatURL and sendURL parsed once.
	newChatU, sendU *url.URL
}

var (
	_ Conn          = (*Optimly)(nil)
	_ HistoryReader = (*Optimly)(nil)
)

// NewOptimly checks opts and returns a transport for the Optimly API at
// opts.BaseURL, which may carry a path prefix (https://host/prefix). It
// makes no connection. It refuses a BaseURL that is not http(s), carries
// credentials, a query or a fragment, and plain http:// to a host that is not
// loopback unless opts.AllowInsecureHTTP is set.
func NewOptimly(opts Options) (*Optimly, error) {
	c, base, err := newCore(opts)
	if err != nil {
		return nil, err
	}
	o := &Optimly{
		core:       c,
		apiVersion: opts.APIVersion,
		base:       base,
		newChatURL: base + "/external/message/new-chat",
		sendURL:    base + "/external/agent/v2",
		healthURL:  base + "/health",
	}
	switch opts.APIVersion {
	case 0:
		o.apiVersion = 2
	case 1:
		o.sendURL = base + "/external/agent"
	case 2:
	default:
		return nil, fmt.Errorf("agent: APIVersion %d: want 1 (legacy /external/agent) or 2 (/external/agent/v2, the default)", opts.APIVersion)
	}
	o.newChatU, o.sendU = c.target(o.newChatURL), c.target(o.sendURL)
	return o, nil
}

// NewChat opens a chat with POST /external/message/new-chat. The answer must
// carry a non-empty chat_id; otherwise the error is KindProtocol. The chat
// gets a new trace id.
func (o *Optimly) NewChat(ctx context.Context, req NewChatRequest) (Chat, error) {
	const op = "new-chat"
	body, err := json.Marshal(newChatWire{ClientID: req.ClientID, Metadata: req.Metadata})
	if err != nil {
		return Chat{}, &Error{Op: op, Kind: KindClient, Detail: "metadata cannot be encoded as JSON", Err: err}
	}
	trace := NewTraceID()
	data, status, _, m, e := o.roundTrip(ctx, &request{op: op, method: http.MethodPost, url: o.newChatURL, parsed: o.newChatU, body: body, limit: o.maxBody, traceID: trace})
	if e != nil {
		return Chat{}, e
	}
	chat, err := decodeChat(data)
	if err != nil {
		pe := o.protocolError(op, status, data, err)
		pe.RequestID = m.requestID
		return Chat{}, pe
	}
	chat.TraceID = trace
	return chat, nil
}

// Send posts one message to /external/agent/v2 (with metadata client_id,
// session_id and source) or, with APIVersion 1, to /external/agent (chat_id
// and content only). The answer must carry a string "response"; otherwise
// the error is KindProtocol.
func (o *Optimly) Send(ctx context.Context, chat Chat, msg Message) (Reply, error) {
	const op = "send"
	if chat.ID == "" {
		return Reply{}, &Error{Op: op, Kind: KindClient, Detail: "chat has no ID (open it with NewChat first)"}
	}
	data, status, _, m, e := o.roundTrip(ctx, &request{op: op, method: http.MethodPost, url: o.sendURL, parsed: o.sendU,
		body: sendBody(chat.ID, msg, o.apiVersion), limit: o.maxBody, traceID: chat.TraceID})
	if e != nil {
		return Reply{}, e
	}
	r, err := decodeReply(data)
	if err != nil {
		pe := o.protocolError(op, status, data, err)
		pe.RequestID = m.requestID
		return Reply{}, pe
	}
	r.RequestID, r.TraceID = m.requestID, m.traceID
	return r, nil
}

// History reads the chat's messages with
// GET /external/chat/{chat_id}/messages: a JSON array of
// {"message_id","sender","content","timestamp"}, also accepted inside a
// {"data": ...} envelope or as {"messages": [...]}. An unknown chat is a
// KindClient error (HTTP 404). It is an agent call.
func (o *Optimly) History(ctx context.Context, chat Chat) ([]HistoryMessage, error) {
	const op = "history"
	if chat.ID == "" {
		return nil, &Error{Op: op, Kind: KindClient, Detail: "chat has no ID (open it with NewChat first)"}
	}
	target := o.base + "/external/chat/" + url.PathEscape(chat.ID) + "/messages"
	data, status, _, m, e := o.roundTrip(ctx, &request{op: op, method: http.MethodGet, url: target, limit: o.maxBody, traceID: chat.TraceID})
	if e != nil {
		return nil, e
	}
	msgs, err := decodeHistory(data)
	if err != nil {
		pe := o.protocolError(op, status, data, err)
		pe.RequestID = m.requestID
		return nil, pe
	}
	return msgs, nil
}

// Health checks GET /health: any 2xx means up. It is not an agent call.
func (o *Optimly) Health(ctx context.Context) error {
	_, _, _, _, e := o.roundTrip(ctx, &request{op: "health", method: http.MethodGet, url: o.healthURL, limit: maxErrorBody})
	if e != nil {
		return e
	}
	return nil
}

// historyWire is one message of a history list.
type historyWire struct {
	MessageID looseString `json:"message_id"`
	ID        looseString `json:"id"`
	Sender    looseString `json:"sender"`
	Role      looseString `json:"role"`
	Content   looseString `json:"content"`
	Timestamp looseString `json:"timestamp"`
}

// decodeHistory parses a history body: an array, an object whose
// "messages" or "data" holds the array (or an object holding "messages").
func decodeHistory(body []byte) ([]HistoryMessage, error) {
	raw := json.RawMessage(body)
	for depth := 0; depth < 3 && isObject(raw); depth++ {
		var env struct {
			Success  *bool           `json:"success"`
			Data     json.RawMessage `json:"data"`
			Messages json.RawMessage `json:"messages"`
		}
		if err := json.Unmarshal(raw, &env); err != nil {
			return nil, jsonProblem(err)
		}
		if env.Success != nil && !*env.Success {
			return nil, &failureBody{errorMessage(raw)}
		}
		switch {
		case len(env.Messages) > 0:
			raw = env.Messages
		case len(env.Data) > 0:
			raw = env.Data
		default:
			return nil, errors.New(`body is neither a list of messages nor an object with "messages" or "data"`)
		}
	}
	var list []historyWire
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("message list: %w", jsonProblem(err))
	}
	out := make([]HistoryMessage, len(list))
	for i, w := range list {
		out[i] = HistoryMessage{
			ID:        cmpOr(w.MessageID.s, w.ID.s),
			Sender:    cmpOr(w.Sender.s, w.Role.s),
			Content:   w.Content.s,
			Timestamp: w.Timestamp.s,
		}
	}
	return out, nil
}

// newChatWire is the body of new-chat.
type newChatWire struct {
	ClientID string         `json:"client_id"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

// sendWire is the body of one message: chat_id and content, and for API v2
// the metadata (omitted when zero: API v1).
type sendWire struct {
	ChatID   string       `json:"chat_id"`
	Content  string       `json:"content"`
	Metadata sendMetadata `json:"metadata,omitzero"`
}

type sendMetadata struct {
	ClientID  string `json:"client_id,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	Source    string `json:"source"`
}

// sendBody encodes the body of one message: {"chat_id","content"} and, for
// API v2, "metadata" with client_id and session_id when set and source
// (default "evalrun"), as marshalJSON does (no HTML escaping, no trailing
// newline).
func sendBody(chatID string, msg Message, version int) []byte {
	w := sendWire{ChatID: chatID, Content: msg.Content}
	if version != 1 {
		w.Metadata = sendMetadata{ClientID: msg.ClientID, SessionID: msg.SessionID, Source: cmpOr(msg.Source, "evalrun")}
	}
	eb := bodyEncoders.Get().(*bodyEncoder)
	eb.buf.Reset()
	_ = eb.enc.Encode(&w) // strings only: always encodes
	body := bytes.Clone(bytes.TrimSuffix(eb.buf.Bytes(), []byte{'\n'}))
	if eb.buf.Cap() <= maxPooledBody {
		bodyEncoders.Put(eb)
	}
	return body
}

// bodyEncoder is a JSON encoder with its buffer, kept in bodyEncoders so
// that a message body costs one allocation of its own size (the encoder and
// the growing buffer are reused). The body handed to the request is a
// copy: net/http may still be reading it after the call returns.
type bodyEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// maxPooledBody: a buffer grown beyond this by one large message is not
// kept.
const maxPooledBody = 64 << 10

var bodyEncoders = sync.Pool{New: func() any {
	e := &bodyEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}
