package agentsim

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// The answers' JSON, encoded with encoding/json. Field order is the order
// on the wire.

// appendJSON appends v as encoding/json encodes it, without HTML escaping
// (the answers are not HTML) and without the trailing newline.
func appendJSON(b []byte, v any) []byte {
	buf := bytes.NewBuffer(b)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the wire types below always encode
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
}

// hexID returns prefix and 16 hex digits of x.
func hexID(prefix string, x uint64) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 0, len(prefix)+16)
	b = append(b, prefix...)
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[(x>>uint(shift))&0xf])
	}
	return string(b)
}

// stamp returns t as an RFC 3339 UTC timestamp with microseconds.
func stamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
}

type newChatWire struct {
	ChatID    string `json:"chat_id"`
	AgentID   string `json:"agent_id"`
	ClientID  string `json:"client_id"`
	CreatedAt string `json:"created_at"`
	Status    string `json:"status"`
}

// v1Wire is the answer of the legacy message endpoint.
type v1Wire struct {
	Response  string `json:"response"`
	ChatID    string `json:"chat_id"`
	MessageID string `json:"message_id"`
	Timestamp string `json:"timestamp"`
}

// v2Wire is the answer of /external/agent/v2.
type v2Wire struct {
	AgentID     string       `json:"agent_id"`
	ChatID      string       `json:"chat_id"`
	Response    string       `json:"response"`
	MessageID   string       `json:"message_id"`
	Timestamp   string       `json:"timestamp"`
	Tools       []toolWire   `json:"tools_executed"`
	HandoffData *handoffWire `json:"handoff_data"`
	Metadata    metaWire     `json:"metadata"`
}

type toolWire struct {
	Tool   string   `json:"tool"`
	Status string   `json:"status"`
	Data   toolData `json:"data"`
}

// toolData is the data of every tool; each sets only its own fields.
type toolData struct {
	Email  string `json:"email,omitempty"`
	Phone  string `json:"phone,omitempty"`
	Name   string `json:"name,omitempty"`
	When   string `json:"when,omitempty"`
	Reason string `json:"reason,omitempty"`
	Queue  string `json:"queue,omitempty"`
}

type handoffWire struct {
	Type    string `json:"type"`
	Summary string `json:"summary"`
	Queue   string `json:"queue"`
	Email   string `json:"email,omitempty"`
}

type metaWire struct {
	ProcessingTime      float64 `json:"processing_time"`
	TokensUsed          int64   `json:"tokens_used"`
	KnowledgeChunksUsed int64   `json:"knowledge_chunks_used"`
}

type historyWire struct {
	MessageID string `json:"message_id"`
	Sender    string `json:"sender"`
	Content   string `json:"content"`
	Timestamp string `json:"timestamp"`
}

// validationWire is one FastAPI-style 422 detail.
type validationWire struct {
	Loc  []string `json:"loc"`
	Msg  string   `json:"msg"`
	Type string   `json:"type"`
}

type errorWire struct {
	Detail any `json:"detail"`
}

type envelopeErrorWire struct {
	Success bool   `json:"success"`
	Error   string `json:"error"`
	Detail  any    `json:"detail"`
}

// OpenAI-compatible answers.

type oaErrorWire struct {
	Error oaErrorBody `json:"error"`
}

type oaErrorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Code    *string `json:"code"`
}

type oaModelsWire struct {
	Object string        `json:"object"`
	Data   []oaModelWire `json:"data"`
}

type oaModelWire struct {
	Object  string `json:"object"`
	OwnedBy string `json:"owned_by"`
	ID      string `json:"id"`
}

// oaCompletionWire is a chat completion, or one chunk of a streamed one.
type oaCompletionWire struct {
	ID      string         `json:"id"`
	Object  string         `json:"object"`
	Created int64          `json:"created"`
	Model   string         `json:"model"`
	Choices []oaChoiceWire `json:"choices"`
	Usage   *oaUsageWire   `json:"usage,omitempty"`
}

type oaChoiceWire struct {
	Index        int            `json:"index"`
	Message      *oaMessageWire `json:"message,omitempty"`
	Delta        *oaMessageWire `json:"delta,omitempty"`
	FinishReason *string        `json:"finish_reason"`
}

type oaMessageWire struct {
	Role      string           `json:"role,omitempty"`
	Content   *string          `json:"content,omitempty"`
	ToolCalls []oaToolCallWire `json:"tool_calls,omitempty"`
}

type oaToolCallWire struct {
	Index    *int           `json:"index,omitempty"`
	ID       string         `json:"id,omitempty"`
	Type     string         `json:"type,omitempty"`
	Function oaFunctionWire `json:"function"`
}

type oaFunctionWire struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

type oaUsageWire struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func usageWire(prompt, completion int) *oaUsageWire {
	return &oaUsageWire{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

// contentLength is the Content-Length header value of body.
func contentLength(body []byte) []string { return []string{strconv.Itoa(len(body))} }
