package main

import (
	"cmp"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/evalrun/evalrun/report"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
	"github.com/evalrun/evalrun/session"
)

// loadFlags are the load-model flags of "evalrun run" (--concurrency stays
// with the other run flags). Each value is checked as it is set, so a bad
// value in evalrun.yaml is reported at its place.
type loadFlags struct {
	rate             rateValue
	arrival          arrivalValue
	stages           stageList
	duration         time.Duration
	grace            time.Duration
	repeat           int
	maxConversations int
	maxInFlight      int

	load runner.Load // the resolved load, set by resolve
}

// maxSuiteRepeat is the most --repeat replays the suite: with a scenario's
// own repeat (at most 1,000,000 too) the counts stay far from overflowing.
const maxSuiteRepeat = 1_000_000

// repeatFlag is --repeat: a whole number from 1 to maxSuiteRepeat, refused
// with the range when it is not one (never wrapped around to a negative).
type repeatFlag int

func (r *repeatFlag) String() string {
	if r == nil || *r == 0 {
		return ""
	}
	return strconv.Itoa(int(*r))
}

func (r *repeatFlag) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > maxSuiteRepeat {
		return fmt.Errorf("want a whole number from 1 to %d", maxSuiteRepeat)
	}
	*r = repeatFlag(n)
	return nil
}

func (l *loadFlags) register(fs *flag.FlagSet) {
	fs.Var(&l.rate, "arrival-rate", "open model: start conversations at `R/s` (also R/min, R/h) whatever the agent's speed")
	fs.Var(&l.arrival, "arrival", "open model arrivals: constant (evenly spaced) or poisson (seeded exponential gaps)")
	fs.Var(&l.stages, "stage", "open model ramp stage `RATE:DURATION`, e.g. 50/s:5m (repeatable; the rate moves linearly to RATE over DURATION)")
	fs.DurationVar(&l.duration, "duration", 0, "loop the suite until `D` has passed (e.g. 10m), then let started conversations finish within --grace")
	fs.DurationVar(&l.grace, "grace", runner.DefaultGrace, "after --duration, how long started conversations may go on before their calls are cancelled")
	fs.Var((*repeatFlag)(&l.repeat), "repeat", "replay the whole suite `N` times, 1 to 1000000 (default once; with --duration, until the time is up)")
	fs.IntVar(&l.maxConversations, "max-conversations", 0, "stop after `N` conversations (0: no limit)")
	fs.IntVar(&l.maxInFlight, "max-in-flight", 0, "open model: at most `N` conversations in flight (default 10000); arrivals that find it reached wait, and the wait counts in their latency")
}

// resolve checks the load flags together with --concurrency and builds the
// load. The open model takes --arrival-rate or --stage; --concurrency (when
// given) is the closed model's and cannot be combined with them. A sharded
// run schedules its share of the rate.
func (l *loadFlags) resolve(fs *flag.FlagSet, concurrency int, shard runner.Shard) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	ld := runner.Load{
		Concurrency:      concurrency,
		Rate:             l.rate.perSec,
		Arrival:          l.arrival.a,
		Stages:           append([]runner.Stage(nil), l.stages.stages...),
		MaxInFlight:      l.maxInFlight,
		Duration:         l.duration,
		Grace:            l.grace,
		Repeat:           l.repeat,
		MaxConversations: l.maxConversations,
	}
	if ld.Grace == 0 {
		ld.Grace = -1 // --grace 0: cut at the end of the duration
	}
	switch {
	case ld.IsOpen() && given["concurrency"]:
		return usageErr("--concurrency is the closed model; with --arrival-rate or --stage the model is open: cap its conversations in flight with --max-in-flight instead")
	case !ld.IsOpen() && (given["arrival"] || given["max-in-flight"]):
		return usageErr("--arrival and --max-in-flight shape the open model; give --arrival-rate R/s or --stage RATE:DURATION too")
	case l.grace < 0:
		return usageErr("--grace %v: must be 0 or more", l.grace)
	case given["grace"] && ld.RunDuration() == 0:
		return usageErr("--grace applies after --duration (or --stage); give one of them")
	case l.repeat < 0 || l.repeat > maxSuiteRepeat:
		return usageErr("--repeat %d: must be from 1 to %d", l.repeat, maxSuiteRepeat)
	case l.maxConversations < 0:
		return usageErr("--max-conversations %d: must be 0 (no limit) or more", l.maxConversations)
	case l.maxInFlight < 0:
		return usageErr("--max-in-flight %d: must be 0 (default %d) or more", l.maxInFlight, runner.DefaultMaxInFlight)
	case l.duration < 0:
		return usageErr("--duration %v: must be positive", l.duration)
	}
	if !shard.Whole() && ld.IsOpen() {
		n := float64(shard.Count)
		ld.Rate /= n
		for i := range ld.Stages {
			ld.Stages[i].Target /= n
		}
	}
	if err := ld.Check(); err != nil {
		return usageErr("load: %v", err)
	}
	l.load = ld
	return nil
}

