package report

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// CompareOptions tune Compare. The zero value uses the defaults.
type CompareOptions struct {
	// Confidence is the confidence level of the latency intervals
	// (default 0.95).
	Confidence float64
	// Alpha is the significance level of the pass-rate test (default 0.05).
	Alpha float64
	// MaxLatencyRegression is the relative latency increase tolerated
	// before a significant increase counts as a regression (default 0.10,
	// i.e. 10%).
	MaxLatencyRegression float64
	// Percentiles are the latency percentiles compared (default 50, 95, 99).
	Percentiles []float64
}

func (o CompareOptions) withDefaults() (CompareOptions, error) {
	if o.Confidence == 0 {
		o.Confidence = 0.95
	}
	if o.Alpha == 0 {
		o.Alpha = 0.05
	}
	if o.MaxLatencyRegression == 0 {
		o.MaxLatencyRegression = 0.10
	}
	if len(o.Percentiles) == 0 {
		o.Percentiles = []float64{50, 95, 99}
	}
	switch {
	case !(o.Confidence > 0 && o.Confidence < 1):
		return o, fmt.Errorf("compare: confidence %v: want a level between 0 and 1, e.g. 0.95", o.Confidence)
	case !(o.Alpha > 0 && o.Alpha < 1):
		return o, fmt.Errorf("compare: alpha %v: want a level between 0 and 1, e.g. 0.05", o.Alpha)
	case !(o.MaxLatencyRegression > 0) || math.IsInf(o.MaxLatencyRegression, 0):
		return o, fmt.Errorf("compare: max latency regression %v: want a positive fraction, e.g. 0.1 for 10%%", o.MaxLatencyRegression)
	}
	for _, p := range o.Percentiles {
		if !(p > 0 && p < 100) {
			return o, fmt.Errorf("compare: percentile %v: want one between 0 and 100 (exclusive)", p)
		}
	}
	return o, nil
}

// Scenario changes, the value of ScenarioDiff.Change.
const (
	ChangeNewlyFailing = "newly failing"
	ChangeNewlyPassing = "newly passing"
	ChangeStillFailing = "still failing"
	ChangePassing      = "passing"
	ChangeAdded        = "added"
	ChangeRemoved      = "removed"
)

// Comparison lines up two results (a base and a new run, e.g. two agent
// configurations or two releases) by scenario and turn: which scenarios
// newly fail or newly pass, how their pass rates changed and whether the
// change is significant, which expectations newly fail at which turn, and
// how latency percentiles moved, each with a confidence interval.
type Comparison struct {
	Base, New RunInfo
	Options   CompareOptions
	// Overall compares the latency of every turn call.
	Overall LatencyDiff
	// Scenarios are sorted by name; scenarios in one result only are
	// ChangeAdded or ChangeRemoved.
	Scenarios []ScenarioDiff
	// Turns compares the latency at each turn index, across scenarios.
	Turns []LatencyDiff
	// Stream compares the token-level metrics of streamed replies (time
	// to first token, inter-token latency, time per output token, output
	// tokens per second) when both results have them; empty otherwise.
	Stream []LatencyDiff
	// Regressions describes every regression, one line each; empty when
	// there is none.
	Regressions []string
}

// RunInfo identifies one side of a comparison.
type RunInfo struct {
	RunID         string
	Target        string
	Started       time.Time
	Conversations int
}

// Regressed reports whether the comparison found a regression.
func (c *Comparison) Regressed() bool { return len(c.Regressions) > 0 }

