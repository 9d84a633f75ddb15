package agent_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/agentsim"
)

// bytewiseProxy forwards to the simulated agent and relays the answer one
// byte per network write, without its Content-Type: a stream that only its
// body says is a stream, with every character split between writes.
func bytewiseProxy(t *testing.T, target string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.Path, r.Body)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header()["Content-Type"] = nil
		w.WriteHeader(resp.StatusCode)
		rc := http.NewResponseController(w)
		b := make([]byte, 1)
		for {
			if _, err := io.ReadFull(resp.Body, b); err != nil {
				return
			}
			_, _ = w.Write(b)
			_ = rc.Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestOpenAICompatAgainstSimulatedAgent: the simulated agent's OpenAI
// endpoint behind a proxy that drops the Content-Type and splits every
// character between writes, reached through a base URL ending in /v1.
func TestOpenAICompatAgainstSimulatedAgent(t *testing.T) {
	const greeting = "Hello \U0001F600 — héllo! How can I help?"
	url := startSim(t, func(a *agentsim.Agent) { a.Personality.Greeting = greeting })
	for _, base := range []string{url + "/v1", bytewiseProxy(t, url) + "/v1/"} {
		t.Run(base, func(t *testing.T) {
			o := dialOpenAI(t, base, agent.OpenAIConfig{Model: "sim", Stream: true}, nil)
			ctx := context.Background()
			if err := o.Health(ctx); err != nil {
				t.Fatal(err)
			}
			chat, _ := o.NewChat(ctx, agent.NewChatRequest{})
			r, err := o.Send(ctx, chat, agent.Message{Content: "hello"})
			if err != nil {
				t.Fatal(err)
			}
			if r.Text != greeting || r.Chunks < 2 || r.TTFT <= 0 {
				t.Fatalf("text %q chunks %d ttft %v", r.Text, r.Chunks, r.TTFT)
			}
		})
	}
}

// TestOpenAIToolResultsAgainstSimulatedAgent: the simulated agent, like the
// OpenAI API, refuses a history whose tool calls are not answered; a
// conversation past a turn with tool calls goes on, carrying the calls and
// the scenario's results.
func TestOpenAIToolResultsAgainstSimulatedAgent(t *testing.T) {
	url := startSim(t, nil)
	var (
		mu   sync.Mutex
		last []byte
	)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		last = body
		mu.Unlock()
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, url+r.URL.Path, bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(proxy.Close)
	for _, stream := range []bool{false, true} {
		o := dialOpenAI(t, proxy.URL, agent.OpenAIConfig{Model: "sim", Stream: stream, ToolResults: map[string]string{"email_handoff": `{"queued":true}`}}, nil)
		ctx := context.Background()
		chat, _ := o.NewChat(ctx, agent.NewChatRequest{})
		r, err := o.Send(ctx, chat, agent.Message{Content: "I'm Ana, ana@example.com. Please let me talk to a human."})
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]string{}
		for _, tool := range r.Tools {
			ids[tool.Tool] = tool.CallID
		}
		if ids["lead_capture"] == "" || ids["email_handoff"] == "" {
			t.Fatalf("tool calls without ids: %+v", r.Tools)
		}
		if _, err := o.Send(ctx, chat, agent.Message{Content: "Thanks!", ToolResults: map[string]string{ids["lead_capture"]: `{"lead_id":7}`}}); err != nil {
			t.Fatalf("stream %v: the sim refused the history: %v", stream, err)
		}
		mu.Lock()
		body := string(last)
		mu.Unlock()
		for _, want := range []string{
			`"tool_calls":[{"id":"` + ids["lead_capture"] + `"`,
			`{"role":"tool","content":"{\"lead_id\":7}","tool_call_id":"` + ids["lead_capture"] + `"}`,
			`{"role":"tool","content":"{\"queued\":true}","tool_call_id":"` + ids["email_handoff"] + `"}`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("stream %v: request lacks %s:\n%s", stream, want, body)
			}
		}
	}
}
