package agent_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/agentsim"
)

const simKey = "sim-key-0d1e2f3a4b5c"

// startSim serves the baseline example agent on loopback with simKey.
func startSim(t *testing.T, mod func(*agentsim.Agent)) string {
	t.Helper()
	path := filepath.Join("..", "examples", "agents", "baseline.agent.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := agentsim.ParseAgent(path, data)
	if err != nil {
		t.Fatal(err)
	}
	a.APIKeys = []string{simKey}
	a.Latency = agentsim.LatencyModel{}
	if mod != nil {
		mod(a)
	}
	run, err := agentsim.Start(a, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run.Close() })
	return run.URL
}

func dial(t *testing.T, url string, mod func(*agent.Options)) *agent.Optimly {
	t.Helper()
	opts := agent.Options{BaseURL: url, APIKey: simKey}
	if mod != nil {
		mod(&opts)
	}
	o, err := agent.NewOptimly(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	return o
}

// TestAgainstSimulatedAgent runs a conversation against the simulated agent
// in each API variant the transport speaks.
func TestAgainstSimulatedAgent(t *testing.T) {
	variants := []struct {
		name     string
		envelope bool
		opts     func(*agent.Options)
	}{
		{"v2 bearer", false, nil},
		{"v2 envelope", true, nil},
		{"v2 x-api-key", false, func(o *agent.Options) { o.Header = "X-API-Key" }},
		{"v1", false, func(o *agent.Options) { o.APIVersion = 1 }},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			url := startSim(t, func(a *agentsim.Agent) { a.Envelope = v.envelope })
			o := dial(t, url, v.opts)
			ctx := context.Background()
			if err := o.Health(ctx); err != nil {
				t.Fatal(err)
			}
			chat, err := o.NewChat(ctx, agent.NewChatRequest{ClientID: "qa-1"})
			if err != nil {
				t.Fatal(err)
			}
			if chat.ID == "" {
				t.Fatal("empty chat id")
			}
			r, err := o.Send(ctx, chat, agent.Message{Content: "What does the Growth plan cost?", ClientID: "qa-1"})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(r.Text, "$99") || len(r.Raw) == 0 {
				t.Fatalf("pricing reply %q (raw %d bytes)", r.Text, len(r.Raw))
			}
			r, err = o.Send(ctx, chat, agent.Message{Content: "Please let me talk to a human, my email is ana@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			if v.name == "v1" {
				return // the legacy endpoint answers with the text only
			}
			if !r.Handoff || len(r.Tools) == 0 {
				t.Fatalf("handoff reply: handoff %v, tools %+v", r.Handoff, r.Tools)
			}
		})
	}
}

func TestSimulatedAgentFailures(t *testing.T) {
	tests := []struct {
		name string
		sim  func(*agentsim.Agent)
		key  string
		kind agent.ErrorKind
	}{
		{"wrong key", nil, "not-the-key", agent.KindClient},
		{"throttled", func(a *agentsim.Agent) { a.Faults.Throttle = 1 }, "", agent.KindThrottled},
		{"server error", func(a *agentsim.Agent) { a.Faults.Error500 = 1 }, "", agent.KindServer},
		{"dropped", func(a *agentsim.Agent) { a.Faults.Drop = 1 }, "", agent.KindTransport},
		{"malformed", func(a *agentsim.Agent) { a.Faults.Malformed = 1 }, "", agent.KindProtocol},
		{"quota", func(a *agentsim.Agent) { a.Quota = 1 }, "", agent.KindQuotaExhausted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := startSim(t, tt.sim)
			o := dial(t, url, func(op *agent.Options) {
				if tt.key != "" {
					op.APIKey = tt.key
				}
			})
			ctx := context.Background()
			var err error
			for range 3 { // new chat and two turns; the quota of 1 runs out
				var chat agent.Chat
				if chat, err = o.NewChat(ctx, agent.NewChatRequest{ClientID: "c"}); err != nil {
					break
				}
				if _, err = o.Send(ctx, chat, agent.Message{Content: "hello"}); err != nil {
					break
				}
			}
			var e *agent.Error
			if !errors.As(err, &e) || e.Kind != tt.kind {
				t.Fatalf("got %v, want kind %v", err, tt.kind)
			}
			if strings.Contains(err.Error(), simKey) || (tt.key != "" && strings.Contains(err.Error(), tt.key)) {
				t.Fatalf("error reveals a key: %v", err)
			}
			if tt.kind == agent.KindThrottled && e.RetryAfter <= 0 {
				t.Errorf("throttled without RetryAfter: %+v", e)
			}
		})
	}
}
