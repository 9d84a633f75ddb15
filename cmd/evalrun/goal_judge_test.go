package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// goalJudgeSuite is two scripted scenarios whose goal the judge decides
// over the whole transcript: the lead's email is in the user's message
// and lead_capture in the agent's tools, neither in the last reply's text.
const goalJudgeSuite = `name: judged-lead
turns:
  - user: Hi, I'd like to hear about your plans.
  - user: My email is ana@example.com
  - user: Thanks, bye!
expect_conversation:
  - name: lead given
    goal_met: {judge: 'The visitor gave the email "ana@example.com" and the agent ran "lead_capture".'}
---
name: judged-miss
turns:
  - user: Hi, I'd like to hear about your plans.
expect_conversation:
  - goal_met: {judge: 'The visitor gave the email "ana@example.com".', min_score: 0.5}
`

// TestGoalMetJudgeRun runs goal_met: {judge:} against the simulated agent
// with agentsim's grader: one grading per conversation, of the whole
// transcript; a goal the transcript does not meet fails its conversation;
// validate counts the judge calls.
func TestGoalMetJudgeRun(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	js := agentsim.NewJudgeServer()
	srv := httptest.NewServer(js)
	defer srv.Close()
	dir := t.TempDir()
	scen := filepath.Join(dir, "goals.yaml")
	if err := os.WriteFile(scen, []byte(goalJudgeSuite), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, "suite: ["+scen+"]\nquiet: true\njudge: {url: "+srv.URL+", model: grader}\n")

	v := cli{}
	if code := v.run(t, "validate", "--config", cfg); code != exitOK || !strings.Contains(v.stdout.String(), "up to 2 judge calls, outside the agent's quota") {
		t.Errorf("validate: exit %d\n%s%s", code, v.stdout.String(), v.stderr.String())
	}

	out := filepath.Join(dir, "r.json")
	c := cli{}
	if code := c.run(t, "run", "--config", cfg, "--out", out); code != exitFailed {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFailed, c.stdout.String(), c.stderr.String())
	}
	res := readResult(t, out)
	lead := res.Scenario("judged-lead").Conversations[0]
	if lead.Outcome != runner.Passed || len(lead.Verdicts) != 1 || !lead.Verdicts[0].Passed || lead.Verdicts[0].Name != "lead given" {
		t.Errorf("judged-lead: %s (%s), verdicts %+v", lead.Outcome, lead.Reason, lead.Verdicts)
	}
	miss := res.Scenario("judged-miss").Conversations[0]
	want := `conversation: goal_met by judge "The visitor gave the email \"ana@example.com\"." min_score 0.5: judge scored the conversation 0.00, below 0.5: mentions 0 of 1 required terms; missing "ana@example.com"`
	if miss.Outcome != runner.Failed || miss.Reason != want {
		t.Errorf("judged-miss: %s\n got %s\nwant %s", miss.Outcome, miss.Reason, want)
	}
	if j := res.Judge; j == nil || j.Grades != 2 || j.Calls != 2 || js.Calls() != 2 {
		t.Errorf("judge accounting %+v, server %d calls; want 2 gradings", j, js.Calls())
	}
	// regrade calls no judge: it keeps the judged verdicts as recorded.
	r := cli{}
	if code := r.run(t, "regrade", out, "--out", filepath.Join(dir, "rg.json")); code != exitFailed || !strings.Contains(r.stdout.String(), "No verdict changed.") || js.Calls() != 2 {
		t.Errorf("regrade: exit %d, %d judge calls\n%s%s", code, js.Calls(), r.stdout.String(), r.stderr.String())
	}
}

// TestGoalMetJudgeBroken: a judge answering HTTP 500 (a plain net/http
// server) leaves goal_met undecided: the conversation is an error, not a
// failure, and the run exits unfinished.
func TestGoalMetJudgeBroken(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	srv, calls := brokenJudge(t, http.StatusInternalServerError, "")
	dir := t.TempDir()
	scen := filepath.Join(dir, "goals.yaml")
	if err := os.WriteFile(scen, []byte(strings.SplitN(goalJudgeSuite, "---\n", 2)[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, "suite: ["+scen+"]\nquiet: true\njudge: {url: "+srv.URL+", model: grader}\n")
	out := filepath.Join(dir, "r.json")
	c := cli{}
	code := c.run(t, "run", "--config", cfg, "--out", out)
	if code != exitUnfinished || !strings.Contains(c.stderr.String(), "the judge failed 1 gradings") {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitUnfinished, c.stdout.String(), c.stderr.String())
	}
	cv := readResult(t, out).Scenario("judged-lead").Conversations[0]
	if cv.Outcome != runner.Errored || !strings.HasPrefix(cv.Reason, `conversation: goal_met by judge`) || !strings.Contains(cv.Reason, "judge failed") {
		t.Errorf("conversation %s (%s), want an error naming the judge", cv.Outcome, cv.Reason)
	}
	if len(cv.Verdicts) != 1 || cv.Verdicts[0].Passed || !cv.Verdicts[0].Undecided {
		t.Errorf("verdicts %+v, want one undecided", cv.Verdicts)
	}
	if calls.Load() < 1 {
		t.Error("the judge was not asked")
	}
}

// gradeRecorder keeps the last request it grades.
type gradeRecorder struct{ last scenarios.GradeRequest }

func (g *gradeRecorder) Grade(_ context.Context, q scenarios.GradeRequest) (scenarios.Grade, error) {
	g.last = q
	return scenarios.Grade{Score: 1, Reason: "saw sk-live-123"}, nil
}

// TestRedactingJudgeTranscript: a transcript reaches the judge with every
// secret hidden in its messages and without the tools' data.
func TestRedactingJudgeTranscript(t *testing.T) {
	rec := &gradeRecorder{}
	j := redactingJudge{Judge: rec, r: agent.NewRedactor("sk-live-123")}
	g, err := j.Grade(context.Background(), scenarios.GradeRequest{Rubric: "r", Transcript: []scenarios.SimTurn{
		{User: "my key is sk-live-123", Agent: "got sk-live-123", Tools: []scenarios.Tool{{Name: "save", Status: "executed", Data: map[string]any{"k": "v"}}}},
	}})
	if err != nil || strings.Contains(g.Reason, "sk-live-123") {
		t.Fatalf("grade %+v, %v", g, err)
	}
	tr := rec.last.Transcript
	if len(tr) != 1 || strings.Contains(tr[0].User+tr[0].Agent, "sk-live-123") || len(tr[0].Tools) != 1 || tr[0].Tools[0].Name != "save" || tr[0].Tools[0].Data != nil {
		t.Errorf("the judge saw %+v", tr)
	}
}
