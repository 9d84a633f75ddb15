package runner

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/evalrun/evalrun/scenarios"
)

// DefaultGrace is how long conversations started before the end of a
// Duration may go on when Options.Grace (or Load.Grace) is 0.
const DefaultGrace = 30 * time.Second

// ReasonGrace is the Reason of a conversation cut short because the grace
// period after the run's Duration was over.
const ReasonGrace = "grace"

// Why a run stopped scheduling conversations (Summary.EndedBy), when nothing
// stopped it early.
const (
	EndSuite    = "suite"    // every conversation of the run was scheduled
	EndDuration = "duration" // Options.Duration was up
	EndSchedule = "schedule" // the Schedule ended (its last stage was over)
	EndBudget   = "budget"   // a run with a Duration could not reserve the next conversation
)

// Load is the load model of a run as the flags and evalrun.yaml give it: how
// conversations start (closed or open model) and how many there are. Apply
// turns it into Options; ScheduleEstimate says what it will cost.
//
// The model is open when Rate is above 0 or Stages are given, closed
// otherwise. The conversations are the suite's, in run order (see Run); the
// suite is replayed once, or Repeat times, or — with a Duration, or with
// Stages, whose total is then the duration — over and over until the time is
// up. MaxConversations stops it earlier.
type Load struct {
	// Concurrency is the closed model's conversations in flight (0 means 1).
	Concurrency int
	// Rate is the open model's arrival rate in conversations per second, or
	// the rate its first stage ramps from.
	Rate float64
	// Arrival is the open model's arrival process.
	Arrival Arrival
	// Stages ramp the open model's rate; see Stage.
	Stages []Stage
	// MaxInFlight caps the open model's conversations in flight (0 means
	// DefaultMaxInFlight).
	MaxInFlight int
	// Duration loops the suite until it has passed, then lets the started
	// conversations finish within Grace. 0 means no time limit (with Stages:
	// their total).
	Duration time.Duration
	// Grace: see Options.Grace.
	Grace time.Duration
	// Repeat replays the whole suite Repeat times (0 means once, or without
	// limit when there is a Duration).
	Repeat int
	// MaxConversations stops after that many conversations (0: no limit).
	MaxConversations int
}

// IsOpen reports whether the load is an open model.
func (l Load) IsOpen() bool { return l.Rate > 0 || len(l.Stages) > 0 }

// RunDuration returns how long the schedule runs: Duration, or the total of
// the stages when there is no Duration; 0 when it runs until the
// conversations are done.
func (l Load) RunDuration() time.Duration {
	if l.Duration > 0 || len(l.Stages) == 0 {
		return l.Duration
	}
	var d time.Duration
	for _, s := range l.Stages {
		d += s.Duration
	}
	return d
}

// Check validates the load, naming the setting at fault.
func (l Load) Check() error {
	var errs []error
	if l.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("concurrency %d: must be 1 or more", l.Concurrency))
	}
	if l.Duration < 0 {
		errs = append(errs, fmt.Errorf("duration %v: must be 0 (none) or more", l.Duration))
	}
	if l.Repeat < 0 {
		errs = append(errs, fmt.Errorf("repeat %d: must be 1 or more", l.Repeat))
	}
	if l.MaxConversations < 0 {
		errs = append(errs, fmt.Errorf("max conversations %d: must be 0 (no limit) or more", l.MaxConversations))
	}
	if l.IsOpen() {
		if err := l.open(0).check(); err != nil {
			errs = append(errs, err)
		}
	} else if l.MaxInFlight != 0 {
		errs = append(errs, errors.New("max in flight: applies to the open model only (give an arrival rate or stages; the closed model's cap is its concurrency)"))
	}
	return errors.Join(errs...)
}

func (l Load) open(seed int64) OpenOptions {
	return OpenOptions{Rate: l.Rate, Stages: l.Stages, Arrival: l.Arrival, Seed: seed, MaxInFlight: l.MaxInFlight}
}

