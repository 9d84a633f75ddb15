package runner

import (
	"math"
	"math/bits"

	"github.com/evalrun/evalrun/scenarios"
)

// Estimate is the cost of a run worked out before it starts, in the units of
// the quota (see Budget).
type Estimate struct {
	Conversations int64 // conversations the run replays
	Calls         int64 // first attempts: Σ over conversations of 1 new chat + turns
	CostPerCall   int64 // units per call
	Cost          int64 // Calls × CostPerCall: the cost when nothing is retried
	// RetryAllowance is the units set aside for retries:
	// ceil(Cost × retry fraction).
	RetryAllowance int64
	// WorstCase is Cost + RetryAllowance: the most the run can spend, and what
	// must fit in the quota's headroom before it starts.
	WorstCase int64
}

// EstimateCost returns the worst-case cost of replaying the whole suite when
// a call costs costPerCall units (below 1 counts as 1) and retryFraction of
// the cost is set aside for retries (negative counts as 0).
func EstimateCost(suite *scenarios.Suite, costPerCall int64, retryFraction float64) Estimate {
	return estimate(plan(suite), costPerCall, retryFraction)
}

// FitConversations returns the largest number n of conversations, taken in run
// order, whose worst case fits in headroom units, and the estimate of those n
// conversations. It is what --partial runs (see Options.MaxConversations).
func FitConversations(suite *scenarios.Suite, headroom, costPerCall int64, retryFraction float64) (int, Estimate) {
	convs := plan(suite)
	// The worst case grows with every conversation added, so the largest
	// prefix that fits is found by a binary search over prefixes.
	lo, hi := 0, len(convs) // estimate(convs[:lo]) fits; convs[:hi+1] does not
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if estimate(convs[:mid], costPerCall, retryFraction).WorstCase <= headroom {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, estimate(convs[:lo], costPerCall, retryFraction)
}

func estimate(convs []planned, costPerCall int64, retryFraction float64) Estimate {
	e := Estimate{Conversations: int64(len(convs)), CostPerCall: max(costPerCall, 1)}
	for _, c := range convs {
		e.Calls += int64(c.calls())
	}
	e.Cost = e.Calls * e.CostPerCall
	e.RetryAllowance = retryAllowance(e.Cost, retryFraction)
	e.WorstCase = e.Cost + e.RetryAllowance
	return e
}

// retryAllowance returns ceil(cost × fraction). The fraction is taken to
// parts per million so that, e.g., 10 × 0.7 is 7 and not 8 through a float
// rounding error.
func retryAllowance(cost int64, fraction float64) int64 {
	if cost <= 0 || !(fraction > 0) || math.IsInf(fraction, 0) {
		return 0
	}
	const parts = 1_000_000
	if fraction > 1e6 {
		return int64(math.Ceil(float64(cost) * fraction))
	}
	ppm := uint64(math.Round(fraction * parts))
	hi, lo := bits.Mul64(uint64(cost), ppm)
	if hi != 0 || lo > math.MaxInt64-parts {
		return int64(math.Ceil(float64(cost) * fraction))
	}
	return int64((lo + parts - 1) / parts)
}
