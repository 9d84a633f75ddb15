package main

import (
	"context"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/config"
	"github.com/evalrun/evalrun/report"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// runJudge is the LLM judge of a run: one agent.Judge (one cache, one rate
// limit), graded through one view per target so that each target's report
// counts its own gradings.
type runJudge struct {
	*agent.Judge
	model, limit string
}

// openJudge connects the LLM judge of evalrun.yaml when the suite has judge
// expectations; nil when it has none. Its key comes from the environment
// variable the file names, never from the file; judge.limit paces its
// requests (retries included).
func (a *app) openJudge(cfg *config.File, suite *scenarios.Suite) (*runJudge, error) {
	if suite.JudgeCalls() == 0 || cfg == nil || cfg.Judge == nil {
		return nil, nil // LoadWith already refused judge expectations without a judge
	}
	j := cfg.Judge
	o, lim, err := a.modelClient("judge", j)
	if err != nil {
		return nil, err
	}
	judge, err := agent.NewJudge(agent.JudgeOptions{Options: o, Model: j.Model, Limiter: lim})
	if err != nil {
		return nil, usageErr("%s: judge: %v", j.Pos, agent.Redact(err.Error(), o.APIKey))
	}
	return &runJudge{Judge: judge, model: j.Model, limit: j.Limit}, nil
}

// view returns a judge for one target's run and a function that records
// what it cost in that target's result; a nil judge and a no-op when the
// run has no judge.
func (rj *runJudge) view() (scenarios.Judge, func(*report.Result)) {
	if rj == nil {
		return nil, func(*report.Result) {}
	}
	v := rj.View()
	return v, func(res *report.Result) {
		st := v.Stats()
		if st.Grades == 0 && st.Calls == 0 {
			return
		}
		res.Judge = &report.JudgeInfo{Model: rj.model, Grades: st.Grades, Calls: st.Calls,
			CacheHits: st.CacheHits, Failures: st.Failures, Limit: rj.limit}
	}
}

// judgeErr is the run's error when the judge failed some gradings and
// nothing else failed on its merits (no scenario missed its rate through
// failed conversations, no threshold breached): the run could not grade
// itself, which is not a verdict on the agent. Nil otherwise.
func judgeErr(results ...*report.Result) error {
	var failures int64
	for _, r := range results {
		if r.Judge != nil {
			failures += r.Judge.Failures
		}
		for _, th := range r.Thresholds {
			if !th.Passed {
				return nil
			}
		}
		for i := range r.Scenarios {
			if s := &r.Scenarios[i]; s.Status != report.StatusPassed && s.Failed > 0 {
				return nil
			}
		}
	}
	if failures == 0 {
		return nil
	}
	return unfinishedErr("the judge failed %d gradings: their expectations are undecided and their conversations errors, not verdicts on the agent (the reports say why)", failures)
}

// modelClient returns the client options of a model section (section is
// "judge" or "user_model"): its key from the environment variable the file
// names, evalrun's user agent, and the pacing of its limit (nil when it has
// none).
func (a *app) modelClient(section string, m *config.Judge) (agent.Options, interface {
	Wait(context.Context) error
}, error) {
	o := agent.Options{BaseURL: m.URL, UserAgent: "evalrun/" + version}
	if m.APIKeyEnv != "" {
		o.APIKey = a.secret(m.APIKeyEnv)
		if o.APIKey == "" {
			return o, nil, usageErr("%s: %s.api_key_env: environment variable %s is empty", m.Pos, section, m.APIKeyEnv)
		}
	}
	if m.Limit == "" {
		return o, nil, nil
	}
	lim, err := paceOf(m.Limit)
	if err != nil {
		return o, nil, usageErr("%s: %s.limit: %v", m.LimitPos, section, err)
	}
	return o, lim, nil
}

// paceOf parses a judge.limit or user_model.limit value ("2/s", "100/min")
// into the same windowed limits that pace agent calls, so the model's
// provider never sees one call more than the limit in any of its windows.
func paceOf(s string) (*runner.Limits, error) {
	l, err := runner.ParseRateLimit(s)
	if err != nil {
		return nil, err
	}
	return runner.NewLimits(l)
}
