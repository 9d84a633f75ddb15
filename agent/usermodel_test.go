package agent

import (
	"strings"
	"testing"

	"github.com/evalrun/evalrun/scenarios"
)

func TestParseUserStep(t *testing.T) {
	tests := []struct {
		content string
		last    bool
		want    scenarios.SimStep
		wantErr string
	}{
		{content: `{"message": "Hi there"}`, want: scenarios.SimStep{Message: "Hi there"}},
		{content: "```json\n{\"message\": \"Hi\"}\n```", want: scenarios.SimStep{Message: "Hi"}},
		{content: "Just plain text.", want: scenarios.SimStep{Message: "Just plain text."}},
		{content: `{"done": true, "goal_met": false, "reason": " gave\nup "}`, want: scenarios.SimStep{Done: true, Reason: "gave up"}},
		{content: `{"done": true, "goal_met": true}`, last: true, want: scenarios.SimStep{Done: true, GoalMet: true}},
		{content: `{"goal_met": true, "reason": "ok"}`, last: true, want: scenarios.SimStep{Done: true, GoalMet: true, Reason: "ok"}},
		{content: `{"done": true}`, wantErr: "its verdict has no goal_met"},
		{content: "I think it went well.", last: true, wantErr: "its verdict is not a JSON object with goal_met"},
		{content: `{"message": "  "}`, wantErr: "it wrote an empty message"},
		{content: "", wantErr: "it wrote an empty message"},
	}
	for _, tt := range tests {
		got, err := parseUserStep(tt.content, tt.last)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: %+v, %v; want error %q", tt.content, got, err, tt.wantErr)
			}
		case err != nil || got != tt.want:
			t.Errorf("%q (last %v): %+v, %v; want %+v", tt.content, tt.last, got, err, tt.want)
		}
	}
}
