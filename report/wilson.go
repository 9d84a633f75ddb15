package report

import (
	"math"
	"strconv"
)

// z95 is the standard normal quantile of a two-sided 95% interval.
const z95 = 1.959963984540054

// RateInterval is a range of plausible values of a rate, both ends between 0
// and 1.
type RateInterval struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// WilsonInterval returns the Wilson score 95% interval of a pass rate
// observed as passed of runs: the range of true pass rates the observation
// does not rule out. It stays inside [0, 1] and is sensible for small runs
// and for 0 or 100% (4 of 5 gives 37.6%–96.4%; 5 of 5 gives 56.6%–100%),
// where the textbook p ± 1.96·√(p(1−p)/n) collapses to a point. With no
// runs it is the whole range [0, 1].
func WilsonInterval(passed, runs int) RateInterval {
	if runs <= 0 {
		return RateInterval{0, 1}
	}
	n := float64(runs)
	p := float64(min(max(passed, 0), runs)) / n
	z2 := z95 * z95
	den := 1 + z2/n
	center := (p + z2/(2*n)) / den
	half := z95 * math.Sqrt(p*(1-p)/n+z2/(4*n*n)) / den
	iv := RateInterval{Low: max(0, center-half), High: min(1, center+half)}
	// Exact ends where the rate is: 0 of n has low 0, n of n high 1.
	if passed <= 0 {
		iv.Low = 0
	}
	if passed >= runs {
		iv.High = 1
	}
	return iv
}

// String formats the interval as percentages, e.g. "37.6–96.4%".
func (iv RateInterval) String() string {
	f := func(x float64) string { return strconv.FormatFloat(x*100, 'f', 1, 64) }
	return f(iv.Low) + "–" + f(iv.High) + "%"
}

// fmtRateCI formats a scenario's pass rate with its 95% interval when it
// has one: "80.0% (37.6–96.4%)".
func fmtRateCI(s *ScenarioResult) string {
	if s.PassRateCI == nil {
		return fmtPercent(s.PassRate)
	}
	return fmtPercent(s.PassRate) + " (" + s.PassRateCI.String() + ")"
}
