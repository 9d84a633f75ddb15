package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// streamServer answers every request with the given events, sleeping
// delays[i] before event i and flushing after each.
func streamServer(t *testing.T, events []string, delays []time.Duration) *recorder {
	return newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		rc := http.NewResponseController(w)
		for i, ev := range events {
			if i < len(delays) {
				time.Sleep(delays[i])
			}
			fmt.Fprint(w, ev)
			_ = rc.Flush()
		}
	})
}

func chunk(content string) string {
	b, _ := json.Marshal(content)
	return `data: {"id":"c1","choices":[{"index":0,"delta":{"content":` + string(b) + `},"finish_reason":null}]}` + "\n\n"
}

func newOpenAI(t *testing.T, url string, cfg OpenAIConfig) *OpenAI {
	t.Helper()
	o, err := NewOpenAI(Options{BaseURL: url, APIKey: testKey, Timeout: 5 * time.Second}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	return o
}

// TestStreamTimings: a stream with known pauses gives a TTFT and gaps of
// about those pauses (asserted loosely: scheduler noise only adds).
func TestStreamTimings(t *testing.T) {
	const pause = 60 * time.Millisecond
	events := []string{
		": keep-alive\n\n",
		`data: {"choices":[{"index":0,"delta":{"role":"assistant"}}]}` + "\n\n", // no content: not timed
		chunk("Hello"), chunk(", "), chunk("world"),
		`data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n",
		`data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}` + "\n\n",
		"data: [DONE]\n\n",
	}
	delays := []time.Duration{0, 0, pause, 0, 3 * pause}
	srv := streamServer(t, events, delays)
	o := newOpenAI(t, srv.URL, OpenAIConfig{Model: "m", Stream: true})
	chat, _ := o.NewChat(context.Background(), NewChatRequest{})
	r, err := o.Send(context.Background(), chat, Message{Content: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Text != "Hello, world" || r.Chunks != 3 || len(r.Gaps) != 2 || r.TokensUsed != 8 {
		t.Fatalf("reply %+v", r)
	}
	if r.TTFT < pause {
		t.Errorf("TTFT %v, want at least %v", r.TTFT, pause)
	}
	if r.MaxGap < 3*pause || r.MaxGap != r.Gaps[1] {
		t.Errorf("MaxGap %v (gaps %v), want the last gap of at least %v", r.MaxGap, r.Gaps, 3*pause)
	}
	body := string(srv.last(t).body)
	if !strings.Contains(body, `"stream":true,"stream_options":{"include_usage":true}`) {
		t.Errorf("request body %s", body)
	}
}

func TestStreamCutOffIsAnError(t *testing.T) {
	tests := []struct {
		name   string
		events []string
		kind   ErrorKind
		detail string
	}{
		{"ends before done", []string{chunk("Hel"), chunk("lo")}, KindTransport, "ended before [DONE] after 2 chunks"},
		{"error event", []string{chunk("a"), `data: {"error":{"message":"model overloaded"}}` + "\n\n"}, KindServer, "model overloaded"},
		{"quota error event", []string{`data: {"error":{"message":"You exceeded your current quota"}}` + "\n\n"}, KindQuotaExhausted, "quota"},
		{"malformed chunk", []string{chunk("a"), "data: {\"choices\":[\n\n"}, KindProtocol, "event 2"},
		{"no chunks", []string{"data: [DONE]\n\n"}, KindProtocol, "no chat.completion.chunk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := streamServer(t, tt.events, nil)
			o := newOpenAI(t, srv.URL, OpenAIConfig{Model: "m", Stream: true})
			chat, _ := o.NewChat(context.Background(), NewChatRequest{})
			_, err := o.Send(context.Background(), chat, Message{Content: "hi"})
			e := asError(t, err)
			if e.Kind != tt.kind || !strings.Contains(e.Error(), tt.detail) {
				t.Fatalf("got %v (kind %v), want kind %v with %q", err, e.Kind, tt.kind, tt.detail)
			}
		})
	}
}

func TestStreamFinishWithoutDone(t *testing.T) {
	srv := streamServer(t, []string{chunk("ok"), `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n"}, nil)
	o := newOpenAI(t, srv.URL, OpenAIConfig{Model: "m", Stream: true})
	chat, _ := o.NewChat(context.Background(), NewChatRequest{})
	r, err := o.Send(context.Background(), chat, Message{Content: "hi"})
	if err != nil || r.Text != "ok" {
		t.Fatalf("%q, %v", r.Text, err)
	}
}

// TestOpenAIConversationAndTools checks the request (system prompt, history
// kept client-side, model) and the mapping of tool calls, legacy included.
func TestOpenAIConversationAndTools(t *testing.T) {
	answers := []string{
		`{"id":"x1","choices":[{"index":0,"message":{"role":"assistant","content":"first"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`,
		`{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[{"id":"t","type":"function","function":{"name":"lead_capture","arguments":"{\"email\":\"a@b.co\"}"}},{"function":{"name":"odd","arguments":"not json"}}]}}]}`,
		`{"choices":[{"message":{"role":"assistant","content":"","function_call":{"name":"email_handoff","arguments":"{}"}}}]}`,
	}
	n := 0
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, answers[n])
		n++
	})
	o := newOpenAI(t, srv.URL, OpenAIConfig{Model: "m1", SystemPrompt: "Be brief.", ToolStatus: "executed"})
	ctx := context.Background()
	chat, _ := o.NewChat(ctx, NewChatRequest{})
	r, err := o.Send(ctx, chat, Message{Content: "one"})
	if err != nil || r.Text != "first" || r.TokensUsed != 4 || r.MessageID != "x1" {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = o.Send(ctx, chat, Message{Content: "two"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"model":"m1","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"one"},{"role":"assistant","content":"first"},{"role":"user","content":"two"}]}`
	if got := string(srv.last(t).body); got != want {
		t.Errorf("request\n got %s\nwant %s", got, want)
	}
	if len(r.Tools) != 2 || r.Tools[0].Tool != "lead_capture" || r.Tools[0].Status != "executed" || r.Tools[0].Data["email"] != "a@b.co" ||
		r.Tools[1].Data["arguments"] != "not json" {
		t.Fatalf("tools %+v", r.Tools)
	}
	r, err = o.Send(ctx, chat, Message{Content: "three"})
	if err != nil || !r.Handoff || r.Tools[0].Tool != "email_handoff" {
		t.Fatalf("legacy function_call: %+v %v", r, err)
	}
	h := srv.last(t).header
	if h.Get("Authorization") != "Bearer "+testKey {
		t.Errorf("auth header %q", h.Get("Authorization"))
	}
	_, err = o.Send(ctx, Chat{ID: "x"}, Message{Content: "q"})
	if e := asError(t, err); e.Kind != KindClient {
		t.Errorf("foreign chat: %v", err)
	}
}

func TestNewOpenAIValidation(t *testing.T) {
	tests := []struct {
		cfg  OpenAIConfig
		opts Options
		want string
	}{
		{OpenAIConfig{}, Options{}, "model is required"},
		{OpenAIConfig{Model: "m", Path: "v1/x"}, Options{}, "openai: path"},
		{OpenAIConfig{Model: "m", Tools: json.RawMessage(`{}`)}, Options{}, "tools must be a JSON array"},
		{OpenAIConfig{Model: "m", MaxTokens: -1}, Options{}, "max_tokens"},
		{OpenAIConfig{Model: "m"}, Options{APIVersion: 1}, "Optimly targets only"},
		{OpenAIConfig{Model: "m"}, Options{BaseURL: "http://example.com"}, "non-loopback"},
	}
	for _, tt := range tests {
		if tt.opts.BaseURL == "" {
			tt.opts.BaseURL = "https://a.io"
		}
		_, err := NewOpenAI(tt.opts, tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestNewByKind(t *testing.T) {
	opts := Options{BaseURL: "https://a.io"}
	for _, tt := range []struct {
		kind string
		cfg  any
		ok   bool
	}{
		{"optimly", nil, true}, {"", nil, true}, {"openai", OpenAIConfig{Model: "m"}, true}, {"openai", &OpenAIConfig{Model: "m"}, true},
		{"http", HTTPConfig{Send: HTTPRequestSpec{Path: "/c", Body: `{"q":"{{ content }}"}`}, ReplyPath: "a"}, true},
		{"openai", nil, false}, {"http", OpenAIConfig{}, false}, {"optimly", OpenAIConfig{}, false}, {"grpc", nil, false},
	} {
		c, err := New(tt.kind, opts, tt.cfg)
		if (err == nil) != tt.ok {
			t.Errorf("New(%q, %T): %v", tt.kind, tt.cfg, err)
			continue
		}
		if err == nil {
			if _, ok := c.(Closer); !ok {
				t.Errorf("%q transport has no Close", tt.kind)
			}
		}
	}
	_, err := New("grpc", opts, nil)
	if !errors.Is(err, err) || !strings.Contains(err.Error(), "optimly, openai, http") {
		t.Errorf("unknown kind error %v", err)
	}
}
