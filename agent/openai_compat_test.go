package agent

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawStreamServer answers every request with the given body pieces, each
// written and flushed on its own, under the Content-Type ct ("" sends
// none: net/http would otherwise sniff one).
func rawStreamServer(t *testing.T, ct string, pieces []string) *recorder {
	return newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if ct == "" {
			w.Header()["Content-Type"] = nil
		} else {
			w.Header().Set("Content-Type", ct)
		}
		w.WriteHeader(200)
		rc := http.NewResponseController(w)
		for _, p := range pieces {
			_, _ = w.Write([]byte(p))
			_ = rc.Flush()
			time.Sleep(2 * time.Millisecond)
		}
	})
}

const (
	finishChunk = `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n"
	doneEvent   = "data: [DONE]\n\n"
)

// TestStreamDecidedByBody: a streamed request whose answer has no
// text/event-stream type is read as a stream when the body starts like
// one, and as a whole JSON answer otherwise.
func TestStreamDecidedByBody(t *testing.T) {
	sse := []string{chunk("Hel"), chunk("lo"), finishChunk, doneEvent}
	plain := []string{`{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"}}]}`}
	tests := []struct {
		name   string
		ct     string
		pieces []string
		chunks int
	}{
		{"no type, data first", "", sse, 2},
		{"json type, data first", "application/json", sse, 2},
		{"text/plain, comment first", "text/plain", append([]string{": ping\n\n"}, sse...), 2},
		{"no type, event field first", "", append([]string{"event: message\n"}, sse...), 2},
		{"no type, leading blank lines, field split over writes", "", append([]string{"\r\n\nda", "ta: "}, strings.TrimPrefix(sse[0], "data: "), sse[1], sse[2], sse[3]), 2},
		{"no type, JSON body", "", plain, 0},
		{"json type, JSON body after white space", "application/json", append([]string{"\n  "}, plain...), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := rawStreamServer(t, tt.ct, tt.pieces)
			o := newOpenAI(t, srv.URL, OpenAIConfig{Model: "m", Stream: true})
			chat, _ := o.NewChat(context.Background(), NewChatRequest{})
			r, err := o.Send(context.Background(), chat, Message{Content: "hi"})
			if err != nil {
				t.Fatal(err)
			}
			if r.Text != "Hello" || r.Chunks != tt.chunks {
				t.Fatalf("text %q chunks %d, want Hello in %d chunks", r.Text, r.Chunks, tt.chunks)
			}
			if tt.chunks > 0 && r.TTFT <= 0 {
				t.Errorf("stream without TTFT: %+v", r)
			}
		})
	}
	// A body that is neither still fails clearly, as a protocol error.
	srv := rawStreamServer(t, "", []string{"hello there"})
	o := newOpenAI(t, srv.URL, OpenAIConfig{Model: "m", Stream: true})
	chat, _ := o.NewChat(context.Background(), NewChatRequest{})
	_, err := o.Send(context.Background(), chat, Message{Content: "hi"})
	if e := asError(t, err); e.Kind != KindProtocol || !strings.Contains(e.Error(), "hello there") {
		t.Fatalf("got %v", err)
	}
}

