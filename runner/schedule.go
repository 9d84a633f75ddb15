package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Schedule decides when conversations start. Run asks it for one start per
// conversation, in run order, from a single goroutine, and tells it when
// each started conversation ends.
//
// The closed model (Closed) starts a conversation whenever fewer than N are
// in flight: the agent's speed sets the pace. The open model (Open) starts
// them at arrival times that do not depend on the agent (constant rate,
// Poisson, ramp stages): its Next sleeps until the next arrival time and
// returns that time, even when it returns late. Because Run measures a
// conversation's first call from the time Next returns, an open model that
// falls behind its arrival times shows the lag in the latency instead of
// hiding it.
type Schedule interface {
	// Next blocks until the next conversation may start and returns the time
	// it was meant to start. It returns a non-nil error, without starting
	// anything, when ctx is done first or its next start would be at or
	// after ctx's deadline (context.DeadlineExceeded), and an error wrapping
	// ErrScheduleEnded when the schedule has no more starts (its stages are
	// over).
	Next(ctx context.Context) (time.Time, error)
	// Done reports that a conversation started by Next has ended.
	Done()
}

// ErrScheduleEnded is returned (wrapped) by a Schedule's Next when it will
// start no more conversations; Run then stops scheduling, which is not an
// error.
var ErrScheduleEnded = errors.New("schedule ended")

// ScheduleStats is what a Schedule can tell about how it went.
type ScheduleStats struct {
	// MaxInFlight is the cap on conversations in flight of an open model;
	// 0 for the closed model (whose concurrency is its pace, not a cap).
	MaxInFlight int
	// CapHits counts the arrivals that found MaxInFlight conversations in
	// flight and waited for one to end; FirstCapHit is when the first did,
	// from the schedule's start. Such arrivals start late, and their lag
	// counts in their latency.
	CapHits     int64
	FirstCapHit time.Duration
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
		now := time.Now()
		if pastDeadline(ctx, now) {
			<-c.slots
			return time.Time{}, context.DeadlineExceeded
		}
		return now, nil
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

// pastDeadline reports whether t is at or after ctx's deadline. A schedule
// checks it rather than only ctx.Err(), which turns non-nil only when the
// deadline's timer has fired: on a busy machine that can be milliseconds
// late, and a run would start conversations after its duration.
func pastDeadline(ctx context.Context, t time.Time) bool {
	dl, ok := ctx.Deadline()
	return ok && !t.Before(dl)
}

// Done frees the slot of an ended conversation.
func (c closed) Done() { <-c.slots }

// DefaultMaxInFlight is the cap on conversations in flight of an open model
// when OpenOptions.MaxInFlight is 0: high enough never to shape a load test
// against a healthy agent, low enough that a stalled agent cannot make the
// run start goroutines without bound.
const DefaultMaxInFlight = 10000

// OpenOptions configure an open-model schedule.
type OpenOptions struct {
	// Rate is the arrival rate in conversations per second. Without Stages it
	// is constant and must be more than 0; with Stages it is the rate the
	// first stage ramps from (0 or more).
	Rate float64
	// Stages ramp the rate (see Stage); the schedule ends after the last.
	Stages []Stage
	// Arrival is the arrival process: ArrivalConstant (evenly spaced) or
	// ArrivalPoisson (exponential gaps drawn from Seed).
	Arrival Arrival
	// Seed draws the Poisson gaps, so a run can be repeated exactly.
	Seed int64
	// MaxInFlight caps the conversations in flight (default
	// DefaultMaxInFlight). An arrival that finds the cap reached waits for a
	// conversation to end; Stats counts such waits.
	MaxInFlight int
}

// OpenSchedule is the open load model: conversations start at arrival times
// that do not depend on how fast the agent answers, each in its own
// goroutine, bounded only by a safety cap on conversations in flight. Next
// must be called from one goroutine at a time; Done and Stats from any.
type OpenSchedule struct {
	arr   *arrivals
	prof  profile
	clock clock
	slots chan struct{}
	cap   int

	started bool
	start   time.Time

	mu       sync.Mutex
	capHits  int64
	firstHit time.Duration
}

// Open returns the open-model schedule o describes. The arrival times count
// from the first call of Next.
func Open(o OpenOptions) (*OpenSchedule, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	n := o.MaxInFlight
	if n == 0 {
		n = DefaultMaxInFlight
	}
	p := profile{rate: o.Rate, stages: append([]Stage(nil), o.Stages...)}
	return &OpenSchedule{
		arr:   newArrivals(p, o.Arrival, o.Seed),
		prof:  p,
		clock: realClock{},
		slots: make(chan struct{}, n),
		cap:   n,
	}, nil
}

// check validates the options, naming the setting at fault.
func (o OpenOptions) check() error {
	var errs []error
	bad := func(r float64) bool { return math.IsNaN(r) || math.IsInf(r, 0) || r < 0 || r > maxArrivalRate }
	switch {
	case bad(o.Rate):
		errs = append(errs, fmt.Errorf("arrival rate %v/s: must be between 0 and %g/s", o.Rate, float64(maxArrivalRate)))
	case len(o.Stages) == 0 && o.Rate == 0:
		errs = append(errs, errors.New("arrival rate: an open model needs a rate above 0 or ramp stages"))
	}
	for i, s := range o.Stages {
		if bad(s.Target) {
			errs = append(errs, fmt.Errorf("stage %d: rate %v/s must be between 0 and %g/s", i+1, s.Target, float64(maxArrivalRate)))
		}
		if s.Duration <= 0 {
			errs = append(errs, fmt.Errorf("stage %d: duration %v must be positive", i+1, s.Duration))
		}
	}
	if o.Arrival != ArrivalConstant && o.Arrival != ArrivalPoisson {
		errs = append(errs, fmt.Errorf("arrival process %d: valid processes are ArrivalConstant and ArrivalPoisson", o.Arrival))
	}
	if o.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("max in flight %d: must be 0 (default %d) or more", o.MaxInFlight, DefaultMaxInFlight))
	}
	return errors.Join(errs...)
}

