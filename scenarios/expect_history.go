package scenarios

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// The history kind checks that the server kept the conversation: after the
// reply, the runner reads the chat's messages back from the server (an
// extra agent call, counted against the quota) and the expectation counts
// the user messages in it.

func init() {
	kinds["history"] = kindSpec{doc: "the server kept the conversation: its history of the chat holds at least N user messages (`history: {turns: N}` or `history: N`); costs one extra agent call", parse: parseHistory}
}

// HistoryEntry is one message of a chat as the server kept it.
type HistoryEntry struct {
	Sender  string // "user" or "assistant"
	Content string
}

// NeedsHistory reports whether an expectation of the turn reads the
// server's history of the chat, so the runner must fetch it after the
// reply (Observation.History).
func (t *Turn) NeedsHistory() bool {
	for _, e := range t.Expect {
		if e != nil && needsHistory(e.check) {
			return true
		}
	}
	return false
}

// ExtraCalls returns the agent calls the turn makes besides sending its
// message: 1 when it reads the history, else 0. Cost estimates add it.
func (t *Turn) ExtraCalls() int {
	if t.NeedsHistory() {
		return 1
	}
	return 0
}

// historyUser is implemented by checkers that read Observation.History.
type historyUser interface{ usesHistory() bool }

// needsHistory reports whether c, or a check nested in a logic kind,
// reads the history.
func needsHistory(c checker) bool {
	subs := func(list []*Expectation) bool {
		for _, e := range list {
			if e != nil && needsHistory(e.check) {
				return true
			}
		}
		return false
	}
	switch x := c.(type) {
	case historyUser:
		return x.usesHistory()
	case anyCheck:
		return subs(x.subs)
	case allCheck:
		return subs(x.subs)
	case notCheck:
		return subs([]*Expectation{x.sub})
	}
	return false
}

func parseHistory(d *decoder, v *yaml.Node) checker {
	switch v.Kind {
	case yaml.ScalarNode:
		n, ok := d.int(v, "history")
		if !ok {
			return nil
		}
		if n < 1 {
			d.errorf(v, "history: turns must be at least 1, got %d", n)
			return nil
		}
		return historyCheck{turns: n}
	case yaml.MappingNode:
	default:
		d.errorf(v, "history: expected {turns: N} or a number, got %s", describe(v))
		return nil
	}
	before := len(d.errs)
	fs, _ := d.fields(v, "history", []string{"turns"})
	c := historyCheck{}
	for _, f := range fs {
		n, ok := d.int(f.val, "turns")
		if !ok {
			continue
		}
		if n < 1 {
			d.errorf(f.val, "history.turns must be at least 1, got %d", n)
			continue
		}
		c.turns = n
	}
	if len(d.errs) > before {
		return nil
	}
	if c.turns == 0 {
		d.errorf(v, "history: missing turns, e.g. {turns: 2}")
		return nil
	}
	return c
}

type historyCheck struct{ turns int }

func (historyCheck) usesHistory() bool { return true }

func (c historyCheck) String() string { return fmt.Sprintf("history turns %d", c.turns) }

func (c historyCheck) check(obs *Observation) (bool, string) {
	if obs.HistoryError != "" {
		return false, "the chat history could not be read: " + obs.HistoryError
	}
	users := 0
	for _, m := range obs.History {
		if m.Sender == "user" {
			users++
		}
	}
	if users >= c.turns {
		return true, ""
	}
	return false, fmt.Sprintf("the server's history holds %d user messages (%d messages in all), want at least %d", users, len(obs.History), c.turns)
}
