package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/config"
	"github.com/evalrun/evalrun/report"
)

// sideConfig writes an evalrun.yaml running the examples against the
// baseline and candidate simulated agents side by side.
func sideConfig(t *testing.T, extra string) string {
	t.Helper()
	abs := func(p string) string {
		a, err := filepath.Abs(repoPath(p))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	return writeConfig(t, "suite: ["+abs("examples")+"]\nquiet: true\ntargets:\n"+
		"  - name: baseline\n    agent: "+abs("examples/agents/baseline.agent.yaml")+"\n"+
		"  - name: candidate\n    agent: "+abs("examples/agents/candidate.agent.yaml")+"\n"+extra)
}

// streamed reads a --transcripts all file: conversation id → its line.
func streamed(t *testing.T, path string) map[int]report.TranscriptLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int]report.TranscriptLine{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l report.TranscriptLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out[l.ID] = l
	}
	return out
}

func TestSideBySideTargets(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	var c cli
	code := c.run(t, "run", "--config", sideConfig(t, ""), "--seed", "42", "--transcripts", "all", "--out", p("side.json"),
		"--html", p("side.html"), "--md", p("side.md"), "--junit", p("side.xml"), "--hgrm", p("hgrm"))
	// The candidate knows less: the run fails, as its worst target does.
	if code != exitFailed {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitFailed, c.stdout.String(), c.stderr.String())
	}
	run, err := report.ReadRunFile(p("side.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := run.Names(); !slices.Equal(got, []string{"baseline", "candidate"}) {
		t.Fatalf("targets %v", got)
	}
	base, cand := run.Target("baseline"), run.Target("candidate")
	if !base.Passed() || cand.Passed() || base.RunID != cand.RunID || base.Seed != 42 || cand.Seed != 42 {
		t.Errorf("baseline passed %v, candidate passed %v, run ids %s %s", base.Passed(), cand.Passed(), base.RunID, cand.RunID)
	}
	if base.Totals.Conversations == 0 || base.Totals.Conversations != cand.Totals.Conversations {
		t.Errorf("conversations: baseline %d, candidate %d", base.Totals.Conversations, cand.Totals.Conversations)
	}

	// The same conversations: same numbers, scenarios, client IDs and sent
	// texts (but where a turn quotes what its own agent said before).
	bs, cs := streamed(t, p("side.baseline.transcripts.jsonl")), streamed(t, p("side.candidate.transcripts.jsonl"))
	if len(bs) != base.Totals.Conversations || len(cs) != len(bs) {
		t.Fatalf("streamed %d and %d conversations, want %d each", len(bs), len(cs), base.Totals.Conversations)
	}
	compared := 0
	for id, b := range bs {
		c, ok := cs[id]
		if !ok || c.Scenario != b.Scenario || c.ClientID != b.ClientID || c.ClientID == "" || c.Iteration != b.Iteration {
			t.Errorf("conversation %d: baseline %s %q, candidate %s %q", id, b.Scenario, b.ClientID, c.Scenario, c.ClientID)
			continue
		}
		if b.Target != "baseline" || c.Target != "candidate" {
			t.Errorf("conversation %d streamed with targets %q and %q", id, b.Target, c.Target)
		}
		for i := 0; i < min(len(b.Turns), len(c.Turns)); i++ {
			if strings.HasSuffix(b.File, "knowledge-capture.yaml") && i > 0 {
				break // quotes the price its own agent gave
			}
			compared++
			if b.Turns[i].Sent != c.Turns[i].Sent {
				t.Errorf("conversation %d turn %d: sent %q to baseline, %q to candidate", id, i+1, b.Turns[i].Sent, c.Turns[i].Sent)
			}
		}
	}
	if compared < len(bs) {
		t.Errorf("compared only %d turns", compared)
	}

	// Every writer names both targets.
	out := c.stdout.String()
	for _, want := range []string{"target 1 of 2: baseline", "target 2 of 2: candidate", "side by side: baseline · candidate",
		"Turns (turns passed of sent, p95)", "✗ FAILED: target candidate",
		// The demo's simulated scenario, per target, in the side-by-side part.
		"simulated-lead · goal_met true                                ✓ 1/1      ✓ 1/1",
		"simulated-lead  candidate  1 of 1 (100.0%)  3×1         goal_met 1",
		"candidate: simulated user rule-based (agentsim)"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	html, err := os.ReadFile(p("side.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<th>baseline</th><th>candidate</th>", "baseline · all turns", "candidate · all turns",
		"<h2>Simulated users</h2>", "<tr><td>simulated-lead</td><td>candidate</td><td class=\"num\">1 of 1 (100.0%)</td><td>3×1</td><td>goal_met 1</td></tr>"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	md, _ := os.ReadFile(p("side.md"))
	if !strings.Contains(string(md), "### Target baseline") || !strings.Contains(string(md), "### Target candidate") ||
		!strings.Contains(string(md), "| simulated-lead | `goal_met true` | ✓ 1/1 | ✓ 1/1 |") {
		t.Errorf("Markdown lacks a table per target:\n%s", md)
	}
	junit, _ := os.ReadFile(p("side.xml"))
	if strings.Count(string(junit), "<testsuite ") != 2 {
		t.Errorf("JUnit has %d testsuites, want one per target", strings.Count(string(junit), "<testsuite "))
	}
	for _, d := range []string{"baseline", "candidate"} {
		if ents, err := os.ReadDir(filepath.Join(p("hgrm"), d)); err != nil || len(ents) == 0 {
			t.Errorf("--hgrm: no histograms of %s: %v", d, err)
		}
	}

	// report, compare and regrade read the file of several targets.
	var r cli
	if code := r.run(t, "report", p("side.json")); code != exitOK || !strings.Contains(r.stdout.String(), "side by side") {
		t.Errorf("report: exit %d\n%s%s", code, r.stdout.String(), r.stderr.String())
	}
	var cmp cli
	code = cmp.run(t, "compare", "--fail-on-regression", "--base-target", "baseline", "--new-target", "candidate", p("side.json"), p("side.json"))
	if code != exitFailed || !strings.Contains(cmp.stdout.String(), "REGRESSED") {
		t.Errorf("compare baseline → candidate of one run: exit %d\n%s%s", code, cmp.stdout.String(), cmp.stderr.String())
	}
	var same cli
	if code := same.run(t, "compare", "--fail-on-regression", p("side.json"), p("side.json")); code != exitOK ||
		!strings.Contains(same.stdout.String(), "━━ target baseline") || !strings.Contains(same.stdout.String(), "━━ target candidate") {
		t.Errorf("compare by target: exit %d\n%s%s", code, same.stdout.String(), same.stderr.String())
	}
	var rg cli
	if code := rg.run(t, "regrade", p("side.json"), "--out", p("regraded.json")); code != exitFailed ||
		!strings.Contains(rg.stdout.String(), "━━ target candidate") {
		t.Errorf("regrade: exit %d\n%s%s", code, rg.stdout.String(), rg.stderr.String())
	}
	if back, err := report.ReadRunFile(p("regraded.json")); err != nil || len(back.Targets) != 2 {
		t.Errorf("regraded result: %v", err)
	}
}

func TestSideBySideThresholds(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{"scoped to the passing target", []string{"--threshold", "target:baseline pass_rate==1"}, exitFailed,
			[]string{"✓ [baseline] target:baseline pass_rate==1"}, ""},
		{"scoped to the failing target", []string{"--threshold", "target:candidate pass_rate==1"}, exitFailed,
			[]string{"✗ [candidate] target:candidate pass_rate==1"}, ""},
		{"every target", []string{"--threshold", "calls>0"}, exitFailed,
			[]string{"✓ [baseline] calls>0", "✓ [candidate] calls>0"}, ""},
		{"unknown target", []string{"--threshold", "target:nope p95<1s"}, exitUsage, nil,
			"target:nope names no target of the run; its targets are baseline, candidate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c cli
			if code := c.run(t, append([]string{"run", "--config", sideConfig(t, "")}, tt.args...)...); code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, c.stdout.String(), c.stderr.String())
			}
			for _, w := range tt.stdout {
				if !strings.Contains(c.stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, c.stdout.String())
				}
			}
			if !strings.Contains(c.stderr.String(), tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, c.stderr.String())
			}
		})
	}
	// Only the baseline: the threshold scoped to it alone decides.
	var c cli
	if code := c.run(t, "run", "--config", sideConfig(t, ""), "--agent", repoPath("examples/agents/baseline.agent.yaml"),
		"--threshold", "pass_rate==1"); code != exitOK {
		t.Errorf("--agent on the command line runs one target: exit %d\n%s", code, c.stderr.String())
	}
}

