package agent

import (
	"context"
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
