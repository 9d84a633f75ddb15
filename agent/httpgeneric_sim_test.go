package agent_test

import (
	"context"
	"testing"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/agentsim"
)

// TestHTTPGenericAgainstSimulatedAgent describes the simulated agent's
// Optimly API to the generic HTTP transport, as a user would describe an API
// evalrun has no transport for, and holds a conversation through it: the
// session from new-chat's chat_id, the reply, tools, handoff and tokens from
// JSON paths.
func TestHTTPGenericAgainstSimulatedAgent(t *testing.T) {
	for _, envelope := range []bool{false, true} {
		name := "top level"
		prefix := ""
		if envelope {
			name, prefix = "data envelope", "data."
		}
		t.Run(name, func(t *testing.T) {
			url := startSim(t, func(a *agentsim.Agent) { a.Envelope = envelope })
			conn, err := agent.NewHTTP(agent.Options{BaseURL: url, APIKey: simKey}, agent.HTTPConfig{
				CreateSession: &agent.HTTPRequestSpec{Path: "/external/message/new-chat", Body: `{"client_id": "generic-test"}`},
				SessionPath:   prefix + "chat_id",
				Send: agent.HTTPRequestSpec{
					Path: "/external/agent/v2",
					Body: `{"chat_id": "{{ session }}", "content": "{{ content }}"}`,
				},
				ReplyPath:   prefix + "response",
				ToolsPath:   prefix + "tools_executed",
				HandoffPath: prefix + "handoff_data",
				TokensPath:  prefix + "metadata.tokens_used",
				HealthPath:  "/health",
			})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx := context.Background()
			if err := conn.Health(ctx); err != nil {
				t.Fatalf("health: %v", err)
			}
			chat, err := conn.NewChat(ctx, agent.NewChatRequest{ClientID: "generic-test"})
			if err != nil || chat.ID == "" {
				t.Fatalf("new chat: %v (id %q)", err, chat.ID)
			}
			r, err := conn.Send(ctx, chat, agent.Message{Content: `How much is the "Growth" plan?`})
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			if r.Text == "" || r.TokensUsed <= 0 || len(r.Tools) != 0 || r.Handoff {
				t.Errorf("pricing reply %+v", r)
			}
			r, err = conn.Send(ctx, chat, agent.Message{Content: "I'm Ana, ana@example.com. I want to talk to a human."})
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			tools := map[string]string{}
			for _, tl := range r.Tools {
				tools[tl.Tool] = tl.Status
			}
			if tools["lead_capture"] != "executed" || tools["email_handoff"] != "executed" || !r.Handoff {
				t.Errorf("lead and handoff reply: tools %v, handoff %v", tools, r.Handoff)
			}
		})
	}
}
