package runner

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/scenarios"
)

// TestRunConversationExpectations runs scenarios with expect_conversation
// against a fake agent that calls lead_capture on the message "save me"
// and apologises on "apologise", and checks the conversation's verdicts and
// outcome.
func TestRunConversationExpectations(t *testing.T) {
	reply := func(content string) agent.Reply {
		r := agent.Reply{Text: "re: " + content, Raw: json.RawMessage(`{"metadata":{"tokens_used":` + map[bool]string{true: "50", false: "5"}[strings.Contains(content, "long")] + `}}`)}
		if strings.Contains(content, "save me") {
			r.Tools = []agent.ToolExecution{{Tool: "lead_capture", Status: "executed"}}
		}
		if strings.Contains(content, "apologise") {
			r.Text = "Sorry, no."
		}
		return r
	}
	tests := []struct {
		name        string
		yaml        string
		want        Outcome
		wantReason  string // prefix
		wantPassed  []bool // the conversation's verdicts; nil: none recorded
		wantTurnsOK int    // turns sent
	}{
		{name: "all hold",
			yaml: "turns: [{user: hi}, {user: save me}]\nexpect_conversation:\n  - {tool: lead_capture, at: any}\n  - never: {icontains: sorry}\n  - turns: {max: 2}\n",
			want: Passed, wantPassed: []bool{true, true, true}, wantTurnsOK: 2},
		{name: "tool at no turn fails",
			yaml: "turns: [{user: hi}, {user: there}]\nexpect_conversation:\n  - {tool: lead_capture, at: any}\n",
			want: Failed, wantReason: "conversation: tool lead_capture at any turn: none of the 2 replies passed",
			wantPassed: []bool{false}, wantTurnsOK: 2},
		{name: "never broken",
			yaml: "turns: [{user: hi}, {user: apologise}, {user: save me}]\nexpect_conversation:\n  - never: {icontains: sorry}\n",
			want: Failed, wantReason: `conversation: never icontains "sorry": turn 2: found "Sorry"`,
			wantPassed: []bool{false}, wantTurnsOK: 3},
		{name: "turns min",
			yaml: "turns: [{user: hi}]\nexpect_conversation:\n  - turns: {min: 2}\n",
			want: Failed, wantReason: "conversation: turns at least 2: the conversation had 1 turns", wantPassed: []bool{false}, wantTurnsOK: 1},
		{name: "every_turn reads the reply bodies",
			yaml: "turns: [{user: hi}, {user: long one}]\nexpect_conversation:\n  - every_turn: {field: {path: metadata.tokens_used, lte: 10}}\n",
			want: Failed, wantReason: "conversation: every turn field", wantPassed: []bool{false}, wantTurnsOK: 2},
		{name: "every_turn holds over the bodies",
			yaml: "turns: [{user: hi}, {user: short}]\nexpect_conversation:\n  - every_turn: {field: {path: metadata.tokens_used, lte: 10}}\n",
			want: Passed, wantPassed: []bool{true}, wantTurnsOK: 2},
		{name: "a turn that stops the conversation leaves it unchecked",
			yaml: "turns: [{user: apologise, expect: [{icontains: yes}]}, {user: save me}]\nexpect_conversation:\n  - {tool: lead_capture, at: any}\n",
			want: Failed, wantReason: "turn 1: ", wantPassed: nil, wantTurnsOK: 1},
		{name: "on_fail continue: checked, the turn's failure is the reason",
			yaml: "on_fail: continue\nturns: [{user: apologise, expect: [{icontains: yes}]}, {user: save me}]\nexpect_conversation:\n  - {tool: lead_capture, at: any}\n  - turns: 1\n",
			want: Failed, wantReason: "turn 1: ", wantPassed: []bool{true, false}, wantTurnsOK: 2},
		{name: "no judge: undecided is an error",
			yaml: "turns: [{user: hi}]\nexpect_conversation:\n  - every_turn: {judge: {rubric: polite}}\n",
			want: Errored, wantReason: "conversation: every turn judge", wantPassed: []bool{false}, wantTurnsOK: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scs, err := scenarios.Parse("c.yaml", []byte("name: c\n"+tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			if _, err := Run(context.Background(), suiteOf(scs[0]), Options{Conn: &fakeConn{reply: reply}, Observer: rec}); err != nil {
				t.Fatal(err)
			}
			c := rec.checkAccounted(t, 1)[1]
			if c.Outcome != tt.want || !strings.HasPrefix(c.Reason, tt.wantReason) {
				t.Errorf("outcome %s (%q), want %s (%q…)", c.Outcome, c.Reason, tt.want, tt.wantReason)
			}
			if len(c.Turns) != tt.wantTurnsOK {
				t.Errorf("%d turns, want %d", len(c.Turns), tt.wantTurnsOK)
			}
			var got []bool
			for _, v := range c.Verdicts {
				got = append(got, v.Passed)
			}
			if len(got) != len(tt.wantPassed) || (got != nil) != (tt.wantPassed != nil) {
				t.Fatalf("verdicts %+v, want passed %v", c.Verdicts, tt.wantPassed)
			}
			for i := range got {
				if got[i] != tt.wantPassed[i] {
					t.Errorf("verdict %d %+v, want passed %v", i, c.Verdicts[i], tt.wantPassed[i])
				}
			}
		})
	}
}

// TestVerdictsOutcome: the first failed verdict decides (Failed), else the
// first undecided one (Errored), else the verdicts pass.
func TestVerdictsOutcome(t *testing.T) {
	pass := scenarios.Verdict{Expectation: "a", Passed: true}
	fail1 := scenarios.Verdict{Expectation: "f1"}
	fail2 := scenarios.Verdict{Expectation: "f2"}
	und1 := scenarios.Verdict{Expectation: "u1", Undecided: true}
	und2 := scenarios.Verdict{Expectation: "u2", Undecided: true}
	tests := []struct {
		name string
		vs   []scenarios.Verdict
		want Outcome
		why  string
	}{
		{"none", nil, Passed, ""},
		{"all pass", []scenarios.Verdict{pass, pass}, Passed, ""},
		{"first failure", []scenarios.Verdict{pass, fail1, fail2}, Failed, "f1"},
		{"failure after undecided", []scenarios.Verdict{und1, pass, fail2}, Failed, "f2"},
		{"first undecided", []scenarios.Verdict{pass, und1, und2}, Errored, "u1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, v := verdictsOutcome(tt.vs)
			if o != tt.want || v.Expectation != tt.why {
				t.Errorf("verdictsOutcome = %v, %q; want %v, %q", o, v.Expectation, tt.want, tt.why)
			}
		})
	}
}
