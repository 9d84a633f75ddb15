package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/scenarios"
)

const judgeKey = "judge-key-9f8e7d6c5b4a"

// startJudge serves agentsim's deterministic grader on loopback.
func startJudge(t *testing.T) (*agentsim.JudgeServer, string) {
	t.Helper()
	js := agentsim.NewJudgeServer()
	js.Key = judgeKey
	srv := httptest.NewServer(js)
	t.Cleanup(srv.Close)
	return js, srv.URL
}

func newJudge(t *testing.T, url, cache string, mod func(*agent.JudgeOptions)) *agent.Judge {
	t.Helper()
	opts := agent.JudgeOptions{
		Options:   agent.Options{BaseURL: url, APIKey: judgeKey},
		Model:     "grader-1",
		CacheDir:  cache,
		BaseDelay: 1e6, // 1ms
	}
	if mod != nil {
		mod(&opts)
	}
	j, err := agent.NewJudge(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(j.Close)
	return j
}

func TestJudgeGradesAndCaches(t *testing.T) {
	js, url := startJudge(t)
	cache := t.TempDir()
	j := newJudge(t, url, cache, nil)
	ctx := context.Background()
	rubric := `The reply must mention "Growth" and "$49".`
	tests := []struct {
		reply  string
		score  float64
		reason string
	}{
		{"The Growth plan is $49 a month.", 1, "mentions all 2 required terms"},
		{"The growth plan is affordable.", 0.5, `mentions 1 of 2 required terms; missing "$49"`},
		{"Hello!", 0, `mentions 0 of 2 required terms; missing "Growth", "$49"`},
	}
	for _, tt := range tests {
		g, err := j.Grade(ctx, scenarios.GradeRequest{Rubric: rubric, User: "hi", Reply: tt.reply})
		if err != nil || g.Score != tt.score || g.Reason != tt.reason {
			t.Errorf("Grade(%q) = %+v, %v; want %v %q", tt.reply, g, err, tt.score, tt.reason)
		}
	}
	if js.Calls() != 3 {
		t.Errorf("server calls = %d, want 3", js.Calls())
	}
	// A second Judge on the same cache (a re-run) pays nothing.
	j2 := newJudge(t, url, cache, nil)
	for _, tt := range tests {
		g, err := j2.Grade(ctx, scenarios.GradeRequest{Rubric: rubric, User: "hi", Reply: tt.reply})
		if err != nil || g.Score != tt.score || g.Reason != tt.reason {
			t.Errorf("cached Grade(%q) = %+v, %v", tt.reply, g, err)
		}
	}
	if js.Calls() != 3 {
		t.Errorf("server calls after re-run = %d, want 3", js.Calls())
	}
	if s := j2.Stats(); s != (agent.JudgeStats{Grades: 3, CacheHits: 3}) {
		t.Errorf("Stats = %+v", s)
	}
	// Another model is another key.
	j3 := newJudge(t, url, cache, func(o *agent.JudgeOptions) { o.Model = "grader-2" })
	if _, err := j3.Grade(ctx, scenarios.GradeRequest{Rubric: rubric, User: "hi", Reply: tests[0].reply}); err != nil || js.Calls() != 4 {
		t.Errorf("other model: %v, calls %d", err, js.Calls())
	}
	// Entries are files, written whole; the key is not in them.
	var files []string
	filepath.WalkDir(cache, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
			data, _ := os.ReadFile(p)
			if strings.Contains(string(data), judgeKey) || !strings.HasPrefix(string(data), `{"score":`) {
				t.Errorf("cache entry %s: %s", p, data)
			}
		}
		return nil
	})
	if len(files) != 4 {
		t.Errorf("%d cache files, want 4: %v", len(files), files)
	}
}