// TestSideBySideNamedFlags runs two named --target URLs, each with its own
// key variable, and merges the shards of such a run.
func TestSideBySideNamedFlags(t *testing.T) {
	a, b := startSim(t, "key-a"), startSim(t, "key-b")
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	c := cli{env: map[string]string{"A_KEY": "key-a", "B_KEY": "key-b", "EVALRUN_LEDGER": p("ledger.json")}}
	args := []string{"run", "--quiet", "--target", "a=" + a.URL, "--target", "b=" + b.URL,
		"--api-key-env", "a=A_KEY", "--api-key-env", "b=B_KEY", "--plan", "starter", repoPath("examples")}
	if code := c.run(t, append(args, "--out", p("whole.json"))...); code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, c.stdout.String(), c.stderr.String())
	}
	// Each key has its own ledger entry.
	led, err := os.ReadFile(p("ledger.json"))
	if err != nil {
		t.Fatal(err)
	}
	whole, err := report.ReadRunFile(p("whole.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range whole.Targets {
		if r.Budget.Limit != 1000 || r.Budget.Spent != r.Totals.Attempts {
			t.Errorf("target %s budget %+v, attempts %d", r.Target.Name, r.Budget, r.Totals.Attempts)
		}
	}
	var ledger struct {
		Keys map[string]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(led, &ledger); err != nil || len(ledger.Keys) != 2 {
		t.Errorf("ledger has %d keys (%v), want an entry per key:\n%s", len(ledger.Keys), err, led)
	}

	// A wrong key variable names the target.
	bad := cli{env: map[string]string{"A_KEY": "key-a"}}
	if code := bad.run(t, args...); code != exitUsage || !strings.Contains(bad.stderr.String(), "target b: environment variable B_KEY is empty") {
		t.Errorf("missing key: exit %d\n%s", code, bad.stderr.String())
	}

	// Shards of a run of two targets merge target by target.
	for _, s := range []string{"1", "2"} {
		var sc cli
		sc.env = c.env
		if code := sc.run(t, append(args, "--shard", s+"/2", "--out", p("shard"+s+".json"))...); code != exitOK {
			t.Fatalf("shard %s: exit %d\n%s", s, code, sc.stderr.String())
		}
	}
	var m cli
	if code := m.run(t, "merge", p("shard1.json"), p("shard2.json"), "-o", p("merged.json"), "--threshold", "target:b pass_rate==1"); code != exitOK {
		t.Fatalf("merge: exit %d\n%s%s", code, m.stdout.String(), m.stderr.String())
	}
	merged, err := report.ReadRunFile(p("merged.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		w, g := whole.Target(name), merged.Target(name)
		if g == nil || g.Totals.Conversations != w.Totals.Conversations || g.Totals.Calls != w.Totals.Calls {
			t.Errorf("target %s merged %+v, whole %+v", name, g, w.Totals)
		}
	}
	if len(merged.Target("b").Thresholds) != 1 || len(merged.Target("a").Thresholds) != 0 {
		t.Errorf("merge --threshold target:b: a %v, b %v", merged.Target("a").Thresholds, merged.Target("b").Thresholds)
	}
	// A shard of another set of targets is refused.
	var one cli
	one.env = c.env
	if code := one.run(t, "run", "--quiet", "--target", "a="+a.URL, "--api-key-env", "A_KEY", "--shard", "2/2", "--out", p("other.json"), repoPath("examples")); code != exitOK {
		t.Fatalf("one target: exit %d\n%s", code, one.stderr.String())
	}
	var mm cli
	if code := mm.run(t, "merge", p("shard1.json"), p("other.json"), "-o", p("bad.json")); code != exitUsage ||
		!strings.Contains(mm.stderr.String(), "merge: targets: result 2 has targets [a], result 1 has [a, b]") {
		t.Errorf("mismatched targets: exit %d\n%s", code, mm.stderr.String())
	}
}

func TestTargetFlagValues(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--target", "a=http://127.0.0.1:1", "--target", "a=http://127.0.0.1:2"}, `target name "a" given twice`},
		{[]string{"--target", "bad name=http://127.0.0.1:1"}, `target name "bad name"`},
		{[]string{"--target", "http://127.0.0.1:1", "--target", "http://127.0.0.1:2"}, "name each one"},
		{[]string{"--target", "a=http://127.0.0.1:1", "--target", "http://127.0.0.1:2"}, "named targets (--target NAME=URL) both given"},
		{[]string{"--target", "a=http://127.0.0.1:1", "--target", "b=http://127.0.0.1:2", "--api-key-env", "c=X"}, "no target is named c"},
		{[]string{"--target", "a=ftp://x", "--target", "b=http://127.0.0.1:2"}, `--target a: url "ftp://x": want an http(s) URL`},
	}
	for _, tt := range tests {
		var c cli
		if code := c.run(t, append(append([]string{"run", "--quiet"}, tt.args...), repoPath("examples"))...); code != exitUsage ||
			!strings.Contains(c.stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, want 2 and %q:\n%s", tt.args, code, tt.want, c.stderr.String())
		}
	}
	if name, u, ok := splitNamed("https://h/p?x=1"); ok || u != "https://h/p?x=1" || name != "" {
		t.Errorf("a URL with a query splits as a name: %q %q", name, u)
	}
	if got := sidePath("out/r.transcripts.jsonl", "cand/1", ".transcripts.jsonl"); got != "out/r.cand_1.transcripts.jsonl" {
		t.Errorf("sidePath %q", got)
	}
}

func TestTargetConfigOptions(t *testing.T) {
	cfg := writeConfig(t, `targets:
  - name: llm
    kind: openai
    url: http://127.0.0.1:1
    auth: header
    header: X-Token
    timeout: 5s
    allow_insecure_http: true
    openai:
      model: m1
      system_prompt: Be brief.
      temperature: 0.5
      tools: [{type: function, function: {name: f}}]
  - name: bot
    kind: http
    url: http://127.0.0.1:2
    api_version: 3
    http:
      send: {path: /m, body: '{"t": "{{ content }}"}', verb: POST}
`)
	var c cli
	code := c.run(t, "run", "--config", cfg, repoPath("examples"))
	if code != exitUsage {
		t.Fatalf("exit %d\n%s", code, c.stderr.String())
	}
	for _, want := range []string{
		`evalrun.yaml:17:18: target "bot": api_version: "3" is not valid`,
		`evalrun.yaml:19:56: target "bot": unknown key "verb" in http.send`,
	} {
		if !strings.Contains(c.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, c.stderr.String())
		}
	}
}

