package runner

import "github.com/evalrun/evalrun/scenarios"

// Conversation-level expectations (a scenario's expect_conversation) are
// checked once the conversation has sent all its turns, against every
// reply; their verdicts go into Conversation.Verdicts and decide its
// outcome like a turn's: a failed one fails it, an undecided one (the
// judge failed) makes it an error unless something failed anyway. A
// conversation that a turn ended early (an error, a failure with on_fail:
// stop) is not checked: what it would say of a cut conversation is not a
// verdict on the agent.

// checkConversation evaluates the scenario's expect_conversation over the
// conversation's turns and settles its outcome from the verdicts.
func (r *run) checkConversation(cv *convo) {
	c := cv.c
	items := c.Scenario.ExpectConversation
	if len(items) == 0 {
		return
	}
	obs := make([]*scenarios.Observation, len(c.Turns))
	for i := range c.Turns {
		obs[i] = turnObservation(&c.Turns[i])
	}
	c.Verdicts = scenarios.EvaluateConversation(r.callBase, items, obs, goalVerdict(c), r.opts.Judge)
	if o, v := verdictsOutcome(c.Verdicts); o != Passed {
		settle(c, o, "conversation: "+verdictWhy(v))
	}
}

// turnObservation is what the conversation's expectations see of one
// turn: what was sent, the reply, its tools, handoff, tokens and the
// agent's own answer time.
func turnObservation(t *TurnResult) *scenarios.Observation {
	return &scenarios.Observation{User: t.Sent, Text: t.Reply, Handoff: t.Handoff, TokensUsed: t.Tokens, Latency: t.Service, Raw: t.Raw, Tools: toolsOf(t.Tools)}
}
