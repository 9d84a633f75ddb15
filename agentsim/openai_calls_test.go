package agentsim

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestUnansweredCalls: the tool-call protocol the OpenAI API enforces.
func TestUnansweredCalls(t *testing.T) {
	tests := []struct {
		name, messages, want string
	}{
		{"no calls", `[{"role":"user","content":"a"}]`, ""},
		{"calls answered", `[{"role":"user"},{"role":"assistant","tool_calls":[{"id":"a"},{"id":"b"}]},{"role":"tool","tool_call_id":"b"},{"role":"tool","tool_call_id":"a"},{"role":"user"}]`, ""},
		{"calls last", `[{"role":"user"},{"role":"assistant","tool_calls":[{"id":"a"}]}]`, ""},
		{"call unanswered", `[{"role":"user"},{"role":"assistant","tool_calls":[{"id":"a"},{"id":"b"}]},{"role":"tool","tool_call_id":"a"},{"role":"user"}]`, "did not have response messages: b"},
		{"stray result", `[{"role":"user"},{"role":"tool","tool_call_id":"z"}]`, `tool_call_id "z"`},
	}
	for _, tt := range tests {
		var req oaRequest
		if err := json.Unmarshal([]byte(`{"messages":`+tt.messages+`}`), &req); err != nil {
			t.Fatal(err)
		}
		got := unansweredCalls(&req)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
