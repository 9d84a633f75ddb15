package scenarios

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestDocSimulatedExample checks that the simulated example of
// docs/scenarios.md is examples/simulated-lead.yaml (which the demo suite
// runs, see cmd/evalrun's tests) without its comments, and loads.
func TestDocSimulatedExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/scenarios.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(name: simulated-lead\n.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/scenarios.md has no simulated-lead example")
	}
	file, err := os.ReadFile("../examples/simulated-lead.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.SplitAfter(string(file), "\n") {
		if !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if got := strings.Join(lines, ""); got != string(m[1]) {
		t.Errorf("the doc's example differs from examples/simulated-lead.yaml:\n%s\n---\n%s", m[1], got)
	}
	scs, err := Parse("simulated-lead.yaml", m[1])
	if err != nil {
		t.Fatal(err)
	}
	sc := scs[0]
	if !sc.Simulated() || sc.UserTurns() != 5 || len(sc.ExpectConversation) != 4 || sc.ExpectConversation[0].Kind != "goal_met" {
		t.Errorf("scenario %+v", sc)
	}
	suite := &Suite{Scenarios: scs}
	if suite.Turns() != 5 {
		t.Errorf("suite turns %d, want max_turns 5", suite.Turns())
	}
}

// TestSimulateParse checks the decoded simulate: of a scenario with
// scripted first turns and defaults.
func TestSimulateParse(t *testing.T) {
	src := `name: s
vars: {who: Ana}
turns:
  - user: hello
    capture: {ticket: 'ticket (\d+)'}
simulate:
  persona: "I am {{ who }}, ticket {{ ticket }}."
  goal: 'Get "help".'
  max_turns: 3
  opening: Still there?
  think: 1s
expect_conversation:
  - goal_met: false
`
	scs, err := Parse("s.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s := scs[0].Simulate
	env := &Env{Vars: scs[0].Vars, Captures: map[string]string{"ticket": "42"}}
	p, _ := s.Persona.Render(env)
	o, _ := s.Opening.Render(env)
	if p != "I am Ana, ticket 42." || o != "Still there?" || s.MaxTurns != 3 || s.Turn.Think.Seconds() != 1 || scs[0].UserTurns() != 3 {
		t.Errorf("simulation %+v, persona %q, opening %q", s, p, o)
	}
	v := EvaluateConversation(context.Background(), scs[0].ExpectConversation, nil, &GoalVerdict{Met: false, Reason: "gave up"}, nil)
	if len(v) != 1 || !v[0].Passed || v[0].Expectation != "goal_met false" {
		t.Errorf("goal_met false on a goal not met: %+v", v)
	}
	v = EvaluateConversation(context.Background(), scs[0].ExpectConversation, nil, nil, nil)
	if len(v) != 1 || v[0].Passed || !strings.Contains(v[0].Reason, "no simulated user judged a goal") {
		t.Errorf("goal_met without a verdict: %+v", v)
	}
}

// TestJudgeCallsOfSimulated counts the judge calls of a simulated
// scenario at max_turns: defaults' judge on every simulated turn, and
// expect_conversation's once per turn.
func TestJudgeCallsOfSimulated(t *testing.T) {
	var root yaml.Node
	if err := yaml.Unmarshal([]byte("expect:\n  - judge: {rubric: polite}\n"), &root); err != nil {
		t.Fatal(err)
	}
	df, err := ParseDefaults("evalrun.yaml", root.Content[0])
	if err != nil {
		t.Fatal(err)
	}
	src := "name: s\nrepeat: 2\nturns: [{user: hi}]\nsimulate: {persona: p, goal: g, max_turns: 4}\nexpect_conversation:\n  - every_turn: {judge: {rubric: kind}}\n"
	scs, err := ParseWith(LoadOptions{JudgeConfigured: true, Defaults: df}, "s.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	// Per conversation: 1 scripted + 3 simulated turns with the default
	// judge, and 4 turns of every_turn: 8; two repeats: 16.
	if n := (&Suite{Scenarios: scs}).JudgeCalls(); n != 16 {
		t.Errorf("JudgeCalls = %d, want 16", n)
	}
}
