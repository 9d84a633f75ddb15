package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/agent"
)

// newServer starts the handler behind a counting listener, as run does.
func newServer(t *testing.T, key string) (*httptest.Server, *stats) {
	t.Helper()
	s := newStats()
	srv := httptest.NewUnstartedServer(handler(s, key, 0))
	srv.Config.ConnState = s.connState
	srv.Listener = countingListener{srv.Listener, s}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, s
}

// TestEvalrunClient drives the server with evalrun's own Optimly client:
// every call is counted once, on one kept-alive connection.
func TestEvalrunClient(t *testing.T) {
	srv, s := newServer(t, "k")
	c, err := agent.NewOptimly(agent.Options{BaseURL: srv.URL, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	chat, err := c.NewChat(ctx, agent.NewChatRequest{ClientID: "client-1"})
	if err != nil {
		t.Fatal(err)
	}
	if chat.ID != "chat-1" {
		t.Errorf("chat id %q, want chat-1", chat.ID)
	}
	for _, tt := range []struct{ send, want string }{
		{"Hi there", "Thanks, noted: Hi there"},
		{"What does the GROWTH plan cost?", "The Growth plan costs $99/mo"},
	} {
		r, err := c.Send(ctx, chat, agent.Message{Content: tt.send})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(r.Text, tt.want) {
			t.Errorf("reply to %q: %q, want it to start with %q", tt.send, r.Text, tt.want)
		}
	}
	snap := s.snapshot()
	want := map[string]int64{"GET /health": 1, "POST /external/message/new-chat": 1, "POST /external/agent/v2": 2}
	if snap.Requests != 4 || snap.Errors != 0 || snap.Connections != 1 || len(snap.ByPath) != len(want) {
		t.Errorf("stats %+v: want 4 requests, 0 errors, 1 connection, by path %v", snap, want)
	}
	for k, v := range want {
		if snap.ByPath[k] != v {
			t.Errorf("by_path[%q] = %d, want %d", k, snap.ByPath[k], v)
		}
	}
}

// TestAnswers checks status codes and the counters for requests the API
// refuses.
func TestAnswers(t *testing.T) {
	srv, s := newServer(t, "k")
	tests := []struct {
		method, path, key, body string
		status                  int
	}{
		{"GET", "/health", "", "", 200},
		{"POST", "/external/agent/v2", "", `{"chat_id":"c","content":"x"}`, 401},
		{"POST", "/external/agent/v2", "wrong", `{"chat_id":"c","content":"x"}`, 401},
		{"POST", "/external/agent/v2", "k", `{"chat_id":"c"`, 422},
		{"POST", "/external/agent/v2", "k", `{"chat_id":"","content":"x"}`, 422},
		{"POST", "/external/agent", "k", `{"chat_id":"c","content":"x"}`, 200},
		{"GET", "/external/chat/c-1/messages", "k", "", 200},
		{"GET", "/nowhere", "k", "", 404},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		if tt.key != "" {
			req.Header.Set("Authorization", "Bearer "+tt.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s (key %q): HTTP %d, want %d (%v)", tt.method, tt.path, tt.key, resp.StatusCode, tt.status, body)
		}
	}
	snap := s.snapshot()
	if snap.Requests != int64(len(tests)) || snap.Errors != 5 || snap.ByPath["other"] != 1 {
		t.Errorf("stats %+v: want %d requests, 5 errors, 1 other", snap, len(tests))
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, tt := range []struct {
		addr string
		ok   bool
	}{{"127.0.0.1:0", true}, {"[::1]:80", true}, {"0.0.0.0:80", false}, {":8080", false}, {"example.com:80", false}, {"nonsense", false}} {
		if err := loopback(tt.addr); (err == nil) != tt.ok {
			t.Errorf("loopback(%q) = %v, want ok %v", tt.addr, err, tt.ok)
		}
	}
}
