package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/scenarios"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestValidatePlan(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"s/pricing.yaml": `name: pricing
repeat: 2
matrix_csv: plans.csv
turns:
  - user: "How much is {{ plan }} for {{ company }} in {{ env QA_REGION }}?"
    expect:
      - judge: {rubric: 'names the price'}
`,
		"s/plans.csv":  "plan,price\ngrowth,49\nscale,99\nstarter,9\n",
		"s/hello.yaml": "name: hello\nturns:\n  - user: hi\n  - user: bye\n",
		"evalrun.yaml": `suite: [s]
plan: starter
defaults:
  vars: {company: Acme}
  expect: [{max_latency: 5s}]
judge: {url: "http://127.0.0.1:1", model: grader, api_key_env: JUDGE_KEY}
env_allow: [QA_REGION]
`,
	})
	c := &cli{env: map[string]string{"QA_REGION": "eu"}}
	code := c.run(t, "validate", "--config", filepath.Join(dir, "evalrun.yaml"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
	want := "ok: 2 scenarios (4 after matrix expansion), 7 conversations, 8 turns; at most 15 agent calls (7 new chats + 8 turns), a worst case of 17 calls with the 10% retry allowance; up to 6 judge calls, outside the agent's quota; plan starter leaves 1000 calls of headroom, 983 after this run.\n"
	if c.stdout.String() != want {
		t.Errorf("plan:\n%s\nwant\n%s", c.stdout.String(), want)
	}
}

func TestValidateErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.yaml": "turns:\n  - user: '{{ env HOME }}'\n    expect: [{judge: {rubric: polite}}]\n",
		"b.yaml": "turns:\n  - user: hi\n    expect: [{contians: x}]\n",
	})
	c := &cli{}
	if code := c.run(t, "validate", dir); code != exitUsage {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(c.stderr.String()), "\n")
	if len(lines) != 3 ||
		!strings.Contains(lines[0], "a.yaml:2:12: user: {{ env HOME }}: HOME is not in the allow-list") ||
		!strings.Contains(lines[1], "a.yaml:3:22: judge: no judge is configured") ||
		!strings.Contains(lines[2], `b.yaml:3:15: unknown expectation kind "contians"`) {
		t.Errorf("errors:\n%s", c.stderr.String())
	}
	// Over the quota: the plan says so (still exit 0: nothing ran).
	c = &cli{}
	if code := c.run(t, "validate", "--quota", "20", repoPath("examples")); code != exitOK {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
	if !strings.Contains(c.stdout.String(), "quota 20 leaves 20 calls of headroom: the run does NOT fit (short by 34;") ||
		!strings.Contains(c.stdout.String(), "33 turns; at most 49 agent calls (16 new chats + 33 turns)") ||
		!strings.Contains(c.stdout.String(), "; 1 simulated conversation counted at max_turns (5 turns in all), the calls each does not use released when it ends") {
		t.Errorf("plan: %s", c.stdout.String())
	}
}

func TestSchemaCommand(t *testing.T) {
	c := &cli{}
	if code := c.run(t, "schema"); code != exitOK {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
	var s map[string]any
	if err := json.Unmarshal(c.stdout.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" || s["$id"] != scenarios.SchemaID {
		t.Errorf("header: %v %v", s["$schema"], s["$id"])
	}
	props := s["$defs"].(map[string]any)["expectation"].(map[string]any)["properties"].(map[string]any)
	for _, k := range scenarios.Kinds() {
		if _, ok := props[k]; !ok {
			t.Errorf("kind %s missing", k)
		}
	}
	if code := c.run(t, "schema", "extra"); code != exitUsage {
		t.Errorf("schema extra: exit %d", code)
	}
}
