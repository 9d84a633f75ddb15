package runner

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter paces agent calls: Wait blocks until one call may be sent, or
// returns an error when ctx is done first. A *Limits and a *rate.Limiter are
// Limiters.
type Limiter interface {
	Wait(ctx context.Context) error
}

var (
	_ Limiter = (*rate.Limiter)(nil)
	_ Limiter = (*Limits)(nil)
)

// Limit is a published rate limit: at most Count calls in any window of
// length Per, e.g. {100, time.Minute} for "100/min".
type Limit struct {
	Count int64
	Per   time.Duration
}

// maxLimitCount bounds Limit.Count: a Limits keeps the times of the last
// Count calls of each limit.
const maxLimitCount = 1_000_000

// String returns the limit as ParseRateLimit reads it, e.g. "100/min".
func (l Limit) String() string {
	switch {
	case l.Per == time.Hour:
		return fmt.Sprintf("%d/h", l.Count)
	case l.Per == time.Minute:
		return fmt.Sprintf("%d/min", l.Count)
	case l.Per == time.Second:
		return fmt.Sprintf("%d/s", l.Count)
	}
	return fmt.Sprintf("%d/%v", l.Count, l.Per)
}

// interval returns Per/Count: the spacing of calls at the limit's rate.
func (l Limit) interval() time.Duration { return l.Per / time.Duration(l.Count) }

// rateUnit returns the length of a rate's unit: s, sec, second, m, min,
// minute, h or hour, in any case, with spaces around.
func rateUnit(unit string) (time.Duration, bool) {
	switch strings.ToLower(strings.TrimSpace(unit)) {
	case "s", "sec", "second":
		return time.Second, true
	case "m", "min", "minute":
		return time.Minute, true
	case "h", "hour":
		return time.Hour, true
	}
	return 0, false
}

// ParseRateLimit parses a rate limit written as COUNT/UNIT: "10/s", "100/min",
// "1000/h" (units: s, sec, second, m, min, minute, h, hour). A decimal COUNT
// is scaled to a whole one over a longer window ("2.5/s" is 5 per 2 s, "0.5/s"
// is 1 per 2 s). It is the parser of --limit, --new-chat-limit, --rate and
// the config keys limits and new_chat_limit.
func ParseRateLimit(s string) (Limit, error) {
	count, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Limit{}, fmt.Errorf("rate limit %q: want COUNT/UNIT, e.g. 10/s, 100/min or 1000/h", s)
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(count), 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || n <= 0 || n > maxLimitCount {
		return Limit{}, fmt.Errorf("rate limit %q: count must be a number above 0 and at most %d", s, maxLimitCount)
	}
	per, ok := rateUnit(unit)
	if !ok {
		return Limit{}, fmt.Errorf("rate limit %q: unknown unit %q; valid units: s, min, h", s, unit)
	}
	for k := int64(1); k <= 1000; k++ {
		scaled := n * float64(k)
		if r := math.Round(scaled); r >= 1 && math.Abs(scaled-r) < 1e-9 && r <= maxLimitCount {
			return Limit{Count: int64(r), Per: per * time.Duration(k)}, nil
		}
	}
	return Limit{}, fmt.Errorf("rate limit %q: count %v has too many decimals; write it as a whole count over a longer unit", s, n)
}

