package report

import (
	"math"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Percentiles follow HdrHistogram's reference rule (Java, C and JavaScript
// getValueAtPercentile, and the .hgrm files evalrun writes): the value at
// percentile p of n recorded values is the highest equivalent value of the
// smallest recorded value with at least p% of the n values at or below it,
// that is the value of rank max(1, ceil(p/100 × n)). hdrhistogram-go rounds
// the rank to the nearest instead, which can report a value that fewer than
// p% of the calls are at or below (with 13 calls its p95 is the 12th value,
// 92.3%); evalrun never calls its ValueAtPercentile family.

// percentileRank returns the 1-based rank of the value at percentile p
// (clamped to 0–100) among n > 0 values: max(1, ceil(p/100 × n)). As the
// Java reference does, p is first lowered by one ulp so that a product
// such as 95/100 × 20 that floating point computes as 19.000000000000004
// still gives rank 19.
func percentileRank(p float64, n int64) int64 {
	p = math.Min(math.Max(math.Nextafter(p, math.Inf(-1)), 0), 100)
	if math.IsNaN(p) {
		p = 0
	}
	k := int64(math.Ceil(p * float64(n) / 100))
	return min(max(k, 1), n)
}

// valueAtPercentile returns the value at percentile p (0–100) of h by the
// reference rule: the highest equivalent value of the value of rank
// percentileRank(p, n), or for p == 0 the lowest equivalent value of the
// minimum. It returns 0 for an empty histogram.
func valueAtPercentile(h *hdrhistogram.Histogram, p float64) int64 {
	return valuesAtPercentiles(h, []float64{p})[0]
}

// valuesAtPercentiles returns valueAtPercentile(h, p) for each p, in one
// walk of the counts.
func valuesAtPercentiles(h *hdrhistogram.Histogram, ps []float64) []int64 {
	out := make([]int64, len(ps))
	n := h.TotalCount()
	if n == 0 {
		return out
	}
	ranks := make([]int64, len(ps))
	for i, p := range ps {
		ranks[i] = percentileRank(p, n)
	}
	vals := valuesAtRanks(h, ranks)
	for i, p := range ps {
		if p <= 0 {
			out[i] = vals[i].lo
		} else {
			out[i] = vals[i].hi
		}
	}
	return out
}

// bucketRange is the range of values one count of a histogram stands for.
type bucketRange struct{ lo, hi int64 }

// valuesAtRanks returns, for each 1-based rank (in any order, each in
// 1..n), the range of the counts slot at which the cumulative count of h
// first reaches it.
func valuesAtRanks(h *hdrhistogram.Histogram, ranks []int64) []bucketRange {
	out := make([]bucketRange, len(ranks))
	found := make([]bool, len(ranks))
	snap := h.Export()
	g := geometryOf(snap.LowestTrackableValue, snap.SignificantFigures)
	done := 0
	var cum int64
	for i, c := range snap.Counts {
		if c == 0 {
			continue
		}
		cum += c
		for j, k := range ranks {
			if !found[j] && cum >= k {
				out[j], found[j] = g.rangeAt(i), true
				done++
			}
		}
		if done == len(ranks) {
			break
		}
	}
	return out
}

// hdrGeometry is the layout of a histogram's counts, as HdrHistogram
// computes it from the lowest discernible value and significant figures.
type hdrGeometry struct {
	unitMagnitude               uint
	subBucketHalfCountMagnitude uint
	subBucketHalfCount          int
}

func geometryOf(lowest, digits int64) hdrGeometry {
	largest := 2 * math.Pow10(int(digits))
	subBucketCountMagnitude := int(math.Ceil(math.Log2(largest)))
	half := max(subBucketCountMagnitude, 1) - 1
	return hdrGeometry{
		unitMagnitude:               uint(math.Floor(math.Log2(float64(max(lowest, 1))))),
		subBucketHalfCountMagnitude: uint(half),
		subBucketHalfCount:          1 << half,
	}
}

// rangeAt returns the lowest and highest value of counts slot i
// (HdrHistogram's valueFromIndex and highestEquivalentValue).
func (g hdrGeometry) rangeAt(i int) bucketRange {
	bucket := (i >> g.subBucketHalfCountMagnitude) - 1
	sub := (i & (g.subBucketHalfCount - 1)) + g.subBucketHalfCount
	if bucket < 0 {
		sub -= g.subBucketHalfCount
		bucket = 0
	}
	shift := uint(bucket) + g.unitMagnitude
	lo := int64(sub) << shift
	return bucketRange{lo: lo, hi: lo + int64(1)<<shift - 1}
}
