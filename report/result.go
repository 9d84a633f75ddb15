package report

import (
	"encoding/json"
	"math"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// SchemaVersion is the version of the result file this package writes and
// the only one ReadResult accepts. It changes whenever a field changes
// meaning or is removed; adding a field does not change it.
const SchemaVersion = 1

// Scenario statuses, the value of ScenarioResult.Status.
const (
	StatusPassed = "passed"
	StatusFailed = "failed"
)

// Result is the outcome of one run: the JSON result file. Counts come from
// counters, not from the length of Conversations, so a result may keep only
// some transcripts and still count every conversation.
type Result struct {
	SchemaVersion int       `json:"schema_version"`
	RunID         string    `json:"run_id"`
	Version       string    `json:"evalrun_version"`
	Started       time.Time `json:"started"`
	Ended         time.Time `json:"ended"`
	DurationMS    float64   `json:"duration_ms"`
	Seed          int64     `json:"seed"`
	// Target is the agent the run talked to: never a key.
	Target Target `json:"target"`
	// Settings are the run's effective settings (concurrency, rate, …), as
	// the CLI chose to record them; never a secret.
	Settings map[string]any `json:"settings,omitempty"`
	Budget   BudgetInfo     `json:"budget"`
	Totals   Totals         `json:"totals"`
	// Scenarios are sorted by name.
	Scenarios []ScenarioResult `json:"scenarios"`
	// Histograms: overall, per call kind, per scenario (by name), per turn
	// index (ascending), then, when the run said its load model, service
	// time per call kind and schedule lag, then, when some turn streamed,
	// time to first token, chunk gaps, stalls, inter-token latency, time per
	// output token and output tokens per second, in that order.
	Histograms []HistogramResult `json:"histograms"`
	// Stream counts the streamed replies and their output tokens, with the
	// run's output tokens per second; absent when no turn streamed.
	Stream *StreamTotals `json:"stream,omitempty"`
	// Interrupted is true when the run was stopped before it finished (an
	// interrupt, a quota answer from the server, a deadline).
	Interrupted bool   `json:"interrupted"`
	StopReason  string `json:"stop_reason,omitempty"`
	// Warnings say what makes the run's numbers less than they seem, e.g.
	// that it fell behind its schedule (its latencies then include the
	// queueing); empty when nothing did.
	Warnings []string `json:"warnings,omitempty"`
	// Transcripts says which conversations the result keeps in
	// Scenarios[].Conversations and where the others went. Absent in files
	// written before it existed: those keep every transcript.
	Transcripts *TranscriptInfo `json:"transcripts,omitempty"`
	// Thresholds are the run's pass/fail gates (--threshold), each with the
	// value measured; empty when the run had none.
	Thresholds []ThresholdResult `json:"thresholds,omitempty"`
	// Cut says what the run left out of its plan before it started (e.g.
	// --partial fitting the quota); absent when it ran its whole plan.
	Cut *CutInfo `json:"cut,omitempty"`
	// Judge is the LLM judge's work during the run (see JudgeInfo); absent
	// when no judge graded anything.
	Judge *JudgeInfo `json:"judge,omitempty"`
	// UserModel is the simulated user's work (simulate: scenarios); absent
	// when the run had none.
	UserModel *UserModelInfo `json:"user_model,omitempty"`
	// Turns counts, per turn index, the turns sent and those that passed,
	// over every conversation (see TurnCount); absent in files written
	// before it existed.
	Turns []TurnCount `json:"turns,omitempty"`
}

// StreamTotals are the totals of a run's streamed replies (openai targets
// with stream): how many, their output tokens, and the run's output tokens
// per second, as GuideLLM computes the run's rate: all output tokens over
// the run's wall time (started to ended), idle time included.
type StreamTotals struct {
	// Replies counts the streamed turns (replies with a content chunk).
	Replies int64 `json:"replies"`
	// UsageReplies counts those whose output tokens the server reported
	// (usage.completion_tokens); the others count their content chunks.
	UsageReplies int64 `json:"usage_replies"`
	// OutputTokens is the output tokens of every streamed reply.
	OutputTokens int64 `json:"output_tokens"`
	// OutputTokensPerS is OutputTokens over the run's wall time in
	// seconds, rounded to 0.001; 0 when the run has no duration.
	OutputTokensPerS float64 `json:"output_tokens_per_s"`
}

// setRate sets OutputTokensPerS from the run's duration in milliseconds.
func (s *StreamTotals) setRate(durationMS float64) {
	s.OutputTokensPerS = 0
	if durationMS > 0 {
		s.OutputTokensPerS = math.Round(float64(s.OutputTokens)/(durationMS/1000)*1000) / 1000
	}
}

// ThresholdResult is one threshold evaluated against a run.
type ThresholdResult struct {
	// Expr is the threshold as written, e.g. "p95<2s".
	Expr string `json:"expr"`
	// Scope is what it applies to, e.g. "scenario:pricing"; empty for the
	// whole run.
	Scope string `json:"scope,omitempty"`
	// Value is the measured value, formatted for people (e.g. "1.52s",
	// "96.0%").
	Value  string `json:"value"`
	Passed bool   `json:"passed"`
}

// CutInfo describes a run cut short of its plan before it started.
type CutInfo struct {
	// By is what cut it, e.g. "the quota (--partial)".
	By string `json:"by"`
	// Planned is the conversations the run was to have without the cut;
	// Ran those it had (Totals.Conversations).
	Planned int `json:"planned"`
	Ran     int `json:"ran"`
	// NotRun names the scenarios the cut left out entirely (they have no
	// ScenarioResult).
	NotRun []string `json:"not_run,omitempty"`
}

// JudgeInfo is the LLM judge's work during a run: gradings asked for,
// those answered from the cache, the requests sent (retries included,
// outside the agent's quota) and the gradings that failed (their
// expectations were undecided and their conversations errored).
type JudgeInfo struct {
	Model     string `json:"model,omitempty"`
	Grades    int64  `json:"grades"`
	Calls     int64  `json:"calls"`
	CacheHits int64  `json:"cache_hits"`
	Failures  int64  `json:"failures"`
	// Limit is the judge's rate limit as configured (judge.limit); empty
	// when it had none.
	Limit string `json:"limit,omitempty"`
}

// UserModelInfo is the work of the simulated user of a run: the model of
// user_model (or "rule-based (agentsim)", which makes no calls), the
// messages and verdicts asked of it, its requests (retries included,
// outside the agent's quota) and its failures (their conversations
// errored).
type UserModelInfo struct {
	Model    string `json:"model"`
	Turns    int64  `json:"turns,omitempty"`
	Calls    int64  `json:"calls"`
	Failures int64  `json:"failures"`
	Limit    string `json:"limit,omitempty"`
}

// TranscriptInfo records the transcript policy of a run (see Transcripts)
// and what it kept.
type TranscriptInfo struct {
	// Policy is TranscriptsFailed, TranscriptsSample, TranscriptsAll or
	// TranscriptsNone.
	Policy TranscriptPolicy `json:"policy"`
	// Sample is how many iterations of each scenario keep their passed (and
	// not run) conversations under the sample and all policies.
	Sample int `json:"sample,omitempty"`
	// Kept is the number of conversations in the result;
	// Totals.Conversations minus Kept were counted but not kept.
	Kept int `json:"kept"`
	// File is the JSON Lines file every conversation was streamed to
	// (policy all), as the run named it; empty otherwise.
	File string `json:"file,omitempty"`
	// Streamed is how many conversations were written to File.
	Streamed int64 `json:"streamed,omitempty"`
	// StreamError is set when writing File failed; the file is then
	// incomplete.
	StreamError string `json:"stream_error,omitempty"`
}

// Target is the agent under test as recorded in a result: its name, kind
// (e.g. "optimly", "simulated") and base URL with any user info and query
// values removed.
type Target struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	URL  string `json:"url"`
	// OpenAI is what an OpenAI-compatible target was asked: model, stream
	// flag, system prompt and request options; nil for other kinds.
	OpenAI *OpenAITarget `json:"openai,omitempty"`
}

