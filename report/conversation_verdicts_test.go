package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// convVerdictResult is a run of one scenario whose two conversations
// passed every turn; the second failed a check of its expect_conversation.
func convVerdictResult() *Result {
	a := NewAggregator(Meta{RunID: "cv", Started: t0, Target: Target{Name: "sim", Kind: "optimly", URL: "http://127.0.0.1/"}})
	s := scen("lead", 2, 1)
	turns := func(reply string) []runner.TurnResult {
		return []runner.TurnResult{turn(0, 100, runner.Passed, "hi", "Hello!"), turn(1, 120, runner.Passed, "my email is a@b.c", reply)}
	}
	tool := scenarios.Verdict{Expectation: "tool lead_capture at any turn", Name: "lead saved", Passed: true}
	for i, c := range []conv{
		{id: 1, scen: s, iter: 0, outcome: runner.Passed, turns: turns("Saved.")},
		{id: 2, scen: s, iter: 1, outcome: runner.Failed, reason: "conversation: lead saved: tool lead_capture at any turn: none of the 2 replies passed", turns: turns("Noted.")},
	} {
		start := t0.Add(time.Duration(c.id) * time.Second)
		for _, t := range c.turns {
			a.CallDone(&runner.Call{Kind: runner.CallTurn, Scenario: s.Name, Conversation: c.id, Turn: t.Index, Intended: start, Latency: t.Latency, Service: t.Latency, Attempts: 1, Status: 200})
		}
		v := tool
		if i == 1 {
			v.Passed, v.Reason = false, "none of the 2 replies passed; the last: no tool lead_capture executed or called"
		}
		for k := range c.turns {
			c.turns[k].By = runner.BySimulatedUser
		}
		sim := &runner.Simulation{Ended: runner.EndGoalMet, GoalMet: true, Reason: "the agent covered \"Enterprise\"", UserCalls: 3}
		if i == 1 {
			sim = &runner.Simulation{Ended: runner.EndMaxTurns, Reason: "after 2 turns the agent never mentioned \"call\"", UserCalls: 3}
		}
		a.ConversationDone(&runner.Conversation{ID: c.id, Scenario: s, Iteration: c.iter, Outcome: c.outcome, Reason: c.reason,
			Start: start, End: start.Add(time.Second), Turns: c.turns, Simulation: sim,
			Verdicts: []scenarios.Verdict{v, {Expectation: "turns at most 4", Passed: true}}})
	}
	return a.Result(Finish{Ended: t0.Add(3 * time.Second)})
}

// TestConversationVerdictsInWriters checks that the verdicts of
// expect_conversation reach the result file (and back), the first
// failure, and every writer.
func TestConversationVerdictsInWriters(t *testing.T) {
	r := convVerdictResult()
	s := r.Scenario("lead")
	if s == nil || s.Failed != 1 || s.Passed != 1 {
		t.Fatalf("scenario %+v", s)
	}
	f := s.FirstFailure
	if f == nil || f.Turn != WholeConversation || f.Expectation != "lead saved: tool lead_capture at any turn" || !strings.HasPrefix(f.Reason, "none of the 2 replies passed") {
		t.Fatalf("first failure %+v", f)
	}
	var js bytes.Buffer
	if err := (JSONWriter{}).Write(&js, r); err != nil {
		t.Fatal(err)
	}
	back, err := ReadResult(&js)
	if err != nil {
		t.Fatal(err)
	}
	c2 := back.Scenario("lead").Conversations[1]
	if vs := c2.Verdicts; len(vs) != 2 || vs[0].Passed || vs[0].Name != "lead saved" || !vs[1].Passed {
		t.Fatalf("verdicts read back: %+v", vs)
	}
	if s := c2.Simulation; s == nil || s.Ended != runner.EndMaxTurns || s.UserCalls != 3 || c2.Turns[1].By != runner.BySimulatedUser {
		t.Fatalf("simulation read back: %+v, turns %+v", s, c2.Turns)
	}
	for _, tt := range []struct {
		name string
		w    Writer
		want []string
	}{
		{"console", ConsoleWriter{Width: 200}, []string{"conversation 2 (iteration 2), the whole conversation: failed", "expect  lead saved: tool lead_capture at any turn"}},
		{"markdown", MarkdownWriter{}, []string{"| lead | all | `lead saved: tool lead_capture at any turn` | 1 | lead\\[2\\] | `none of the 2 replies passed"}},
		{"html", HTMLWriter{}, []string{"the whole conversation", "<code>lead saved: tool lead_capture at any turn</code>", "(first failure)",
			`<span class="who">simulated user</span>my email is a@b.c`, "simulated user: max_turns reached, goal not met (after 2 turns the agent never mentioned &#34;call&#34;)"}},
		{"junit", JUnitWriter{Hostname: "h"}, []string{"conversation: lead saved: tool lead_capture at any turn: none of the 2 replies passed",
			"simulated user &gt; my email is a@b.c", "simulated user: max_turns reached, goal not met"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.w.Write(&buf, back); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, buf.String())
				}
			}
		})
	}
}

// simulatedResult is convVerdictResult with a user model's counts, for
// the writers' goldens.
func simulatedResult() *Result {
	r := convVerdictResult()
	r.UserModel = &UserModelInfo{Model: "gpt-test", Turns: 6, Calls: 7, Failures: 0, Limit: "2/s"}
	return r
}
