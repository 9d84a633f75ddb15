package main

import (
	"fmt"

	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/scenarios"
)

// simulatedUser is the simulated user of the scenarios with simulate:: the
// rule-based agentsim.SimUser (deterministic per --seed, no calls). A
// model-backed user (user_model in evalrun.yaml) is not wired yet.
func simulatedUser() scenarios.UserSimulator { return agentsim.NewSimUser() }

// simulatedPlan is what validate says of simulated conversations: each
// is counted at its max_turns, and gives back what it does not use.
func simulatedPlan(suite *scenarios.Suite) string {
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
	return fmt.Sprintf("; %s counted at max_turns (%s in all), the calls each does not use released when it ends",
		plural(convs, "simulated conversation"), plural(most, "turn"))
}
