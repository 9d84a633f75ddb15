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
}

// Message is one user turn.
type Message struct {
	Content   string
	ClientID  string // sent in metadata when set
	SessionID string // sent in metadata when set
	Source    string // sent in metadata when set; default "evalrun"
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
	// envelope), for expectations over arbitrary JSON fields.
	Raw json.RawMessage `json:"-"`
}

// ToolExecution is one tool the agent ran while answering.
type ToolExecution struct {
	Tool   string         `json:"tool"`
	Status string         `json:"status"`
	Data   map[string]any `json:"data,omitempty"`
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
	// MaxConns is the size of the keep-alive pool per host. Zero means 100.
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
}
