package report

import (
	"time"

	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// gconv is one synthetic conversation for the gate, compare, merge and
// regrade tests: its turns take the given latencies; failAt is the turn
// whose expectation fails (-1 for none).
type gconv struct {
	id, iter int
	scen     *scenarios.Scenario
	outcome  runner.Outcome
	lat      []time.Duration
	failAt   int
	replies  []string
}

var gt0 = time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC)

func gscen(name string, tags ...string) *scenarios.Scenario {
	return &scenarios.Scenario{Name: name, File: name + ".yaml", Tags: tags, MinPassRate: 1, Repeat: 1}
}

// gresult builds a result from synthetic conversations through the
// Aggregator, as a run would.
func gresult(meta Meta, convs []gconv) *Result {
	if meta.Started.IsZero() {
		meta.Started = gt0
	}
	a := NewAggregator(meta)
	for _, c := range convs {
		start := gt0.Add(time.Duration(c.id) * time.Second)
		a.CallDone(&runner.Call{Kind: runner.CallNewChat, Scenario: c.scen.Name, Conversation: c.id, Turn: -1,
			Intended: start, Latency: 20 * time.Millisecond, Service: 20 * time.Millisecond, Attempts: 1, Status: 200})
		var turns []runner.TurnResult
		for i, l := range c.lat {
			a.CallDone(&runner.Call{Kind: runner.CallTurn, Scenario: c.scen.Name, Conversation: c.id, Turn: i,
				Intended: start, Latency: l, Service: l, Attempts: 1, Status: 200})
			reply := "Our plans start at $29."
			if i < len(c.replies) {
				reply = c.replies[i]
			}
			v := scenarios.Verdict{Expectation: `icontains "plan"`, Passed: true}
			out := runner.Passed
			if i == c.failAt {
				v = scenarios.Verdict{Expectation: `icontains "plan"`, Reason: "reply does not contain it"}
				out = runner.Failed
			}
			turns = append(turns, runner.TurnResult{Index: i, Sent: "hi", Reply: reply, Latency: l, Service: l,
				Attempts: 1, Outcome: out, Verdicts: []scenarios.Verdict{v}})
		}
		a.ConversationDone(&runner.Conversation{ID: c.id, Scenario: c.scen, Iteration: c.iter, Outcome: c.outcome,
			Start: start, End: start.Add(time.Second), Turns: turns})
	}
	return a.Result(Finish{Ended: gt0.Add(time.Minute)})
}

// uniform returns n conversations of sc, ids from first, each with turns
// turns of latency base + i×step; the ones in fail fail at their last turn.
func uniform(sc *scenarios.Scenario, first, n, turns int, base, step time.Duration, fail map[int]bool) []gconv {
	var out []gconv
	for i := 0; i < n; i++ {
		c := gconv{id: first + i, iter: i, scen: sc, outcome: runner.Passed, failAt: -1}
		for k := 0; k < turns; k++ {
			c.lat = append(c.lat, base+time.Duration(i)*step+time.Duration(k)*time.Millisecond)
		}
		if fail[i] {
			c.outcome, c.failAt = runner.Failed, turns-1
		}
		out = append(out, c)
	}
	return out
}