func TestJudgeRetriesAndErrors(t *testing.T) {
	js, url := startJudge(t)
	j := newJudge(t, url, "", func(o *agent.JudgeOptions) { o.NoCache = true })
	ctx := context.Background()
	js.FailNext(503, 429)
	g, err := j.Grade(ctx, scenarios.GradeRequest{Rubric: `"ok"`, User: "hi", Reply: "ok"})
	if err != nil || g.Score != 1 {
		t.Fatalf("after retries: %+v, %v", g, err)
	}
	if s := j.Stats(); s.Calls != 3 || s.Grades != 1 || s.Failures != 0 {
		t.Errorf("Stats = %+v, want 3 calls", s)
	}
	// Not retryable: one call, classified, no key in the message.
	js.FailNext(400)
	_, err = j.Grade(ctx, scenarios.GradeRequest{Rubric: `"ok"`, User: "hi", Reply: "ok"})
	var e *agent.Error
	if !errors.As(err, &e) || e.Kind != agent.KindClient || e.Op != "judge" || e.Status != 400 {
		t.Fatalf("400: %v", err)
	}
	if js.Calls() != 4 {
		t.Errorf("calls = %d, want 4 (no retry of a 400)", js.Calls())
	}
	// Retries give up after MaxAttempts.
	js.FailNext(500+3, 503, 503, 503)
	_, err = j.Grade(ctx, scenarios.GradeRequest{Rubric: `"ok"`, User: "hi", Reply: "ok"})
	if !errors.As(err, &e) || e.Kind != agent.KindServer || js.Calls() != 8 {
		t.Errorf("exhausted retries: %v, calls %d", err, js.Calls())
	}
	// A wrong key: 401, and the key is never shown.
	bad := newJudge(t, url, "", func(o *agent.JudgeOptions) { o.NoCache = true; o.APIKey = "wrong-key-123456" })
	_, err = bad.Grade(ctx, scenarios.GradeRequest{Rubric: `"ok"`, User: "hi", Reply: "ok"})
	if !errors.As(err, &e) || e.Kind != agent.KindClient || e.Status != 401 || strings.Contains(err.Error(), "wrong-key-123456") {
		t.Errorf("401: %v", err)
	}
	// MaxCalls caps the judge's own requests.
	capped := newJudge(t, url, "", func(o *agent.JudgeOptions) { o.NoCache = true; o.MaxCalls = 1 })
	capped.Grade(ctx, scenarios.GradeRequest{Rubric: `"a"`, User: "hi", Reply: "a"})
	_, err = capped.Grade(ctx, scenarios.GradeRequest{Rubric: `"b"`, User: "hi", Reply: "b"})
	if !errors.As(err, &e) || e.Kind != agent.KindQuotaExhausted {
		t.Errorf("MaxCalls: %v", err)
	}
	// A fenced answer in prose is parsed.
	if g, err := j.Grade(ctx, scenarios.GradeRequest{Rubric: `[fenced] "ok"`, User: "hi", Reply: "ok"}); err != nil || g.Score != 1 {
		t.Errorf("fenced: %+v, %v", g, err)
	}
	if _, err := agent.NewJudge(agent.JudgeOptions{Options: agent.Options{BaseURL: url}}); err == nil {
		t.Error("NewJudge without a model: no error")
	}
}

