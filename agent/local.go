package agent

import (
	"encoding/json"
	"sync"
)

// maxLocalHistory bounds the messages a client-side chat keeps; older turns
// are forgotten (the system prompt is not part of the count).
const maxLocalHistory = 400

// localChat is the conversation of a transport that keeps it client-side
// (openai, http). It lives in the Chat value, so it is freed with the
// conversation; a retried Send does not record the failed attempt.
type localChat struct {
	mu      sync.Mutex
	session string // the generic transport's session id, "" otherwise
	msgs    []chatMessage
}

// chatMessage is one message of an OpenAI-style conversation. ToolCalls
// and FunctionCall keep an assistant message's calls as the model sent
// them; ToolCallID (role "tool") and Name (role "function") say which call
// a result answers.
type chatMessage struct {
	Role         string       `json:"role"`
	Content      string       `json:"content"`
	Name         string       `json:"name,omitempty"`
	ToolCalls    []oaToolCall `json:"tool_calls,omitempty"`
	FunctionCall *oaFunction  `json:"function_call,omitempty"`
	ToolCallID   string       `json:"tool_call_id,omitempty"`
}

// snapshot returns a copy of the history.
func (l *localChat) snapshot() []chatMessage {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]chatMessage(nil), l.msgs...)
}

// record appends a completed exchange.
func (l *localChat) record(user, assistant string) {
	l.add(chatMessage{Role: "user", Content: user}, chatMessage{Role: "assistant", Content: assistant})
}

// add appends messages of a completed exchange. When the history grows
// past maxLocalHistory the oldest are forgotten, up to a user message, so
// it never starts with a tool result whose call is gone.
func (l *localChat) add(msgs ...chatMessage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, msgs...)
	if len(l.msgs) > maxLocalHistory {
		cut := len(l.msgs) - maxLocalHistory
		for cut < len(l.msgs)-1 && l.msgs[cut].Role != "user" {
			cut++
		}
		l.msgs = append(l.msgs[:0], l.msgs[cut:]...)
	}
}

// historyJSON renders the history as a JSON array of {"role","content"}.
func (l *localChat) historyJSON() []byte {
	msgs := l.snapshot()
	if msgs == nil {
		msgs = []chatMessage{}
	}
	b, _ := json.Marshal(msgs) // strings only: cannot fail
	return b
}