// OpenAITarget records what was tested on an OpenAI-compatible target.
type OpenAITarget struct {
	Model        string `json:"model"`
	Stream       bool   `json:"stream"`
	SystemPrompt string `json:"system_prompt,omitempty"`
	// Options are the request fields sent besides model, stream and
	// messages (temperature, seed, stop, response_format, tools, ...), as
	// sent; a scenario's openai: block may override them for its turns.
	Options map[string]json.RawMessage `json:"options,omitempty"`
	// Headers are the names of the extra request headers (values are not
	// recorded).
	Headers []string `json:"headers,omitempty"`
}

// SettingLoadModel is the Settings key of the load model, "closed" or
// "open". Result files before it called it "model"; ReadResult and ReadRun
// rename that key on reading.
const SettingLoadModel = "load_model"

// upgrade brings a result read from an older file to the current names:
// settings.model (the load model) becomes settings.load_model.
func (r *Result) upgrade() {
	v, ok := r.Settings["model"]
	if !ok {
		return
	}
	if _, has := r.Settings[SettingLoadModel]; has {
		return
	}
	if s, _ := v.(string); s == "open" || s == "closed" {
		r.Settings[SettingLoadModel] = s
		delete(r.Settings, "model")
	}
}

// BudgetInfo is the quota budget of a run, in Unit ("calls" or "messages").
// A Limit of 0 or less means no limit. An empty Unit means the run kept no
// budget.
type BudgetInfo struct {
	Unit string `json:"unit,omitempty"`
	// Plan is the plan the limit comes from ("starter", …), empty when the
	// limit was given as a number.
	Plan       string `json:"plan,omitempty"`
	Limit      int64  `json:"limit"`
	UsedBefore int64  `json:"used_before"` // used in this billing cycle before the run
	Spent      int64  `json:"spent"`       // charged by this run, retries included
}

