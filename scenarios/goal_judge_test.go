package scenarios

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

// recordingJudge grades with a fixed answer and keeps the requests.
type recordingJudge struct {
	mu    sync.Mutex
	reqs  []GradeRequest
	grade Grade
	err   error
}

func (j *recordingJudge) Grade(_ context.Context, q GradeRequest) (Grade, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.reqs = append(j.reqs, q)
	return j.grade, j.err
}

// TestGoalMetJudge: goal_met: {judge:} on a scripted scenario asks the
// judge once, with every user message and reply (tools and handoff
// included), and passes, fails or is undecided by its grade.
func TestGoalMetJudge(t *testing.T) {
	sc := convScenario(t, "  - name: booked\n    goal_met: {judge: 'Booked a \"demo\" and gave an \"email\"', min_score: 0.8}\n")
	obs := []*Observation{
		{User: "I'd like a demo", Text: "Sure, when?"},
		{User: "Friday, ana@example.com", Text: "Booked!", Tools: []Tool{{Name: "book_demo", Status: "executed"}}, Handoff: true},
	}
	const desc = `goal_met by judge "Booked a \"demo\" and gave an \"email\"" min_score 0.8`
	tests := []struct {
		name  string
		judge *recordingJudge
		want  Verdict
	}{
		{"passes", &recordingJudge{grade: Grade{Score: 0.8}}, Verdict{Expectation: desc, Name: "booked", Passed: true}},
		{"fails", &recordingJudge{grade: Grade{Score: 0.5, Reason: "no email\ngiven"}},
			Verdict{Expectation: desc, Name: "booked", Reason: "judge scored the conversation 0.50, below 0.8: no email given"}},
		{"judge fails: undecided", &recordingJudge{err: errors.New("judge: HTTP 500")},
			Verdict{Expectation: desc, Name: "booked", Undecided: true, Reason: "judge failed: judge: HTTP 500"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The simulated user's verdict, if any, is not what decides.
			got := EvaluateConversation(context.Background(), sc.ExpectConversation, obs, &GoalVerdict{Met: !tt.want.Passed}, tt.judge)
			if len(got) != 1 || got[0] != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
			if len(tt.judge.reqs) != 1 {
				t.Fatalf("%d grading requests, want 1", len(tt.judge.reqs))
			}
			q := tt.judge.reqs[0]
			if q.Rubric != `Booked a "demo" and gave an "email"` || q.User != "" || q.Reply != "" || len(q.Transcript) != 2 {
				t.Fatalf("request %+v", q)
			}
			if tr := q.Transcript[1]; tr.User != "Friday, ana@example.com" || tr.Agent != "Booked!" || !tr.Handoff || len(tr.Tools) != 1 || tr.Tools[0].Name != "book_demo" {
				t.Errorf("turn 2 as graded: %+v", tr)
			}
		})
	}
	v := EvaluateConversation(context.Background(), sc.ExpectConversation, obs, nil, nil)
	if len(v) != 1 || v[0].Passed || !v[0].Undecided || !strings.Contains(v[0].Reason, "no judge is configured") {
		t.Errorf("without a judge: %+v, want undecided", v)
	}
}

// TestGoalMetJudgeLoad: the judged form needs a configured judge (at its
// place), is allowed without simulate:, and counts one judge call per
// conversation.
func TestGoalMetJudgeLoad(t *testing.T) {
	src := "name: j\nrepeat: 3\nturns: [{user: hi}, {user: bye}]\nexpect_conversation:\n  - goal_met: {judge: 'Says \"bye\"'}\n  - every_turn: {judge: {rubric: polite}}\n"
	_, err := ParseWith(LoadOptions{}, "j.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "j.yaml:5:15: goal_met: {judge: ...} needs a judge; add judge: {url, model, api_key_env} to evalrun.yaml") {
		t.Errorf("without a judge: %v", err)
	}
	scs, err := ParseWith(LoadOptions{JudgeConfigured: true}, "j.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c := scs[0].ExpectConversation[0]; c.Kind != "goal_met" || c.minScore != DefaultMinScore || !c.judged() {
		t.Errorf("item %+v", c)
	}
	// 3 conversations × (1 goal judge + 2 turns × 1 every_turn judge).
	if n := (&Suite{Scenarios: scs}).JudgeCalls(); n != 9 {
		t.Errorf("JudgeCalls = %d, want 9", n)
	}
	sim := "name: s\nsimulate: {persona: p, goal: g, max_turns: 4}\nexpect_conversation:\n  - goal_met: {judge: 'Says \"bye\"', min_score: 0}\n  - goal_met: true\n"
	scs, err = ParseWith(LoadOptions{JudgeConfigured: true}, "s.yaml", []byte(sim))
	if err != nil {
		t.Fatal(err)
	}
	if n := (&Suite{Scenarios: scs}).JudgeCalls(); n != 1 {
		t.Errorf("JudgeCalls of a simulated scenario = %d, want 1", n)
	}
}

// TestGoalMetJudgeSchema: the schema accepts what the loader accepts of
// goal_met and refuses the shapes it refuses.
func TestGoalMetJudgeSchema(t *testing.T) {
	sch := schemaRoundTrip(t)
	for _, tc := range []struct {
		item string
		ok   bool
	}{
		{"goal_met: {judge: 'Booked a \"demo\"'}", true},
		{"goal_met: {judge: 'Booked a \"demo\"', min_score: 0.9}", true},
		{"goal_met: {judge: ''}", false},
		{"goal_met: {judge: {rubric: x}}", false},
		{"goal_met: {min_score: 0.5}", false},
		{"goal_met: {judge: x, min_score: 2}", false},
		{"goal_met: {judge: x, rubric: y}", false},
		{"goal_met: maybe", false},
	} {
		src := "name: g\nturns:\n  - user: hi\nexpect_conversation:\n  - " + tc.item + "\n"
		if err := validateFile(sch, []byte(src)); (err == nil) != tc.ok {
			t.Errorf("%s: schema says %v, want ok=%v", tc.item, err, tc.ok)
		}
		if _, err := ParseWith(LoadOptions{JudgeConfigured: true}, "g.yaml", []byte(src)); (err == nil) != tc.ok {
			t.Errorf("%s: loader says %v, want ok=%v", tc.item, err, tc.ok)
		}
	}
}
