package main

import (
	"github.com/evalrun/evalrun/agentsim"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/runner"
)

// TestSimulatedDemoAndFreeze runs the demo suite, whose simulated-lead
// scenario is played by the rule-based user against the simulated agent,
// checks what the result records of it, freezes its conversation into a
// scripted scenario file and runs that file: it passes, as the agent
// answers the same messages the same way.
func TestSimulatedDemoAndFreeze(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "r.json")
	c := &cli{}
	if code := c.run(t, "run", "--quiet", "--seed", "3", "--out", out, repoPath("examples")); code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, c.stdout.String(), c.stderr.String())
	}
	res := readResult(t, out)
	s := res.Scenario("simulated-lead")
	if s == nil || s.Passed != 1 || len(s.Conversations) != 1 {
		t.Fatalf("simulated-lead: %+v", s)
	}
	conv := s.Conversations[0]
	if sim := conv.Simulation; sim == nil || sim.Ended != runner.EndGoalMet || !sim.GoalMet || len(conv.Verdicts) != 4 || len(conv.Turns) != 3 {
		t.Fatalf("conversation %+v, simulation %+v", conv, conv.Simulation)
	}
	for _, tr := range conv.Turns {
		if tr.By != runner.BySimulatedUser {
			t.Errorf("turn %d by %q", tr.Index+1, tr.By)
		}
	}
	// Regrading with the same files changes nothing, simulated turns and
	// conversation verdicts included.
	c = &cli{}
	if code := c.run(t, "regrade", out, "--out", filepath.Join(dir, "rg.json")); code != exitOK || !strings.Contains(c.stdout.String(), "No verdict changed.") {
		t.Fatalf("regrade: exit %d\n%s\n%s", code, c.stdout.String(), c.stderr.String())
	}
	rg := readResult(t, filepath.Join(dir, "rg.json")).Scenario("simulated-lead").Conversations[0]
	if rg.Outcome != runner.Passed || len(rg.Verdicts) != 4 || rg.Simulation == nil || !rg.Simulation.GoalMet {
		t.Errorf("regraded %+v", rg)
	}
	c = &cli{}
	if code := c.run(t, "freeze", out, "--conversation", strconv.Itoa(conv.ID)); code != exitOK {
		t.Fatalf("freeze: exit %d: %s", code, c.stderr.String())
	}
	frozen := filepath.Join(dir, "frozen.yaml")
	if err := os.WriteFile(frozen, c.stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	c2 := &cli{}
	if code := c2.run(t, "run", "--quiet", "--out", filepath.Join(dir, "f.json"), frozen); code != exitOK {
		t.Fatalf("frozen run: exit %d\n%s\n%s\n%s", code, c.stdout.String(), c2.stdout.String(), c2.stderr.String())
	}
	fr := readResult(t, filepath.Join(dir, "f.json"))
	if fr.Totals.Passed != 1 || fr.Totals.Turns != 3 {
		t.Errorf("frozen run totals %+v", fr.Totals)
	}
	c = &cli{}
	if code := c.run(t, "run", "--dry-run", repoPath("examples")); code != exitOK ||
		!strings.Contains(c.stdout.String(), "calls:            44 to 49 expected (16 new chats + 28 to 33 turns, no retries: simulated conversations end when their users do), 54 worst case") ||
		!strings.Contains(c.stdout.String(), "simulated:        1 conversation counted at max_turns in the worst case (5 turns); they send from 0 to 5 turns") {
		t.Errorf("dry run: exit %d\n%s", code, c.stdout.String())
	}
	// A shard without the simulated conversation has one number of calls.
	c = &cli{}
	if code := c.run(t, "run", "--dry-run", "--shard", "2/2", repoPath("examples")); code != exitOK ||
		!strings.Contains(c.stdout.String(), "calls:            24 expected (8 new chats + 16 turns, no retries)") || strings.Contains(c.stdout.String(), "simulated:") {
		t.Errorf("dry run of shard 2/2: exit %d\n%s", code, c.stdout.String())
	}
	c = &cli{}
	if code := c.run(t, "validate", repoPath("examples")); code != exitOK ||
		!strings.Contains(c.stdout.String(), "at most 49 agent calls (16 new chats + 33 turns)") ||
		!strings.Contains(c.stdout.String(), "1 simulated conversation counted at max_turns (5 turns in all), the calls each does not use released when it ends (44 agent calls if every simulated user ends at once)") {
		t.Errorf("validate: exit %d\n%s", code, c.stdout.String())
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"freeze", out}, "--conversation: give the ID"},
		{[]string{"freeze", out, "--conversation", "999"}, "keeps no transcript of conversation 999"},
		{[]string{"freeze", "--conversation", "1"}, "freeze takes one result file"},
	} {
		c := &cli{}
		if code := c.run(t, tt.args...); code != exitUsage || !strings.Contains(c.stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, %s; want %q", tt.args, code, c.stderr.String(), tt.want)
		}
	}
}