// Apply checks the load and sets the load fields of opts: Schedule,
// Concurrency, Duration, Grace and Repeat, and MaxConversations when the load
// sets a lower one than opts has (a --partial limit already in opts stays).
// seed draws the Poisson arrivals.
func (l Load) Apply(opts *Options, seed int64) error {
	if err := l.Check(); err != nil {
		return err
	}
	opts.Concurrency = max(l.Concurrency, 1)
	if l.IsOpen() {
		s, err := Open(l.open(seed))
		if err != nil {
			return err
		}
		opts.Schedule = s
	} else {
		opts.Schedule = Closed(opts.Concurrency)
	}
	opts.Duration = l.RunDuration()
	opts.Grace = l.Grace
	opts.Repeat = l.Repeat
	if l.MaxConversations > 0 && (opts.MaxConversations == 0 || l.MaxConversations < opts.MaxConversations) {
		opts.MaxConversations = l.MaxConversations
	}
	return nil
}

// ScheduledConversations returns how many conversations a run of suite with
// load l will try to start, and false when nothing bounds it in advance (the
// closed model with a Duration and neither Repeat nor MaxConversations: its
// count depends on the agent's speed; only the quota budget bounds it).
//
// For an open model with a duration the count is the arrivals the schedule
// makes in it: ⌈rate × duration⌉ (or of the integral of the stages) for
// constant arrivals, and for Poisson arrivals that mean plus three standard
// deviations (exceeded in about one run in 700), so that the estimate is a
// worst case in practice. Repeat and MaxConversations lower it.
func ScheduledConversations(suite *scenarios.Suite, l Load) (int64, bool) {
	per := newOrder(suite).total
	if per == 0 {
		return 0, true
	}
	looping := l.RunDuration() > 0
	n := int64(math.MaxInt64)
	bounded := false
	switch {
	case l.Repeat > 0:
		n, bounded = satMul(per, int64(l.Repeat)), true
	case !looping:
		n, bounded = per, true
	}
	if l.MaxConversations > 0 {
		n, bounded = min(n, int64(l.MaxConversations)), true
	}
	if looping && l.IsOpen() {
		mean := profile{rate: l.Rate, stages: l.Stages}.expected(l.RunDuration())
		if l.Arrival == ArrivalPoisson && mean > 0 {
			mean += 3 * math.Sqrt(mean)
		}
		if !math.IsInf(mean, 1) && mean < float64(math.MaxInt64/2) {
			n, bounded = min(n, int64(math.Ceil(mean-1e-9))), true
		}
	}
	if !bounded {
		return 0, false
	}
	return n, true
}

// ScheduleEstimate returns the cost of a run of suite with load l worked out
// before it starts (as EstimateCost does for one pass of the suite): the
// conversations ScheduledConversations counts, taken in run order over the
// repeated suite. It returns false, and a zero Estimate, when the count is
// not bounded in advance; such a run is bounded by its quota budget instead:
// it stops scheduling when a conversation cannot reserve its worst case.
func ScheduleEstimate(suite *scenarios.Suite, l Load, costPerCall int64, retryFraction float64, opts ...CostOption) (Estimate, bool) {
	n, ok := ScheduledConversations(suite, l)
	if !ok {
		return Estimate{}, false
	}
	return newOrder(suite).estimate(costOptions(opts), n, 1, 0, costPerCall, retryFraction), true
}

// FitSchedule returns the largest number n of conversations, taken in run
// order over the repeated suite and at most what load l schedules, whose
// worst case fits in headroom units, with the estimate of those n. It is
// --partial for runs with Repeat, a Duration or stages; set
// Options.MaxConversations (or Load.MaxConversations) to n.
func FitSchedule(suite *scenarios.Suite, l Load, headroom, costPerCall int64, retryFraction float64, opts ...CostOption) (int64, Estimate) {
	o, cc := newOrder(suite), costOptions(opts)
	if o.total == 0 || headroom <= 0 {
		return 0, o.estimate(cc, 0, 1, 0, costPerCall, retryFraction)
	}
	hi, ok := ScheduledConversations(suite, l)
	// Every conversation costs at least one unit, so no more than headroom fit.
	if !ok || hi > headroom {
		hi = headroom
	}
	lo := int64(0) // the first lo conversations fit; hi+1 do not
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if o.estimate(cc, mid, 1, 0, costPerCall, retryFraction).WorstCase <= headroom {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, o.estimate(cc, lo, 1, 0, costPerCall, retryFraction)
}

func satMul(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
