package agent_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/evalrun/evalrun/scenarios"
)

// conversation is a transcript whose terms are spread over user messages,
// replies and a tool: a grade of the last reply alone misses most.
var conversation = []scenarios.SimTurn{
	{User: "I'd like a demo of the Growth plan.", Agent: "Happy to help. What is your email?"},
	{User: "It is ana@example.com\nThanks.", Agent: "Your demo is booked for Friday.", Tools: []scenarios.Tool{{Name: "book_demo", Status: "executed", Data: map[string]any{"slot": "slot-7f3a"}}}, Handoff: true},
}

// TestJudgeGradesConversation: a request with a Transcript is graded as a
// whole conversation by agentsim's grader (every message, reply and tool
// counts), cached apart from a reply grading of the same rubric.
func TestJudgeGradesConversation(t *testing.T) {
	js, url := startJudge(t)
	cache := t.TempDir()
	j := newJudge(t, url, cache, nil)
	ctx := context.Background()
	rubric := `Booked a "demo", gave an "email" ("@example.com"), ran "book_demo" on "Friday", mentioned "Scale".`
	g, err := j.Grade(ctx, scenarios.GradeRequest{Rubric: rubric, Transcript: conversation})
	if err != nil || g.Score != 0.833 || g.Reason != `mentions 5 of 6 required terms; missing "Scale"` {
		t.Fatalf("conversation grade %+v, %v; want 5 of 6 terms", g, err)
	}
	// The last reply alone has only "demo" and "Friday".
	g, err = j.Grade(ctx, scenarios.GradeRequest{Rubric: rubric, User: conversation[1].User, Reply: conversation[1].Agent})
	if err != nil || g.Score != 0.333 {
		t.Errorf("reply grade %+v, %v; want 2 of 6", g, err)
	}
	if js.Calls() != 2 {
		t.Errorf("%d calls, want 2 (a conversation and a reply are graded apart)", js.Calls())
	}
	j2 := newJudge(t, url, cache, nil)
	if g, err := j2.Grade(ctx, scenarios.GradeRequest{Rubric: rubric, Transcript: conversation}); err != nil || g.Score != 0.833 || js.Calls() != 2 {
		t.Errorf("re-run: %+v, %v, %d calls; want the cached grade", g, err, js.Calls())
	}
	other := append([]scenarios.SimTurn{}, conversation...)
	other[0].User = "I'd like a demo."
	if _, err := j2.Grade(ctx, scenarios.GradeRequest{Rubric: rubric, Transcript: other}); err != nil || js.Calls() != 3 {
		t.Errorf("another transcript: %v, %d calls; want a new grading", err, js.Calls())
	}
}

// TestJudgeConversationRequest checks what a plain net/http endpoint
// receives for a conversation: the conversation prompt, the rubric and
// every message in order, tools and handoff noted, tool data left out.
func TestJudgeConversationRequest(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"choices":[{"message":{"role":"assistant","content":"{\"score\": 0.9, \"reason\": \"booked\"}"}}]}`)
	}))
	defer srv.Close()
	j := newJudge(t, srv.URL, t.TempDir(), nil)
	g, err := j.Grade(context.Background(), scenarios.GradeRequest{Rubric: "The visitor booked a demo", Transcript: conversation})
	if err != nil || g.Score != 0.9 {
		t.Fatalf("grade %+v, %v", g, err)
	}
	var req struct {
		Messages []struct{ Role, Content string }
	}
	if err := json.Unmarshal([]byte(bodies[0]), &req); err != nil || len(req.Messages) != 2 {
		t.Fatalf("request %s: %v", bodies[0], err)
	}
	if sys := req.Messages[0].Content; !strings.Contains(sys, "whole conversation") {
		t.Errorf("system prompt is not the conversation's:\n%s", sys)
	}
	want := "<rubric>\nThe visitor booked a demo\n</rubric>\n\n<transcript>\n" +
		"user: I'd like a demo of the Growth plan.\n" +
		"agent: Happy to help. What is your email?\n" +
		"user: It is ana@example.com\n  Thanks.\n" +
		"agent: Your demo is booked for Friday.\n" +
		"[tools: book_demo (executed)]\n" +
		"[handed off to a human]\n" +
		"</transcript>"
	if got := req.Messages[1].Content; got != want {
		t.Errorf("user message:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(bodies[0], "slot-7f3a") {
		t.Error("the tool's data reached the judge")
	}
}