// TestStreamSplitCharacters: a character split between two chunks, as raw
// bytes or as the halves of a UTF-16 surrogate pair, or between two network
// writes, comes out whole; a character cut off for good is one U+FFFD.
func TestStreamSplitCharacters(t *testing.T) {
	ev := func(content string) string {
		return `data: {"choices":[{"index":0,"delta":{"content":"` + content + `"}}]}` + "\n\n"
	}
	emoji := "\U0001F600" // F0 9F 98 80, \ud83d\ude00
	tests := []struct {
		name   string
		pieces []string
		want   string
	}{
		{"raw bytes split 2+2", []string{ev("Hi \xf0\x9f"), ev("\x98\x80!"), finishChunk, doneEvent}, "Hi " + emoji + "!"},
		{"raw bytes split 1+1+2", []string{ev("\xf0"), ev("\x9f"), ev("\x98\x80"), finishChunk, doneEvent}, emoji},
		{"surrogate halves", []string{ev(`Hi \ud83d`), ev(`\ude00!`), finishChunk, doneEvent}, "Hi " + emoji + "!"},
		{"surrogate pair in one chunk", []string{ev(`\ud83d\ude00`), finishChunk, doneEvent}, emoji},
		{"split between network writes", []string{`data: {"choices":[{"index":0,"delta":{"content":"é` + "\xf0\x9f", "\x98\x80" + `"}}]}` + "\n\n", finishChunk, doneEvent}, "é" + emoji},
		{"cut off for good", []string{ev("a\xf0\x9f"), ev("b"), finishChunk, doneEvent}, "a\uFFFDb"},
		{"lone surrogate", []string{ev(`a\ud83d`), ev("b"), finishChunk, doneEvent}, "a\uFFFDb"},
		{"escapes kept", []string{ev(`\"q\"\n\t\\\/\u00e9`), finishChunk, doneEvent}, "\"q\"\n\t\\/é"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := rawStreamServer(t, "text/event-stream", tt.pieces)
			o := newOpenAI(t, srv.URL, OpenAIConfig{Model: "m", Stream: true})
			chat, _ := o.NewChat(context.Background(), NewChatRequest{})
			r, err := o.Send(context.Background(), chat, Message{Content: "hi"})
			if err != nil {
				t.Fatal(err)
			}
			if r.Text != tt.want {
				t.Fatalf("text %q, want %q", r.Text, tt.want)
			}
		})
	}
	// Tool-call arguments split mid-character too.
	srv := rawStreamServer(t, "text/event-stream", []string{
		`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"note","arguments":"{\"t\":\"\ud83d"}}]}}]}` + "\n\n",
		`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\ude00\"}"}}]}}]}` + "\n\n",
		finishChunk, doneEvent})
	o := newOpenAI(t, srv.URL, OpenAIConfig{Model: "m", Stream: true})
	chat, _ := o.NewChat(context.Background(), NewChatRequest{})
	r, err := o.Send(context.Background(), chat, Message{Content: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Tools) != 1 || r.Tools[0].Data["t"] != emoji {
		t.Fatalf("tools %+v", r.Tools)
	}
}

// TestBaseURLWithV1: a base URL that ends in /v1 (the SDK convention) is
// not doubled; one without it gets /v1 from the default paths.
func TestBaseURLWithV1(t *testing.T) {
	for _, suffix := range []string{"", "/v1", "/v1/"} {
		t.Run("base"+suffix, func(t *testing.T) {
			srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v1/models" {
					_, _ = w.Write([]byte(`{"data":[]}`))
					return
				}
				if r.URL.Path != "/v1/chat/completions" {
					http.NotFound(w, r)
					return
				}
				_, _ = w.Write([]byte(`{"choices":[{"index":0,"message":{"content":"ok"}}]}`))
			})
			o := newOpenAI(t, srv.URL+suffix, OpenAIConfig{Model: "m"})
			ctx := context.Background()
			if err := o.Health(ctx); err != nil {
				t.Fatal(err)
			}
			chat, _ := o.NewChat(ctx, NewChatRequest{})
			if _, err := o.Send(ctx, chat, Message{Content: "hi"}); err != nil {
				t.Fatal(err)
			}
			if p := srv.last(t).path; p != "/v1/chat/completions" {
				t.Fatalf("path %q", p)
			}
		})
	}
	// A prefix before /v1 is kept; an explicit path is not doubled either.
	o, err := NewOpenAI(Options{BaseURL: "http://127.0.0.1:1/proxy/v1"}, OpenAIConfig{Model: "m", Path: "/v1/chat/completions"})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.url != "http://127.0.0.1:1/proxy/v1/chat/completions" || o.healthURL != "http://127.0.0.1:1/proxy/v1/models" {
		t.Fatalf("urls %q %q", o.url, o.healthURL)
	}
}

