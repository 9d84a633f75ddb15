package runner

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/examples"
	"github.com/evalrun/evalrun/scenarios"
)

// simScenario is a simulated scenario; extra goes into its simulate:.
func simScenario(t *testing.T, head, extra string, maxTurns int, expect string) *scenarios.Scenario {
	t.Helper()
	src := "name: sim\n" + head + `simulate:
  persona: "I'm Ana Lima, head of support at Acme. You can reach me at ana@example.com."
  goal: 'I want a quote for "Enterprise" and a call back "within one business day".'
  max_turns: ` + strconv.Itoa(maxTurns) + "\n" + extra + expect
	scs, err := scenarios.Parse("sim.yaml", []byte(src))
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	return scs[0]
}

// TestRunSimulated runs simulated conversations against the simulated
// agent (examples/agents/baseline.agent.yaml) with the rule-based user:
// who wrote each message, how it ended, goal_met, and what the budget
// reserved and spent.
func TestRunSimulated(t *testing.T) {
	ag, err := agentsim.ParseAgent("baseline.agent.yaml", examples.BaselineAgent)
	if err != nil {
		t.Fatal(err)
	}
	ag.Latency = agentsim.LatencyModel{}
	sim, err := agentsim.Start(ag, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	goalMet := "expect_conversation:\n  - goal_met: true\n"
	tests := []struct {
		name        string
		sc          *scenarios.Scenario
		budget      int64 // 0: none
		want        Outcome
		wantReason  string
		wantEnded   string
		wantBy      []string
		wantCalls   int64 // attempts the agent saw
		wantUserAsk int
	}{
		{name: "goal met at turn 3", sc: simScenario(t, "", "", 5, goalMet), want: Passed, wantEnded: EndGoalMet,
			wantBy: []string{BySimulatedUser, BySimulatedUser, BySimulatedUser}, wantCalls: 4, wantUserAsk: 4},
		{name: "scripted first turn and an opening", sc: simScenario(t, "turns: [{user: Hello}]\n", "  opening: Do you have SSO on Enterprise?\n", 6, goalMet),
			want: Passed, wantEnded: EndGoalMet, wantBy: []string{ByScript, ByOpening, BySimulatedUser, BySimulatedUser}, wantCalls: 5, wantUserAsk: 3},
		{name: "max_turns reached", sc: simScenario(t, "", "", 2, goalMet), want: Failed,
			wantReason: `conversation: goal_met true: the simulated user did not meet its goal: after 2 turns the agent never mentioned "within one business day"`,
			wantEnded:  EndMaxTurns, wantBy: []string{BySimulatedUser, BySimulatedUser}, wantCalls: 3, wantUserAsk: 3},
		{name: "the budget reserves 1 + max_turns", sc: simScenario(t, "", "", 5, goalMet), budget: 5, want: NotRun, wantCalls: 0},
		{name: "and releases what was not used", sc: simScenario(t, "", "", 5, goalMet), budget: 6, want: Passed, wantEnded: EndGoalMet,
			wantBy: []string{BySimulatedUser, BySimulatedUser, BySimulatedUser}, wantCalls: 4, wantUserAsk: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			suite := suiteOf(tt.sc)
			if e := EstimateCost(suite, 1, 0); e.Calls != 1+int64(tt.sc.Simulate.MaxTurns) {
				t.Fatalf("estimate %d calls, want 1 + max_turns", e.Calls)
			}
			conn, err := agent.NewOptimly(agent.Options{BaseURL: sim.URL, APIKey: ag.APIKeys[0]})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			rec := &recorder{}
			opts := Options{Conn: conn, Observer: rec, User: agentsim.NewSimUser(), Seed: 7}
			var b *Budget
			if tt.budget > 0 {
				b = NewBudget(tt.budget, 1, 0)
				opts.Budget = b
			}
			sum, err := Run(context.Background(), suite, opts)
			if err != nil {
				t.Fatal(err)
			}
			c := rec.checkAccounted(t, 1)[1]
			if c.Outcome != tt.want || c.Reason != tt.wantReason && tt.wantReason != "" {
				t.Fatalf("outcome %s %q, want %s %q", c.Outcome, c.Reason, tt.want, tt.wantReason)
			}
			if sum.Attempts != tt.wantCalls {
				t.Errorf("%d attempts, want %d", sum.Attempts, tt.wantCalls)
			}
			if b != nil && b.Spent() != tt.wantCalls {
				t.Errorf("budget spent %d, want %d", b.Spent(), tt.wantCalls)
			}
			if tt.want == NotRun {
				return
			}
			var by []string
			for _, tr := range c.Turns {
				by = append(by, tr.By)
			}
			if strings.Join(by, ",") != strings.Join(tt.wantBy, ",") {
				t.Errorf("by %v, want %v; turns %+v", by, tt.wantBy, c.Turns)
			}
			if c.Simulation == nil || c.Simulation.Ended != tt.wantEnded || c.Simulation.UserCalls != tt.wantUserAsk || c.Simulation.GoalMet != (tt.wantEnded == EndGoalMet) {
				t.Errorf("simulation %+v, want ended %s after %d answers", c.Simulation, tt.wantEnded, tt.wantUserAsk)
			}
		})
	}
}

