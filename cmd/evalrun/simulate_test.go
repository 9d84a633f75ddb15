package main

import (
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
