package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evalrun/evalrun/report"
)

// plainOpenAI is an OpenAI-compatible server written with net/http alone:
// POST /v1/chat/completions answers "ok", and there is no /v1/models. It
// records each request's path and Authorization header.
type plainOpenAI struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
	auth  []string
}

func newPlainOpenAI(t *testing.T) *plainOpenAI {
	p := &plainOpenAI{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.paths = append(p.paths, r.URL.Path)
		p.auth = append(p.auth, r.Header.Get("Authorization"))
		p.mu.Unlock()
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`))
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *plainOpenAI) seen() (paths, auth []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.paths...), append([]string(nil), p.auth...)
}

// writeSuite writes a one-turn scenario without expectations.
func writeSuite(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hello.yaml")
	if err := os.WriteFile(path, []byte("name: hello\nturns:\n  - user: Hello there\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOpenAIHealthCheckAndKeyless: a server without /v1/models stops the
// run with an error that names openai.health_path and --no-health-check;
// the flag (or health_path: "" in evalrun.yaml) skips the check. A target
// takes no key only when the user says so (--api-key-env "", auth: none,
// api_key_env: ""); then no Authorization header is sent. Without that, an
// empty key variable is still the usage error it always was.
func TestOpenAIHealthCheckAndKeyless(t *testing.T) {
	suite := writeSuite(t)
	yaml := func(entry string) string {
		p := filepath.Join(t.TempDir(), "evalrun.yaml")
		if err := os.WriteFile(p, []byte(entry), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name     string
		args     func(url string) []string
		env      map[string]string
		code     int
		stderr   []string
		auth     string // the Authorization header the server saw ("-": no call)
		noModels bool   // the run made no GET /v1/models
	}{
		{"missing key is still an error", func(u string) []string { return []string{"--target", u, "--kind", "openai", "--model", "m"} },
			nil, exitUsage, []string{"OPTIMLY_API_KEY is empty", `--api-key-env ""`}, "-", true},
		{"health check fails with the hint", func(u string) []string {
			return []string{"--target", u, "--kind", "openai", "--model", "m", "--api-key-env", ""}
		}, nil, exitUnfinished, []string{"not healthy", "openai.health_path", "--no-health-check"}, "", false},
		{"--no-health-check, keyless", func(u string) []string {
			return []string{"--target", u + "/v1", "--kind", "openai", "--model", "m", "--api-key-env", "", "--no-health-check"}
		}, nil, exitOK, nil, "", true},
		{"--auth none ignores a set key variable", func(u string) []string {
			return []string{"--target", u, "--kind", "openai", "--model", "m", "--auth", "none", "--no-health-check"}
		}, map[string]string{"OPTIMLY_API_KEY": "sk-should-not-be-sent"}, exitOK, nil, "", true},
		{"with a key, it is sent", func(u string) []string {
			return []string{"--target", u, "--kind", "openai", "--model", "m", "--api-key-env", "K", "--no-health-check"}
		}, map[string]string{"K": "sk-local"}, exitOK, nil, "Bearer sk-local", true},
		{"config: auth none, health_path empty", func(u string) []string {
			return []string{"--config", yaml("targets:\n  - name: local\n    kind: openai\n    url: " + u + "\n    auth: none\n    openai:\n      model: m\n      health_path: \"\"\n")}
		}, map[string]string{"OPTIMLY_API_KEY": "sk-should-not-be-sent"}, exitOK, nil, "", true},
		{"config: api_key_env empty", func(u string) []string {
			return []string{"--no-health-check", "--config", yaml("targets:\n  - name: local\n    kind: openai\n    url: " + u + "/v1/\n    api_key_env: \"\"\n    openai: {model: m}\n")}
		}, nil, exitOK, nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newPlainOpenAI(t)
			c := &cli{env: tt.env}
			args := append([]string{"run", "--quiet", "--out", filepath.Join(t.TempDir(), "r.json")}, tt.args(srv.URL)...)
			if code := c.run(t, append(args, suite)...); code != tt.code {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", code, tt.code, c.stderr.String())
			}
			for _, s := range tt.stderr {
				if !strings.Contains(c.stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, c.stderr.String())
				}
			}
			paths, auth := srv.seen()
			if tt.auth == "-" {
				if len(paths) != 0 {
					t.Fatalf("calls made: %v", paths)
				}
				return
			}
			if len(paths) == 0 {
				t.Fatal("no call reached the server")
			}
			for i, p := range paths {
				if auth[i] != tt.auth {
					t.Errorf("%s: Authorization %q, want %q", p, auth[i], tt.auth)
				}
				if p == "/v1/models" && tt.noModels {
					t.Errorf("health check made though skipped")
				}
				if strings.Contains(p, "/v1/v1") {
					t.Errorf("doubled /v1: %s", p)
				}
			}
		})
	}
}

// TestOpenAIKeylessAgainstSimulatedAgent: the simulated agent takes only
// its key, so a keyless run (health check skipped) is refused, and the
// error says the target was set keyless rather than naming a variable.
func TestOpenAIKeylessAgainstSimulatedAgent(t *testing.T) {
	srv := startSim(t, "sim-key")
	c := &cli{}
	code := c.run(t, "run", "--quiet", "--out", filepath.Join(t.TempDir(), "r.json"), "--target", srv.URL+"/v1", "--kind", "openai",
		"--model", "sim", "--api-key-env", "", "--no-health-check", writeSuite(t))
	if code != exitUnfinished || !strings.Contains(c.stderr.String(), "without a key") {
		t.Fatalf("exit %d\n%s", code, c.stderr.String())
	}
	// With the key and the /v1 base URL, the health check passes.
	c = &cli{env: map[string]string{"SIM_KEY": "sim-key"}}
	code = c.run(t, "run", "--quiet", "--out", filepath.Join(t.TempDir(), "r.json"), "--target", srv.URL+"/v1", "--kind", "openai",
		"--model", "sim", "--api-key-env", "SIM_KEY", writeSuite(t))
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, c.stderr.String())
	}
}

// TestOpenAIToolResultsAndOptionsFromFiles: a scenario's tool_results and
// openai: block, and a target's request options, headers and canned tool
// results in evalrun.yaml, reach a plain net/http server as the OpenAI API
// has them; the same scenario passes against the simulated agent, which
// refuses unanswered tool calls as the OpenAI API does.
func TestOpenAIToolResultsAndOptionsFromFiles(t *testing.T) {
	var (
		mu      sync.Mutex
		bodies  []string
		headers []http.Header
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies, headers = append(bodies, string(b)), append(headers, r.Header.Clone())
		n := len(bodies)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if n == 1 {
			_, _ = w.Write([]byte(`{"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[` +
				`{"id":"call_1","type":"function","function":{"name":"lookup_order","arguments":"{\"id\":\"A7\"}"}},` +
				`{"id":"call_2","type":"function","function":{"name":"weather","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`))
			return
		}
		_, _ = w.Write([]byte(`{"choices":[{"index":0,"message":{"role":"assistant","content":"It shipped."},"finish_reason":"stop"}]}`))
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	suite := filepath.Join(dir, "tools.yaml")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(suite, `name: tools
openai:
  seed: 42
  headers: {X-Scenario: tools}
turns:
  - user: Where is my order A7?
  - user: Thanks, and what does Growth cost?
    tool_results:
      lookup_order: {status: shipped}
      lead_capture: '{"lead_id": 7}'
`)
	cfg := filepath.Join(dir, "evalrun.yaml")
	write(cfg, `targets:
  - name: local
    kind: openai
    url: `+srv.URL+`/v1
    api_key_env: ""
    openai:
      model: m
      health_path: ""
      seed: 1
      stop: [END]
      extra: {top_p: 0.5}
      headers: {X-Org: acme}
      tool_results: {weather: sunny}
`)
	c := &cli{}
	if code := c.run(t, "run", "--quiet", "--config", cfg, "--out", filepath.Join(dir, "r.json"), suite); code != exitOK {
		t.Fatalf("exit %d\n%s", code, c.stderr.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 2 {
		t.Fatalf("%d requests", len(bodies))
	}
	for _, want := range []string{
		`"seed":42,"stop":["END"],"top_p":0.5,`,
		`{"role":"assistant","content":"","tool_calls":[{"id":"call_1","type":"function","function":{"name":"lookup_order","arguments":"{\"id\":\"A7\"}"}},{"id":"call_2","type":"function","function":{"name":"weather","arguments":"{}"}}]},` +
			`{"role":"tool","content":"{\"status\":\"shipped\"}","tool_call_id":"call_1"},{"role":"tool","content":"sunny","tool_call_id":"call_2"},{"role":"user"`,
	} {
		if !strings.Contains(bodies[1], want) {
			t.Errorf("second request lacks %s:\n%s", want, bodies[1])
		}
	}
	if h := headers[1]; h.Get("X-Org") != "acme" || h.Get("X-Scenario") != "tools" || h.Get("Authorization") != "" {
		t.Errorf("headers %v", h)
	}
	// The result says what was asked of this target (the scenario's
	// overrides are in the requests, the target's options in the result).
	if o := readResult(t, filepath.Join(dir, "r.json")).Target.OpenAI; o == nil || o.Model != "m" || o.Stream ||
		string(o.Options["seed"]) != "1" || o.Options["top_p"] == nil || len(o.Headers) != 1 {
		t.Errorf("result target.openai %+v", o)
	}

	// The simulated agent: the second turn answers lead_capture (by name).
	write(suite, strings.Replace(string(must(os.ReadFile(suite))), "Where is my order A7?", "I'm Ana, ana@example.com, call me back.", 1))
	c = &cli{}
	if code := c.run(t, "run", "--quiet", "--kind", "openai", "--out", filepath.Join(dir, "r2.json"), suite); code != exitOK {
		t.Fatalf("simulated agent: exit %d\n%s", code, c.stderr.String())
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestMaxTokensUndecidedWithoutUsage: a server that reports no usage
// leaves max_tokens undecided (the conversation errors, saying why), where
// the simulated agent, which reports usage, passes it.
func TestMaxTokensUndecidedWithoutUsage(t *testing.T) {
	dir := t.TempDir()
	suite := filepath.Join(dir, "tokens.yaml")
	if err := os.WriteFile(suite, []byte("name: tokens\nturns:\n  - user: Hello there\n    expect: [{max_tokens: 100000}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := newPlainOpenAI(t)
	out := filepath.Join(dir, "plain.json")
	c := &cli{}
	code := c.run(t, "run", "--quiet", "--out", out, "--target", srv.URL, "--kind", "openai", "--model", "m", "--api-key-env", "", "--no-health-check", suite)
	data, _ := os.ReadFile(out)
	if code == exitOK || !strings.Contains(string(data), "cannot be decided") || !strings.Contains(string(data), `"undecided": true`) {
		t.Fatalf("no usage: exit %d, result:\n%s\nstderr:\n%s", code, data, c.stderr.String())
	}
	res := readResult(t, out)
	if res.Totals.Passed != 0 || res.Totals.Failed != 0 {
		t.Errorf("totals %+v: an undecided check is neither a pass nor a failure of the agent", res.Totals)
	}
	c = &cli{}
	if code := c.run(t, "run", "--quiet", "--out", filepath.Join(dir, "sim.json"), "--kind", "openai", suite); code != exitOK {
		t.Fatalf("simulated agent: exit %d\n%s", code, c.stderr.String())
	}
}

// TestResultSaysWhatWasTested: an OpenAI target's result records the
// model, stream flag, system prompt, request options and extra header
// names; the load model is settings.load_model, and a file that still
// calls it settings.model reads as load_model. validate counts no
// new-chat calls for an OpenAI target, as --dry-run does.
func TestResultSaysWhatWasTested(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "evalrun.yaml")
	if err := os.WriteFile(cfg, []byte(`targets:
  - name: local
    kind: openai
    openai:
      model: sim
      stream: true
      system_prompt: Be brief.
      seed: 3
      headers: {X-Org: acme}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "r.json")
	c := &cli{}
	if code := c.run(t, "run", "--quiet", "--config", cfg, "--out", out, writeSuite(t)); code != exitOK {
		t.Fatalf("exit %d\n%s", code, c.stderr.String())
	}
	res := readResult(t, out)
	o := res.Target.OpenAI
	if o == nil || o.Model != "sim" || !o.Stream || o.SystemPrompt != "Be brief." || string(o.Options["seed"]) != "3" ||
		strings.Join(strings.Fields(string(o.Options["stream_options"])), "") != `{"include_usage":true}` || len(o.Headers) != 1 || o.Headers[0] != "X-Org" {
		t.Fatalf("target %+v openai %+v", res.Target, o)
	}
	if res.Settings["load_model"] != "closed" || res.Settings["model"] != nil {
		t.Errorf("settings %v: want load_model closed and no model", res.Settings)
	}
	data, _ := os.ReadFile(out)
	if strings.Contains(string(data), "acme") {
		t.Errorf("a header value was recorded:\n%s", data)
	}
	old := strings.Replace(string(data), `"load_model"`, `"model"`, 1)
	if err := os.WriteFile(out, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := readResult(t, out); res.Settings["load_model"] != "closed" || res.Settings["model"] != nil {
		t.Errorf("an older file's settings.model read as %v", res.Settings)
	}

	suite := repoPath("examples/lead-capture.yaml")
	for _, args := range [][]string{{"--kind", "openai"}, {"--config", cfg}} {
		c = &cli{}
		if code := c.run(t, append(append([]string{"validate"}, args...), suite)...); code != exitOK {
			t.Fatalf("validate %v: exit %d\n%s", args, code, c.stderr.String())
		}
		if !strings.Contains(c.stdout.String(), "(0 new chats + 2 turns") || !strings.Contains(c.stdout.String(), "at most 2 agent calls") {
			t.Errorf("validate %v: %s", args, c.stdout.String())
		}
	}
	c = &cli{}
	if code := c.run(t, "validate", suite); code != exitOK || !strings.Contains(c.stdout.String(), "(1 new chats + 2 turns") {
		t.Errorf("validate for optimly: exit %d %s", code, c.stdout.String())
	}
}

// TestTokenMetricsEndToEnd: a plain SSE server with known timings (first
// chunk after 40ms, then 4 more 25ms apart, usage of 5 completion tokens)
// gives a time per output token and an inter-token latency of at least
// what it was written to give, usable in thresholds; the simulated agent's
// streams give them too.
func TestTokenMetricsEndToEnd(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		time.Sleep(40 * time.Millisecond)
		for i := range 5 {
			if i > 0 {
				time.Sleep(25 * time.Millisecond)
			}
			_, _ = w.Write([]byte(`data: {"choices":[{"index":0,"delta":{"content":"w` + strconv.Itoa(i) + ` "}}]}` + "\n\n"))
			_ = rc.Flush()
		}
		_, _ = w.Write([]byte(`data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n" +
			`data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}` + "\n\n" + "data: [DONE]\n\n"))
	}))
	t.Cleanup(srv.Close)
	out := filepath.Join(t.TempDir(), "r.json")
	c := &cli{}
	code := c.run(t, "run", "--quiet", "--out", out, "--target", srv.URL, "--kind", "openai", "--model", "m", "--stream", "--api-key-env", "",
		"--no-health-check", "--threshold", "tpot p50>=28ms", "--threshold", "itl.p50>=25ms", "--threshold", "ttft p50>=40ms", writeSuite(t))
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, c.stdout.String(), c.stderr.String())
	}
	res := readResult(t, out)
	for _, kind := range []string{report.HistITL, report.HistTPOT} {
		if h := res.Histogram(kind, report.StreamName); h == nil || h.Count != 1 {
			t.Errorf("%s histogram %+v, want one value", kind, h)
		}
	}
	// (40 + 4×25)/5 = 28ms per token; 100ms/4 = 25ms between tokens: the
	// scheduler only adds, so a bound of 10× catches a wrong formula.
	if h := res.Histogram(report.HistTPOT, report.StreamName); h.P50US > 280_000 {
		t.Errorf("tpot %dµs, want about 28ms", h.P50US)
	}
	t.Logf("measured: ttft %dµs (written 40ms), itl %dµs (25ms), tpot %dµs (28ms)", res.Histogram(report.HistTTFT, report.StreamName).P50US,
		res.Histogram(report.HistITL, report.StreamName).P50US, res.Histogram(report.HistTPOT, report.StreamName).P50US)

	c = &cli{}
	if code := c.run(t, "run", "--quiet", "--out", filepath.Join(t.TempDir(), "s.json"), "--kind", "openai", "--stream",
		"--threshold", "tpot p50<10s", "--threshold", "itl max<10s", repoPath("examples/pricing.yaml")); code != exitOK {
		t.Fatalf("simulated agent: exit %d\n%s\n%s", code, c.stdout.String(), c.stderr.String())
	}
}

// TestKeylessDryRun: a keyless target's dry run says why nothing is
// recorded in the ledger, rather than naming an empty variable.
func TestKeylessDryRun(t *testing.T) {
	c := &cli{}
	if code := c.run(t, "run", "--dry-run", "--target", "http://127.0.0.1:1", "--kind", "openai", "--model", "m", "--api-key-env", "", writeSuite(t)); code != exitOK {
		t.Fatalf("exit %d\n%s", code, c.stderr.String())
	}
	if !strings.Contains(c.stdout.String(), "keyless") || strings.Contains(c.stdout.String(), " is empty") {
		t.Errorf("dry run:\n%s", c.stdout.String())
	}
}