// TestUserModelRun runs a simulated scenario whose user is played by a
// model (user_model in evalrun.yaml): the simulated agent's
// OpenAI-compatible endpoint, whose knowledge answers the user model's
// instructions. The user model's calls are counted in the result, apart
// from the agent's, and its key never shows.
func TestUserModelRun(t *testing.T) {
	um := &agentsim.Agent{Name: "user model", APIKeys: []string{"um-key-5e6f7a8b9c"}, Fallback: "hm",
		Knowledge: []agentsim.Entry{
			{Topic: "next", Keywords: []string{"next"}, Answer: `{"message": "Please call me back, my email is ana@example.com"}`},
			{Topic: "verdict", Keywords: []string{"verdict"}, Answer: `{"done": true, "goal_met": true, "reason": "they will call me"}`},
		}}
	sim, err := agentsim.Start(um, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	dir := writeFiles(t, map[string]string{
		"evalrun.yaml": "user_model:\n  url: " + sim.URL + "\n  model: sim\n  api_key_env: UM_KEY\n  limit: 100/s\n",
		"s/sim.yaml": `name: modelled
simulate:
  persona: Ana
  goal: a call back
  max_turns: 2
expect_conversation:
  - goal_met: true
  - {tool: lead_capture, at: any}
`,
	})
	out := filepath.Join(dir, "r.json")
	c := &cli{env: map[string]string{"UM_KEY": "um-key-5e6f7a8b9c"}}
	if code := c.run(t, "run", "--quiet", "--config", filepath.Join(dir, "evalrun.yaml"), "--out", out, filepath.Join(dir, "s")); code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, c.stdout.String(), c.stderr.String())
	}
	res := readResult(t, out)
	conv := res.Scenario("modelled").Conversations[0]
	if len(conv.Turns) != 2 || conv.Turns[0].Sent != "Please call me back, my email is ana@example.com" || conv.Simulation.Ended != runner.EndGoalMet || conv.Simulation.UserCalls != 3 {
		t.Fatalf("conversation %+v %+v", conv, conv.Simulation)
	}
	if u := res.UserModel; u == nil || u.Model != "sim" || u.Calls != 3 || u.Turns != 3 || u.Failures != 0 || u.Limit != "100/s" {
		t.Errorf("user model %+v", res.UserModel)
	}
	if res.Totals.Calls != 3 { // the agent's: a new chat and two turns
		t.Errorf("agent calls %d", res.Totals.Calls)
	}
	if strings.Contains(c.stdout.String()+c.stderr.String(), "um-key-5e6f7a8b9c") {
		t.Error("the user model's key was printed")
	}
	c = &cli{}
	if code := c.run(t, "run", "--quiet", "--config", filepath.Join(dir, "evalrun.yaml"), filepath.Join(dir, "s")); code != exitUsage || !strings.Contains(c.stderr.String(), "user_model.api_key_env: environment variable UM_KEY is empty") {
		t.Errorf("no key: exit %d %s", code, c.stderr.String())
	}
}