// Limits paces one stream of calls under a stack of limits (e.g. 100/min and
// 1000/h), never letting a call through that would put more than Count calls
// in any window of length Per of any limit — closed windows included, so not
// even a server that counts both ends of its window sees the limit exceeded.
// That is the exact sliding-window meaning of a published limit: a coarse
// limit (1000/h) allows its whole allowance as fast as the finer limits let
// it through.
//
// A safety margin widens every window: call k+Count goes no earlier than
// Per plus the margin after call k. What counts is the agent's windows, not
// evalrun's clock: a call that the network, the kernel or the agent's own
// queue delays by d more than the call Count later would otherwise put
// Count+1 calls in one of the agent's windows, and the agent would answer
// 429. With a margin m, any such difference below m is harmless, at the
// cost of m/(Per+m) of the throughput. DefaultMargin is a fiftieth of the
// window (10 ms to 2 s: 2% of the rate, 1.2 s for 100/min); NewLimitsMargin
// sets another.
//
// Calls are spread, not bunched: consecutive calls are at least the interval
// of the fastest limit apart (Per/Count: 600 ms for 100/min), so a 100/min
// limit sends one call every 0.6 s rather than 100 at once and then nothing
// for a minute. This is a burst of one at the fastest limit's rate.
//
// The guarantee is about the times at which Wait lets calls go: Wait
// reserves a slot (first come, first served), sleeps until it, then checks
// the times calls really went — a caller that woke late (a busy machine:
// the process or its timer ran late) went out later than its slot, and the
// calls after it wait that much longer instead of bunching up behind it. A
// caller descheduled between Wait and the send, or a network that delays
// one request more than the next, can still shift calls; servers that
// count arrivals see the calls at most that much closer together, which
// the margin absorbs up to its size.
//
// When several Limits pace one call (the stack of every call and the
// new-chat limit), the runner takes their slots at one instant that suits
// them all, so each records the call at the time it is really sent; and a
// call takes its slot in the shared stack only once its own limits (the
// new-chat limit) allow it, so a new chat waiting for its limit never holds
// back the turns behind it (see waitCall). A slot taken by a Wait whose
// context ends before the call is sent stays used: the limits err on the
// side of sending less.
//
// A Limits is safe for concurrent use. A nil *Limits, or one with no limits,
// lets every call through at once.
type Limits struct {
	limits  []Limit
	margins []int64 // per limit, ns added to its window
	pace    int64   // ns between consecutive calls
	// Guarded by limitsMu. Slots are the times reserved for calls (some
	// still ahead); sends the times calls really went (checked and
	// recorded when a call wakes for its slot).
	slots, sends history
	now          func() time.Time
}

// history is the recent calls of a stack: the last one, and per limit the
// times of its last Count.
type history struct {
	last    int64 // ns since epoch of the last call; valid if any
	any     bool
	windows []ring
}

// limitsMu guards every Limits, so that a call paced by several takes its
// slots in all of them at once.
var limitsMu sync.Mutex

// epoch is the origin of the times kept by Limits (monotonic).
var epoch = time.Now()

// AutoMargin, passed to NewLimitsMargin, gives each limit DefaultMargin of
// its window.
const AutoMargin time.Duration = -1

// maxMargin bounds a margin set by hand.
const maxMargin = time.Hour

// DefaultMargin returns the safety margin NewLimits adds to a window of
// length per: a fiftieth of it, at least 10 ms and at most 2 s — 20 ms for
// a 1 s window, 1.2 s for a minute, 2 s for an hour. It costs at most 2% of
// the limit's rate (per/(per+margin)).
func DefaultMargin(per time.Duration) time.Duration {
	return min(max(per/50, 10*time.Millisecond), 2*time.Second)
}

// NewLimits returns a stack of the given limits (none: no limit), each
// window widened by DefaultMargin.
func NewLimits(limits ...Limit) (*Limits, error) {
	return NewLimitsMargin(AutoMargin, limits...)
}

// NewLimitsMargin returns a stack of the given limits whose windows are
// each widened by margin (0: the exact limits, no margin; AutoMargin:
// DefaultMargin of each window).
func NewLimitsMargin(margin time.Duration, limits ...Limit) (*Limits, error) {
	if margin != AutoMargin && (margin < 0 || margin > maxMargin) {
		return nil, fmt.Errorf("runner: limit margin %v: want 0 to %v (or AutoMargin)", margin, maxMargin)
	}
	l := &Limits{now: time.Now}
	for _, lim := range limits {
		if lim.Count < 1 || lim.Count > maxLimitCount || lim.Per <= 0 {
			return nil, fmt.Errorf("runner: limit %d per %v: want 1 to %d calls per positive duration", lim.Count, lim.Per, maxLimitCount)
		}
		m := margin
		if m == AutoMargin {
			m = DefaultMargin(lim.Per)
		}
		l.limits = append(l.limits, lim)
		l.margins = append(l.margins, int64(m))
		l.slots.windows = append(l.slots.windows, ring{t: make([]int64, lim.Count)})
		l.sends.windows = append(l.sends.windows, ring{t: make([]int64, lim.Count)})
		if iv := int64(lim.interval()); l.pace == 0 || iv < l.pace {
			l.pace = iv
		}
	}
	return l, nil
}

// Limits returns the limits of the stack.
func (l *Limits) Limits() []Limit {
	if l == nil {
		return nil
	}
	return append([]Limit(nil), l.limits...)
}

// Margins returns the safety margin of each limit of the stack, in order.
func (l *Limits) Margins() []time.Duration {
	if l == nil {
		return nil
	}
	out := make([]time.Duration, len(l.margins))
	for i, m := range l.margins {
		out[i] = time.Duration(m)
	}
	return out
}

