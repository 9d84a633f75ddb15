// Package runner replays the conversations of a scenario suite against an
// agent and reports every call and every conversation as it finishes.
//
// Run starts conversations as its Schedule allows (the closed model: N
// conversations in flight), sends their turns one after another with their
// think time, paces every agent call through a stack of Limiters, retries
// throttled and transient failures with exponential backoff and full jitter
// (honouring Retry-After), and never lets the calls it sends exceed its quota
// Budget: each conversation reserves its worst case before it starts and each
// call attempt, retries included, is charged before it is sent.
//
// Latency is measured from each call's intended send time, so waiting for a
// limiter, a retry or a free worker shows up in it (no coordinated omission).
//
// Cancelling Run's context stops new work: no conversation starts and no call
// is sent after it, while calls already in flight finish or time out; the
// Abort context of Options, when done, cancels those too. Every conversation
// is reported exactly once to the Observer, including those that never ran.
package runner