// ScenarioDiff compares one scenario.
type ScenarioDiff struct {
	Name   string
	Change string // one of the Change constants
	// Base and New are nil for a scenario missing from that result.
	Base, New *ScenarioCounts
	// PassRateDelta is New's pass rate minus Base's.
	PassRateDelta float64
	// PValue is the one-sided p-value of Fisher's exact test that New's pass
	// rate is lower than Base's (1 when there is nothing to test).
	PValue float64
	// PassRateRegression is true when the pass rate fell significantly
	// (PValue < Alpha).
	PassRateRegression bool
	// Latency compares the scenario's turn-call latency.
	Latency LatencyDiff
	// Turns are the turn indexes whose expectations changed, in order.
	Turns []TurnDiff
	// GoalMet compares the goal-met rates of a simulated scenario (both
	// sides simulated it); nil otherwise.
	GoalMet *GoalMetDiff
	// Regression is true when the scenario newly fails, its pass rate fell
	// significantly or its latency regressed.
	Regression bool
}

// ScenarioCounts are one side's counts of a scenario.
type ScenarioCounts struct {
	Runs, Passed int
	PassRate     float64
	Status       string
}

// TurnDiff compares the expectations of one turn of a scenario, from the
// stored transcripts of both results (all failures and a sample of passes
// under the default transcript policy).
type TurnDiff struct {
	Turn int // 1-based, as in the summary
	// Failed and Seen count the stored transcripts' turns that failed and
	// that were evaluated at all.
	BaseFailed, BaseSeen int
	NewFailed, NewSeen   int
	// NewlyFailing are expectations that fail in New and never failed in
	// Base (where they were evaluated); NewlyPassing the reverse.
	NewlyFailing []string
	NewlyPassing []string
}

// LatencyDiff compares one latency histogram of both results.
type LatencyDiff struct {
	Name                string
	BaseCount, NewCount int64
	// Unit is the unit of the values: "" for latencies (microseconds),
	// UnitMilliTokensPerSecond for output tokens per second, where higher
	// is better and a regression is a significant fall.
	Unit        string
	Percentiles []PercentileDiff
	// Regression is true when a percentile regressed.
	Regression bool
}

// format formats a value of d's unit for people.
func (d LatencyDiff) format(v int64) string { return formatIn(d.Unit, float64(v)) }

// interval formats a value's confidence interval in d's unit.
func (d LatencyDiff) interval(iv Interval) string {
	hi := "∞"
	if iv.Hi >= 0 {
		hi = d.format(iv.Hi)
	}
	return "[" + d.format(iv.Lo) + ", " + hi + "]"
}

// PercentileDiff compares one percentile: each side's value with its
// distribution-free confidence interval (see QuantileInterval), in the
// unit of its LatencyDiff.
type PercentileDiff struct {
	Percentile float64
	Base, New  Interval
	// Change is (New - Base) / Base; 0 when Base is 0.
	Change float64
	// Significant is true when the two intervals do not overlap.
	Significant bool
	// Regression is true for a significant increase larger than
	// MaxLatencyRegression (for output tokens per second: a significant
	// fall larger than it).
	Regression bool
}

// Interval is a percentile in microseconds with its confidence interval.
// Lo is 0 and Hi is -1 where too few values bound the interval on that
// side.
type Interval struct {
	Value, Lo, Hi int64
}

