package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
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
	// over). Run's ctx is not cancelled at its deadline: a start due before
	// the deadline is returned even when Next is called after it. When ctx
	// is done, a start that was already due is returned as a
	// *MissedArrival error (Run reports its conversation NotRun).
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
	// Closed is true for the closed model's stats, whose Waits say when it
	// held conversations back.
	Closed bool
	// WaitStart and Waits are the closed model's waits for a free slot: how
	// long Next waited in each WaitBucket from WaitStart (the first Next).
	// While it waits, N conversations are in flight and the next is held
	// back; when it does not, a run that sends few calls is not holding
	// any back (it has nothing more to start, or a free slot). Nil when it
	// never waited.
	WaitStart time.Time
	Waits     []time.Duration
	// Missed counts the arrivals due before the end of the run that did not
	// start because the run stopped first (its grace period was over, it
	// was interrupted, the quota ran out), each returned by Next as a
	// *MissedArrival; MissedCapped those of them held back by MaxInFlight.
	Missed, MissedCapped int64
}

// MissedArrival is the error of a Schedule's Next for an arrival that was
// due (its time had come, before the end of the run) when the run stopped,
// so that it will never start: Run reports its conversation NotRun, with
// reason ReasonMaxInFlight when the cap on conversations in flight held it
// back and the run's stop reason otherwise, and counts the time from At to
// the stop in the schedule lag. Next returns one per such arrival, then the
// stop's error.
type MissedArrival struct {
	At     time.Time // when it was due
	Capped bool      // the cap on conversations in flight held it back
	Err    error     // why the schedule stopped: its context's error
}

func (e *MissedArrival) Error() string {
	why := "the run stopped before it started"
	if e.Capped {
		why = "the cap on conversations in flight held it back until the run stopped"
	}
	return fmt.Sprintf("arrival due at %s not started: %s: %v", e.At.Format(time.RFC3339Nano), why, e.Err)
}

func (e *MissedArrival) Unwrap() error { return e.Err }

// ReasonMaxInFlight is the Reason of an open-model conversation that was
// due but never started because the cap on conversations in flight
// (OpenOptions.MaxInFlight, --max-in-flight) held it back until the run
// stopped.
const ReasonMaxInFlight = "max-in-flight"

// endContext is a run's scheduling context: done when the run stops, with
// the end of its Duration as its deadline — but not cancelled at that
// deadline, so that an open model that has fallen behind still starts the
// arrivals due before it (late, their lag measured) instead of dropping
// them when the deadline's timer fires.
type endContext struct {
	context.Context
	end time.Time
}

func (c endContext) Deadline() (time.Time, bool) {
	if dl, ok := c.Context.Deadline(); ok && dl.Before(c.end) {
		return dl, true
	}
	return c.end, true
}

// withEnd returns ctx with deadline end that does not cancel it (see
// endContext).
func withEnd(ctx context.Context, end time.Time) context.Context {
	return endContext{Context: ctx, end: end}
}

// closed is the closed load model: at most n conversations in flight.
type closed struct {
	slots chan struct{}

	mu    sync.Mutex
	start time.Time
	waits []time.Duration // per WaitBucket from start
}

// WaitBucket is the width of the buckets of ScheduleStats.Waits.
const WaitBucket = 100 * time.Millisecond

// maxWaitBuckets bounds ScheduleStats.Waits (a day); later waits count in
// the last bucket.
const maxWaitBuckets = 864_000

// Closed returns the closed-model schedule: a conversation starts as soon as
// fewer than n (at least 1) are in flight. It has a Stats method saying
// when it held conversations back (ScheduleStats.Waits).
func Closed(n int) Schedule {
	return &closed{slots: make(chan struct{}, max(n, 1))}
}

// Stats returns the closed model's waits for a free slot.
func (c *closed) Stats() ScheduleStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return ScheduleStats{Closed: true, WaitStart: c.start, Waits: slices.Clone(c.waits)}
}