// Wait blocks until the limits let one more call through and reports nil, or
// returns ctx's error if ctx is done first.
func (l *Limits) Wait(ctx context.Context) error {
	if l == nil || len(l.limits) == 0 {
		return ctx.Err()
	}
	return waitJoint(ctx, []*Limits{l}, nil)
}

// waitJoint takes one call's slot in every stack, shared and own, at the
// earliest instant all allow, then sleeps until that instant. Shared stacks
// pace every call; own stacks only some (the new-chat limit). A call takes
// no slot while its own stacks alone would push it past the earliest slot
// of the shared ones: it sleeps until its own stacks allow it and tries
// again, so that the slots of the shared stacks go to the calls that can use
// them meanwhile.
func waitJoint(ctx context.Context, shared, own []*Limits) error {
	if len(shared) == 0 {
		shared, own = own, nil
	}
	if len(shared) == 0 {
		return ctx.Err()
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		at, ok := reserveJoint(shared[0].now(), shared, own)
		if !sleepCtx(ctx, time.Until(at)) {
			return ctx.Err()
		}
		if !ok {
			continue
		}
		// The slot's time has come; the call goes if the calls really
		// sent allow it too. A call that woke late (a busy machine: the
		// process or its timer ran late) went out later than its slot, so
		// the calls after it must wait that much longer: each checks the
		// times calls were really sent, and waits until they allow it.
		for {
			wait := commitJoint(shared, own)
			if wait <= 0 {
				return nil
			}
			if !sleepCtx(ctx, wait) {
				return ctx.Err()
			}
		}
	}
}

// sleepCtx sleeps d and reports true, or reports false as soon as ctx is
// done.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// commitJoint records a call as sent now in every stack, shared and own,
// and returns 0 — unless the calls really sent do not allow one now: then
// it records nothing and returns how long to wait.
func commitJoint(shared, own []*Limits) time.Duration {
	limitsMu.Lock()
	defer limitsMu.Unlock()
	now := int64(time.Since(epoch))
	allowed := now
	for _, ss := range [2][]*Limits{shared, own} {
		for _, s := range ss {
			allowed = max(allowed, s.sends.earliest(s, s.pace/2))
		}
	}
	if allowed > now {
		return time.Duration(allowed - now)
	}
	for _, ss := range [2][]*Limits{shared, own} {
		for _, s := range ss {
			s.sends.record(now)
		}
	}
	return 0
}

// reserveJoint records one call in every stack, shared and own, at the
// earliest time not before now that all allow, and returns that time and
// true — unless the own stacks allow the call only after the shared ones
// would: then it records nothing and returns when the own stacks allow it,
// and false.
func reserveJoint(now time.Time, shared, own []*Limits) (time.Time, bool) {
	limitsMu.Lock()
	defer limitsMu.Unlock()
	at := int64(now.Sub(epoch))
	for _, s := range shared {
		at = max(at, s.earliest())
	}
	mine := at
	for _, s := range own {
		mine = max(mine, s.earliest())
	}
	if mine > at {
		return epoch.Add(time.Duration(mine)), false
	}
	for _, s := range shared {
		s.record(at)
	}
	for _, s := range own {
		s.record(at)
	}
	return epoch.Add(time.Duration(at)), true
}

// earliest returns the first time (ns since epoch) the stack allows a call
// to be reserved: its reserved slots allow it, and so do the calls really
// sent.
func (l *Limits) earliest() int64 {
	return max(l.slots.earliest(l, l.pace), l.sends.earliest(l, l.pace/2))
}

// record reserves a slot at at.
func (l *Limits) record(at int64) { l.slots.record(at) }

// earliest returns the first time (ns since epoch) the history allows a
// call, pace after the last one.
func (h *history) earliest(l *Limits, pace int64) int64 {
	var at int64 = math.MinInt64
	if h.any {
		at = h.last + pace
	}
	for i, w := range h.windows {
		if w.full() {
			// The call Count calls back must be more than Per (plus the
			// margin) earlier, so that no closed window of length Per holds
			// Count+1 calls.
			at = max(at, w.oldest()+int64(l.limits[i].Per)+l.margins[i]+1)
		}
	}
	return at
}

func (h *history) record(at int64) {
	h.last, h.any = at, true
	for i := range h.windows {
		h.windows[i].push(at)
	}
}

// ring holds the times of the last len(t) calls.
type ring struct {
	t    []int64
	next int // where the next time goes; the oldest when full
	n    int
}

