package agent_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/agentsim"
)

func dialOpenAI(t *testing.T, url string, cfg agent.OpenAIConfig, mod func(*agent.Options)) *agent.OpenAI {
	t.Helper()
	opts := agent.Options{BaseURL: url, APIKey: simKey}
	if mod != nil {
		mod(&opts)
	}
	o, err := agent.NewOpenAI(opts, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	return o
}

// TestOpenAIAgainstSimulatedAgent holds a conversation with the simulated
// agent's OpenAI-compatible endpoint, streamed and not.
func TestOpenAIAgainstSimulatedAgent(t *testing.T) {
	for _, stream := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "stream"}[stream]
		t.Run(name, func(t *testing.T) {
			url := startSim(t, nil)
			o := dialOpenAI(t, url, agent.OpenAIConfig{Model: "sim", SystemPrompt: "You are terse.", Stream: stream}, nil)
			ctx := context.Background()
			if err := o.Health(ctx); err != nil {
				t.Fatal(err)
			}
			if o.NewChatCalls() != 0 || agent.NewChatCost(o) != 0 {
				t.Fatal("an openai chat is local and must cost no call")
			}
			chat, err := o.NewChat(ctx, agent.NewChatRequest{ClientID: "qa-1"})
			if err != nil {
				t.Fatal(err)
			}
			r, err := o.Send(ctx, chat, agent.Message{Content: "What does the Growth plan cost?"})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(r.Text, "$99") {
				t.Fatalf("pricing reply %q", r.Text)
			}
			if r.TokensUsed <= 0 || r.PromptTokens <= 0 || r.CompletionTokens <= 0 {
				t.Errorf("usage not read: %+v", r)
			}
			if r.RequestID == "" || len(r.TraceID) != 32 || r.TraceID != chat.TraceID {
				t.Errorf("ids: request %q trace %q (chat %q)", r.RequestID, r.TraceID, chat.TraceID)
			}
			if stream {
				if r.TTFT <= 0 || r.Chunks < 2 || len(r.Gaps) != r.Chunks-1 {
					t.Errorf("stream timings: ttft %v chunks %d gaps %d", r.TTFT, r.Chunks, len(r.Gaps))
				}
				for _, g := range r.Gaps {
					if g > r.MaxGap {
						t.Errorf("gap %v above MaxGap %v", g, r.MaxGap)
					}
				}
			} else if r.TTFT != 0 || r.Chunks != 0 {
				t.Errorf("plain reply has stream timings: %+v", r)
			}
			if !strings.Contains(string(r.Raw), `"choices"`) {
				t.Errorf("Raw %s", r.Raw)
			}
			// Second turn: the sim counts user messages, so a kept history
			// shows as turn 2; tools come back as tool calls.
			r, err = o.Send(ctx, chat, agent.Message{Content: "I'm Ana, ana@example.com. Please let me talk to a human."})
			if err != nil {
				t.Fatal(err)
			}
			var lead *agent.ToolExecution
			for i := range r.Tools {
				if r.Tools[i].Tool == "lead_capture" {
					lead = &r.Tools[i]
				}
			}
			if lead == nil || lead.Status != "called" || lead.Data["email"] != "ana@example.com" || lead.Data["name"] != "Ana" {
				t.Fatalf("tools %+v", r.Tools)
			}
			if !r.Handoff {
				t.Errorf("email_handoff call did not mark a handoff: %+v", r.Tools)
			}
		})
	}
}

func TestOpenAISimulatedFailures(t *testing.T) {
	tests := []struct {
		name   string
		sim    func(*agentsim.Agent)
		key    string
		stream bool
		kind   agent.ErrorKind
	}{
		{"wrong key", nil, "nope", false, agent.KindClient},
		{"throttled", func(a *agentsim.Agent) { a.Faults.Throttle = 1 }, "", true, agent.KindThrottled},
		{"server error", func(a *agentsim.Agent) { a.Faults.Error500 = 1 }, "", false, agent.KindServer},
		{"dropped", func(a *agentsim.Agent) { a.Faults.Drop = 1 }, "", true, agent.KindTransport},
		{"malformed plain", func(a *agentsim.Agent) { a.Faults.Malformed = 1 }, "", false, agent.KindProtocol},
		{"malformed stream", func(a *agentsim.Agent) { a.Faults.Malformed = 1 }, "", true, agent.KindProtocol},
		{"quota", func(a *agentsim.Agent) { a.Quota = 1 }, "", false, agent.KindQuotaExhausted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := startSim(t, tt.sim)
			o := dialOpenAI(t, url, agent.OpenAIConfig{Model: "sim", Stream: tt.stream}, func(op *agent.Options) {
				if tt.key != "" {
					op.APIKey = tt.key
				}
			})
			ctx := context.Background()
			chat, _ := o.NewChat(ctx, agent.NewChatRequest{})
			var err error
			for range 2 {
				if _, err = o.Send(ctx, chat, agent.Message{Content: "hello"}); err != nil {
					break
				}
			}
			var e *agent.Error
			if !errors.As(err, &e) || e.Kind != tt.kind {
				t.Fatalf("got %v, want kind %v", err, tt.kind)
			}
			if e.RequestID == "" {
				t.Errorf("error without request id: %+v", e)
			}
			if strings.Contains(err.Error(), simKey) {
				t.Fatalf("error reveals the key: %v", err)
			}
		})
	}
}

// TestOptimlyAuthStylesAndHistory: every auth style and both shapes
// against the simulated agent, and the server-kept history.
func TestOptimlyAuthStylesAndHistory(t *testing.T) {
	for _, v := range []struct {
		name     string
		envelope bool
		opts     func(*agent.Options)
	}{
		{"bearer", false, nil},
		{"header", true, func(o *agent.Options) { o.Auth = "header" }},
		{"query", false, func(o *agent.Options) { o.Auth = "query" }},
		{"query envelope", true, func(o *agent.Options) { o.Auth = "query" }},
	} {
		t.Run(v.name, func(t *testing.T) {
			url := startSim(t, func(a *agentsim.Agent) { a.Envelope = v.envelope })
			o := dial(t, url, v.opts)
			ctx := context.Background()
			chat, err := o.NewChat(ctx, agent.NewChatRequest{ClientID: "qa"})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range []string{"hello", "What does the Growth plan cost?"} {
				if _, err := o.Send(ctx, chat, agent.Message{Content: m}); err != nil {
					t.Fatal(err)
				}
			}
			var hr agent.HistoryReader = o
			msgs, err := hr.History(ctx, chat)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 4 || msgs[0].Sender != "user" || msgs[0].Content != "hello" || msgs[3].Sender != "assistant" {
				t.Fatalf("history %+v", msgs)
			}
			_, err = hr.History(ctx, agent.Chat{ID: "chat_unknown"})
			var e *agent.Error
			if !errors.As(err, &e) || e.Kind != agent.KindClient || e.Status != 404 {
				t.Fatalf("unknown chat: %v", err)
			}
		})
	}
}
