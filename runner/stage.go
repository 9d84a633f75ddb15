package runner

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Stage is one step of a ramping open-model schedule: over Duration the
// arrival rate moves linearly from the previous stage's Target (or, for the
// first stage, from the open model's starting rate) to Target, as in k6's
// ramping-arrival-rate executor. Two stages with the same Target hold the
// rate; a stage whose Target equals its starting rate is a plateau.
type Stage struct {
	// Target is the arrival rate, in conversations per second, reached at the
	// end of the stage (0 or more).
	Target float64
	// Duration is how long the stage lasts (more than 0).
	Duration time.Duration
}

// String returns the stage in the form ParseStage reads, e.g. "10/s:1m0s".
func (s Stage) String() string {
	return strconv.FormatFloat(s.Target, 'g', -1, 64) + "/s:" + s.Duration.String()
}

// maxArrivalRate bounds every arrival rate (conversations per second), so
// that the schedule's arithmetic stays exact and a typo such as 1e9/s is
// refused instead of starting a runaway run.
const maxArrivalRate = 1e6

// ParseStage parses a ramp stage written RATE:DURATION, e.g. "10/s:1m",
// "600/min:30s" or "0/s:10s" (ramp down to zero). RATE is COUNT/UNIT with
// unit s, min or h (as ParseArrivalRate, which also accepts a bare number as
// per second); DURATION is a Go duration such as 90s, 5m or 1h30m and must be
// positive. It is the parser of --stage and of the stages in evalrun.yaml.
func ParseStage(s string) (Stage, error) {
	r, d, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return Stage{}, fmt.Errorf("stage %q: want RATE:DURATION, e.g. 10/s:1m or 600/min:30s", s)
	}
	target, err := parseRate(r, true)
	if err != nil {
		return Stage{}, fmt.Errorf("stage %q: rate: %w", s, err)
	}
	dur, err := time.ParseDuration(strings.TrimSpace(d))
	if err != nil {
		return Stage{}, fmt.Errorf("stage %q: duration %q: want a duration such as 30s, 5m or 1h30m", s, strings.TrimSpace(d))
	}
	if dur <= 0 {
		return Stage{}, fmt.Errorf("stage %q: duration %v: must be positive", s, dur)
	}
	return Stage{Target: target, Duration: dur}, nil
}

// ParseArrivalRate parses an open-model arrival rate in conversations per
// unit of time, e.g. "20/s", "600/min", "1000/h", or a bare number meaning
// per second ("20"). The rate must be positive and at most 1,000,000/s. It is
// the parser of --arrival-rate and of load.arrival_rate in evalrun.yaml, and
// returns conversations per second.
func ParseArrivalRate(s string) (float64, error) {
	r, err := parseRate(s, false)
	if err != nil {
		return 0, fmt.Errorf("arrival rate %q: %w", s, err)
	}
	return r, nil
}

// parseRate parses COUNT[/UNIT] into a rate per second; zero is allowed only
// when zeroOK.
func parseRate(s string, zeroOK bool) (float64, error) {
	count, unit, hasUnit := strings.Cut(strings.TrimSpace(s), "/")
	count = strings.TrimSpace(count)
	n, err := strconv.ParseFloat(count, 64)
	if err != nil || count == "" || strings.ContainsAny(count, "xXpP_") {
		return 0, fmt.Errorf("count %q is not a number; want COUNT/UNIT, e.g. 10/s, 600/min or 1000/h", count)
	}
	per := time.Second
	if hasUnit {
		var ok bool
		if per, ok = rateUnit(unit); !ok {
			return 0, fmt.Errorf("unknown unit %q; valid units: s, min, h", strings.TrimSpace(unit))
		}
	}
	rate := n / per.Seconds()
	switch {
	case math.IsNaN(n) || math.IsInf(n, 0) || n < 0:
		return 0, errors.New("the count must be a finite number, 0 or more")
	case n == 0 && !zeroOK:
		return 0, errors.New("the rate must be more than 0")
	case rate > maxArrivalRate:
		return 0, fmt.Errorf("%g/s is above the most evalrun schedules, %g/s", rate, float64(maxArrivalRate))
	}
	return rate, nil
}

// Arrival is the arrival process of an open model.
type Arrival int

const (
	// ArrivalConstant starts conversations evenly spaced: at rate R the k-th
	// starts k/R seconds after the first.
	ArrivalConstant Arrival = iota
	// ArrivalPoisson starts conversations at exponentially distributed gaps
	// with mean 1/R (a Poisson process; with stages, a non-homogeneous one),
	// drawn from the run's seed so a run can be repeated exactly.
	ArrivalPoisson
)

// String returns "constant" or "poisson".
func (a Arrival) String() string {
	if a == ArrivalPoisson {
		return "poisson"
	}
	return "constant"
}

// ParseArrival parses an arrival process: "constant" or "poisson". It is the
// parser of --arrival and of load.arrival in evalrun.yaml.
func ParseArrival(s string) (Arrival, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "constant", "":
		return ArrivalConstant, nil
	case "poisson":
		return ArrivalPoisson, nil
	}
	return 0, fmt.Errorf("arrival %q: valid arrival processes are constant and poisson", s)
}
