package main

import (
	"fmt"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/config"
	"github.com/evalrun/evalrun/report"
	"github.com/evalrun/evalrun/scenarios"
)

// openUser returns the simulated user of one target's run of the suite's
// simulate: scenarios, and a function that records its work in that
// target's result: the model of evalrun.yaml's user_model (its key from
// the environment variable it names, its own limit, retries and counters,
// outside the agent's quota), else the rule-based agentsim.SimUser
// (deterministic per --seed, no calls). Nil for a suite without simulated
// scenarios.
func (a *app) openUser(cfg *config.File, suite *scenarios.Suite) (scenarios.UserSimulator, func(*report.Result), error) {
	none := func(*report.Result) {}
	simulated := false
	for _, sc := range suite.Scenarios {
		simulated = simulated || sc.Simulated()
	}
	if !simulated {
		return nil, none, nil
	}
	if cfg == nil || cfg.UserModel == nil {
		return agentsim.NewSimUser(), func(res *report.Result) {
			res.UserModel = &report.UserModelInfo{Model: "rule-based (agentsim)"}
		}, nil
	}
	u := cfg.UserModel
	o, lim, err := a.modelClient("user_model", u)
	if err != nil {
		return nil, none, err
	}
	m, err := agent.NewUserModel(agent.UserModelOptions{Options: o, Model: u.Model, Limiter: lim})
	if err != nil {
		return nil, none, usageErr("%s: user_model: %v", u.Pos, agent.Redact(err.Error(), o.APIKey))
	}
	return m, func(res *report.Result) {
		st := m.Stats()
		res.UserModel = &report.UserModelInfo{Model: u.Model, Turns: st.Turns, Calls: st.Calls, Failures: st.Failures, Limit: u.Limit}
	}, nil
}

// simulatedPlan is what validate says of simulated conversations: each
// is counted at its max_turns, gives back what it does not use, and may
// send as few as its scripted turns and opening; fewest is the agent
// calls of the suite when every one does.
func simulatedPlan(suite *scenarios.Suite, fewest int64) string {
	convs, most := 0, 0
	for _, sc := range suite.Scenarios {
		if s := sc.Simulate; s != nil {
			convs += sc.Repeat
			most += sc.Repeat * s.MaxTurns
		}
	}
	if convs == 0 {
		return ""
	}
	return fmt.Sprintf("; %s counted at max_turns (%s in all), the calls each does not use released when it ends (%s if every simulated user ends at once)",
		plural(convs, "simulated conversation"), plural(most, "turn"), plural64(fewest, "agent call"))
}

// simulatedDryRun is the dry run's line on simulated conversations: the
// calls above count each at max_turns; the fewest it can send is its
// scripted turns and its opening (its user may end it before writing).
func simulatedDryRun(suite *scenarios.Suite) string {
	convs, most, least := 0, 0, 0
	for _, sc := range suite.Scenarios {
		if s := sc.Simulate; s != nil {
			convs += sc.Repeat
			most += sc.Repeat * s.MaxTurns
			least += sc.Repeat * len(sc.Turns)
			if s.Opening != nil {
				least += sc.Repeat
			}
		}
	}
	if convs == 0 {
		return ""
	}
	return fmt.Sprintf("%s counted at max_turns in the worst case (%s); they send from %d to %d turns as the agent's replies lead their users, and the calls they do not use are released",
		plural(convs, "conversation"), plural(most, "turn"), least, most)
}