func TestTargetOptionsApply(t *testing.T) {
	cfg, err := config.Parse("evalrun.yaml", []byte(`targets:
  - name: llm
    kind: openai
    url: http://127.0.0.1:1
    auth: header
    header: X-Token
    timeout: 5s
    allow_insecure_http: true
    openai:
      model: m1
      system_prompt: Be brief.
      stream: true
      temperature: 0.5
      max_tokens: 40
      tools: [{type: function, function: {name: f}}]
  - name: bot
    kind: http
    url: http://127.0.0.1:2
    auth: query
    query_param: token
    http:
      create_session: {path: /s, body: '{}'}
      session_path: id
      send: {path: "/s/{{ session }}", body: '{"t": "{{ content }}"}', headers: {X-A: b}}
      reply_path: reply
      headers: {X-V: "{{ env.V }}"}
  - name: opt
    optimly: {api_version: 1}
`))
	if err != nil {
		t.Fatal(err)
	}
	decode := func(i int) *targetOptions {
		o, err := decodeTargetOptions(cfg.Targets[i], func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	spec := targetSpec{Kind: "openai", Auth: "bearer", Timeout: 30 * time.Second, OpenAI: &agent.OpenAIConfig{Model: "from-flag", Stream: false}}
	decode(0).apply(&spec, map[string]bool{"model": true})
	o := spec.OpenAI
	if spec.Auth != "header" || spec.Header != "X-Token" || spec.Timeout != 5*time.Second || !spec.AllowInsecureHTTP ||
		o.Model != "from-flag" || o.SystemPrompt != "Be brief." || !o.Stream || o.Temperature == nil || *o.Temperature != 0.5 ||
		o.MaxTokens != 40 || string(o.Tools) != `[{"function":{"name":"f"},"type":"function"}]` {
		t.Errorf("openai spec %+v, config %+v (tools %s)", spec, o, o.Tools)
	}
	spec = targetSpec{Kind: "http"}
	decode(1).apply(&spec, nil)
	h := spec.HTTP
	if spec.Auth != "query" || spec.QueryParam != "token" || h == nil || h.CreateSession == nil || h.CreateSession.Path != "/s" ||
		h.SessionPath != "id" || h.Send.Headers["X-A"] != "b" || h.ReplyPath != "reply" || h.Headers["X-V"] != "{{ env.V }}" || h.Getenv == nil {
		t.Errorf("http spec %+v, config %+v", spec, h)
	}
	if spec.newChatCalls() != 1 {
		t.Errorf("a create_session costs one call; got %d", spec.newChatCalls())
	}
	spec = targetSpec{Kind: "optimly", APIVersion: 2}
	decode(2).apply(&spec, nil)
	if spec.APIVersion != 1 {
		t.Errorf("optimly api_version %d", spec.APIVersion)
	}
	spec = targetSpec{Kind: "optimly", APIVersion: 2}
	decode(2).apply(&spec, map[string]bool{"api-version": true})
	if spec.APIVersion != 2 {
		t.Errorf("the command line's --api-version lost to the file: %d", spec.APIVersion)
	}
}

func FuzzDecodeTargetOptions(f *testing.F) {
	f.Add("targets:\n  - name: a\n    kind: openai\n    openai: {model: m, temperature: x, tools: '[1'}\n")
	f.Add("targets:\n  - name: b\n    kind: http\n    http: {send: {path: /m}, reply_path: r, headers: [1]}\n    timeout: -1s\n")
	f.Add("targets:\n  - name: c\n    optimly: {api_version: 9, auth: nope}\n    allow_insecure_http: maybe\n")
	f.Fuzz(func(t *testing.T, src string) {
		cfg, err := config.Parse("evalrun.yaml", []byte(src))
		if err != nil {
			return
		}
		for _, tg := range cfg.Targets {
			o, err := decodeTargetOptions(tg, func(string) string { return "" })
			if err != nil {
				if !strings.Contains(err.Error(), "evalrun.yaml:") {
					t.Fatalf("error without a place: %v", err)
				}
				continue
			}
			var spec targetSpec
			o.apply(&spec, nil)
		}
	})
}
