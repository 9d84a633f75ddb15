package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/evalrun/evalrun/scenarios"
)

// Shard is one slice of a run split over several processes or machines
// (--shard i/n). Shard i of n runs the conversations whose run-wide number
// N satisfies (N-1) mod n = i-1, so every scenario's repeats are spread over
// all shards and the n shards together run exactly the conversations of the
// unsharded run, with the same numbers (hence the same fake data and client
// IDs for a given seed and run ID). The zero Shard is the whole run.
type Shard struct {
	Index int // 1-based
	Count int // number of shards; 0 for the whole run
}

// ParseShard parses "i/n" with 1 <= i <= n, e.g. "2/3". "" is the whole run.
func ParseShard(s string) (Shard, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Shard{}, nil
	}
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q: want i/n, e.g. 1/3 (shard 1 of 3)", s)
	}
	if n < 1 || i < 1 || i > n {
		return Shard{}, fmt.Errorf("shard %q: want 1 <= i <= n, e.g. 1/3; shards are numbered from 1", s)
	}
	return Shard{Index: i, Count: n}, nil
}

// ShardFromIndex returns shard index+1 of count: the shard of a 0-based
// index such as Kubernetes' JOB_COMPLETION_INDEX.
func ShardFromIndex(index, count int) (Shard, error) {
	return ParseShard(strconv.Itoa(index+1) + "/" + strconv.Itoa(count))
}

// Whole reports whether s is the whole run (no sharding, or 1/1).
func (s Shard) Whole() bool { return s.Count <= 1 }

// String returns "i/n", or "" for the zero Shard.
func (s Shard) String() string {
	if s.Count == 0 {
		return ""
	}
	return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Count)
}

// Has reports whether the conversation numbered id (1-based, run-wide)
// belongs to the shard.
func (s Shard) Has(id int) bool {
	if s.Whole() {
		return true
	}
	return (id-1)%s.Count == s.Index-1
}

// Share returns the shard's part of a whole-run amount x (a quota budget, a
// number of calls): x/n, with the remainder going one each to the first
// shards, so the parts of all n shards add up to x exactly. A negative x is
// returned as is (it means "no limit").
func (s Shard) Share(x int64) int64 {
	if s.Whole() || x < 0 {
		return x
	}
	n := int64(s.Count)
	part := x / n
	if int64(s.Index-1) < x%n {
		part++
	}
	return part
}

// ShareRate returns the shard's part of a whole-run rate limit (calls per
// second) and its burst: rate/n, and burst/n but at least 1. The shards of
// a run together never exceed the whole-run rate.
func (s Shard) ShareRate(perSecond float64, burst int) (float64, int) {
	if s.Whole() {
		return perSecond, burst
	}
	return perSecond / float64(s.Count), max(burst/s.Count, 1)
}

// Conversations returns how many of the first whole conversations of the
// run (in run order) belong to the shard; a negative whole (no limit) is
// returned as is.
func (s Shard) Conversations(whole int64) int64 {
	if s.Whole() || whole < 0 {
		return whole
	}
	return max(0, (whole-int64(s.Index-1)+int64(s.Count)-1)/int64(s.Count))
}

// global returns the 0-based run-wide index of the shard's k-th (0-based)
// conversation.
func (s Shard) global(k int64) int64 {
	if s.Whole() {
		return k
	}
	return k*int64(s.Count) + int64(s.Index-1)
}

// EstimateCost returns the cost of the shard's part of a run whose first
// whole conversations (in run order over the repeated suite; see
// ScheduledConversations, or the number of conversations of one pass)
// are run: what the shard must fit in its share of the quota.
func (s Shard) EstimateCost(suite *scenarios.Suite, whole, costPerCall int64, retryFraction float64, opts ...CostOption) Estimate {
	return s.estimate(newOrder(suite), costOptions(opts), s.Conversations(max(whole, 0)), costPerCall, retryFraction)
}

// Fit returns the largest number m of the shard's conversations, taken in
// run order and at most its part of whole (negative: no bound), whose worst
// case fits headroom units, with the estimate of those m. It is --partial
// for a shard: set Options.MaxConversations to m.
func (s Shard) Fit(suite *scenarios.Suite, whole, headroom, costPerCall int64, retryFraction float64, opts ...CostOption) (int64, Estimate) {
	o, cc := newOrder(suite), costOptions(opts)
	hi := s.Conversations(whole)
	if hi < 0 || hi > headroom {
		hi = max(headroom, 0) // every conversation costs at least one unit
	}
	if o.total == 0 {
		hi = 0
	}
	lo := int64(0)
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if s.estimate(o, cc, mid, costPerCall, retryFraction).WorstCase <= headroom {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, s.estimate(o, cc, lo, costPerCall, retryFraction)
}

// estimate is the cost of the shard's first m conversations over the
// run order repeated pass after pass.
func (s Shard) estimate(o *order, cc costConfig, m, costPerCall int64, retryFraction float64) Estimate {
	if s.Whole() || m <= 0 {
		return o.estimate(cc, m, 1, 0, costPerCall, retryFraction)
	}
	// The shard's m-th conversation has the run-wide index global(m-1).
	upto := satAdd(satMul(m-1, int64(s.Count)), int64(s.Index))
	return o.estimate(cc, upto, int64(s.Count), int64(s.Index-1), costPerCall, retryFraction)
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// SuiteDigest returns a short digest of what a suite plans to run: each
// scenario's name, file, repeat, min_pass_rate and number of turns, in suite
// order. Shards of one run have the same digest; merge refuses results
// whose digests differ.
func SuiteDigest(suite *scenarios.Suite) string {
	h := sha256.New()
	if suite != nil {
		for _, sc := range suite.Scenarios {
			if sc == nil {
				continue
			}
			fmt.Fprintf(h, "%q %q %d %g %d\n", sc.Name, sc.File, repeats(sc), sc.MinPassRate, len(sc.Turns))
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
