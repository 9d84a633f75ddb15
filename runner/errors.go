package runner

import "errors"

// ErrQuotaExhausted is returned (wrapped) by Run when the agent's server said
// the quota is used up. The run stopped cleanly: no call was sent after that
// answer, and the Summary's StopReason is StopQuotaExhausted.
var ErrQuotaExhausted = errors.New("quota exhausted")

// ErrInterrupted is returned (wrapped, together with the context's cause) by
// Run when its context was cancelled before every conversation had finished.
var ErrInterrupted = errors.New("run interrupted")

// Reasons given for conversations that did not run to their end
// (Conversation.Reason when Outcome is NotRun).
const (
	ReasonBudget         = "budget"          // its worst case could not be reserved
	ReasonInterrupted    = "interrupted"     // the run's context was cancelled
	ReasonQuotaExhausted = "quota exhausted" // the server said the quota is used up
)

// Stop reasons of a Summary.
const (
	StopInterrupted    = "interrupted"
	StopQuotaExhausted = "quota_exhausted"
)
