package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/report"
	"github.com/evalrun/evalrun/runner"
)

func TestJudgeFromConfigGradesAndCaches(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	js := agentsim.NewJudgeServer()
	js.Key = "judge-key-for-test"
	srv := httptest.NewServer(js)
	defer srv.Close()

	suite, err := filepath.Abs(repoPath("testdata/judge"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, "suite: ["+suite+"]\nquiet: true\njudge: {url: "+srv.URL+", model: grader, api_key_env: JUDGE_KEY}\n")
	env := map[string]string{"JUDGE_KEY": "judge-key-for-test"}

	first := cli{env: env}
	if code := first.run(t, "run", "--config", cfg); code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, first.stdout.String(), first.stderr.String())
	}
	calls := js.Calls()
	if calls != 1 {
		// Both conversations get the same deterministic reply: one grade,
		// then a cache hit.
		t.Errorf("judge server answered %d calls on the first run, want 1", calls)
	}
	second := cli{env: env}
	if code := second.run(t, "run", "--config", cfg); code != exitOK {
		t.Fatalf("second run: exit %d\n%s", code, second.stderr.String())
	}
	if js.Calls() != calls {
		t.Errorf("the second run paid the judge again: %d calls, want %d", js.Calls(), calls)
	}

	// No judge configured: a load-time error naming the place.
	noJudge := writeConfig(t, "suite: ["+suite+"]\n")
	var c cli
	if code := c.run(t, "run", "--config", noJudge); code != exitUsage || !strings.Contains(c.stderr.String(), "judged.yaml:") {
		t.Errorf("exit %d without a judge: %s", code, c.stderr.String())
	}
	// The judge's key is never written.
	for _, s := range []string{first.stdout.String(), first.stderr.String()} {
		if strings.Contains(s, "judge-key-for-test") {
			t.Error("the judge key appears in the output")
		}
	}
}

