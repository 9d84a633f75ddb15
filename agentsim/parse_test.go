package agentsim

import (
	"bytes"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/examples"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestParseErrorsGolden parses every testdata/errors/*.yaml, each wrong in
// its own way, and compares the error text with its .golden file.
func TestParseErrorsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.yaml")
	if err != nil || len(files) < 12 {
		t.Fatalf("want at least 12 malformed agent files, got %d (%v)", len(files), err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			a, err := LoadAgent(file)
			if err == nil {
				t.Fatalf("parsed without error: %+v", a)
			}
			var pe ParseErrors
			if !errors.As(err, &pe) || len(pe) == 0 {
				t.Fatalf("error is %T, want ParseErrors: %v", err, err)
			}
			for _, e := range pe {
				if e.Pos.File != file || e.Pos.Line < 1 || e.Pos.Col < 1 {
					t.Errorf("error without a position: %#v", e)
				}
			}
			got := []byte(err.Error() + "\n")
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("error differs from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

func TestParseErrorNeverShowsAKey(t *testing.T) {
	for _, data := range []string{
		"name: A\nfallback: x\napi_keys: [\"secret key with spaces\", \"\", \"good-secret\"]\nlatency: {median: secret-value}\n",
		// YAML syntax errors show the source line, but not one of api_keys
		"name: A\nfallback: x\napi_keys: [\"secret key with spaces\" \"good-secret\"]\n",
		"name: A\napi_keys:\n  - secret key with spaces\n  - good-secret: [\nfallback: x\n",
		"name: A\napi_keys:\n- \"secret key with spaces\n- good-secret\n",
	} {
		_, err := ParseAgent("a.yaml", []byte(data))
		if err == nil {
			t.Fatalf("%q: want an error", data)
		}
		for _, k := range []string{"secret key", "good-secret"} {
			if strings.Contains(err.Error(), k) {
				t.Errorf("error reveals a key %q: %v", k, err)
			}
		}
	}
}

func TestParseAgentValues(t *testing.T) {
	data := []byte(`
name: Test Agent!
id: custom-id
api_keys: [k1, k2]
seed: -7
personality: {greeting: "Yo.", openers: ["", "Well, "]}
knowledge:
  - {topic: t, keywords: [a], phrases: ["b c"], answer: "A."}
fallback: F
tools:
  lead_capture:
  appointment: {enabled: false}
  email_handoff: {reply: "R {queue}", queue: support}
latency: {fixed: 10ms}
faults: {throttle: 0.1, error500: 0.05, error503: 0.05, drop: 0.01, malformed: 0.01, slow: 0.02, slow_delay: 2s, retry_after: 3s}
quota: 1000
limits: {per_minute: 100, per_hour: 1000, new_chats_per_minute: 30, v1_per_minute: 60}
envelope: true
`)
	a, err := ParseAgent("t.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	want := Agent{
		Name: "Test Agent!", ID: "custom-id", APIKeys: []string{"k1", "k2"}, Seed: -7,
		Personality: Personality{Greeting: "Yo.", Openers: []string{"", "Well, "}},
		Knowledge:   []Entry{{Topic: "t", Keywords: []string{"a"}, Phrases: []string{"b c"}, Answer: "A."}},
		Fallback:    "F",
		Tools:       Tools{LeadCapture: Tool{Enabled: true}, EmailHandoff: Tool{Enabled: true, Reply: "R {queue}", Queue: "support"}},
		Latency:     LatencyModel{Fixed: 10 * time.Millisecond},
		Faults:      Faults{Throttle: 0.1, Error500: 0.05, Error503: 0.05, Drop: 0.01, Malformed: 0.01, Slow: 0.02, SlowDelay: 2 * time.Second, RetryAfter: 3 * time.Second},
		Quota:       1000,
		Limits:      Limits{PerMinute: 100, PerHour: 1000, NewChatsPerMinute: 30, V1PerMinute: 60},
		Envelope:    true,
	}
	if !equalAgents(*a, want) {
		t.Errorf("parsed\n%+v\nwant\n%+v", *a, want)
	}
	// Without retry_after (or without faults at all) throttling asks for 1s.
	a, err = ParseAgent("t.yaml", []byte("name: a\napi_keys: [k]\nfallback: f\n"))
	if err != nil || a.Faults != (Faults{RetryAfter: time.Second}) {
		t.Errorf("default faults = %+v, %v", a.Faults, err)
	}
}

func equalAgents(a, b Agent) bool {
	return strings.Join(a.APIKeys, ",") == strings.Join(b.APIKeys, ",") &&
		a.Name == b.Name && a.ID == b.ID && a.Seed == b.Seed && a.Fallback == b.Fallback &&
		a.Personality.Greeting == b.Personality.Greeting &&
		strings.Join(a.Personality.Openers, "|") == strings.Join(b.Personality.Openers, "|") &&
		len(a.Knowledge) == len(b.Knowledge) && a.Tools == b.Tools && a.Latency == b.Latency &&
		a.Faults == b.Faults && a.Quota == b.Quota && a.Limits == b.Limits && a.Envelope == b.Envelope
}

// TestExampleAgents loads both example agent files and checks what the docs
// and the demo suite rely on, and that they really differ.
func TestExampleAgents(t *testing.T) {
	base, err := LoadAgent("../examples/agents/baseline.agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cand, err := LoadAgent("../examples/agents/candidate.agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	disk, err := os.ReadFile("../examples/agents/baseline.agent.yaml")
	if err != nil || !bytes.Equal(disk, examples.BaselineAgent) {
		t.Errorf("examples.BaselineAgent differs from baseline.agent.yaml on disk (%v)", err)
	}
	if len(base.Knowledge) < 10 || base.Latency != (LatencyModel{Median: 30 * time.Millisecond, P99: 120 * time.Millisecond}) ||
		strings.Join(base.APIKeys, ",") != "sim-demo-key" || base.Faults.any() || base.Quota != 0 || base.Limits.any() ||
		!base.Tools.LeadCapture.Enabled || !base.Tools.Appointment.Enabled || !base.Tools.EmailHandoff.Enabled {
		t.Errorf("baseline agent = %+v", base)
	}
	if cand.Latency != (LatencyModel{Median: 80 * time.Millisecond, P99: 400 * time.Millisecond}) || cand.Name != base.Name {
		t.Errorf("candidate agent = %+v", cand)
	}
	ask := func(a *Agent, msg string) string {
		a.Latency = LatencyModel{}
		a.APIKeys = []string{testKey}
		f := serve(t, a)
		return f.send(f.newChat("c"), msg)["response"].(string)
	}
	for _, c := range []struct{ msg, base, cand string }{
		{"What does the Growth plan cost?", "$99/mo", "$89/mo"},
		{"What is your refund policy?", "30 days", "Sorry, I don't have information"},
		{"Which integrations do you have?", "Slack, HubSpot and Zapier", "Salesforce"},
		{"Tell me about the Scale plan", "$299/mo", "$299/mo"},
	} {
		if got := ask(base, c.msg); !strings.Contains(got, c.base) {
			t.Errorf("baseline: %q -> %q, want %q", c.msg, got, c.base)
		}
		if got := ask(cand, c.msg); !strings.Contains(got, c.cand) {
			t.Errorf("candidate: %q -> %q, want %q", c.msg, got, c.cand)
		}
	}
}

// FuzzParseAgent: ParseAgent never panics; its errors always carry the file
// name and a position; what it accepts, the server can serve.
func FuzzParseAgent(f *testing.F) {
	// Small seeds keep the fuzzer fast (the example files are checked by
	// TestExampleAgents); one uses every key.
	f.Add([]byte(`name: A
id: a
api_keys: [k]
seed: 1
personality: {greeting: hi, openers: ["", "So, "]}
knowledge:
  - {topic: t, keywords: [price, plans], phrases: ["growth plan"], answer: "$9"}
fallback: f
tools: {lead_capture: {reply: "T {name} {contact}"}, appointment: {}, email_handoff: {queue: q, enabled: true}}
latency: {median: 1ms, p99: 2ms}
faults: {throttle: 0.1, error500: 0.1, error503: 0.1, drop: 0.1, malformed: 0.1, slow: 0.1, slow_delay: 1ms, retry_after: 0s}
quota: 10
limits: {per_minute: 1, per_hour: 2, new_chats_per_minute: 3, v1_per_minute: 4}
envelope: true
`))
	files, _ := filepath.Glob("testdata/errors/*.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("name: a\napi_keys: [k]\nfallback: f\nknowledge: [{keywords: [x], answer: y}]\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseAgent("fuzz.yaml", data)
		if err != nil {
			var pe ParseErrors
			if !errors.As(err, &pe) || len(pe) == 0 {
				t.Fatalf("error is not ParseErrors: %T %v", err, err)
			}
			for _, e := range pe {
				if e.Pos.File != "fuzz.yaml" || e.Pos.Line < 1 || e.Pos.Col < 1 {
					t.Fatalf("error without a position: %#v", e)
				}
			}
			return
		}
		a.Latency, a.Faults = LatencyModel{}, Faults{}
		s := New(a)
		key := a.APIKeys[0]
		post := func(path, body string) *httptest.ResponseRecorder {
			req := httptest.NewRequest("POST", path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			return w
		}
		w := post("/external/message/new-chat", `{"client_id":"c"}`)
		if w.Code != http.StatusOK && w.Code != http.StatusTooManyRequests {
			t.Fatalf("new-chat: %d %s", w.Code, w.Body)
		}
	})
}