// TestToolCallsKeptInHistory: the assistant message that made tool calls
// goes back as the model sent it (ids, names, arguments), followed by one
// "tool" message per call whose content comes from the turn (by call id,
// then by tool name), then the target's canned result, else NoToolResult.
// Streamed and not.
func TestToolCallsKeptInHistory(t *testing.T) {
	callsJSON := `[{"id":"call_a","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"é\"}"}},` +
		`{"id":"call_b","type":"function","function":{"name":"weather","arguments":"{}"}},` +
		`{"id":"call_c","type":"function","function":{"name":"clock","arguments":""}}]`
	plain := []string{
		`{"choices":[{"index":0,"message":{"role":"assistant","content":"Checking.","tool_calls":` + callsJSON + `},"finish_reason":"tool_calls"}]}`,
		`{"choices":[{"index":0,"message":{"role":"assistant","content":"Done."},"finish_reason":"stop"}]}`,
	}
	streamed := []string{
		chunk("Checking.") +
			`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"lookup","arguments":"{\"q\":"}}]}}]}` + "\n\n" +
			`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"é\"}"}}]}}]}` + "\n\n" +
			`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"weather","arguments":"{}"}}]}}]}` + "\n\n" +
			`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":2,"id":"call_c","type":"function","function":{"name":"clock"}}]}}]}` + "\n\n" +
			`data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}` + "\n\n" + doneEvent,
		chunk("Done.") + finishChunk + doneEvent,
	}
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "stream"}[stream], func(t *testing.T) {
			n := 0
			srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				if stream {
					w.Header().Set("Content-Type", "text/event-stream")
					_, _ = w.Write([]byte(streamed[n%2]))
				} else {
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(plain[n%2]))
				}
				n++
			})
			o := newOpenAI(t, srv.URL, OpenAIConfig{Model: "m", Stream: stream, NoStreamUsage: true,
				ToolResults: map[string]string{"weather": "canned weather", "lookup": "canned lookup"}})
			ctx := context.Background()
			chat, _ := o.NewChat(ctx, NewChatRequest{})
			r, err := o.Send(ctx, chat, Message{Content: "one"})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Tools) != 3 || r.Tools[0].CallID != "call_a" || r.Tools[0].Data["q"] != "é" {
				t.Fatalf("tools %+v", r.Tools)
			}
			// call_a by id beats lookup by name and the canned lookup;
			// weather is canned; clock has no result anywhere.
			if _, err := o.Send(ctx, chat, Message{Content: "two", ToolResults: map[string]string{"call_a": `{"hits":1}`, "lookup": "by name"}}); err != nil {
				t.Fatal(err)
			}
			streamPart := ""
			if stream {
				streamPart = `"stream":true,`
			}
			want := `{"model":"m",` + streamPart + `"messages":[{"role":"user","content":"one"},` +
				`{"role":"assistant","content":"Checking.","tool_calls":` + callsJSON + `},` +
				`{"role":"tool","content":"{\"hits\":1}","tool_call_id":"call_a"},` +
				`{"role":"tool","content":"canned weather","tool_call_id":"call_b"},` +
				`{"role":"tool","content":` + string(marshalJSON(NoToolResult)) + `,"tool_call_id":"call_c"},` +
				`{"role":"user","content":"two"}]}`
			if got := string(srv.last(t).body); got != want {
				t.Fatalf("request\n got %s\nwant %s", got, want)
			}
			// The results stay in the history; the next turn has no calls to answer.
			if _, err := o.Send(ctx, chat, Message{Content: "three"}); err != nil {
				t.Fatal(err)
			}
			got := string(srv.last(t).body)
			if !strings.HasSuffix(got, `{"role":"user","content":"two"},{"role":"assistant","content":"Done."},{"role":"user","content":"three"}]}`) ||
				strings.Count(got, `"role":"tool"`) != 3 {
				t.Fatalf("third request %s", got)
			}
		})
	}
}

// TestLocalHistoryTrimKeepsCallsWithResults: a history cut to its bound
// never starts with a tool result whose call was cut.
func TestLocalHistoryTrimKeepsCallsWithResults(t *testing.T) {
	var l localChat
	for i := 0; i < maxLocalHistory; i++ {
		l.add(chatMessage{Role: "tool", ToolCallID: "x"}, chatMessage{Role: "user", Content: "u"},
			chatMessage{Role: "assistant", ToolCalls: []oaToolCall{{ID: "x"}}})
	}
	msgs := l.snapshot()
	if len(msgs) > maxLocalHistory || msgs[0].Role != "user" {
		t.Fatalf("%d messages, first %+v", len(msgs), msgs[0])
	}
}

