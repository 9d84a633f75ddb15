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

// chatMessage is one message of an OpenAI-style conversation.
type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// snapshot returns a copy of the history.
func (l *localChat) snapshot() []chatMessage {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]chatMessage(nil), l.msgs...)
}

// record appends a completed exchange.
func (l *localChat) record(user, assistant string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, chatMessage{"user", user}, chatMessage{"assistant", assistant})
	if len(l.msgs) > maxLocalHistory {
		l.msgs = append(l.msgs[:0], l.msgs[len(l.msgs)-maxLocalHistory:]...)
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
