package runner

import "github.com/evalrun/evalrun/scenarios"

// planned is one conversation of a run, before it runs.
type planned struct {
	ID        int // 1-based, run-wide
	Scenario  *scenarios.Scenario
	Iteration int // 0-based repeat index
}

// calls returns the worst-case number of first attempts of the conversation
// when opening a chat makes newChat calls (see agent.NewChatCost): its new
// chat, every turn, and each turn's extra calls (a history read).
func (p planned) calls(newChat int) int {
	n := newChat + len(p.Scenario.Turns)
	for _, t := range p.Scenario.Turns {
		n += t.ExtraCalls()
	}
	return n
}

// repeats returns how many conversations a scenario asks for (at least one).
func repeats(sc *scenarios.Scenario) int { return max(sc.Repeat, 1) }

// plan returns the conversations of a suite in run order, numbered from 1.
//
// The order is iteration-major: the first repeat of every scenario (in suite
// order), then the second repeat of those that have one, and so on. A run cut
// short (--partial, an interrupt, a quota stop) thus covers as many scenarios
// as it can instead of exhausting the first scenario's repeats first, and a
// load mix stays a mix from the start.
func plan(suite *scenarios.Suite) []planned {
	if suite == nil {
		return nil
	}
	most := 0
	for _, sc := range suite.Scenarios {
		if sc != nil {
			most = max(most, repeats(sc))
		}
	}
	var out []planned
	for it := 0; it < most; it++ {
		for _, sc := range suite.Scenarios {
			if sc != nil && it < repeats(sc) {
				out = append(out, planned{ID: len(out) + 1, Scenario: sc, Iteration: it})
			}
		}
	}
	return out
}