// shapesCount reports whether the load decides how many conversations run
// (repeats, a duration, stages, a maximum) rather than the suite alone.
func (l *loadFlags) shapesCount() bool {
	ld := l.load
	return ld.Repeat > 0 || ld.RunDuration() > 0 || ld.MaxConversations > 0
}

// cost is the run's cost for the quota check: the conversations the
// schedule will try (runner.ScheduleEstimate), or unbounded for a closed
// model with a duration, which its budget bounds instead.
func (l *loadFlags) cost(suite *scenarios.Suite, retryFraction float64) session.CostFunc {
	return session.ScheduleCost(suite, l.load, retryFraction)
}

// apply sets the load options of the run.
func (l *loadFlags) apply(opts *runner.Options, seed int64) error {
	if err := l.load.Apply(opts, seed); err != nil {
		return usageErr("load: %v", err)
	}
	return nil
}

// info describes the load model to the report.
func (l *loadFlags) info() report.LoadInfo {
	if !l.load.IsOpen() {
		return report.LoadInfo{Model: report.LoadClosed}
	}
	peak := l.load.Rate
	for _, s := range l.load.Stages {
		peak = max(peak, s.Target)
	}
	return report.LoadInfo{Model: report.LoadOpen, PeakRate: peak}
}

// settings records the load in the result's settings.
func (l *loadFlags) settings(s map[string]any) {
	ld := l.load
	if ld.IsOpen() {
		s[report.SettingLoadModel] = "open"
		s["arrival"] = ld.Arrival.String()
		if ld.Rate > 0 {
			s["arrival_rate"] = strconv.FormatFloat(ld.Rate, 'g', -1, 64) + "/s"
		}
		if len(ld.Stages) > 0 {
			var st []string
			for _, x := range ld.Stages {
				st = append(st, x.String())
			}
			s["stages"] = st
		}
		s["max_in_flight"] = l.conns()
	} else {
		s[report.SettingLoadModel] = "closed"
	}
	if d := ld.RunDuration(); d > 0 {
		s["duration"] = d.String()
		s["grace"] = max(ld.Grace, 0).String()
	}
	if ld.Repeat > 0 {
		s["repeat"] = ld.Repeat
	}
	if ld.MaxConversations > 0 {
		s["max_conversations"] = ld.MaxConversations
	}
}

// conns is the connection pool the load needs: the open model's cap on
// conversations in flight (each has at most one call in flight), 0 for the
// closed model (whose --concurrency sizes the pool).
func (l *loadFlags) conns() int {
	if !l.load.IsOpen() {
		return 0
	}
	return cmp.Or(l.load.MaxInFlight, runner.DefaultMaxInFlight)
}

// rateValue is --arrival-rate.
type rateValue struct {
	text   string
	perSec float64
}

func (v *rateValue) String() string { return v.text }
func (v *rateValue) Set(s string) error {
	r, err := runner.ParseArrivalRate(s)
	if err != nil {
		return err
	}
	v.text, v.perSec = strings.TrimSpace(s), r
	return nil
}

// arrivalValue is --arrival.
type arrivalValue struct{ a runner.Arrival }

func (v *arrivalValue) String() string { return v.a.String() }
func (v *arrivalValue) Set(s string) error {
	a, err := runner.ParseArrival(s)
	if err != nil {
		return err
	}
	v.a = a
	return nil
}

// stageList is --stage, repeatable.
type stageList struct{ stages []runner.Stage }

func (v *stageList) String() string {
	var parts []string
	for _, s := range v.stages {
		parts = append(parts, s.String())
	}
	return strings.Join(parts, " ")
}
func (v *stageList) Set(s string) error {
	st, err := runner.ParseStage(s)
	if err != nil {
		return err
	}
	v.stages = append(v.stages, st)
	return nil
}
func (v *stageList) Repeatable() bool { return true }
