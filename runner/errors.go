package runner

import "errors"

// ErrQuotaExhausted is returned (wrapped) by Run when the agent's server said
// the quota is used up. The run stopped cleanly: no call was sent after that
// answer, and the Summary's StopReason is StopQuotaExhausted.
var ErrQuotaExhausted = errors.New("quota exhausted")

// ErrRejected is returned (wrapped) by Run when the agent's server refused
// the API key (401, or a 403 that is not about the quota). The run stopped
// at that answer: every further call would be refused too.
var ErrRejected = errors.New("API key rejected")

// ErrInterrupted is returned (wrapped, together with the context's cause) by
// Run when its context was cancelled before every conversation had finished.
var ErrInterrupted = errors.New("run interrupted")

// Reasons given for conversations that did not run to their end
// (Conversation.Reason when Outcome is NotRun).
const (
	ReasonBudget         = "budget"          // its worst case could not be reserved
	ReasonInterrupted    = "interrupted"     // the run's context was cancelled
	ReasonQuotaExhausted = "quota exhausted" // the server said the quota is used up
	ReasonRejected       = "key rejected"    // the server refused the API key
)

// Stop reasons of a Summary.
const (
	StopInterrupted    = "interrupted"
	StopQuotaExhausted = "quota_exhausted"
	StopRejected       = "key_rejected"
)