func (r *ring) full() bool    { return r.n == len(r.t) }
func (r *ring) oldest() int64 { return r.t[r.next] }
func (r *ring) push(at int64) {
	r.t[r.next] = at
	r.next = (r.next + 1) % len(r.t)
	r.n = min(r.n+1, len(r.t))
}

// MinDuration returns the least time from the first to the last of calls
// calls that the limits allow: how long sending them takes at best under
// the exact limits, whatever the agent's speed. It is 0 with no limits or
// fewer than two calls. MinDurationMargin adds the safety margin that
// evalrun keeps.
func MinDuration(calls int64, limits ...Limit) (time.Duration, error) {
	return MinDurationMargin(calls, 0, limits...)
}

// MinDurationMargin returns the least time from the first to the last of
// calls calls that a Limits of the limits with that margin (see
// NewLimitsMargin; AutoMargin for the default) lets through.
func MinDurationMargin(calls int64, margin time.Duration, limits ...Limit) (time.Duration, error) {
	l, err := NewLimitsMargin(margin, limits...)
	if err != nil || calls < 2 || len(limits) == 0 {
		return 0, err
	}
	// Simulate a caller that always waits for the next slot. Past a few
	// million calls, extrapolate from the steady state instead.
	const simulate = 1_000_000
	start := epoch
	now := start
	n := min(calls, simulate)
	stack := []*Limits{l}
	for range n {
		now, _ = reserveJoint(now, stack, nil)
	}
	d := now.Sub(start)
	if calls > n {
		// Long-run spacing: the slowest of the limits' rates and the pace.
		var per float64
		for i, lim := range limits {
			per = max(per, float64(int64(lim.Per)+l.margins[i])/float64(lim.Count))
		}
		extra := float64(calls-n) * per
		if extra > float64(math.MaxInt64-int64(d)) {
			return time.Duration(math.MaxInt64), nil
		}
		d += time.Duration(extra)
	}
	return d, nil
}

// waitCall waits until every limiter of the shared stack (Options.Limiters:
// every call) and of the call's own stack (the new-chat limiter, for a new
// chat) allows one call. The *Limits take their slots together, at one
// instant that suits them all, and the shared ones only once the own ones
// allow the call (see waitJoint); other Limiters are waited for first, one
// by one. Nil entries are skipped.
func waitCall(ctx context.Context, stack []Limiter, own ...Limiter) error {
	shared, err := splitLimiters(ctx, stack)
	if err != nil {
		return err
	}
	mine, err := splitLimiters(ctx, own)
	if err != nil {
		return err
	}
	return waitJoint(ctx, shared, mine)
}

// waitAll waits until every limiter of the stack allows one call, all of
// them shared (see waitCall).
func waitAll(ctx context.Context, stack []Limiter) error { return waitCall(ctx, stack) }

// splitLimiters waits for the Limiters of stack that are not *Limits, one by
// one, and returns the *Limits (those with limits).
func splitLimiters(ctx context.Context, stack []Limiter) ([]*Limits, error) {
	var joint []*Limits
	for _, l := range stack {
		switch v := l.(type) {
		case nil:
		case *Limits:
			if v != nil && len(v.limits) > 0 {
				joint = append(joint, v)
			}
		default:
			if err := l.Wait(ctx); err != nil {
				return nil, err
			}
		}
	}
	return joint, nil
}

// ParseLimit parses a rate limit written as COUNT/UNIT, e.g. "5/s", "100/min"
// or "1000/h" (units: s, sec, second, m, min, minute, h, hour; COUNT may be a
// decimal), and returns a token bucket with that rate and a burst of one, so
// calls are spread evenly and never bunch up.
//
// Deprecated: a token bucket can let one call more than its count through in
// a closed window of its length, and stacked buckets waited one after the
// other can let more through; use ParseRateLimit and NewLimits.
func ParseLimit(s string) (*rate.Limiter, error) {
	count, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return nil, fmt.Errorf("rate limit %q: want COUNT/UNIT, e.g. 10/s, 100/min or 1000/h", s)
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(count), 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || n <= 0 {
		return nil, fmt.Errorf("rate limit %q: count must be a positive number", s)
	}
	per, ok := rateUnit(unit)
	if !ok {
		return nil, fmt.Errorf("rate limit %q: unknown unit %q; valid units: s, min, h", s, unit)
	}
	return rate.NewLimiter(rate.Limit(n/per.Seconds()), 1), nil
}