// brokenJudge is a plain net/http chat-completions endpoint that fails:
// HTTP 500, or a 200 whose answer holds no grade.
func brokenJudge(t *testing.T, status int, content string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if status != http.StatusOK {
			http.Error(w, `{"error": {"message": "grader crashed"}}`, status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		b, _ := json.Marshal(map[string]any{"choices": []any{map[string]any{"message": map[string]any{"role": "assistant", "content": content}}}})
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// TestBrokenJudgeIsAnError: a judge answering HTTP 500 or nonsense makes
// the judged expectation undecided: the conversation's outcome is error
// with the judge's reason (not failed), `not: {judge}` does not pass, the
// run exits "unfinished" (3), not "failed" (1), and the reports count the
// judge's failures.
func TestBrokenJudgeIsAnError(t *testing.T) {
	for _, tt := range []struct {
		name, content, reason string
		status                int
	}{
		{"http 500", "", "judge failed", http.StatusInternalServerError},
		{"nonsense", "I would say it is pretty good overall.", `no JSON object {"score", "reason"} in the answer`, http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("XDG_CACHE_HOME", t.TempDir())
			srv, calls := brokenJudge(t, tt.status, tt.content)
			dir := t.TempDir()
			scen := filepath.Join(dir, "judged.yaml")
			os.WriteFile(scen, []byte(`name: judged
turns:
  - user: What does the Growth plan cost?
    expect:
      - judge: {rubric: 'Names the "Growth" plan.'}
  - user: And the Scale plan?
    expect:
      - not: {judge: {rubric: 'Is rude.'}}
`), 0o644)
			cfg := writeConfig(t, "suite: ["+scen+"]\nquiet: true\njudge: {url: "+srv.URL+", model: grader, api_key_env: JUDGE_KEY, limit: 100/s}\n")
			out := filepath.Join(dir, "r.json")
			md := filepath.Join(dir, "r.md")
			c := cli{env: map[string]string{"JUDGE_KEY": "k-judge-secret"}}
			code := c.run(t, "run", "--config", cfg, "--max-attempts", "1", "--out", out, "--md", md)
			if code != exitUnfinished || !strings.Contains(c.stderr.String(), "the judge failed 1 gradings") {
				t.Fatalf("exit %d, want %d (unfinished)\n%s\n%s", code, exitUnfinished, c.stdout.String(), c.stderr.String())
			}
			res, err := report.ReadResultFile(out)
			if err != nil {
				t.Fatal(err)
			}
			cv := res.Scenarios[0].Conversations[0]
			if cv.Outcome != runner.Errored || !strings.Contains(cv.Reason, "turn 1: judge") || !strings.Contains(cv.Reason, tt.reason) {
				t.Errorf("conversation %s (%s), want error with the judge's reason %q", cv.Outcome, cv.Reason, tt.reason)
			}
			if v := cv.Turns[0].Verdicts[0]; v.Passed || !v.Undecided {
				t.Errorf("verdict %+v, want undecided", v)
			}
			if len(cv.Turns) != 1 {
				t.Errorf("%d turns: the conversation went on after an undecided turn", len(cv.Turns))
			}
			j := res.Judge
			if j == nil || j.Grades != 1 || j.Failures != 1 || j.Calls < 1 || j.Calls != calls.Load() || j.Limit != "100/s" {
				t.Errorf("judge accounting %+v (server saw %d calls)", j, calls.Load())
			}
			if !strings.Contains(c.stdout.String(), "the judge failed 1 grading") {
				t.Errorf("console verdict does not blame the judge:\n%s", c.stdout.String())
			}
			if !strings.Contains(c.stdout.String(), "judge grader: 1 grading, ") || !strings.Contains(c.stdout.String(), "1 failure") {
				t.Errorf("console lacks the judge's accounting:\n%s", c.stdout.String())
			}
			if b, _ := os.ReadFile(md); !strings.Contains(string(b), "judge grader: 1 grading") {
				t.Errorf("Markdown lacks the judge's accounting:\n%s", b)
			}
			if strings.Contains(c.stdout.String()+c.stderr.String(), "k-judge-secret") {
				t.Error("the judge's key was printed")
			}
		})
	}
}

// TestJudgeAccountingAndLimit: a working judge's calls and cache hits are
// in the console, JSON and Markdown; judge.limit paces its calls; a bad
// limit is refused with the file's position.
func TestJudgeAccountingAndLimit(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	js := agentsim.NewJudgeServer()
	srv := httptest.NewServer(js)
	defer srv.Close()
	suite, _ := filepath.Abs(repoPath("testdata/judge"))
	dir := t.TempDir()
	cfg := writeConfig(t, "suite: ["+suite+"]\nquiet: true\njudge: {url: "+srv.URL+", model: grader, limit: 1000/s}\n")
	out := filepath.Join(dir, "r.json")
	c := cli{}
	if code := c.run(t, "run", "--config", cfg, "--out", out); code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, c.stdout.String(), c.stderr.String())
	}
	res, err := report.ReadResultFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// Two conversations, one identical reply: one call, one cache hit.
	if j := res.Judge; j == nil || j.Grades != 2 || j.Calls != 1 || j.CacheHits != 1 || j.Failures != 0 {
		t.Errorf("judge accounting %+v, want 2 gradings, 1 call, 1 cache hit", j)
	}
	if !strings.Contains(c.stdout.String(), "judge grader: 2 gradings, 1 call, 1 cache hit, 0 failures (limit 1000/s)") {
		t.Errorf("console lacks the judge's accounting:\n%s", c.stdout.String())
	}

	bad := writeConfig(t, "suite: ["+suite+"]\njudge: {url: "+srv.URL+", model: grader, limit: fast}\n")
	var b cli
	if code := b.run(t, "run", "--config", bad); code != exitUsage || !strings.Contains(b.stderr.String(), ":2:") || !strings.Contains(b.stderr.String(), "judge.limit") {
		t.Errorf("bad judge.limit: exit %d\n%s", code, b.stderr.String())
	}
}