// Unlimited reports whether the budget has no limit.
func (b BudgetInfo) Unlimited() bool { return b.Limit <= 0 }

// Left returns what remains of the budget after the run, never below 0; 0
// when the budget is unlimited.
func (b BudgetInfo) Left() int64 {
	if b.Unlimited() {
		return 0
	}
	return max(0, b.Limit-b.UsedBefore-b.Spent)
}

// Totals are the run-wide counts. The conversation outcomes add up to
// Conversations.
type Totals struct {
	Conversations int `json:"conversations"`
	// Counts are the conversations by outcome (JSON: passed, failed,
	// error, throttled, not_run).
	Counts
	// Calls counts agent calls (new chats and turns), each once however
	// many attempts it took; Attempts counts the attempts.
	Calls    int64 `json:"calls"`
	Attempts int64 `json:"attempts"`
	// Turns counts the turns sent, over all conversations.
	Turns int64 `json:"turns"`
	// CallErrors counts failed calls by error kind (agent.ErrorKind names).
	CallErrors map[string]int64 `json:"call_errors,omitempty"`
}

// ScenarioResult is the outcome of one scenario over all its conversations.
type ScenarioResult struct {
	Name string   `json:"name"`
	File string   `json:"file,omitempty"`
	Tags []string `json:"tags,omitempty"`
	Runs int      `json:"runs"` // conversations, every outcome included
	// Counts are the runs by outcome (JSON: passed, failed, error,
	// throttled, not_run).
	Counts
	// Planned is the conversations the scenario was to run before the run
	// was cut (Result.Cut); set only in a cut run. Planned > Runs means
	// some of them never started; pass rate and status count the runs
	// made.
	Planned int `json:"planned,omitempty"`
	// PassRate is Passed/Runs (0 when there were no runs).
	PassRate float64 `json:"pass_rate"`
	// PassRateCI is the Wilson 95% interval of PassRate (WilsonInterval):
	// how far the true pass rate may be from the one observed. Set when the
	// scenario ran more than once; absent in files written before it
	// existed.
	PassRateCI  *RateInterval `json:"pass_rate_ci,omitempty"`
	MinPassRate float64       `json:"min_pass_rate"`
	// Required is the number of passed runs MinPassRate asks for.
	Required int    `json:"required"`
	Status   string `json:"status"` // StatusPassed or StatusFailed
	// FirstFailure is the first failure by iteration; nil when none.
	FirstFailure *Failure `json:"first_failure,omitempty"`
	// Simulation counts the scenario's simulated conversations (simulate:)
	// by how they ended and by turns used, over every conversation, kept
	// or not; absent for a scripted scenario.
	Simulation    *SimulationStats     `json:"simulation,omitempty"`
	Conversations []ConversationResult `json:"conversations"`
}

// WholeConversation is the Failure.Turn of a failure of the
// conversation's own expectations (expect_conversation), not of a turn.
const WholeConversation = -2

// Failure names the first thing that went wrong in a scenario: in the
// conversation with the lowest iteration whose outcome is failed, error or
// throttled, the first turn that did not pass and its first failing
// expectation.
type Failure struct {
	Conversation int            `json:"conversation"`
	Iteration    int            `json:"iteration"`
	Outcome      runner.Outcome `json:"outcome"`
	// Turn is the 0-based turn index; -1 when the conversation failed before
	// its first turn (e.g. opening the chat); WholeConversation (-2) when
	// no turn failed but a check of its expect_conversation did.
	Turn int `json:"turn"`
	// Expectation is empty when no expectation failed (an error or a 429).
	Expectation  string `json:"expectation,omitempty"`
	Reason       string `json:"reason"`
	ReplyExcerpt string `json:"reply_excerpt,omitempty"`
}