// failingUser is a simulated user that fails.
type failingUser struct{}

func (failingUser) Next(context.Context, scenarios.SimRequest) (scenarios.SimStep, error) {
	return scenarios.SimStep{}, context.DeadlineExceeded
}

func TestRunSimulatedUserFails(t *testing.T) {
	sc := simScenario(t, "", "", 3, "")
	rec := &recorder{}
	if _, err := Run(context.Background(), suiteOf(sc), Options{Conn: &fakeConn{}, Observer: rec, User: failingUser{}}); err != nil {
		t.Fatal(err)
	}
	c := rec.checkAccounted(t, 1)[1]
	if c.Outcome != Errored || c.Reason != "turn 1: simulated user: context deadline exceeded" || len(c.Turns) != 0 || c.Simulation.Ended != EndStopped {
		t.Fatalf("conversation %+v %+v", c, c.Simulation)
	}
	if _, err := Run(context.Background(), suiteOf(sc), Options{Conn: &fakeConn{}}); err == nil || !strings.Contains(err.Error(), "Options.User is nil") {
		t.Fatalf("Run without a user: %v", err)
	}
}

// TestSimulatedReleasesUnusedTurns runs two simulated conversations one
// after the other on a budget of 10: each reserves 1 + max_turns = 6 and
// uses 4, so the second fits only because the first gave back its 2
// unused turns.
func TestSimulatedReleasesUnusedTurns(t *testing.T) {
	ag, err := agentsim.ParseAgent("baseline.agent.yaml", examples.BaselineAgent)
	if err != nil {
		t.Fatal(err)
	}
	ag.Latency = agentsim.LatencyModel{}
	sim, err := agentsim.Start(ag, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	conn, err := agent.NewOptimly(agent.Options{BaseURL: sim.URL, APIKey: ag.APIKeys[0]})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sc := simScenario(t, "repeat: 2\n", "", 5, "")
	b := NewBudget(10, 1, 0)
	rec := &recorder{}
	if _, err := Run(context.Background(), suiteOf(sc), Options{Conn: conn, Observer: rec, User: agentsim.NewSimUser(), Budget: b, Concurrency: 1}); err != nil {
		t.Fatal(err)
	}
	convs := rec.checkAccounted(t, 2)
	for id, c := range convs {
		if c.Outcome != Passed || len(c.Turns) != 3 {
			t.Errorf("conversation %d: %s %q, %d turns", id, c.Outcome, c.Reason, len(c.Turns))
		}
	}
	if b.Spent() != 8 || b.Available() != 2 {
		t.Errorf("spent %d, available %d; want 8 and 2 (nothing left reserved)", b.Spent(), b.Available())
	}
}
