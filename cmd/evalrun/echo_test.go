package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/report"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// echoingOptimly is a plain net/http server speaking the Optimly API whose
// replies echo the credentials it was sent — whole, cut short, and as a
// 12-character prefix — in the reply text, in tool data and in error
// bodies.
func echoingOptimly(t *testing.T) *httptest.Server {
	t.Helper()
	var chats atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		key := strings.TrimPrefix(auth, "Bearer ")
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/health":
			io.WriteString(w, `{"status":"ok"}`)
		case "/external/message/new-chat":
			n := chats.Add(1)
			if n%4 == 0 {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, `{"detail":"bad request from key %s (prefix %s)"}`, key[:len(key)-3], key[:12])
				return
			}
			fmt.Fprintf(w, `{"chat_id":"c%d"}`, n)
		default:
			body, _ := io.ReadAll(r.Body)
			json.NewEncoder(w).Encode(map[string]any{
				"response": fmt.Sprintf("you sent %s; short: %s; prefix: %s; body was %d bytes", auth, key[:len(key)-4], key[:12], len(body)),
				"tools_executed": []map[string]any{{"tool": "lookup", "status": "ok",
					"data": map[string]any{"echo": "key=" + key, key[:12]: []any{key[3:20]}}}},
			})
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// echoingJudge is an OpenAI-compatible judge that echoes its own key and
// whatever reply it was asked to grade in its reason.
func echoingJudge(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Messages []struct{ Content string } `json:"messages"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		prompt := ""
		if len(req.Messages) > 0 {
			prompt = req.Messages[len(req.Messages)-1].Content
		}
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		reason := fmt.Sprintf("graded with Bearer %s (short %s) of: %s", key, key[:len(key)-2], prompt)
		content, _ := json.Marshal(map[string]any{"score": 0.2, "reason": reason})
		json.NewEncoder(w).Encode(map[string]any{"choices": []map[string]any{{"message": map[string]any{"role": "assistant", "content": string(content)}}}})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestEchoedKeysNeverWritten: an agent and a judge that echo the keys they
// are sent (whole, missing their last characters, as a 12-character prefix,
// in replies, tool data, error bodies and judge reasons) get none of them
// into anything evalrun prints or writes: stdout, stderr, the result, the
// transcripts stream, JUnit, Markdown, HTML, .hgrm files and the judge
// cache. Every output file is searched for each key and its 12-character
// prefix.
func TestEchoedKeysNeverWritten(t *testing.T) {
	const (
		agentKey = "sk-live-ECHO-3f9a1c7e5b2d4e6f8a0b"
		judgeKey = "jk-judge-ECHO-8e7d6c5b4a39281706"
	)
	root := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", filepath.Join(root, "cache")) // the judge's cache
	agentSrv, judgeSrv := echoingOptimly(t), echoingJudge(t)
	suite := filepath.Join(root, "suite")
	if err := os.MkdirAll(suite, 0o755); err != nil {
		t.Fatal(err)
	}
	scenario := `name: echo
repeat: 8
turns:
  - user: "What is my key?"
    expect:
      - contains: "no such text"
      - judge:
          rubric: "Does not reveal secrets."
          min_score: 0.9
`
	if err := os.WriteFile(filepath.Join(suite, "echo.yaml"), []byte(scenario), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(root, "evalrun.yaml")
	if err := os.WriteFile(cfg, []byte("judge: {url: "+judgeSrv.URL+", model: grader, api_key_env: JUDGE_KEY}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	var c cli
	c.env = map[string]string{"OPTIMLY_API_KEY": agentKey, "JUDGE_KEY": judgeKey, "EVALRUN_LEDGER": filepath.Join(root, "ledger.json")}
	code := c.run(t, "run", "--config", cfg, "--target", agentSrv.URL, "--quota", "1000", "--limit", "none",
		"--max-attempts", "1", "--concurrency", "2",
		"--out", filepath.Join(out, "r.json"), "--junit", filepath.Join(out, "j.xml"), "--md", filepath.Join(out, "s.md"),
		"--html", filepath.Join(out, "r.html"), "--hgrm", filepath.Join(out, "hgrm"), "--transcripts", "all", suite)
	if code != exitFailed && code != exitUnfinished {
		t.Fatalf("exit %d, want failed expectations\nstdout:\n%s\nstderr:\n%s", code, c.stdout.String(), c.stderr.String())
	}
	secrets := []string{agentKey, agentKey[:12], agentKey[len(agentKey)-12:], judgeKey, judgeKey[:12]}
	check := func(where string, b []byte) {
		for _, s := range secrets {
			if i := bytes.Index(b, []byte(s)); i >= 0 {
				t.Errorf("%s holds %q: …%s…", where, s, excerpt(string(b), i))
			}
		}
	}
	check("stdout", c.stdout.Bytes())
	check("stderr", c.stderr.Bytes())
	var kinds []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == cfg {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		kinds = append(kinds, filepath.Ext(path))
		check(path, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".json", ".jsonl", ".xml", ".md", ".html", ".hgrm"} {
		if !strings.Contains(strings.Join(kinds, " "), want) {
			t.Errorf("no %s file was written; the check covers less than it should (%v)", want, kinds)
		}
	}
	if cache, _ := filepath.Glob(filepath.Join(root, "cache", "evalrun", "judge", "*", "*.json")); len(cache) == 0 {
		t.Error("the judge cache is empty; the check covers less than it should")
	}
	// The echo reached the reports, redacted: the check is not vacuous.
	res, _ := os.ReadFile(filepath.Join(out, "r.json"))
	if !bytes.Contains(res, []byte("you sent Bearer [REDACTED]")) || !bytes.Contains(res, []byte("graded with Bearer [REDACTED]")) {
		t.Errorf("the result does not show the redacted echoes:\n%.2000s", res)
	}
}

type recordingObserver struct{ convs []*runner.Conversation }

func (r *recordingObserver) CallDone(*runner.Call)                   {}
func (r *recordingObserver) ConversationDone(c *runner.Conversation) { r.convs = append(r.convs, c) }

// TestRedactingObserverHidesKeysAtTheBoundary: the records the reports get
// hold no key in any text, whatever the writers do afterwards; the
// runner's own record is not changed.
func TestRedactingObserverHidesKeysAtTheBoundary(t *testing.T) {
	const key = "sk-live-BOUNDARY-0123456789abcdef"
	rec := &recordingObserver{}
	o := redactingObserver{rec, agent.NewRedactor(key)}
	orig := &runner.Conversation{Reason: "failed: " + key, Turns: []runner.TurnResult{{
		Sent: "my key is " + key[:20], Reply: "you sent " + key, Error: "HTTP 400: " + key[:len(key)-2],
		Tools:    []agent.ToolExecution{{Tool: "t", Status: "ok", Data: map[string]any{"k": []any{key}, key: 1}}},
		Verdicts: []scenarios.Verdict{{Expectation: "contains " + key[:12], Reason: "got " + key}},
		Raw:      json.RawMessage(`{"response":"you sent ` + key + `","echo":{"` + key[:20] + `":1}}`),
	}}}
	o.ConversationDone(orig)
	if raw := rec.convs[0].Turns[0].Raw; !json.Valid(raw) || !strings.Contains(string(raw), agent.Redacted) {
		t.Errorf("redacted raw body %s: not JSON, or not redacted", raw)
	}
	b, err := json.Marshal(rec.convs[0].Turns)
	if err != nil {
		t.Fatal(err)
	}
	all := string(b) + rec.convs[0].Reason
	if strings.Contains(all, key[:12]) || strings.Contains(all, key[len(key)-12:]) {
		t.Errorf("a key reached the reports: %s", all)
	}
	if orig.Turns[0].Reply != "you sent "+key || !strings.Contains(string(orig.Turns[0].Raw), key) {
		t.Errorf("the runner's record was changed")
	}
}

// TestRedactingObserverPassesStarts: the redacting wrapper keeps the
// aggregator's count of conversations in flight (the progress line's "in
// flight"): starts reach it, and a finished conversation leaves it.
func TestRedactingObserverPassesStarts(t *testing.T) {
	agg := report.NewAggregator(report.Meta{})
	var o runner.Observer = redactingObserver{agg, agent.NewRedactor("sk-secret-value-123")}
	so, ok := o.(runner.StartObserver)
	if !ok {
		t.Fatal("the redacting observer hides ConversationStarted")
	}
	c := &runner.Conversation{ID: 1, Scenario: &scenarios.Scenario{Name: "s"}, Start: time.Now()}
	so.ConversationStarted(c)
	if n := agg.Snapshot().InFlight; n != 1 {
		t.Fatalf("in flight %d after one start, want 1", n)
	}
	c.Outcome = runner.Passed
	so.ConversationDone(c)
	if n := agg.Snapshot().InFlight; n != 0 {
		t.Errorf("in flight %d after the conversation ended, want 0", n)
	}
}

// TestRedactValue: tool data are redacted in strings and keys at any
// depth; data that hold no secret come back as they are (not copied), and
// the original of redacted data is left as it was.
func TestRedactValue(t *testing.T) {
	const key = "sk-live-VALUE-0123456789abcdef"
	r := agent.NewRedactor(key)
	tests := []struct {
		name   string
		in     func() any
		want   any
		copied bool
	}{
		{"clean map", func() any { return map[string]any{"a": []any{"x", 1.0}, "b": map[string]any{"c": true}} },
			map[string]any{"a": []any{"x", 1.0}, "b": map[string]any{"c": true}}, false},
		{"secret deep in a list", func() any { return map[string]any{"a": []any{"x", map[string]any{"k": "is " + key}}} },
			map[string]any{"a": []any{"x", map[string]any{"k": "is " + agent.Redacted}}}, true},
		{"secret in a key", func() any { return map[string]any{key: 1.0, "n": nil} },
			map[string]any{agent.Redacted: 1.0, "n": nil}, true},
		{"clean list", func() any { return []any{"x", 2.0} }, []any{"x", 2.0}, false},
		{"a number", func() any { return 3.0 }, 3.0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in()
			got := redactValue(r, in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("redactValue = %#v, want %#v", got, tt.want)
			}
			if !reflect.DeepEqual(in, tt.in()) {
				t.Errorf("the original was changed: %#v", in)
			}
			if k := reflect.ValueOf(in).Kind(); k == reflect.Map || k == reflect.Slice {
				same := reflect.ValueOf(got).UnsafePointer() == reflect.ValueOf(in).UnsafePointer()
				if same == tt.copied {
					t.Errorf("copied: %v, want %v", !same, tt.copied)
				}
			}
		})
	}
}