// Next sleeps until the next arrival time, waits for a free slot if
// MaxInFlight conversations are in flight, and returns the arrival time. When
// the run has fallen behind, the arrival time is already past and Next
// returns at once: arrivals are counted from the start, so a late one does
// not push back those after it. After the last stage it returns
// ErrScheduleEnded.
func (s *OpenSchedule) Next(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	if !s.started {
		s.started, s.start = true, s.clock.Now()
	}
	off, ok := s.arr.next()
	if !ok {
		return time.Time{}, fmt.Errorf("open model: %w after its last stage", ErrScheduleEnded)
	}
	at := s.start.Add(off)
	if pastDeadline(ctx, at) {
		return time.Time{}, context.DeadlineExceeded
	}
	if !s.clock.SleepUntil(ctx, at) {
		return time.Time{}, ctx.Err()
	}
	select {
	case s.slots <- struct{}{}:
		return at, nil
	default:
	}
	s.mu.Lock()
	if s.capHits == 0 {
		s.firstHit = s.clock.Now().Sub(s.start)
	}
	s.capHits++
	s.mu.Unlock()
	select {
	case s.slots <- struct{}{}:
		return at, nil
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

// Done frees the slot of an ended conversation.
func (s *OpenSchedule) Done() { <-s.slots }

// Stats says how often the cap on conversations in flight held arrivals back.
func (s *OpenSchedule) Stats() ScheduleStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ScheduleStats{MaxInFlight: s.cap, CapHits: s.capHits, FirstCapHit: s.firstHit}
}

// PeakRate returns the highest arrival rate of the schedule, in
// conversations per second.
func (s *OpenSchedule) PeakRate() float64 { return s.prof.peak() }

// clock is the time source of an open schedule; tests replace it.
type clock interface {
	Now() time.Time
	// SleepUntil waits until t and reports true, or reports false as soon
	// as ctx is done.
	SleepUntil(ctx context.Context, t time.Time) bool
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) SleepUntil(ctx context.Context, t time.Time) bool { return sleepUntil(ctx, t) }
