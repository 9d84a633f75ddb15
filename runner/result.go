package runner

import (
	"encoding/json"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/scenarios"
)

// CallKind is the kind of agent call.
type CallKind string

const (
	CallNewChat CallKind = "new_chat" // POST /external/message/new-chat
	CallTurn    CallKind = "turn"     // POST /external/agent/v2
	// CallHistory reads the chat's history back from the server (GET
	// /external/chat/{id}/messages) for a `history:` expectation.
	CallHistory CallKind = "history"
)

// Outcome is how a conversation (or a turn) ended. Every report keeps the
// outcomes apart.
type Outcome string

const (
	Passed    Outcome = "passed"    // every expectation held
	Failed    Outcome = "failed"    // an expectation did not hold
	Errored   Outcome = "error"     // transport error or 5xx after retries
	Throttled Outcome = "throttled" // 429 after retries
	NotRun    Outcome = "not_run"   // budget, quota exhausted or interrupt stopped it before it finished
)

// Call is one agent call, retries included, as the runner saw it.
type Call struct {
	Kind         CallKind
	Scenario     string // scenario name
	Conversation int    // run-wide conversation number
	Turn         int    // 0-based turn index; -1 for a new-chat call
	// Intended is when the call should have been sent; latency is measured
	// from it, so waiting for a limiter or a retry counts.
	Intended time.Time
	Latency  time.Duration // intended send to the final reply (or failure)
	Service  time.Duration // last attempt: actual send to reply
	Attempts int           // 1 + retries
	Status   int           // HTTP status of the last attempt, 0 when none
	// Err is nil on success; otherwise the last attempt's error kind.
	Err *agent.Error
}

// TurnResult is the record of one turn of a conversation.
type TurnResult struct {
	Index int    `json:"index"`
	Sent  string `json:"sent"`
	// By says who wrote Sent: ByScript (the scenario's turns), ByOpening
	// (simulate.opening) or BySimulatedUser.
	By      string                `json:"by,omitempty"`
	Reply   string                `json:"reply"`
	Tools   []agent.ToolExecution `json:"tools,omitempty"`
	Handoff bool                  `json:"handoff,omitempty"`
	Tokens  int                   `json:"tokens,omitempty"`
	Latency time.Duration         `json:"latency_ns"`
	// Service is the agent's own answer time: the last attempt's send to
	// reply, what max_latency expectations judge.
	Service  time.Duration       `json:"service_ns,omitempty"`
	Attempts int                 `json:"attempts"`
	Outcome  Outcome             `json:"outcome"`
	Error    string              `json:"error,omitempty"`
	Verdicts []scenarios.Verdict `json:"verdicts,omitempty"`
	// Raw is the reply's JSON body as the agent sent it (agent.Reply.Raw,
	// kept as the Conn returned it, like Tools), what field: expectations
	// read; nil when the call failed. Results keep it bounded, so that
	// regrade can check field: again.
	Raw json.RawMessage `json:"raw,omitempty"`
	// RequestID is the X-Request-ID of the attempt that got the reply and
	// TraceID the conversation's W3C trace id, to find the call in the
	// server's logs.
	RequestID string `json:"request_id,omitempty"`
	TraceID   string `json:"trace_id,omitempty"`
	// Streaming measurements of a streamed reply (openai targets with
	// stream): time to first token, content chunks, the gaps between them
	// (not written to result files) and the longest gap.
	TTFT   time.Duration   `json:"ttft_ns,omitempty"`
	Chunks int             `json:"chunks,omitempty"`
	Gaps   []time.Duration `json:"-"`
	MaxGap time.Duration   `json:"max_gap_ns,omitempty"`
	// OutputTokens is the reply's completion tokens as the server reported
	// them (OpenAI usage); 0 when it reported none.
	OutputTokens int `json:"output_tokens,omitempty"`
}

// Conversation is the record of one conversation (one repeat of a scenario).
type Conversation struct {
	ID        int                 // run-wide conversation number
	Scenario  *scenarios.Scenario // the scenario it replays
	Iteration int                 // 0-based repeat index
	ChatID    string
	ClientID  string
	Outcome   Outcome
	// Reason is a one-line explanation when Outcome is not Passed.
	Reason string
	// Scheduled is when the Schedule meant the conversation to start; Start
	// minus Scheduled is the schedule lag. Zero for conversations never started.
	Scheduled time.Time
	Start     time.Time
	End       time.Time
	Turns     []TurnResult // the turns that were sent, in order
	// Verdicts are those of the scenario's expect_conversation, checked
	// once the conversation has sent all its turns (not when a turn ended
	// it early); they decide its outcome like a turn's verdicts.
	Verdicts []scenarios.Verdict
	// Simulation says how a simulated conversation (simulate:) ended; nil
	// for a scripted one.
	Simulation *Simulation
}

// Observer receives the runner's results as they happen. Methods are called
// from many goroutines at once; implementations must be safe for that.
type Observer interface {
	// CallDone is called once per agent call, after its last attempt.
	CallDone(c *Call)
	// ConversationDone is called once per conversation the runner started or
	// skipped (skipped ones with Outcome NotRun and no turns).
	ConversationDone(c *Conversation)
}

// StartObserver is an Observer that is also told when each conversation
// starts (it has its budget reservation and is about to open its chat),
// so that it can count conversations in flight, as the live progress
// does. ConversationStarted is called at most once per conversation, before
// its ConversationDone, from many goroutines at once.
type StartObserver interface {
	Observer
	ConversationStarted(c *Conversation)
}

// Summary is the outcome of a whole Run.
type Summary struct {
	RunID string
	// Conversations is how many conversations the run was to replay (after
	// Options.MaxConversations); each was reported once to the Observer. A
	// run with a Duration counts only those it scheduled.
	Conversations int
	// Started is how many of them started (reserved their budget and began).
	Started int
	// Completed is how many ran to their end (any outcome but NotRun).
	Completed int
	// Outcomes counts conversations by outcome.
	Outcomes map[Outcome]int
	// Interrupted is true when the run's context was cancelled before every
	// conversation had finished.
	Interrupted bool
	// StopReason is why the run stopped early: "" (it did not),
	// StopInterrupted or StopQuotaExhausted.
	StopReason string
	// Attempts is the number of call attempts sent, retries included.
	Attempts int64
	// Spent is the budget units charged during the run (Attempts when there
	// is no Budget).
	Spent   int64
	Elapsed time.Duration
	// EndedBy says why the run stopped scheduling conversations when no stop
	// (StopReason) did: EndSuite, EndDuration, EndSchedule or EndBudget.
	EndedBy string
	// Schedule is what the Schedule reports about itself (an open model's
	// cap on conversations in flight and how often it held arrivals back).
	Schedule ScheduleStats
}