// TestRequestOptions: the target's request options and headers, and a
// message's options over them (replace, remove with null, add).
func TestRequestOptions(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"choices":[{"index":0,"message":{"content":"ok"}}]}`))
	})
	seed := int64(7)
	temp := 0.0
	o := newOpenAI(t, srv.URL, OpenAIConfig{Model: "m", Temperature: &temp, MaxTokens: 50, MaxCompletionTokens: 60, Seed: &seed,
		Stop: json.RawMessage(`["\n\n", "END"]`), ResponseFormat: json.RawMessage(`{"type": "json_object"}`), ToolChoice: json.RawMessage(`"auto"`),
		Tools:   json.RawMessage(`[{"type":"function","function":{"name":"f"}}]`),
		Extra:   map[string]json.RawMessage{"top_p": json.RawMessage(`0.9`), "user": json.RawMessage(`"qa"`)},
		Headers: map[string]string{"x-org": "acme", "X-Trace-Tag": "t1"}})
	ctx := context.Background()
	chat, _ := o.NewChat(ctx, NewChatRequest{})
	tests := []struct {
		name    string
		opts    *RequestOptions
		body    string
		headers map[string]string
	}{
		{"target only", nil,
			`{"model":"m","temperature":0,"max_tokens":50,"max_completion_tokens":60,"seed":7,"stop":["\n\n","END"],"response_format":{"type":"json_object"},"tool_choice":"auto","tools":[{"type":"function","function":{"name":"f"}}],"top_p":0.9,"user":"qa","messages":`,
			map[string]string{"X-Org": "acme", "X-Trace-Tag": "t1"}},
		{"scenario over target", &RequestOptions{
			Body:    map[string]json.RawMessage{"seed": json.RawMessage(`42`), "stop": json.RawMessage(`null`), "logprobs": json.RawMessage(`true`), "tool_choice": json.RawMessage(`{"type":"function","function":{"name":"f"}}`)},
			Headers: map[string]string{"X-Org": "beta", "X-Scenario": "s"}},
			`{"model":"m","temperature":0,"max_tokens":50,"max_completion_tokens":60,"seed":42,"response_format":{"type":"json_object"},"tool_choice":{"type":"function","function":{"name":"f"}},"tools":[{"type":"function","function":{"name":"f"}}],"top_p":0.9,"user":"qa","logprobs":true,"messages":`,
			map[string]string{"X-Org": "beta", "X-Trace-Tag": "t1", "X-Scenario": "s"}},
	}
	for _, tt := range tests {
		if _, err := o.Send(ctx, chat, Message{Content: "hi", Options: tt.opts}); err != nil {
			t.Fatal(err)
		}
		got := srv.last(t)
		if !strings.HasPrefix(string(got.body), tt.body) {
			t.Errorf("%s: body\n got %s\nwant prefix %s", tt.name, got.body, tt.body)
		}
		for k, v := range tt.headers {
			if got.header.Get(k) != v {
				t.Errorf("%s: header %s = %q, want %q", tt.name, k, got.header.Get(k), v)
			}
		}
		if got.header.Get("Authorization") != "Bearer "+testKey {
			t.Errorf("%s: auth header %q", tt.name, got.header.Get("Authorization"))
		}
	}
	// A message cannot set what the transport owns.
	_, err := o.Send(ctx, chat, Message{Content: "hi", Options: &RequestOptions{Body: map[string]json.RawMessage{"model": json.RawMessage(`"x"`)}}})
	if e := asError(t, err); e.Kind != KindClient || !strings.Contains(e.Error(), `"model"`) {
		t.Errorf("model override: %v", err)
	}
	_, err = o.Send(ctx, chat, Message{Content: "hi", Options: &RequestOptions{Headers: map[string]string{"authorization": "Bearer other"}}})
	if e := asError(t, err); e.Kind != KindClient || !strings.Contains(e.Error(), "Authorization") {
		t.Errorf("auth header override: %v", err)
	}
}

func TestRequestOptionsValidation(t *testing.T) {
	for _, tt := range []struct {
		cfg  OpenAIConfig
		want string
	}{
		{OpenAIConfig{Model: "m", Stop: json.RawMessage(`5`)}, "stop must be a string or an array"},
		{OpenAIConfig{Model: "m", ResponseFormat: json.RawMessage(`"json"`)}, "response_format must be an object"},
		{OpenAIConfig{Model: "m", ToolChoice: json.RawMessage(`{`)}, "tool_choice is not JSON"},
		{OpenAIConfig{Model: "m", MaxCompletionTokens: -1}, "max_completion_tokens"},
		{OpenAIConfig{Model: "m", Extra: map[string]json.RawMessage{"messages": json.RawMessage(`[]`)}}, `"messages" is set by the transport`},
		{OpenAIConfig{Model: "m", Seed: new(int64), Extra: map[string]json.RawMessage{"seed": json.RawMessage(`1`)}}, "set openai.seed instead"},
		{OpenAIConfig{Model: "m", Extra: map[string]json.RawMessage{"x": json.RawMessage(`{`)}}, "not valid JSON"},
		{OpenAIConfig{Model: "m", Headers: map[string]string{"X-API-Key": "k"}}, "set by the transport"},
		{OpenAIConfig{Model: "m", Headers: map[string]string{"bad name": "k"}}, "not a valid header name"},
		{OpenAIConfig{Model: "m", Headers: map[string]string{"X-A": "a\r\nB: c"}}, "line break"},
	} {
		_, err := NewOpenAI(Options{BaseURL: "https://a.io"}, tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.cfg, err, tt.want)
		}
	}
	// stream_options in extra replaces the transport's.
	o, err := NewOpenAI(Options{BaseURL: "https://a.io"}, OpenAIConfig{Model: "m", Stream: true, Extra: map[string]json.RawMessage{"stream_options": json.RawMessage(`{"include_usage": false}`)}})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if got := string(o.prefix); got != `{"model":"m","stream":true,"stream_options":{"include_usage":false},"messages":` {
		t.Errorf("prefix %s", got)
	}
}
