package main

import (
	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/scenarios"
)

// simulatedUser is the simulated user of the scenarios with simulate:: the
// rule-based agentsim.SimUser (deterministic per --seed, no calls). A
// model-backed user (user_model in evalrun.yaml) is not wired yet.
func simulatedUser() scenarios.UserSimulator { return agentsim.NewSimUser() }
