// Package scenarios is the scenario language of evalrun: the model of a
// conversation and the outcomes expected at each turn, loading it from YAML
// with strict validation (every error names file:line:col), templating,
// captures, and the evaluation of expectations against an agent's reply.
//
// The package knows nothing about transports: the runner turns an agent's
// reply into an Observation and asks the Turn for its Verdicts.
package scenarios

import (
	"encoding/json"
	"time"

	"github.com/evalrun/evalrun/internal/yamlpos"
)

// Suite is a set of scenarios loaded together. Names are unique in a suite.
type Suite struct {
	Scenarios []*Scenario
}

// Pos is a place in a scenario file. Line and Col are 1-based. It is the
// place type of every file format evalrun reads (internal/yamlpos).
type Pos = yamlpos.Pos

// OnFail says what a conversation does after a failed turn.
type OnFail string

const (
	// OnFailStop ends the conversation at the failed turn (the default).
	OnFailStop OnFail = "stop"
	// OnFailContinue runs the remaining turns anyway.
	OnFailContinue OnFail = "continue"
)

// Scenario is one multi-turn conversation and what is expected of it.
type Scenario struct {
	Name        string
	Description string
	Tags        []string
	File        string // the file it was loaded from
	Pos         Pos    // where the scenario starts
	Vars        map[string]string
	// ClientID renders the client_id of each conversation; nil means the
	// runner's default (evalrun-<run id>-<n>).
	ClientID    *Template
	Repeat      int     // conversations to run; at least 1
	MinPassRate float64 // fraction of Repeat that must pass; default 1
	OnFail      OnFail
	// OpenAI are request options for OpenAI-compatible targets over the
	// target's (the `openai:` block); nil when absent.
	OpenAI *OpenAIOptions
	Turns  []*Turn
	// ExpectConversation are the checks on the whole conversation
	// (`expect_conversation:`), made after its last turn; see
	// EvaluateConversation.
	ExpectConversation []*ConversationExpectation
	// Simulate is the simulated user (`simulate:`) that writes the
	// messages after Turns; nil for a scripted scenario.
	Simulate *Simulation
	// BaseName is the name as written, before matrix expansion; it equals
	// Name for a scenario without a matrix.
	BaseName string
	// Row is the 1-based matrix row this scenario was expanded from, 0
	// without a matrix; RowKey is the row's key, the part of Name in
	// brackets (NAME[KEY]).
	Row    int
	RowKey string

	namePos Pos // where the name is written (Pos when defaulted)
}

// Turn is one user message and the expectations on the agent's reply.
type Turn struct {
	Index    int // 0-based position in Scenario.Turns
	Pos      Pos
	User     *Template
	Think    time.Duration // pause before sending this turn
	Expect   []*Expectation
	Captures []Capture // applied to the reply text, in order
	// ToolResults answer the tool calls of the previous reply (OpenAI
	// targets): a call id or tool name → the result's content. Nil when
	// absent.
	ToolResults map[string]string

	hasThink bool // think: was written (defaults do not override it)
}

// Tool is one tool the agent executed, as seen by expectations.
type Tool struct {
	Name   string
	Status string
	Data   map[string]any
}

// Observation is what an expectation is checked against: one reply of the
// agent and how long it took.
type Observation struct {
	// User is the user's message the reply answers, as sent; the judge
	// sees it beside the reply.
	User       string
	Text       string
	Tools      []Tool
	Handoff    bool
	TokensUsed int
	Latency    time.Duration
	// Raw is the reply's JSON body, for field expectations; may be nil.
	Raw json.RawMessage
	// History is the chat as the server kept it, read after the reply
	// (oldest first). The runner fills it only for a turn whose
	// NeedsHistory is true; HistoryError says why it could not be read.
	History      []HistoryEntry
	HistoryError string
}

// Verdict is the outcome of one expectation (or capture) on one reply.
type Verdict struct {
	// Expectation describes the check as written, e.g. `icontains "growth"`.
	Expectation string `json:"expectation"`
	// Name is the user's name for it, if any.
	Name   string `json:"name,omitempty"`
	Passed bool   `json:"passed"`
	// Undecided is true when the expectation could not be decided: the
	// judge failed (an HTTP error, an answer with no grade), or max_tokens
	// met a reply that reports no token count. Passed is then
	// false, but the verdict is not one on the agent: the turn's outcome is
	// an error, not a failure. any/all/not never turn an undecided child
	// into a pass.
	Undecided bool `json:"undecided,omitempty"`
	// Reason is a one-line, human-readable explanation of a failure, e.g.
	// `regex '\$\d+' did not match "We have three plans…"`. Empty on success.
	Reason string `json:"reason,omitempty"`
}
