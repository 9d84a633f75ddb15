package runner

import (
	"context"
	"time"
)

// Schedule decides when conversations start. Run asks it for one start per
// conversation, in run order, and tells it when each started conversation
// ends.
//
// The closed model (Closed) starts a conversation whenever fewer than N are
// in flight: the agent's speed sets the pace. An open model starts them at
// arrival times that do not depend on the agent (constant rate or Poisson):
// its Next sleeps until the next arrival time and returns that time, and its
// Done does nothing (or frees a slot of a safety cap on conversations in
// flight). Because Run measures a conversation's first call from the time
// Next returns, an open model that falls behind its arrival times shows the
// lag in the latency instead of hiding it.
type Schedule interface {
	// Next blocks until the next conversation may start and returns the time
	// it was meant to start. It returns a non-nil error, without starting
	// anything, when ctx is done first.
	Next(ctx context.Context) (time.Time, error)
	// Done reports that a conversation started by Next has ended.
	Done()
}

// closed is the closed load model: at most n conversations in flight.
type closed struct{ slots chan struct{} }

// Closed returns the closed-model schedule: a conversation starts as soon as
// fewer than n (at least 1) are in flight.
func Closed(n int) Schedule {
	return closed{slots: make(chan struct{}, max(n, 1))}
}

// Next waits for a free slot and returns the moment it got one.
func (c closed) Next(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	select {
	case c.slots <- struct{}{}:
		return time.Now(), nil
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

// Done frees the slot of an ended conversation.
func (c closed) Done() { <-c.slots }
