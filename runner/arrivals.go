package runner

import (
	"math"
	"math/rand/v2"
	"time"
)

// profile is the arrival rate of an open model as a function of the time
// since it started: a constant rate, or ramp stages (piecewise linear).
// Arrival k (0-based) of the constant process is where the integral of the
// rate reaches k; a Poisson process places its arrivals where the integral
// reaches the running sum of unit exponential draws (a time change of a
// unit-rate Poisson process), so both follow the rate however it varies.
type profile struct {
	rate   float64 // the constant rate, or the rate the first stage starts from
	stages []Stage
}

// segments returns the profile as linear pieces; a constant rate is one
// endless piece.
func (p profile) segments() []segment {
	if len(p.stages) == 0 {
		return []segment{{from: p.rate, to: p.rate, dur: math.Inf(1)}}
	}
	out := make([]segment, 0, len(p.stages))
	from := p.rate
	for _, s := range p.stages {
		out = append(out, segment{from: from, to: s.Target, dur: s.Duration.Seconds()})
		from = s.Target
	}
	return out
}

// segment is a linear piece of the rate: from → to over dur seconds.
type segment struct{ from, to, dur float64 }

// integral returns the arrivals the piece expects over its first tau seconds.
func (s segment) integral(tau float64) float64 {
	if math.IsInf(s.dur, 1) {
		return s.from * tau
	}
	return s.from*tau + (s.to-s.from)*tau*tau/(2*s.dur)
}

// inverse returns the tau at which integral(tau) == x, for 0 ≤ x ≤ the
// piece's whole integral. The root is written 2x / (a + √(a² + 2(b−a)x/T)),
// which is stable whether the rate rises, falls or stays.
func (s segment) inverse(x float64) float64 {
	if x <= 0 {
		return 0
	}
	if math.IsInf(s.dur, 1) || s.to == s.from {
		return x / s.from
	}
	disc := s.from*s.from + 2*(s.to-s.from)*x/s.dur
	den := s.from + math.Sqrt(max(disc, 0))
	if den <= 0 {
		return s.dur
	}
	return min(2*x/den, s.dur)
}

// rateAt returns the arrival rate at t seconds after the start (0 after the
// last stage).
func (p profile) rateAt(t float64) float64 {
	start := 0.0
	for _, s := range p.segments() {
		if t < start+s.dur {
			tau := t - start
			if math.IsInf(s.dur, 1) {
				return s.from
			}
			return s.from + (s.to-s.from)*tau/s.dur
		}
		start += s.dur
	}
	return 0
}

// expected returns the integral of the rate over the first d (the expected
// number of arrivals); d ≤ 0 means the whole profile (+Inf for a constant
// rate above 0).
func (p profile) expected(d time.Duration) float64 {
	limit := math.Inf(1)
	if d > 0 {
		limit = d.Seconds()
	}
	total, start := 0.0, 0.0
	for _, s := range p.segments() {
		if start >= limit {
			break
		}
		tau := min(s.dur, limit-start)
		if math.IsInf(tau, 1) {
			if s.from == 0 {
				return total
			}
			return math.Inf(1)
		}
		total += s.integral(tau)
		start += s.dur
	}
	return total
}

// peak returns the highest rate the profile reaches.
func (p profile) peak() float64 {
	m := p.rate
	for _, s := range p.stages {
		m = max(m, s.Target)
	}
	return m
}

// arrivals generates the arrival offsets of an open model, in order. It is
// pure arithmetic on its profile and random source, so it can be tested
// without a clock.
type arrivals struct {
	segs    []segment
	poisson *rand.Rand // nil for the constant process

	seg      int     // current piece
	segStart float64 // seconds at which it starts
	segBase  float64 // integral of the rate up to segStart
	target   float64 // integral value of the next arrival
	n        int64   // arrivals generated
}

func newArrivals(p profile, process Arrival, seed int64) *arrivals {
	a := &arrivals{segs: p.segments()}
	if process == ArrivalPoisson {
		a.poisson = rand.New(rand.NewPCG(uint64(seed), 0x6172726976616c)) // "arrival"
		a.target = a.poisson.ExpFloat64()
	}
	return a
}

// next returns the offset of the next arrival from the start, or false when
// the profile has no more (after its last stage).
func (a *arrivals) next() (time.Duration, bool) {
	for a.seg < len(a.segs) {
		s := a.segs[a.seg]
		total := s.integral(s.dur)
		if math.IsInf(s.dur, 1) && s.from <= 0 {
			return 0, false // a constant rate of 0 never starts anything
		}
		if total > 0 && (a.target-a.segBase < total || math.IsInf(total, 1)) {
			t := a.segStart + s.inverse(a.target-a.segBase)
			a.advance()
			return time.Duration(t * float64(time.Second)), true
		}
		a.seg++
		a.segStart += s.dur
		a.segBase += total
	}
	return 0, false
}

// advance moves the integral target to the next arrival.
func (a *arrivals) advance() {
	a.n++
	if a.poisson != nil {
		a.target += a.poisson.ExpFloat64()
		return
	}
	a.target = float64(a.n)
}
