package runner

import (
	"errors"
	"fmt"
	"strings"

	"github.com/evalrun/evalrun/scenarios"
)

// Simulated conversations (a scenario's simulate:): after the scripted
// turns, the simulated user (Options.User) writes each next message from
// the persona, the goal and the transcript, until it says it is done (goal
// met or given up) or max_turns turns were sent; then it is asked for its
// verdict on the goal (SimRequest.Last). Its calls are not agent calls.
// The budget reserves every turn up to max_turns (turnCalls) and releases
// what the conversation did not use when it ends.

// Who wrote a turn's message (TurnResult.By) in a simulated conversation.
const (
	ByScript        = "script"         // the scenario's turns
	ByOpening       = "opening"        // simulate.opening
	BySimulatedUser = "simulated_user" // the simulated user
)

// How a simulated conversation ended (Simulation.Ended).
const (
	EndGoalMet  = "goal_met"  // the simulated user judged its goal met
	EndGaveUp   = "gave_up"   // the simulated user gave up before max_turns
	EndMaxTurns = "max_turns" // max_turns turns were sent without meeting the goal
	EndStopped  = "stopped"   // a turn ended it (an error, a failure, a stop)
)

// Simulation is how a simulated conversation ended.
type Simulation struct {
	// Ended is EndGoalMet, EndGaveUp, EndMaxTurns or EndStopped.
	Ended string `json:"ended"`
	// GoalMet is the simulated user's verdict on its goal; Reason says why
	// in one line (from the user, or what stopped the conversation).
	GoalMet bool   `json:"goal_met"`
	Reason  string `json:"reason,omitempty"`
	// UserCalls counts the simulated user's answers the conversation asked
	// for (a model-backed user makes one request for each, retries aside).
	UserCalls int `json:"user_calls"`
}

// simState is a simulated conversation's state between turns.
type simState struct {
	persona, goal string // rendered once
	rendered      bool
	ready         bool // message holds the next turn's text
	message, by   string
	done          bool // the user ended the conversation
}

// turnAt returns the turn i of a conversation of sc: a scripted one, or
// the simulated user's turn after them.
func turnAt(sc *scenarios.Scenario, i int) *scenarios.Turn {
	if i < len(sc.Turns) {
		return sc.Turns[i]
	}
	return sc.Simulate.Turn
}

// checkSimulated refuses a suite with simulated scenarios and no user.
func checkSimulated(suite *scenarios.Suite, user scenarios.UserSimulator) error {
	if user != nil {
		return nil
	}
	for _, sc := range suite.Scenarios {
		if sc != nil && sc.Simulated() {
			return fmt.Errorf("runner: scenario %q has simulate: but Options.User is nil; a simulated user is required", sc.Name)
		}
	}
	return nil
}

// transcript is the conversation so far as the simulated user sees it.
func transcript(c *Conversation) []scenarios.SimTurn {
	out := make([]scenarios.SimTurn, len(c.Turns))
	for i := range c.Turns {
		t := &c.Turns[i]
		out[i] = scenarios.SimTurn{User: t.Sent, Agent: t.Reply, Handoff: t.Handoff, Tools: toolsOf(t.Tools)}
	}
	return out
}

// ask asks the simulated user for its next step.
func (r *run) ask(cv *convo, last bool) (scenarios.SimStep, error) {
	c := cv.c
	s := c.Scenario.Simulate
	if !cv.sim.rendered {
		var err error
		if cv.sim.persona, err = s.Persona.Render(cv.env); err == nil {
			cv.sim.goal, err = s.Goal.Render(cv.env)
		}
		if err != nil {
			return scenarios.SimStep{}, fmt.Errorf("render persona or goal: %w", err)
		}
		cv.sim.rendered = true
	}
	c.Simulation.UserCalls++
	step, err := r.opts.User.Next(r.callBase, scenarios.SimRequest{
		Persona: cv.sim.persona, Goal: cv.sim.goal, Transcript: transcript(c),
		MaxTurns: s.MaxTurns, Last: last,
		Seed: uint64(r.opts.Seed)*0x9E3779B97F4A7C15 + uint64(c.ID),
	})
	if err == nil && !step.Done && !last && strings.TrimSpace(step.Message) == "" {
		err = errors.New("it wrote an empty message without ending the conversation")
	}
	return step, err
}

// simulatedMessage prepares the message of simulated turn i (the opening,
// or the user's), or notes that the user ended the conversation. It
// returns over when the conversation is over because the user failed.
func (r *run) simulatedMessage(cv *convo, i int) (over bool) {
	c := cv.c
	s := c.Scenario.Simulate
	if i == len(c.Scenario.Turns) && s.Opening != nil {
		text, err := s.Opening.Render(cv.env)
		if err != nil {
			settle(c, Errored, fmt.Sprintf("turn %d: render opening: %v", i+1, err))
			return true
		}
		cv.sim.message, cv.sim.by, cv.sim.ready = text, ByOpening, true
		return false
	}
	step, err := r.ask(cv, false)
	if err != nil {
		c.Simulation.Reason = "the simulated user failed"
		settle(c, Errored, fmt.Sprintf("turn %d: simulated user: %v", i+1, err))
		return true
	}
	if step.Done {
		cv.sim.done = true
		c.Simulation.GoalMet, c.Simulation.Reason = step.GoalMet, step.Reason
		c.Simulation.Ended = EndGaveUp
		if step.GoalMet {
			c.Simulation.Ended = EndGoalMet
		}
		return false
	}
	cv.sim.message, cv.sim.by, cv.sim.ready = step.Message, BySimulatedUser, true
	return false
}

// endSimulation settles how a simulated conversation that ran its turns
// ended: when the user did not end it, it had max_turns turns and the
// user is asked for its verdict on the goal. It returns over when the
// conversation is over because the user failed.
func (r *run) endSimulation(cv *convo) (over bool) {
	c := cv.c
	if c.Scenario.Simulate == nil || cv.sim.done {
		return false
	}
	step, err := r.ask(cv, true)
	if err != nil {
		c.Simulation.Ended, c.Simulation.Reason = EndStopped, "the simulated user failed"
		settle(c, Errored, fmt.Sprintf("simulated user: verdict after turn %d: %v", len(c.Turns), err))
		return true
	}
	c.Simulation.Ended, c.Simulation.GoalMet, c.Simulation.Reason = EndMaxTurns, step.GoalMet, step.Reason
	if step.GoalMet {
		c.Simulation.Ended = EndGoalMet
	}
	return false
}

// goalVerdict is the simulated user's verdict for goal_met; nil when the
// conversation has no simulated user.
func goalVerdict(c *Conversation) *scenarios.GoalVerdict {
	if c.Simulation == nil || c.Simulation.Ended == EndStopped {
		return nil
	}
	return &scenarios.GoalVerdict{Met: c.Simulation.GoalMet, Reason: c.Simulation.Reason}
}
