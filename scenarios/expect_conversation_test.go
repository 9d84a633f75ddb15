package scenarios

import (
	"context"
	"strings"
	"testing"
	"time"
)

// convScenario parses one scenario whose expect_conversation is conv.
func convScenario(t *testing.T, conv string) *Scenario {
	t.Helper()
	src := "name: c\nturns:\n  - user: hi\nexpect_conversation:\n" + conv
	scs, err := Parse("c.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, src)
	}
	return scs[0]
}

func TestEvaluateConversation(t *testing.T) {
	replies := []*Observation{
		{Text: "Hello! How can I help?", Latency: 100 * time.Millisecond},
		{Text: "Sorry, I cannot do that.", Latency: 200 * time.Millisecond},
		{Text: "I saved your details.", Tools: []Tool{{Name: "lead_capture", Status: "executed"}}, Latency: 4 * time.Second},
	}
	tests := []struct {
		name, conv string
		obs        []*Observation
		want       []Verdict
	}{
		{"tool at any turn", "  - tool: lead_capture\n    at: any\n", replies,
			[]Verdict{{Expectation: `tool lead_capture at any turn`, Passed: true}}},
		{"tool at no turn", "  - {tool: book_meeting, at: any, name: booked}\n", replies,
			[]Verdict{{Expectation: `tool book_meeting at any turn`, Name: "booked", Reason: "none of the 3 replies passed; the last: no tool book_meeting executed or called (tools: lead_capture)"}}},
		{"handoff at any turn, none", "  - {handoff: true, at: any}\n", replies,
			[]Verdict{{Expectation: `handoff true at any turn`, Reason: "none of the 3 replies passed; the last: no handoff to a human in reply \"I saved your details.\""}}},
		{"at any of no replies", "  - {icontains: hi, at: any}\n", nil,
			[]Verdict{{Expectation: `icontains "hi" at any turn`, Reason: "the conversation had no replies"}}},
		{"never, broken at turn 2", "  - never: {icontains: sorry}\n", replies,
			[]Verdict{{Expectation: `never icontains "sorry"`, Reason: `turn 2: found "Sorry" in "Sorry, I cannot do that."`}}},
		{"never, list", "  - name: polite\n    never: [{icontains: stupid}, {regex: '\\$\\d+'}]\n", replies,
			[]Verdict{{Expectation: `never icontains "stupid"`, Name: "polite", Passed: true}, {Expectation: `never regex '\$\d+'`, Name: "polite", Passed: true}}},
		{"every turn, broken at turn 3", "  - every_turn: [{max_latency: 1s}, {name: short, max_length: 100}]\n", replies,
			[]Verdict{
				{Expectation: "every turn max_latency 1s", Reason: "turn 3: latency 4s exceeds 1s"},
				{Expectation: "every turn max_length 100", Name: "short", Passed: true},
			}},
		{"turns within", "  - turns: {min: 2, max: 3}\n", replies,
			[]Verdict{{Expectation: "turns 2 to 3", Passed: true}}},
		{"turns too many", "  - turns: {max: 2}\n", replies,
			[]Verdict{{Expectation: "turns at most 2", Reason: "the conversation had 3 turns"}}},
		{"turns too few", "  - turns: {min: 4}\n", replies,
			[]Verdict{{Expectation: "turns at least 4", Reason: "the conversation had 3 turns"}}},
		{"turns exactly", "  - turns: 3\n", replies,
			[]Verdict{{Expectation: "turns exactly 3", Passed: true}}},
		{"judge without judge is undecided or failed", "  - {judge: {rubric: friendly}, at: any}\n", replies[:1],
			nil}, // checked below: not passed
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := convScenario(t, tt.conv)
			got := EvaluateConversation(context.Background(), sc.ExpectConversation, tt.obs, nil, nil)
			if tt.want == nil {
				if len(got) != 1 || got[0].Passed {
					t.Fatalf("got %+v, want one verdict that did not pass", got)
				}
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d verdicts %+v, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("verdict %d:\n got %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// stubJudge grades by a fixed answer, or fails.
type stubJudge struct {
	score float64
	err   error
}

func (j stubJudge) Grade(_ context.Context, _ GradeRequest) (Grade, error) {
	return Grade{Score: j.score, Reason: "stub"}, j.err
}

func TestEvaluateConversationUndecided(t *testing.T) {
	sc := convScenario(t, "  - {judge: {rubric: friendly}, at: any}\n  - every_turn: {judge: {rubric: friendly}}\n  - never: {judge: {rubric: rude}}\n")
	obs := []*Observation{{Text: "a"}, {Text: "b"}}
	got := EvaluateConversation(context.Background(), sc.ExpectConversation, obs, nil, stubJudge{err: context.DeadlineExceeded})
	if len(got) != 3 {
		t.Fatalf("got %+v", got)
	}
	for _, v := range got {
		if v.Passed || !v.Undecided || !strings.Contains(v.Reason, "undecided") {
			t.Errorf("verdict %+v: want undecided", v)
		}
	}
	got = EvaluateConversation(context.Background(), sc.ExpectConversation, obs, nil, stubJudge{score: 1})
	want := []bool{true, true, false} // a judge that passes everything passes the rude rubric too
	for i, v := range got {
		if v.Passed != want[i] || v.Undecided {
			t.Errorf("verdict %d %+v: want passed=%v", i, v, want[i])
		}
	}
}

func TestNeedsRaw(t *testing.T) {
	for conv, want := range map[string]bool{
		"  - every_turn: {field: {path: metadata.tokens_used, lte: 10}}\n": true,
		"  - never: {not: {field: {path: a, exists: true}}}\n":             true,
		"  - {tool: x, at: any}\n  - turns: 2\n":                           false,
	} {
		if got := NeedsRaw(convScenario(t, conv).ExpectConversation); got != want {
			t.Errorf("NeedsRaw(%q) = %v, want %v", conv, got, want)
		}
	}
}