// Compare compares result next against base (see Comparison).
func Compare(base, next *Result, opts CompareOptions) (*Comparison, error) {
	if base == nil || next == nil {
		return nil, errors.New("compare: a result is nil")
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Comparison{
		Base:    RunInfo{base.RunID, base.Target.Name, base.Started, base.Totals.Conversations},
		New:     RunInfo{next.RunID, next.Target.Name, next.Started, next.Totals.Conversations},
		Options: opts,
	}
	if c.Overall, err = latencyDiff("all turns", base.Histogram(HistCallKind, "turn"), next.Histogram(HistCallKind, "turn"), opts); err != nil {
		return nil, err
	}
	if c.Overall.Regression {
		c.Regressions = append(c.Regressions, "turn-call latency: "+describeLatencyRegression(c.Overall, opts.Confidence))
	}

	names := map[string]bool{}
	for i := range base.Scenarios {
		names[base.Scenarios[i].Name] = true
	}
	for i := range next.Scenarios {
		names[next.Scenarios[i].Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		d, err := scenarioDiff(name, base, next, opts)
		if err != nil {
			return nil, err
		}
		c.Scenarios = append(c.Scenarios, d)
		if d.Change == ChangeNewlyFailing {
			c.Regressions = append(c.Regressions, fmt.Sprintf("scenario %s newly fails: %d of %d passed, %d were required (was %d of %d)",
				name, d.New.Passed, d.New.Runs, required(next.Scenario(name)), d.Base.Passed, d.Base.Runs))
		}
		if d.PassRateRegression && d.Change != ChangeNewlyFailing {
			c.Regressions = append(c.Regressions, fmt.Sprintf("scenario %s pass rate fell from %s to %s (Fisher p=%.3g)",
				name, formatPercent(d.Base.PassRate), formatPercent(d.New.PassRate), d.PValue))
		}
		if d.Latency.Regression {
			c.Regressions = append(c.Regressions, "scenario "+name+" latency: "+describeLatencyRegression(d.Latency, opts.Confidence))
		}
		if g := d.GoalMet; g != nil && g.Regression {
			c.Regressions = append(c.Regressions, fmt.Sprintf("scenario %s goal-met rate fell from %d/%d to %d/%d (Fisher p=%.3g)",
				name, g.BaseMet, g.BaseRuns, g.NewMet, g.NewRuns, g.PValue))
		}
	}

	turns := map[int]bool{}
	for _, r := range []*Result{base, next} {
		for i := range r.Histograms {
			if h := &r.Histograms[i]; h.Kind == HistTurn {
				if n, err := strconv.Atoi(h.Name); err == nil {
					turns[n] = true
				}
			}
		}
	}
	for _, t := range slices.Sorted(maps.Keys(turns)) {
		name := strconv.Itoa(t)
		d, err := latencyDiff("turn "+strconv.Itoa(t+1), base.Histogram(HistTurn, name), next.Histogram(HistTurn, name), opts)
		if err != nil {
			return nil, err
		}
		c.Turns = append(c.Turns, d)
		if d.Regression {
			c.Regressions = append(c.Regressions, d.Name+" latency: "+describeLatencyRegression(d, opts.Confidence))
		}
	}
	// Streamed replies: only when both runs streamed.
	for _, m := range streamMetricRows {
		bh, nh := base.Histogram(m.kind, StreamName), next.Histogram(m.kind, StreamName)
		if bh == nil || nh == nil {
			continue
		}
		d, err := valueDiff(m.label, bh, nh, HistogramUnit(m.kind), opts)
		if err != nil {
			return nil, err
		}
		c.Stream = append(c.Stream, d)
		if d.Regression {
			c.Regressions = append(c.Regressions, d.Name+": "+describeLatencyRegression(d, opts.Confidence))
		}
	}
	return c, nil
}

func required(s *ScenarioResult) int {
	if s == nil {
		return 0
	}
	return s.Required
}

func counts(s *ScenarioResult) *ScenarioCounts {
	if s == nil {
		return nil
	}
	return &ScenarioCounts{Runs: s.Runs, Passed: s.Passed, PassRate: s.PassRate, Status: s.Status}
}

func scenarioDiff(name string, base, next *Result, opts CompareOptions) (ScenarioDiff, error) {
	bs, ns := base.Scenario(name), next.Scenario(name)
	d := ScenarioDiff{Name: name, Base: counts(bs), New: counts(ns), PValue: 1}
	switch {
	case bs == nil:
		d.Change = ChangeAdded
	case ns == nil:
		d.Change = ChangeRemoved
	case bs.Status == StatusPassed && ns.Status != StatusPassed:
		d.Change = ChangeNewlyFailing
	case bs.Status != StatusPassed && ns.Status == StatusPassed:
		d.Change = ChangeNewlyPassing
	case ns.Status != StatusPassed:
		d.Change = ChangeStillFailing
	default:
		d.Change = ChangePassing
	}
	if bs == nil || ns == nil {
		return d, nil
	}
	d.PassRateDelta = ns.PassRate - bs.PassRate
	d.PValue = FisherLower(bs.Passed, bs.Runs-bs.Passed, ns.Passed, ns.Runs-ns.Passed)
	d.PassRateRegression = d.PassRateDelta < 0 && d.PValue < opts.Alpha
	var err error
	if d.Latency, err = latencyDiff(name, base.Histogram(HistScenario, name), next.Histogram(HistScenario, name), opts); err != nil {
		return d, err
	}
	d.Turns = turnDiffs(bs, ns)
	d.GoalMet = goalMetDiff(bs.Simulation, ns.Simulation, opts.Alpha)
	d.Regression = d.Change == ChangeNewlyFailing || d.PassRateRegression || d.Latency.Regression || (d.GoalMet != nil && d.GoalMet.Regression)
	return d, nil
}

// turnStats are one side's expectation outcomes at one turn index.
type turnStats struct {
	seen, failed int
	evaluated    map[string]bool
	failing      map[string]bool
}

func collectTurns(s *ScenarioResult) map[int]*turnStats {
	out := map[int]*turnStats{}
	for i := range s.Conversations {
		for j := range s.Conversations[i].Turns {
			t := &s.Conversations[i].Turns[j]
			if len(t.Verdicts) == 0 {
				continue
			}
			st := out[t.Index]
			if st == nil {
				st = &turnStats{evaluated: map[string]bool{}, failing: map[string]bool{}}
				out[t.Index] = st
			}
			st.seen++
			failed := false
			for _, v := range t.Verdicts {
				key := verdictKey(v.Name, v.Expectation)
				st.evaluated[key] = true
				if !v.Passed {
					st.failing[key] = true
					failed = true
				}
			}
			if failed {
				st.failed++
			}
		}
	}
	return out
}

func verdictKey(name, expectation string) string {
	if name != "" {
		return name + ": " + expectation
	}
	return expectation
}

func turnDiffs(bs, ns *ScenarioResult) []TurnDiff {
	b, n := collectTurns(bs), collectTurns(ns)
	idx := map[int]bool{}
	for k := range b {
		idx[k] = true
	}
	for k := range n {
		idx[k] = true
	}
	var out []TurnDiff
	for _, i := range slices.Sorted(maps.Keys(idx)) {
		bt, nt := b[i], n[i]
		if bt == nil || nt == nil {
			continue // a turn one side never evaluated says nothing about change
		}
		d := TurnDiff{Turn: i + 1, BaseFailed: bt.failed, BaseSeen: bt.seen, NewFailed: nt.failed, NewSeen: nt.seen}
		for k := range nt.failing {
			if bt.evaluated[k] && !bt.failing[k] {
				d.NewlyFailing = append(d.NewlyFailing, k)
			}
		}
		for k := range bt.failing {
			if nt.evaluated[k] && !nt.failing[k] {
				d.NewlyPassing = append(d.NewlyPassing, k)
			}
		}
		slices.Sort(d.NewlyFailing)
		slices.Sort(d.NewlyPassing)
		if len(d.NewlyFailing)+len(d.NewlyPassing) > 0 || d.BaseFailed*d.NewSeen != d.NewFailed*d.BaseSeen {
			out = append(out, d)
		}
	}
	return out
}

// latencyDiff compares two latency histograms; either may be nil (no
// calls).
func latencyDiff(name string, base, next *HistogramResult, opts CompareOptions) (LatencyDiff, error) {
	return valueDiff(name, base, next, "", opts)
}

// valueDiff compares two histograms of unit (see LatencyDiff.Unit).
func valueDiff(name string, base, next *HistogramResult, unit string, opts CompareOptions) (LatencyDiff, error) {
	d := LatencyDiff{Name: name, Unit: unit}
	bh, err := decodeOrEmpty(base)
	if err != nil {
		return d, err
	}
	nh, err := decodeOrEmpty(next)
	if err != nil {
		return d, err
	}
	d.BaseCount, d.NewCount = bh.TotalCount(), nh.TotalCount()
	if d.BaseCount == 0 || d.NewCount == 0 {
		return d, nil
	}
	for _, p := range opts.Percentiles {
		pd := PercentileDiff{Percentile: p, Base: QuantileInterval(bh, p, opts.Confidence), New: QuantileInterval(nh, p, opts.Confidence)}
		if pd.Base.Value > 0 {
			pd.Change = float64(pd.New.Value-pd.Base.Value) / float64(pd.Base.Value)
		}
		up := pd.Base.Hi >= 0 && pd.New.Lo > pd.Base.Hi
		down := pd.New.Hi >= 0 && pd.New.Hi < pd.Base.Lo
		pd.Significant = up || down
		pd.Regression = up && pd.Change > opts.MaxLatencyRegression
		if unit == UnitMilliTokensPerSecond { // higher is better
			pd.Regression = down && -pd.Change > opts.MaxLatencyRegression
		}
		d.Regression = d.Regression || pd.Regression
		d.Percentiles = append(d.Percentiles, pd)
	}
	return d, nil
}

func decodeOrEmpty(h *HistogramResult) (*hdrhistogram.Histogram, error) {
	if h == nil {
		return newLatencyHistogram(), nil
	}
	return h.Decode()
}

func describeLatencyRegression(d LatencyDiff, conf float64) string {
	var parts []string
	for _, p := range d.Percentiles {
		if p.Regression {
			parts = append(parts, fmt.Sprintf("p%s %s → %s (%+.0f%%, %g%% intervals %s and %s do not overlap)",
				fmtPct(p.Percentile), d.format(p.Base.Value), d.format(p.New.Value),
				p.Change*100, 100*conf, d.interval(p.Base), d.interval(p.New)))
		}
	}
	return strings.Join(parts, "; ")
}

func fmtPct(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) }

// QuantileInterval returns the p-th percentile (0 < p < 100) of h with a
// distribution-free confidence interval at level conf: the order
// statistics X(l) and X(u) of the n recorded values where, for B ~
// Binomial(n, p/100), P(B < l) <= (1-conf)/2 and P(B >= u) <= (1-conf)/2,
// so that P(X(l) <= true percentile <= X(u)) >= conf whatever the latency
// distribution. B is summed exactly for n up to 10,000 and approximated by
// the normal distribution above. The order statistics are read from the
// histogram, so they carry its 3-significant-digit precision. Where l < 1
// the interval is unbounded below (Lo 0); where u > n, above (Hi -1).
func QuantileInterval(h *hdrhistogram.Histogram, p, conf float64) Interval {
	n := h.TotalCount()
	if n == 0 {
		return Interval{}
	}
	l, u := quantileRanks(n, p/100, conf)
	// The value and both bounds in one walk of the counts.
	v := valuesAtRanks(h, []int64{percentileRank(p, n), min(max(l, 1), n), min(max(u, 1), n)})
	iv := Interval{Value: v[0].hi, Hi: -1}
	if p <= 0 {
		iv.Value = v[0].lo // as valueAtPercentile: the lowest equivalent of the minimum
	}
	if l >= 1 {
		iv.Lo = v[1].hi
	}
	if u <= n {
		iv.Hi = v[2].hi
	}
	return iv
}

// quantileRanks returns the 1-based ranks l and u of the order statistics
// bounding the q-quantile of n values at confidence conf (see
// QuantileInterval); l may be 0 and u may be n+1 (unbounded).
func quantileRanks(n int64, q, conf float64) (int64, int64) {
	tail := (1 - conf) / 2
	if n > 10_000 {
		z := math.Sqrt2 * math.Erfinv(conf)
		mu, sd := float64(n)*q, math.Sqrt(float64(n)*q*(1-q))
		l := int64(math.Floor(mu - z*sd))
		u := int64(math.Ceil(mu+z*sd)) + 1
		return max(l, 0), min(u, n+1)
	}
	// F(k) = P(B <= k), summed in log space.
	lq, l1q := math.Log(q), math.Log1p(-q)
	lgn, _ := math.Lgamma(float64(n + 1))
	cdf := 0.0
	var l, u int64 = 0, n + 1
	for k := int64(0); k <= n; k++ {
		a, _ := math.Lgamma(float64(k + 1))
		b, _ := math.Lgamma(float64(n - k + 1))
		cdf += math.Exp(lgn - a - b + float64(k)*lq + float64(n-k)*l1q)
		// P(B < k+1) = F(k) <= tail: rank k+1 can be the lower bound.
		if cdf <= tail {
			l = k + 1
		}
		// P(B >= k+1) = 1 - F(k) <= tail: rank k+1 is the upper bound.
		if 1-cdf <= tail {
			u = k + 1
			break
		}
	}
	return l, u
}

// FisherLower returns the one-sided p-value of Fisher's exact test that the
// second group's success rate is lower than the first's: with a1 successes
// and b1 failures in the first, a2 and b2 in the second, the probability,
// given the margins, of a2 or fewer successes in the second group. It is
// exact for any counts, small ones included; 1 when a group is empty.
func FisherLower(a1, b1, a2, b2 int) float64 {
	n1, n2 := a1+b1, a2+b2
	if n1 <= 0 || n2 <= 0 || a1 < 0 || b1 < 0 || a2 < 0 || b2 < 0 {
		return 1
	}
	k := a1 + a2 // successes in all
	n := n1 + n2
	lchoose := func(n, r int) float64 {
		x, _ := math.Lgamma(float64(n + 1))
		y, _ := math.Lgamma(float64(r + 1))
		z, _ := math.Lgamma(float64(n - r + 1))
		return x - y - z
	}
	denom := lchoose(n, n2)
	p := 0.0
	for x := max(0, k-n1); x <= a2; x++ {
		if k-x > n1 || n2-x > n-k {
			continue
		}
		p += math.Exp(lchoose(k, x) + lchoose(n-k, n2-x) - denom)
	}
	return min(p, 1)
}

// WriteText writes the comparison for a terminal.
func (c *Comparison) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Compare  base %s (%s, %d conversations)\n", c.Base.RunID, c.Base.Target, c.Base.Conversations)
	fmt.Fprintf(&b, "         new  %s (%s, %d conversations)\n", c.New.RunID, c.New.Target, c.New.Conversations)
	b.WriteString("\nScenarios\n")
	width := len("scenario")
	for _, s := range c.Scenarios {
		width = max(width, len(s.Name))
	}
	fmt.Fprintf(&b, "  %-*s  %-9s  %-9s  %-9s  %-8s  %s\n", width, "scenario", "base", "new", "Δ pass", "p", "change")
	for _, s := range c.Scenarios {
		mark := " "
		if s.Regression {
			mark = "✗"
		} else if s.Change == ChangeNewlyPassing {
			mark = "✓"
		}
		fmt.Fprintf(&b, "%s %-*s  %-9s  %-9s  %-9s  %-8s  %s\n", mark, width, s.Name, side(s.Base), side(s.New),
			passDelta(s), pValue(s), s.Change)
	}
	if lines := goalMetLines(c, "  ", "✗ "); len(lines) > 0 {
		b.WriteString("\nGoal met (simulated conversations)\n" + strings.Join(lines, "\n") + "\n")
	}
	var flips []string
	for _, s := range c.Scenarios {
		for _, t := range s.Turns {
			for _, e := range t.NewlyFailing {
				flips = append(flips, fmt.Sprintf("  ✗ %s turn %d: %s newly fails (turn failed %d/%d → %d/%d)", s.Name, t.Turn, e, t.BaseFailed, t.BaseSeen, t.NewFailed, t.NewSeen))
			}
			for _, e := range t.NewlyPassing {
				flips = append(flips, fmt.Sprintf("  ✓ %s turn %d: %s newly passes (turn failed %d/%d → %d/%d)", s.Name, t.Turn, e, t.BaseFailed, t.BaseSeen, t.NewFailed, t.NewSeen))
			}
		}
	}
	if len(flips) > 0 {
		b.WriteString("\nExpectations (stored transcripts)\n")
		b.WriteString(strings.Join(flips, "\n") + "\n")
	}
	fmt.Fprintf(&b, "\nLatency (%g%% confidence intervals; ▲ ▼ significant; scenarios with a significant change)\n", c.Options.Confidence*100)
	rows := append([]LatencyDiff{c.Overall}, c.Turns...)
	for _, s := range c.Scenarios {
		// Scenarios only where something moved significantly: the
		// intervals of a few calls are wide and would bury the news.
		if s.Base != nil && s.New != nil && slices.ContainsFunc(s.Latency.Percentiles, func(p PercentileDiff) bool { return p.Significant }) {
			l := s.Latency
			l.Name = "scenario " + s.Name
			rows = append(rows, l)
		}
	}
	for _, l := range rows {
		if len(l.Percentiles) == 0 {
			continue
		}
		fmt.Fprintf(&b, "  %s (%d → %d calls)\n", l.Name, l.BaseCount, l.NewCount)
		writeTextPercentiles(&b, l)
	}
	if len(c.Stream) > 0 {
		fmt.Fprintf(&b, "\nStreamed replies (%g%% confidence intervals; output tokens/s: higher is better)\n", c.Options.Confidence*100)
		for _, l := range c.Stream {
			if len(l.Percentiles) == 0 {
				continue
			}
			fmt.Fprintf(&b, "  %s (%d → %d replies)\n", l.Name, l.BaseCount, l.NewCount)
			writeTextPercentiles(&b, l)
		}
	}
	b.WriteString("\n")
	if c.Regressed() {
		fmt.Fprintf(&b, "REGRESSED: %d regression(s)\n", len(c.Regressions))
		for _, r := range c.Regressions {
			b.WriteString("  - " + r + "\n")
		}
	} else {
		b.WriteString("No regression.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes the comparison as Markdown (for a CI job summary or
// a pull-request comment).
func (c *Comparison) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	status := "✅ No regression"
	if c.Regressed() {
		status = fmt.Sprintf("❌ %d regression(s)", len(c.Regressions))
	}
	fmt.Fprintf(&b, "## evalrun compare: %s\n\n", status)
	fmt.Fprintf(&b, "Base `%s` (%s, %d conversations) → new `%s` (%s, %d conversations)\n\n",
		mdEsc(c.Base.RunID), mdEsc(c.Base.Target), c.Base.Conversations, mdEsc(c.New.RunID), mdEsc(c.New.Target), c.New.Conversations)
	for _, r := range c.Regressions {
		b.WriteString("- " + mdEsc(r) + "\n")
	}
	if len(c.Regressions) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("| | Scenario | Base | New | Δ pass rate | p | Change | p95 base → new |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, s := range c.Scenarios {
		mark := ""
		if s.Regression {
			mark = "❌"
		} else if s.Change == ChangeNewlyPassing {
			mark = "✅"
		}
		p95 := ""
		for _, p := range s.Latency.Percentiles {
			if p.Percentile == 95 {
				p95 = fmt.Sprintf("%s → %s (%+.0f%%)%s", FormatMicros(float64(p.Base.Value)), FormatMicros(float64(p.New.Value)), p.Change*100, arrow(p))
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", mark, mdEsc(s.Name), side(s.Base), side(s.New), passDelta(s), pValue(s), s.Change, p95)
	}
	if lines := goalMetLines(c, "- ", "❌ "); len(lines) > 0 {
		b.WriteString("\nGoal met (simulated conversations):\n\n")
		for _, l := range lines {
			b.WriteString(mdEsc(l) + "\n")
		}
	}
	var flips []string
	for _, s := range c.Scenarios {
		for _, t := range s.Turns {
			for _, e := range t.NewlyFailing {
				flips = append(flips, fmt.Sprintf("| ❌ | %s | %d | `%s` | %d/%d → %d/%d |", mdEsc(s.Name), t.Turn, mdEsc(e), t.BaseFailed, t.BaseSeen, t.NewFailed, t.NewSeen))
			}
			for _, e := range t.NewlyPassing {
				flips = append(flips, fmt.Sprintf("| ✅ | %s | %d | `%s` | %d/%d → %d/%d |", mdEsc(s.Name), t.Turn, mdEsc(e), t.BaseFailed, t.BaseSeen, t.NewFailed, t.NewSeen))
			}
		}
	}
	if len(flips) > 0 {
		b.WriteString("\n### Expectations that flipped\n\n| | Scenario | Turn | Expectation | Turns failed |\n|---|---|---|---|---|\n")
		b.WriteString(strings.Join(flips, "\n") + "\n")
	}
	fmt.Fprintf(&b, "\n### Latency (%g%% confidence intervals)\n\n| | Percentile | Base | New | Change |\n|---|---|---|---|---|\n", c.Options.Confidence*100)
	for _, l := range append([]LatencyDiff{c.Overall}, c.Turns...) {
		writeMDPercentiles(&b, l)
	}
	if len(c.Stream) > 0 {
		fmt.Fprintf(&b, "\n### Streamed replies (%g%% confidence intervals; output tokens/s: higher is better)\n\n| | Percentile | Base | New | Change |\n|---|---|---|---|---|\n", c.Options.Confidence*100)
		for _, l := range c.Stream {
			writeMDPercentiles(&b, l)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeTextPercentiles(b *strings.Builder, l LatencyDiff) {
	for _, p := range l.Percentiles {
		fmt.Fprintf(b, "    p%-5s %s %s → %s %s  %+.0f%% %s\n", fmtPct(p.Percentile),
			l.format(p.Base.Value), l.interval(p.Base), l.format(p.New.Value), l.interval(p.New), p.Change*100, arrow(p))
	}
}

func writeMDPercentiles(b *strings.Builder, l LatencyDiff) {
	for _, p := range l.Percentiles {
		fmt.Fprintf(b, "| %s | p%s | %s %s | %s %s | %+.0f%%%s |\n", mdEsc(l.Name), fmtPct(p.Percentile),
			l.format(p.Base.Value), l.interval(p.Base), l.format(p.New.Value), l.interval(p.New), p.Change*100, arrow(p))
	}
}

func side(s *ScenarioCounts) string {
	if s == nil {
		return "—"
	}
	mark := "✓"
	if s.Status != StatusPassed {
		mark = "✗"
	}
	return fmt.Sprintf("%d/%d %s", s.Passed, s.Runs, mark)
}

func passDelta(s ScenarioDiff) string {
	if s.Base == nil || s.New == nil {
		return "—"
	}
	return fmt.Sprintf("%+.1fpp", s.PassRateDelta*100)
}

func pValue(s ScenarioDiff) string {
	if s.Base == nil || s.New == nil || s.PassRateDelta >= 0 {
		return "—"
	}
	return strconv.FormatFloat(s.PValue, 'g', 2, 64)
}

func arrow(p PercentileDiff) string {
	switch {
	case p.Significant && p.Change > 0:
		return " ▲"
	case p.Significant:
		return " ▼"
	}
	return ""
}

// mdEsc escapes the characters that would break a Markdown table cell.
func mdEsc(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "`", "'").Replace(s)
}
