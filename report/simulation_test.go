package report

import (
	"strings"
	"testing"

	"github.com/evalrun/evalrun/runner"
)

func TestSimulationStats(t *testing.T) {
	var s SimulationStats
	s.add(&runner.Simulation{Ended: runner.EndGoalMet, GoalMet: true}, 3)
	s.add(&runner.Simulation{Ended: runner.EndGoalMet, GoalMet: true}, 3)
	s.add(&runner.Simulation{Ended: runner.EndMaxTurns}, 5)
	m := (*SimulationStats)(nil).merge(&s).merge(&s)
	if m.Conversations != 6 || m.GoalMet != 4 || m.Turns[3] != 4 || m.Turns[5] != 2 || m.Ended[runner.EndMaxTurns] != 2 {
		t.Fatalf("merged %+v", m)
	}
	r := &Result{Scenarios: []ScenarioResult{{Name: "sim", Simulation: m}}, UserModel: &UserModelInfo{Model: "m", Turns: 9, Calls: 10, Failures: 1, Limit: "2/s"}}
	got := strings.Join(simulationLines(r), "\n")
	want := "sim: goal met 4 of 6 (66.7%) · turns used 3×4 5×2 · ended goal_met 4, max_turns 2\nsimulated user m: 9 answers, 10 calls, 1 failure (limit 2/s)"
	if got != want {
		t.Errorf("lines:\n%s\nwant:\n%s", got, want)
	}
}

func TestGoalMetDiff(t *testing.T) {
	st := func(met, runs int) *SimulationStats { return &SimulationStats{Conversations: runs, GoalMet: met} }
	for _, tt := range []struct {
		b, n       *SimulationStats
		nilDiff    bool
		regression bool
	}{
		{b: st(20, 20), n: st(5, 20), regression: true},
		{b: st(10, 10), n: st(9, 10)},
		{b: st(5, 20), n: st(20, 20)},
		{b: nil, n: st(1, 1), nilDiff: true},
		{b: st(0, 0), n: st(1, 1), nilDiff: true},
	} {
		d := goalMetDiff(tt.b, tt.n, 0.05)
		if (d == nil) != tt.nilDiff || (d != nil && d.Regression != tt.regression) {
			t.Errorf("%+v vs %+v: %+v", tt.b, tt.n, d)
		}
	}
	base, next := convVerdictResult(), convVerdictResult()
	base.Scenarios[0].Simulation = st(30, 30)
	next.Scenarios[0].Simulation = st(10, 30)
	c, err := Compare(base, next, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(c.Regressions, "\n"), "scenario lead goal-met rate fell from 30/30 to 10/30") {
		t.Errorf("regressions %q", c.Regressions)
	}
	var text, md strings.Builder
	if err := c.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "Goal met (simulated conversations)\n  ✗ lead: 30/30 → 10/30 (-66.7pp, p=") ||
		!strings.Contains(md.String(), "- ❌ lead: 30/30 → 10/30 (-66.7pp, p=") {
		t.Errorf("text:\n%s\nmarkdown:\n%s", text.String(), md.String())
	}
}
