// Package agent defines how evalrun talks to a chat agent: the Conn interface
// (open a chat, send a turn, check health) and its transports. The Optimly
// transport speaks the Optimly external API (v2 by default).
//
// A Conn is safe for concurrent use by many conversations. Every call takes a
// context; cancelling it abandons the call. Errors returned by a Conn are
// *Error values whose Kind tells the caller what happened (throttled, quota
// exhausted, server error, ...), so retry and accounting logic can branch on
// it with errors.As.
package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"time"
)

// Conn is a connection to one agent. Implementations are safe for concurrent
// use.
type Conn interface {
	// NewChat opens a chat (a conversation) with the agent.
	NewChat(ctx context.Context, req NewChatRequest) (Chat, error)
	// Send sends one user message in an open chat and returns the agent's reply.
	Send(ctx context.Context, chat Chat, msg Message) (Reply, error)
	// Health reports whether the agent's server is up. It is not an agent call
	// and never counts against a quota.
	Health(ctx context.Context) error
}

// NewChatRequest is what opening a chat sends.
type NewChatRequest struct {
	ClientID string         // identifies the end user to the agent
	Metadata map[string]any // optional, sent as-is
}

// Chat is an open chat, as returned by NewChat.
type Chat struct {
	ID        string `json:"chat_id"`
	AgentID   string `json:"agent_id,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	CreatedAt string `json:"created_at,omitempty"`
	Status    string `json:"status,omitempty"`
	// TraceID is the W3C trace id (32 lower-case hex digits) shared by
	// every call of this chat: each call sends it in its traceparent header
	// with a span id of its own. NewChat sets it; an empty or malformed one
	// makes each call start a trace of its own.
	TraceID string `json:"trace_id,omitempty"`

	// local is the client-side state of transports that keep the
	// conversation themselves (openai, http); nil for Optimly.
	local *localChat
}

// Message is one user turn.
type Message struct {
	Content   string
	ClientID  string // sent in metadata when set
	SessionID string // sent in metadata when set
	Source    string // sent in metadata when set; default "evalrun"
	// ToolResults answer the tool calls of the previous reply (the openai
	// transport): a call's id or its tool's name → the result's content.
	// A call is looked up by id, then by name, then in
	// OpenAIConfig.ToolResults; one found nowhere gets NoToolResult.
	ToolResults map[string]string
	// Options are request options of this message over the target's
	// (the openai transport; see RequestOptions). Nil means none.
	Options *RequestOptions
}

// RequestOptions are request settings of one message (a scenario's
// `openai:` block) over the target's: Body keys replace the target's
// request fields of the same name (response_format, seed, stop, ...) or
// add new ones; Headers are sent besides the target's, replacing those of
// the same name.
type RequestOptions struct {
	Body    map[string]json.RawMessage
	Headers map[string]string
}

// Reply is the agent's answer to one Message, normalised across transports.
type Reply struct {
	Text      string          `json:"response"`
	MessageID string          `json:"message_id,omitempty"`
	AgentID   string          `json:"agent_id,omitempty"`
	Timestamp string          `json:"timestamp,omitempty"`
	Tools     []ToolExecution `json:"tools_executed,omitempty"`
	// Handoff is true when the agent handed the conversation to a human
	// (non-empty handoff_data, or an executed email_handoff tool).
	Handoff     bool            `json:"handoff,omitempty"`
	HandoffData json.RawMessage `json:"handoff_data,omitempty"`
	// ProcessingTime is the server-reported processing time in seconds.
	ProcessingTime float64 `json:"processing_time,omitempty"`
	TokensUsed     int     `json:"tokens_used,omitempty"`
	KnowledgeUsed  int     `json:"knowledge_chunks_used,omitempty"`
	// Raw is the reply body as received (unwrapped from a {"data":...}
	// envelope), for expectations over arbitrary JSON fields. A streamed
	// reply has no body of its own: Raw is then the assembled message as
	// a non-streamed answer would carry it. It belongs to the caller once
	// Send returns: a Conn never reuses its buffer (the runner keeps it in
	// the turn's record).
	Raw json.RawMessage `json:"-"`

	// PromptTokens and CompletionTokens split TokensUsed when the server
	// reports them (OpenAI-compatible usage); zero otherwise.
	PromptTokens     int `json:"prompt_tokens,omitempty"`
	CompletionTokens int `json:"completion_tokens,omitempty"`

	// Streaming measurements, set only by a streamed reply (the openai
	// transport with Stream): TTFT is the time from sending the request to
	// the first content (or tool-call) chunk, Chunks the number of data
	// events that carried content, Gaps the time between consecutive
	// content chunks (len(Gaps) == Chunks-1) and MaxGap the longest of them
	// (the longest stall of the stream).
	TTFT   time.Duration   `json:"ttft_ns,omitempty"`
	Chunks int             `json:"chunks,omitempty"`
	Gaps   []time.Duration `json:"-"`
	MaxGap time.Duration   `json:"max_gap_ns,omitempty"`

	// RequestID is the X-Request-ID sent with the attempt that produced
	// this reply, and TraceID the trace id of its traceparent header, so a
	// server's logs can be joined with the report.
	RequestID string `json:"request_id,omitempty"`
	TraceID   string `json:"trace_id,omitempty"`

	// assistant is the openai transport's reply as the model sent it
	// (tool calls with their ids), which joins the chat's history.
	assistant *chatMessage
}

// ToolExecution is one tool the agent ran while answering.
type ToolExecution struct {
	Tool   string         `json:"tool"`
	Status string         `json:"status"`
	Data   map[string]any `json:"data,omitempty"`
	// CallID is the id the model gave the call (OpenAI tool_calls), which
	// a scenario's tool_results may name; "" otherwise.
	CallID string `json:"call_id,omitempty"`
}

// Options configure an HTTP transport.
type Options struct {
	// BaseURL is the agent server's base, e.g. https://api.optimly.io.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <key>" (see Header). It never
	// appears in an error message, even when a server echoes it back. Empty
	// means no credentials are sent.
	APIKey string
	// Timeout bounds one call, from sending the request to reading the whole
	// body. Zero means 30s.
	Timeout time.Duration
	// MaxConns caps the connections to the host, in use and idle; a call
	// that finds them all busy waits for one. Set it to the calls in flight
	// at once (the conversations in flight): the server then sees at most
	// that many connections, each kept alive between calls. Zero means 100.
	MaxConns int
	// MaxBodyBytes caps how much of a response body is read. Zero means 4 MiB.
	MaxBodyBytes int64
	// UserAgent is sent with every request. Zero means "evalrun".
	UserAgent string
	// AllowInsecureHTTP permits a plain http:// BaseURL whose host is not
	// loopback (localhost, 127.0.0.0/8, ::1). Without it such a URL is refused
	// before any connection is made, so a key is never sent in clear text by
	// accident. Loopback http:// is always allowed.
	AllowInsecureHTTP bool
	// APIVersion selects the Optimly message endpoint: 2 (the default when
	// zero) posts to /external/agent/v2 with metadata, 1 to the legacy
	// /external/agent with chat_id and content only.
	APIVersion int
	// Header names where the key goes: "" or "Authorization" sends
	// "Authorization: Bearer <key>", "X-API-Key" sends "X-API-Key: <key>".
	// Names are matched case-insensitively.
	Header string
	// TLSConfig, when set, is used (cloned) for https connections, e.g. to
	// trust a private CA. Nil means the system roots.
	TLSConfig *tls.Config
	// Auth says how the key is sent: "" or "bearer" as
	// "Authorization: Bearer <key>" (unless Header says X-API-Key),
	// "header" as-is (no "Bearer ") in the header named by Header (default
	// X-API-Key; "Authorization" sends the bare key there), "query"
	// as the query parameter named by QueryParam, "none" no credentials
	// (APIKey must then be empty). Matched case-insensitively. A key sent in the query is redacted from errors
	// and debug output like any other, but may still reach server and
	// proxy logs: prefer a header when the server accepts one.
	Auth string
	// QueryParam is the query parameter that carries the key with Auth
	// "query". Zero means "api_key".
	QueryParam string
	// CACertFile names a PEM file of CA certificates trusted for https in
	// addition to the system roots (e.g. a company proxy's or a staging
	// server's private CA). It is read once, by the constructor.
	CACertFile string
	// Debug, when set, receives one line per request and per response
	// (method, URL, status, headers, a body excerpt) with the key redacted
	// wherever it appears: the Authorization and X-API-Key headers, the
	// key's query parameter and any body text. Writes are serialised.
	Debug io.Writer
}

// HistoryReader is implemented by transports whose server keeps the
// conversation and can list it (Optimly: GET /external/chat/{id}/messages).
// Reading the history is an agent call: it counts against the quota like
// any other.
type HistoryReader interface {
	// History returns the chat's messages, oldest first.
	History(ctx context.Context, chat Chat) ([]HistoryMessage, error)
}

// HistoryMessage is one message of a chat as the server kept it.
type HistoryMessage struct {
	ID        string `json:"message_id,omitempty"`
	Sender    string `json:"sender"` // "user" or "assistant"
	Content   string `json:"content"`
	Timestamp string `json:"timestamp,omitempty"`
}

// CallCoster is implemented by transports whose NewChat is not an agent
// call (the chat is kept client-side), so a quota estimate can leave it
// out. A Conn that does not implement it costs one call per NewChat.
type CallCoster interface {
	// NewChatCalls returns how many agent calls one NewChat makes.
	NewChatCalls() int
}
