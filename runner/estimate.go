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
	Calls         int64 // first attempts: Σ over conversations of its new chat + turns
	// NewChats is how many of Calls open a chat: Conversations when a new
	// chat is an agent call (the default), 0 with NewChatCalls(0).
	NewChats    int64
	CostPerCall int64 // units per call
	Cost        int64 // Calls × CostPerCall: the cost when nothing is retried
	// RetryAllowance is the units set aside for retries:
	// ceil(Cost × retry fraction).
	RetryAllowance int64
	// WorstCase is Cost + RetryAllowance: the most the run can spend, and what
	// must fit in the quota's headroom before it starts.
	WorstCase int64
}

// CostOption adjusts how the estimates (EstimateCost, FitConversations,
// Shard.EstimateCost, Shard.Fit, ScheduleEstimate, FitSchedule) count a
// conversation's calls.
type CostOption func(*costConfig)

type costConfig struct {
	newChat int  // agent calls one new chat makes
	fewest  bool // count simulated conversations at their fewest turns
}

// FewestTurns makes an estimate count each simulated conversation
// (simulate:) at the fewest turns it may send, its scripted turns and its
// opening (its user may end it before writing a message), instead of at
// max_turns: the least the same conversations cost. A run reserves the
// estimate without it; with it, the caller learns how much of that the
// agent's replies may leave unused. Scripted conversations count the same.
func FewestTurns() CostOption {
	return func(c *costConfig) { c.fewest = true }
}

// NewChatCalls says how many agent calls opening a chat makes: without it,
// 1 (Optimly's new-chat endpoint); pass agent.NewChatCost(conn), which is
// 0 for targets that keep the chat client-side (openai, http without a
// create-session request), so the estimate agrees with what Run charges.
// Below 0 counts as 0.
func NewChatCalls(n int) CostOption {
	return func(c *costConfig) { c.newChat = max(n, 0) }
}

func costOptions(opts []CostOption) costConfig {
	c := costConfig{newChat: 1}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// EstimateCost returns the worst-case cost of replaying the whole suite when
// a call costs costPerCall units (below 1 counts as 1) and retryFraction of
// the cost is set aside for retries (negative counts as 0). It is
// arithmetic over the suite's scenarios (see order): a suite of a hundred
// million conversations costs no more to estimate than one of a hundred.
func EstimateCost(suite *scenarios.Suite, costPerCall int64, retryFraction float64, opts ...CostOption) Estimate {
	o := newOrder(suite)
	return o.estimate(costOptions(opts), o.total, 1, 0, costPerCall, retryFraction)
}

// FitConversations returns the largest number n of conversations, taken in run
// order, whose worst case fits in headroom units, and the estimate of those n
// conversations. It is what --partial runs (see Options.MaxConversations).
func FitConversations(suite *scenarios.Suite, headroom, costPerCall int64, retryFraction float64, opts ...CostOption) (int, Estimate) {
	o, cc := newOrder(suite), costOptions(opts)
	// The worst case grows with every conversation added, so the largest
	// prefix that fits is found by a binary search over prefixes. Every
	// conversation costs at least one unit, so no more than headroom fit.
	lo, hi := int64(0), min(o.total, max(headroom, 0)) // lo fit; hi+1 do not
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if o.estimate(cc, mid, 1, 0, costPerCall, retryFraction).WorstCase <= headroom {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return int(lo), o.estimate(cc, lo, 1, 0, costPerCall, retryFraction)
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
