package agent_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/scenarios"
)

// TestUserModelAgainstSimulatedAgent plays a simulated user with the
// simulated agent's OpenAI-compatible endpoint as the "model": its
// knowledge answers the user model's instructions (the last message) with
// a next message or a verdict, as JSON after an opener, or as plain text.
func TestUserModelAgainstSimulatedAgent(t *testing.T) {
	url := startSim(t, func(a *agentsim.Agent) {
		a.Knowledge = []agentsim.Entry{
			{Topic: "next", Keywords: []string{"next"}, Answer: `{"message": "You can reach me at ana@example.com"}`},
			{Topic: "verdict", Keywords: []string{"verdict"}, Answer: `Here it is: {"done": true, "goal_met": true, "reason": "the agent took my email"}`},
		}
		a.Personality.Openers = []string{"Sure! "}
	})
	u, err := agent.NewUserModel(agent.UserModelOptions{Options: agent.Options{BaseURL: url, APIKey: simKey}, Model: "sim"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q := scenarios.SimRequest{Persona: "Ana", Goal: "leave my email", MaxTurns: 3,
		Transcript: []scenarios.SimTurn{{User: "hi", Agent: "Hello! How can I help?", Tools: []scenarios.Tool{{Name: "crm", Status: "executed"}}}}}
	step, err := u.Next(ctx, q)
	if err != nil || step != (scenarios.SimStep{Message: "You can reach me at ana@example.com"}) {
		t.Fatalf("next: %+v, %v", step, err)
	}
	q.Last = true
	step, err = u.Next(ctx, q)
	if err != nil || step != (scenarios.SimStep{Done: true, GoalMet: true, Reason: "the agent took my email"}) {
		t.Fatalf("verdict: %+v, %v", step, err)
	}
	if s := u.Stats(); s != (agent.UserModelStats{Turns: 2, Calls: 2}) {
		t.Errorf("stats %+v", s)
	}
	// A wrong key: an auth error, counted as a failure, the key not in it.
	bad, _ := agent.NewUserModel(agent.UserModelOptions{Options: agent.Options{BaseURL: url, APIKey: "wrong-key-123456"}, Model: "sim"})
	_, err = bad.Next(ctx, q)
	var ae *agent.Error
	if !errors.As(err, &ae) || ae.Kind != agent.KindClient || strings.Contains(err.Error(), "wrong-key-123456") || bad.Stats().Failures != 1 {
		t.Errorf("wrong key: %v (%+v)", err, bad.Stats())
	}
}
