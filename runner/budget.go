package runner

import "sync"

// Budget is the share of an agent's call quota that a run may spend, counted
// in cost units (a call costs CostPerCall units: 1 when the plan counts calls,
// 2 when it counts messages).
//
// It never lets more be spent than its limit: every call attempt is charged
// before it is sent, first attempts from the Reservation its conversation took
// before starting, retries from a retry allowance set aside when the Budget is
// made. A conversation that cannot reserve its worst case does not start, so
// no conversation is cut off half-way for lack of budget.
//
// Invariant: Spent() <= Limit() at all times; more precisely,
// spent + reserved + retry allowance left <= limit.
//
// A Budget is safe for concurrent use. A nil *Budget is unlimited: every
// reservation and charge succeeds and nothing is counted.
type Budget struct {
	mu        sync.Mutex
	limit     int64 // units the run may spend in all
	cost      int64 // units per call attempt
	allowance int64 // units left for retries
	reserved  int64 // units held by reservations, not yet charged
	spent     int64 // units charged
}

// NewBudget returns a budget of limit units where each call costs costPerCall
// units, setting retryAllowance units aside for retries. A retry allowance
// larger than the limit is cut to the limit; negative values count as zero
// and a costPerCall below 1 counts as 1.
func NewBudget(limit, costPerCall, retryAllowance int64) *Budget {
	limit = max(limit, 0)
	return &Budget{
		limit:     limit,
		cost:      max(costPerCall, 1),
		allowance: min(max(retryAllowance, 0), limit),
	}
}

// Limit returns the units the run may spend in all.
func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	return b.limit
}

// CostPerCall returns the units one call attempt costs.
func (b *Budget) CostPerCall() int64 {
	if b == nil {
		return 1
	}
	return b.cost
}

// Spent returns the units charged so far (calls sent or about to be sent).
func (b *Budget) Spent() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.spent
}

// Remaining returns the units not yet spent: Limit() - Spent(). Part of them
// may be held by reservations or by the retry allowance.
func (b *Budget) Remaining() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.limit - b.spent
}

// Available returns the units free for new reservations: not spent, not
// reserved and not in the retry allowance.
func (b *Budget) Available() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.limit - b.spent - b.reserved - b.allowance
}

// RetryAllowance returns the units left for retries.
func (b *Budget) RetryAllowance() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.allowance
}

// Reserve sets aside the cost of calls call attempts, the worst case of one
// conversation (its new chat and every turn). It reports false, reserving
// nothing, when the available units do not cover it. The caller charges the
// conversation's calls to the Reservation and releases it at the end.
func (b *Budget) Reserve(calls int) (*Reservation, bool) {
	if b == nil {
		return &Reservation{}, true
	}
	if calls < 0 {
		return nil, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	units := int64(calls) * b.cost
	if units/b.cost != int64(calls) || units > b.limit-b.spent-b.reserved-b.allowance {
		return nil, false
	}
	b.reserved += units
	return &Reservation{b: b, units: units}, true
}

// ChargeRetry charges one call attempt to the retry allowance, before the
// retry is sent. It reports false, charging nothing, when the allowance cannot
// cover it; the retry must then not be sent.
func (b *Budget) ChargeRetry() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.allowance < b.cost {
		return false
	}
	b.allowance -= b.cost
	b.spent += b.cost
	return true
}

// hasRetryAllowance reports whether one retry could be charged now.
func (b *Budget) hasRetryAllowance() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.allowance >= b.cost
}

// Reservation is the part of a Budget held by one conversation. It is used by
// that conversation only (it is not meant for concurrent use, but charging
// and releasing it is safe alongside every other use of its Budget).
type Reservation struct {
	b     *Budget // nil: unlimited
	units int64   // reserved units not yet charged
}

// Charge charges one call attempt to the reservation, before the call is
// sent. It reports false, charging nothing, when the reservation is used up.
func (r *Reservation) Charge() bool {
	if r == nil {
		return false
	}
	if r.b == nil {
		return true
	}
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	if r.units < r.b.cost {
		return false
	}
	r.units -= r.b.cost
	r.b.reserved -= r.b.cost
	r.b.spent += r.b.cost
	return true
}

// Release gives the reservation's uncharged units back to its Budget. Calling
// it again does nothing.
func (r *Reservation) Release() {
	if r == nil || r.b == nil {
		return
	}
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	r.b.reserved -= r.units
	r.units = 0
}
