package report

import (
	"strings"
	"testing"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/scenarios"
)

func TestFreeze(t *testing.T) {
	res := convVerdictResult()
	conv := &res.Scenarios[0].Conversations[1]
	conv.Turns[1].Tools = []agent.ToolExecution{{Tool: "lead_capture", Status: "executed"}, {Tool: "crm", Status: "failed"}}
	conv.Turns[1].Handoff = true
	conv.Turns[0].Sent = "quote: \"yes\"\nsecond line: # not a comment"
	data, err := Freeze(res, "r.json", conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	scs, err := scenarios.Parse("frozen.yaml", data)
	if err != nil {
		t.Fatalf("frozen file does not load: %v\n%s", err, data)
	}
	sc := scs[0]
	if sc.Name != "lead-frozen-2" || len(sc.Turns) != 2 || len(sc.Turns[0].Expect) != 0 {
		t.Fatalf("scenario %+v\n%s", sc, data)
	}
	env := &scenarios.Env{}
	for i, tu := range sc.Turns {
		if got, _ := tu.User.Render(env); got != conv.Turns[i].Sent {
			t.Errorf("turn %d sends %q, want %q", i+1, got, conv.Turns[i].Sent)
		}
	}
	var exp []string
	for _, e := range sc.Turns[1].Expect {
		exp = append(exp, e.String())
	}
	if strings.Join(exp, "; ") != "tool lead_capture; handoff true" {
		t.Errorf("turn 2 expects %q\n%s", exp, data)
	}
	if !strings.Contains(string(data), "# by simulated_user") || !strings.HasPrefix(string(data), "# Frozen by evalrun freeze from r.json: conversation 2 of scenario lead") {
		t.Errorf("comments:\n%s", data)
	}
	for _, tt := range []struct {
		id   int
		sent string
		want string
	}{
		{id: 99, want: "r.json keeps no transcript of conversation 99"},
		{id: 2, sent: "use {{ x }}", want: `turn 1: the message holds "{{"`},
	} {
		if tt.sent != "" {
			conv.Turns[0].Sent = tt.sent
		}
		if _, err := Freeze(res, "r.json", tt.id); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Freeze(%d): %v, want %q", tt.id, err, tt.want)
		}
	}
}
