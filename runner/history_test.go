package runner

import (
	"context"
	"testing"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/scenarios"
)

// TestHistoryExpectation replays a conversation whose second turn checks
// the server kept both user messages, against the simulated agent; the
// history read is an agent call counted in the estimate and the budget.
func TestHistoryExpectation(t *testing.T) {
	src := `name: kept
on_fail: continue
turns:
  - user: hello
  - user: What does the Growth plan cost?
    expect: [{history: {turns: 2}}, {icontains: growth}]
  - user: and Scale?
    expect: [{history: {turns: 9}}]
`
	scs, err := scenarios.Parse("kept.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	suite := &scenarios.Suite{Scenarios: scs}
	if e := EstimateCost(suite, 1, 0); e.Calls != 1+3+2 {
		t.Fatalf("estimate counts %d calls, want 6 (new chat, 3 turns, 2 history reads)", e.Calls)
	}
	a := &agentsim.Agent{Name: "h", APIKeys: []string{"k"}, Fallback: "ok", Knowledge: []agentsim.Entry{{Keywords: []string{"growth"}, Answer: "Growth is $99"}}}
	sim, err := agentsim.Start(a, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	conn, err := agent.NewOptimly(agent.Options{BaseURL: sim.URL, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rec := &recorder{}
	sum, err := Run(context.Background(), suite, Options{Conn: conn, Observer: rec, Budget: NewBudget(6, 1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Attempts != 6 || sim.Server.Stats().Messages != 2 {
		t.Fatalf("attempts %d, history reads %d", sum.Attempts, sim.Server.Stats().Messages)
	}
	c := rec.byID(t)[1]
	if len(c.Turns) != 3 || c.Turns[1].Outcome != Passed || c.Turns[2].Outcome != Failed {
		t.Fatalf("turns %+v", c.Turns)
	}
	if c.Turns[1].RequestID == "" || len(c.Turns[1].TraceID) != 32 {
		t.Errorf("ids not recorded: %+v", c.Turns[1])
	}
}
