package agent

import (
	"strings"
	"testing"
)

func TestParseGrade(t *testing.T) {
	tests := []struct {
		text   string
		score  float64
		reason string
		err    string
	}{
		{`{"score": 0.8, "reason": "good"}`, 0.8, "good", ""},
		{"Sure.\n```json\n{\"score\": 1, \"reason\": \"all there\"}\n```", 1, "all there", ""},
		{"```\n{\"score\":0}\n```", 0, "", ""},
		{`Grade: {"score": "0.25", "reason": "thin"} done`, 0.25, "thin", ""},
		{`{"score": 0.5, "reason": ["a", "b"]}`, 0.5, `["a","b"]`, ""},
		{`{"score": 7, "reason": "x"}`, 0, "", "score 7 is outside 0..1"},
		{`{"reason": "no score"}`, 0, "", `the answer's JSON has no "score"`},
		{`{"score": "high"}`, 0, "", `score "high" is not a number`},
		{`I think it is fine.`, 0, "", `no JSON object {"score", "reason"} in the answer`},
		{``, 0, "", `no JSON object {"score", "reason"} in the answer`},
		// The grade the judge gave is its last one, not an example before it.
		{`Example format: {"score": 1, "reason": "why"}. My grade: {"score": 0.1, "reason": "off topic"}`, 0.1, "off topic", ""},
		{"Format:\n```json\n{\"score\": 1}\n```\nAnswer:\n```json\n{\"score\": 0.3, \"reason\": \"vague\"}\n```", 0.3, "vague", ""},
		{`{"example": {"score": 1}} then {"score": 0.4, "reason": "r"} and {"note": "no grade here"}`, 0.4, "r", ""},
		{`Use {"score": 0.9} style. Mine: {"score": 3}`, 0, "", "score 3 is outside 0..1"},
		{`{"score": 1} {"score": 0}`, 0, "", ""},
		// A grade announced as such wins over a later reference object.
		{`Grade: {"score": 0.3, "reason": "r"}. For reference, a perfect reply would be {"score": 1}.`, 0.3, "r", ""},
		{"My final grade is {\"score\": 0.6}. A reply like {\"score\": 1} would name the price.", 0.6, "", ""},
		{"Verdict:\n```json\n{\"score\": 0.45}\n```\nExample of a full score:\n```json\n{\"score\": 1}\n```", 0.45, "", ""},
		// An example of the format never wins over a plain object.
		{`Use the format {"score": 0.9, "reason": "..."}. Here: {"score": 0.4}`, 0.4, "", ""},
		{`{"score": 0.4} and e.g. {"score": 1}`, 0.4, "", ""},
	}
	for _, tt := range tests {
		g, err := parseGrade(tt.text)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.err || g.Score != tt.score || g.Reason != tt.reason {
			t.Errorf("parseGrade(%q) = %+v, %q; want %v %q %q", tt.text, g, got, tt.score, tt.reason, tt.err)
		}
	}
	if _, err := parseJudgeAnswer([]byte(`{"choices": []}`)); err == nil || !strings.Contains(err.Error(), "no choices") {
		t.Errorf("no choices: %v", err)
	}
}

// FuzzParseGrade checks that no model answer makes the parser panic and
// that every accepted score is within 0..1.
func FuzzParseGrade(f *testing.F) {
	for _, s := range []string{`{"score": 0.8, "reason": "good"}`, `Example: {"score": 1} mine: {"score": 0.2}`, "```json\n{\"score\": 1}\n```", `{"score": "1e-3"}`, `{"score": NaN}`, "{{{}}}", "```", "{\"score\": 1e400}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := parseGrade(s)
		if err == nil && !(g.Score >= 0 && g.Score <= 1) {
			t.Fatalf("parseGrade(%q) = %+v", s, g)
		}
	})
}