// TestJudgeEndToEnd loads a scenario with judge expectations and grades a
// reply through Turn.EvaluateContext, as the runner does.
func TestJudgeEndToEnd(t *testing.T) {
	js, url := startJudge(t)
	cache := t.TempDir()
	src := `turns:
  - user: How much is Growth?
    expect:
      - judge: {rubric: 'Must mention "Growth" and "$49".', min_score: 0.5}
      - name: strict
        judge: {rubric: 'Must mention "Growth", "$49" and "per month".'}
      - not: {judge: {rubric: 'Mentions "Enterprise".'}}
`
	scs, err := scenarios.ParseWith(scenarios.LoadOptions{JudgeConfigured: true}, "e.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	turn := scs[0].Turns[0]
	obs := &scenarios.Observation{Text: "Growth costs $49."}
	for run := 1; run <= 2; run++ {
		j := newJudge(t, url, cache, nil)
		vs := turn.EvaluateContext(context.Background(), obs, nil, j)
		if len(vs) != 3 || !vs[0].Passed || vs[1].Passed || !vs[2].Passed {
			t.Fatalf("run %d: %+v", run, vs)
		}
		if want := `judge scored 0.67, below 0.7: mentions 2 of 3 required terms; missing "per month"`; vs[1].Reason != want || vs[1].Name != "strict" {
			t.Errorf("run %d: reason %q, want %q", run, vs[1].Reason, want)
		}
		if js.Calls() != 3 {
			t.Errorf("run %d: server calls = %d, want 3 (the re-run is cached)", run, js.Calls())
		}
	}
}

// countingLimiter counts Wait calls and refuses past max.
type countingLimiter struct {
	waits atomic.Int64
	max   int64
}

func (l *countingLimiter) Wait(ctx context.Context) error {
	if l.waits.Add(1) > l.max {
		return errors.New("rate exceeded")
	}
	return nil
}

// TestJudgeLimiter: every judge request, retries included, waits on the
// limiter first, and a limiter that refuses fails the grading without a
// request.
func TestJudgeLimiter(t *testing.T) {
	js, url := startJudge(t)
	lim := &countingLimiter{max: 3}
	j := newJudge(t, url, "", func(o *agent.JudgeOptions) { o.NoCache = true; o.Limiter = lim })
	ctx := context.Background()
	js.FailNext(503)
	if _, err := j.Grade(ctx, scenarios.GradeRequest{Rubric: `"ok"`, User: "hi", Reply: "ok"}); err != nil {
		t.Fatal(err)
	}
	if lim.waits.Load() != 2 || js.Calls() != 2 {
		t.Errorf("%d waits for %d requests, want 2 and 2 (the retry waits too)", lim.waits.Load(), js.Calls())
	}
	j.Grade(ctx, scenarios.GradeRequest{Rubric: `"a"`, User: "hi", Reply: "a"})
	_, err := j.Grade(ctx, scenarios.GradeRequest{Rubric: `"b"`, User: "hi", Reply: "b"})
	var e *agent.Error
	if !errors.As(err, &e) || e.Kind != agent.KindThrottled || js.Calls() != 3 {
		t.Errorf("refused by the limiter: %v after %d requests, want throttled after 3", err, js.Calls())
	}
}

// TestJudgeSeesUserMessage: the request carries the user's message beside
// the rubric and the reply, and the cache tells different messages apart.
func TestJudgeSeesUserMessage(t *testing.T) {
	var bodies []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"choices":[{"message":{"role":"assistant","content":"Example: {\"score\": 1}. My grade: {\"score\": 0.2, \"reason\": \"vague\"}"}}]}`)
	}))
	defer srv.Close()
	j := newJudge(t, srv.URL, t.TempDir(), nil)
	ctx := context.Background()
	v := j.View()
	g, err := v.Grade(ctx, scenarios.GradeRequest{Rubric: "answers the question", User: "Do you ship to Norway?", Reply: "Yes."})
	if err != nil || g.Score != 0.2 || g.Reason != "vague" {
		t.Fatalf("grade %+v, %v; want the judge's last grade 0.2", g, err)
	}
	var req struct {
		Messages []struct{ Role, Content string }
	}
	json.Unmarshal([]byte(bodies[0]), &req)
	user := req.Messages[len(req.Messages)-1].Content
	for _, want := range []string{"<rubric>\nanswers the question\n</rubric>", "<user>\nDo you ship to Norway?\n</user>", "<reply>\nYes.\n</reply>"} {
		if !strings.Contains(user, want) {
			t.Errorf("judge request lacks %q:\n%s", want, user)
		}
	}
	// Same rubric and reply, another user message: graded again.
	v.Grade(ctx, scenarios.GradeRequest{Rubric: "answers the question", User: "Do you ship to Chile?", Reply: "Yes."})
	v.Grade(ctx, scenarios.GradeRequest{Rubric: "answers the question", User: "Do you ship to Chile?", Reply: "Yes."})
	if len(bodies) != 2 {
		t.Errorf("%d requests, want 2 (the user's message is part of the cache key)", len(bodies))
	}
	if s := v.Stats(); s.Grades != 3 || s.Calls != 2 || s.CacheHits != 1 {
		t.Errorf("view stats %+v", s)
	}
	if s := j.Stats(); s.Grades != 3 || s.Calls != 2 {
		t.Errorf("judge stats %+v include the view's", s)
	}
}