// ConversationResult is the transcript of one conversation.
type ConversationResult struct {
	ID         int            `json:"id"`
	Iteration  int            `json:"iteration"`
	ChatID     string         `json:"chat_id,omitempty"`
	ClientID   string         `json:"client_id,omitempty"`
	Outcome    runner.Outcome `json:"outcome"`
	Reason     string         `json:"reason,omitempty"`
	Start      time.Time      `json:"start"`
	DurationMS float64        `json:"duration_ms"`
	Turns      []TurnRecord   `json:"turns"`
	// Verdicts are the conversation's own, from its scenario's
	// expect_conversation (checked after its last turn); absent when it
	// has none or a turn ended it early.
	Verdicts []scenarios.Verdict `json:"verdicts,omitempty"`
	// Simulation says how a simulated conversation (simulate:) ended:
	// ended (goal_met, gave_up, max_turns or stopped), goal_met, reason and
	// user_calls; absent for a scripted one.
	Simulation *runner.Simulation `json:"simulation,omitempty"`
}

// TurnRecord is one turn of a conversation as stored in a result.
type TurnRecord struct {
	Index int    `json:"index"`
	Sent  string `json:"sent"`
	// By says who wrote Sent in a simulated conversation: script, opening
	// or simulated_user; absent in a scripted one.
	By        string                `json:"by,omitempty"`
	Reply     string                `json:"reply"`
	Tools     []agent.ToolExecution `json:"tools,omitempty"`
	Handoff   bool                  `json:"handoff,omitempty"`
	Tokens    int                   `json:"tokens,omitempty"`
	LatencyMS float64               `json:"latency_ms"`
	// ServiceMS is the agent's own answer time (the last attempt), what
	// max_latency expectations judge; 0 in results that predate it.
	ServiceMS float64             `json:"service_ms,omitempty"`
	Attempts  int                 `json:"attempts"`
	Outcome   runner.Outcome      `json:"outcome"`
	Error     string              `json:"error,omitempty"`
	Verdicts  []scenarios.Verdict `json:"verdicts,omitempty"`
	// Raw is the reply's JSON body as the agent sent it, as text, what
	// field: expectations read: bounded like the other texts (a body over
	// MaxStoredText is cut and marked, and is then no longer JSON), whole
	// in the transcripts stream. Absent when the call failed, and in files
	// written before it was kept; regrade then keeps the recorded verdicts
	// of field: expectations.
	Raw string `json:"raw,omitempty"`
	// A streamed reply's time to first token, its number of content
	// chunks and its longest gap between two chunks; absent when the reply
	// did not stream.
	TTFTMS   float64 `json:"ttft_ms,omitempty"`
	Chunks   int     `json:"chunks,omitempty"`
	MaxGapMS float64 `json:"max_gap_ms,omitempty"`
}

// Duration returns how long the run took.
func (r *Result) Duration() time.Duration { return r.Ended.Sub(r.Started) }

// Passed reports whether the run passed: it has at least one conversation,
// every scenario reached its min_pass_rate, every threshold held, and
// nothing was interrupted, not run, errored or throttled.
func (r *Result) Passed() bool {
	t := r.Totals
	if r.Interrupted || t.Conversations == 0 || t.Incomplete() > 0 {
		return false
	}
	for _, th := range r.Thresholds {
		if !th.Passed {
			return false
		}
	}
	for i := range r.Scenarios {
		if r.Scenarios[i].Status != StatusPassed {
			return false
		}
	}
	return true
}

// Finished reports whether the run did all it set out to do: it was not
// interrupted and no conversation was left not run. A run that finished
// may still have failed (see Passed).
func (r *Result) Finished() bool {
	return !r.Interrupted && r.Totals.NotRun == 0
}

// Scenario returns the scenario named name, or nil.
func (r *Result) Scenario(name string) *ScenarioResult {
	for i := range r.Scenarios {
		if r.Scenarios[i].Name == name {
			return &r.Scenarios[i]
		}
	}
	return nil
}

// Histogram returns the histogram of the given kind and name, or nil.
func (r *Result) Histogram(kind, name string) *HistogramResult {
	for i := range r.Histograms {
		if h := &r.Histograms[i]; h.Kind == kind && h.Name == name {
			return h
		}
	}
	return nil
}
