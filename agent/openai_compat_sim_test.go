package agent_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
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
