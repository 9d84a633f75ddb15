package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/scenarios"
)

// Options configure one Run. Only Conn is required.
type Options struct {
	// Conn is the agent the conversations are replayed against.
	Conn agent.Conn
	// Concurrency is the number of conversations in flight in the closed
	// model (default 1). It is ignored when Schedule is set.
	Concurrency int
	// Schedule decides when conversations start; nil means Closed(Concurrency).
	Schedule Schedule
	// Limiters pace every agent call, new chats and turns, retries included:
	// a call is sent only when every limiter allows it. A *rate.Limiter is a
	// Limiter; --rate R/s is one, --limit 100/min --limit 1000/h are two.
	Limiters []Limiter
	// NewChatLimiter, if set, additionally paces new-chat calls.
	NewChatLimiter Limiter
	// Budget is the quota budget that every call attempt is charged to before
	// it is sent; nil means unlimited.
	Budget *Budget
	// Retry says how retryable failures are retried.
	Retry RetryPolicy
	// RunID names the run in default client IDs (evalrun-<RunID>-<n>) and
	// templates; empty means one made from the start time.
	RunID string
	// Seed makes the run reproducible: fake template data and retry jitter
	// derive from it and the conversation number.
	Seed int64
	// Observer receives every call and conversation as it ends; nil means
	// results are only counted in the Summary.
	Observer Observer
	// Abort, when done, cancels the calls in flight (the second Ctrl-C).
	// Cancelling Run's context lets them finish; nil means never abort.
	Abort context.Context
	// CallTimeout bounds each call attempt, on top of the Conn's own
	// timeout; zero means only the Conn's.
	CallTimeout time.Duration
	// MaxConversations runs only the first n conversations in run order
	// (see FitConversations); zero means all.
	MaxConversations int
	// Repeat replays the whole suite Repeat times, in the same order each
	// time; zero means once (without limit when Duration is set).
	Repeat int
	// Duration, when above zero, replays the suite over and over (up to
	// Repeat times when that is set) and stops scheduling when it has passed
	// since Run began, or when the Schedule ends, or when a conversation
	// cannot reserve its worst case from the Budget: with a Duration the
	// budget bounds the run instead of failing conversations.
	Duration time.Duration
	// Grace is how long the conversations started before the end of
	// Duration may go on after it; then the calls still in flight are
	// cancelled and the conversations cut short are reported NotRun with
	// reason "grace". Zero means DefaultGrace; below zero, no grace.
	Grace time.Duration
	// Shard runs only the shard's slice of the conversations (see Shard);
	// MaxConversations then counts within the slice. The zero Shard runs
	// them all.
	Shard Shard

	// Judge grades the scenarios' `judge:` expectations; nil means they
	// fail with a reason saying no judge is configured. Judge calls are
	// not agent calls: they are not charged to Budget nor paced by
	// Limiters (the Judge paces and counts its own).
	Judge scenarios.Judge
	// User is the simulated user of the scenarios with simulate:; Run
	// refuses a suite that has one when User is nil. Its calls are not
	// agent calls: not charged to Budget nor paced by Limiters.
	User scenarios.UserSimulator

	// start is when Run began; {{ date }} is relative to it.
	start time.Time
	// newChatCalls is what opening a chat costs: agent.NewChatCost(Conn).
	newChatCalls int
	// evaluate replaces Turn.EvaluateContext in tests.
	evaluate func(t *scenarios.Turn, obs *scenarios.Observation, captures map[string]string) []scenarios.Verdict
}

// nopObserver discards results.
type nopObserver struct{}

func (nopObserver) CallDone(*Call)                 {}
func (nopObserver) ConversationDone(*Conversation) {}

// withDefaults checks the options and fills in the defaults.
func (o Options) withDefaults(now time.Time) (Options, error) {
	var errs []error
	if o.Conn == nil {
		errs = append(errs, errors.New("runner: Options.Conn is nil; an agent connection is required"))
	}
	if o.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("runner: Options.Concurrency is %d; it must be 1 or more (0 means 1)", o.Concurrency))
	}
	if o.MaxConversations < 0 {
		errs = append(errs, fmt.Errorf("runner: Options.MaxConversations is %d; it must be 0 (all) or more", o.MaxConversations))
	}
	if o.Repeat < 0 {
		errs = append(errs, fmt.Errorf("runner: Options.Repeat is %d; it must be 0 (once) or more", o.Repeat))
	}
	if o.Duration < 0 {
		errs = append(errs, fmt.Errorf("runner: Options.Duration is %v; it must be 0 (none) or more", o.Duration))
	}
	if o.CallTimeout < 0 {
		errs = append(errs, fmt.Errorf("runner: Options.CallTimeout is %v; it must be 0 (none) or more", o.CallTimeout))
	}
	retry, err := o.Retry.withDefaults()
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return o, errors.Join(errs...)
	}
	o.Retry = retry
	o.Concurrency = max(o.Concurrency, 1)
	if o.Schedule == nil {
		o.Schedule = Closed(o.Concurrency)
	}
	switch {
	case o.Grace == 0:
		o.Grace = DefaultGrace
	case o.Grace < 0:
		o.Grace = 0
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	if o.RunID == "" {
		o.RunID = now.UTC().Format("20060102T150405")
	}
	o.start = now
	o.newChatCalls = agent.NewChatCost(o.Conn)
	return o, nil
}