// waited records a wait for a slot from t0 to t1 in the buckets it spans.
func (c *closed) waited(t0, t1 time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for t0.Before(t1) {
		b := min(int(t0.Sub(c.start)/WaitBucket), maxWaitBuckets-1)
		end := c.start.Add(time.Duration(b+1) * WaitBucket)
		if b == maxWaitBuckets-1 || end.After(t1) {
			end = t1
		}
		for len(c.waits) <= b {
			c.waits = append(c.waits, 0)
		}
		c.waits[b] += end.Sub(t0)
		t0 = end
	}
}

// WaitedDuring returns how long the closed model waited for a free slot
// between from and to (whole WaitBuckets that overlap count in full).
func (s ScheduleStats) WaitedDuring(from, to time.Time) time.Duration {
	if len(s.Waits) == 0 || !to.After(s.WaitStart) {
		return 0
	}
	first := max(int(from.Sub(s.WaitStart)/WaitBucket), 0)
	last := min(int((to.Sub(s.WaitStart)-1)/WaitBucket), len(s.Waits)-1)
	var d time.Duration
	for b := first; b <= last; b++ {
		d += s.Waits[b]
	}
	return d
}

// Next waits for a free slot and returns the moment it got one; it gives
// up at ctx's deadline.
func (c *closed) Next(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	if c.start.IsZero() {
		c.start = time.Now() // Next is called from one goroutine
	}
	got := func() (time.Time, error) {
		now := time.Now()
		if pastDeadline(ctx, now) {
			<-c.slots
			return time.Time{}, context.DeadlineExceeded
		}
		return now, nil
	}
	select {
	case c.slots <- struct{}{}:
		return got()
	default:
	}
	var expire <-chan time.Time
	if dl, ok := ctx.Deadline(); ok {
		t := time.NewTimer(time.Until(dl))
		defer t.Stop()
		expire = t.C
	}
	t0 := time.Now()
	defer func() { c.waited(t0, time.Now()) }()
	select {
	case c.slots <- struct{}{}:
		return got()
	case <-expire:
		return time.Time{}, context.DeadlineExceeded
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
func (c *closed) Done() { <-c.slots }

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

	capped bool // the cap held an arrival back when the run stopped

	mu           sync.Mutex
	capHits      int64
	firstHit     time.Duration
	missedN      int64
	missedCapped int64
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
// not push back those after it — and one due before ctx's deadline is
// returned even after the deadline has passed (the deadline ends the
// arrivals, not the starts of those already due). After the last stage it
// returns ErrScheduleEnded; at the first arrival at or after the deadline,
// context.DeadlineExceeded.
//
// When ctx is done (the run stops), every arrival already due is returned
// as a *MissedArrival error, one per call, so the run can report it; then
// ctx's error.
func (s *OpenSchedule) Next(ctx context.Context) (time.Time, error) {
	if !s.started {
		if err := ctx.Err(); err != nil {
			return time.Time{}, err
		}
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
	if err := ctx.Err(); err != nil {
		return time.Time{}, s.missed(at, err)
	}
	if !s.clock.SleepUntil(ctx, at) {
		return time.Time{}, s.missed(at, ctx.Err())
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
		s.capped = true
		return time.Time{}, s.missed(at, ctx.Err())
	}
}

// missed returns the error of an arrival at at that the stop err keeps from
// starting: a *MissedArrival when it was due, else err.
func (s *OpenSchedule) missed(at time.Time, err error) error {
	if at.After(s.clock.Now()) {
		return err
	}
	s.mu.Lock()
	s.missedN++
	if s.capped {
		s.missedCapped++
	}
	s.mu.Unlock()
	return &MissedArrival{At: at, Capped: s.capped, Err: err}
}

// Done frees the slot of an ended conversation.
func (s *OpenSchedule) Done() { <-s.slots }

// Stats says how often the cap on conversations in flight held arrivals back.
func (s *OpenSchedule) Stats() ScheduleStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ScheduleStats{MaxInFlight: s.cap, CapHits: s.capHits, FirstCapHit: s.firstHit, Missed: s.missedN, MissedCapped: s.missedCapped}
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
