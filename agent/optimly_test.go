package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const testKey = "sk-test-9f8e7d6c5b4a"

// recorded is one request as the test server saw it.
type recorded struct {
	method, path string
	header       http.Header
	body         []byte
}

// recorder is an httptest server that remembers requests and answers with
// the handler under test.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newRecorder(t *testing.T, h http.HandlerFunc) *recorder {
	t.Helper()
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{req.Method, req.URL.Path, req.Header.Clone(), body})
		r.mu.Unlock()
		h(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) last(t *testing.T) recorded {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		t.Fatal("server received no request")
	}
	return r.reqs[len(r.reqs)-1]
}

func newConn(t testing.TB, base string, mod func(*Options)) *Optimly {
	t.Helper()
	opts := Options{BaseURL: base, APIKey: testKey}
	if mod != nil {
		mod(&opts)
	}
	o, err := NewOptimly(opts)
	if err != nil {
		t.Fatalf("NewOptimly: %v", err)
	}
	t.Cleanup(o.Close)
	return o
}

// answer writes a fixed status, headers and body.
func answer(status int, body string, kv ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Set(kv[i], kv[i+1])
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "replies", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *agent.Error", err, err)
	}
	return e
}

func TestNewOptimlyValidation(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string // "" = valid
	}{
		{"https", Options{BaseURL: "https://api.optimly.io"}, ""},
		{"https with prefix", Options{BaseURL: "https://gw.example.com/optimly/"}, ""},
		{"loopback http v4", Options{BaseURL: "http://127.0.0.1:8787"}, ""},
		{"loopback http v4 range", Options{BaseURL: "http://127.3.2.1"}, ""},
		{"loopback http v6", Options{BaseURL: "http://[::1]:8787"}, ""},
		{"loopback http localhost", Options{BaseURL: "http://LocalHost:8787"}, ""},
		{"loopback http .localhost", Options{BaseURL: "http://sim.localhost"}, ""},
		{"insecure allowed", Options{BaseURL: "http://agent.internal:80", AllowInsecureHTTP: true}, ""},
		{"insecure refused", Options{BaseURL: "http://agent.internal:80"}, "plain http:// to a non-loopback host"},
		{"insecure refused ip", Options{BaseURL: "http://10.0.0.5"}, "plain http:// to a non-loopback host"},
		{"empty", Options{}, "BaseURL is empty"},
		{"scheme", Options{BaseURL: "ftp://api.optimly.io"}, "scheme must be http or https"},
		{"no scheme", Options{BaseURL: "api.optimly.io"}, "scheme must be http or https"},
		{"no host", Options{BaseURL: "https:///x"}, "has no host"},
		{"userinfo", Options{BaseURL: "https://user:hunter2@api.optimly.io"}, "carries credentials"},
		{"query", Options{BaseURL: "https://api.optimly.io/?a=1"}, "query or fragment"},
		{"version 1", Options{BaseURL: "https://a.io", APIVersion: 1}, ""},
		{"version 3", Options{BaseURL: "https://a.io", APIVersion: 3}, "APIVersion 3: want 1"},
		{"header x-api-key", Options{BaseURL: "https://a.io", Header: "x-api-key"}, ""},
		{"header bad", Options{BaseURL: "https://a.io", Header: "X-Token"}, `Header "X-Token"`},
		{"timeout", Options{BaseURL: "https://a.io", Timeout: -time.Second}, "Timeout -1s is negative"},
		{"maxconns", Options{BaseURL: "https://a.io", MaxConns: -1}, "MaxConns -1 is negative"},
		{"maxbody", Options{BaseURL: "https://a.io", MaxBodyBytes: -1}, "MaxBodyBytes -1 is negative"},
		{"key newline", Options{BaseURL: "https://a.io", APIKey: testKey + "\r\nX: y"}, "APIKey contains"},
		{"key space", Options{BaseURL: "https://a.io", APIKey: "sk test"}, "APIKey contains"},
		{"user agent", Options{BaseURL: "https://a.io", UserAgent: "evalrun/1.0 (ci)"}, ""},
		{"user agent ctl", Options{BaseURL: "https://a.io", UserAgent: "a\nb"}, "UserAgent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := NewOptimly(tt.opts)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				o.Close()
				return
			}
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tt.wantErr)
			}
			for _, secret := range []string{"hunter2", testKey} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q reveals a secret", err)
				}
			}
		})
	}
}

func TestEndpoints(t *testing.T) {
	tests := []struct {
		name     string
		base     string // appended to the server URL
		version  int
		wantSend string
		wantNew  string
		wantHlth string
	}{
		{"v2", "", 0, "/external/agent/v2", "/external/message/new-chat", "/health"},
		{"v2 explicit, prefix", "/api/optimly/", 2, "/api/optimly/external/agent/v2", "/api/optimly/external/message/new-chat", "/api/optimly/health"},
		{"v1", "/p", 1, "/p/external/agent", "/p/external/message/new-chat", "/p/health"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				switch {
				case strings.HasSuffix(r.URL.Path, "/new-chat"):
					answer(200, `{"chat_id":"c1"}`)(w, r)
				case strings.HasSuffix(r.URL.Path, "/health"):
					w.WriteHeader(200)
				default:
					answer(200, `{"response":"hi"}`)(w, r)
				}
			})
			o := newConn(t, srv.URL+tt.base, func(op *Options) { op.APIVersion = tt.version })
			ctx := context.Background()
			chat, err := o.NewChat(ctx, NewChatRequest{ClientID: "u"})
			if err != nil {
				t.Fatal(err)
			}
			if got := srv.last(t); got.method != "POST" || got.path != tt.wantNew {
				t.Errorf("new-chat: %s %s, want POST %s", got.method, got.path, tt.wantNew)
			}
			if _, err := o.Send(ctx, chat, Message{Content: "x"}); err != nil {
				t.Fatal(err)
			}
			if got := srv.last(t); got.method != "POST" || got.path != tt.wantSend {
				t.Errorf("send: %s %s, want POST %s", got.method, got.path, tt.wantSend)
			}
			if err := o.Health(ctx); err != nil {
				t.Fatal(err)
			}
			if got := srv.last(t); got.method != "GET" || got.path != tt.wantHlth {
				t.Errorf("health: %s %s, want GET %s", got.method, got.path, tt.wantHlth)
			}
		})
	}
}

func TestRequestBodiesAndHeaders(t *testing.T) {
	tests := []struct {
		name       string
		mod        func(*Options)
		msg        Message
		wantBody   string
		wantHeader map[string]string // "" value = must be absent
	}{
		{
			name:     "v2 full metadata",
			msg:      Message{Content: "Hi \"there\"\n<b>é</b>", ClientID: "qa-1", SessionID: "s-9", Source: "ci"},
			wantBody: `{"chat_id":"c1","content":"Hi \"there\"\n<b>é</b>","metadata":{"client_id":"qa-1","session_id":"s-9","source":"ci"}}`,
			wantHeader: map[string]string{
				"Authorization": "Bearer " + testKey, "X-Api-Key": "",
				"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "evalrun",
			},
		},
		{
			name:     "v2 default source only",
			mod:      func(o *Options) { o.UserAgent = "evalrun/1.2.3" },
			msg:      Message{Content: "hello"},
			wantBody: `{"chat_id":"c1","content":"hello","metadata":{"source":"evalrun"}}`,
			wantHeader: map[string]string{
				"Authorization": "Bearer " + testKey, "User-Agent": "evalrun/1.2.3",
			},
		},
		{
			name:     "v1 no metadata",
			mod:      func(o *Options) { o.APIVersion = 1 },
			msg:      Message{Content: "hello", ClientID: "qa-1"},
			wantBody: `{"chat_id":"c1","content":"hello"}`,
		},
		{
			name:       "X-API-Key",
			mod:        func(o *Options) { o.Header = "X-API-Key" },
			msg:        Message{Content: "k"},
			wantBody:   `{"chat_id":"c1","content":"k","metadata":{"source":"evalrun"}}`,
			wantHeader: map[string]string{"X-Api-Key": testKey, "Authorization": ""},
		},
		{
			name:       "no key",
			mod:        func(o *Options) { o.APIKey = "" },
			msg:        Message{Content: "k"},
			wantBody:   `{"chat_id":"c1","content":"k","metadata":{"source":"evalrun"}}`,
			wantHeader: map[string]string{"X-Api-Key": "", "Authorization": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRecorder(t, answer(200, `{"response":"ok"}`))
			o := newConn(t, srv.URL, tt.mod)
			if _, err := o.Send(context.Background(), Chat{ID: "c1"}, tt.msg); err != nil {
				t.Fatal(err)
			}
			got := srv.last(t)
			if string(got.body) != tt.wantBody {
				t.Errorf("body\n got %s\nwant %s", got.body, tt.wantBody)
			}
			if !json.Valid(got.body) {
				t.Errorf("body is not valid JSON: %s", got.body)
			}
			for k, want := range tt.wantHeader {
				if v := got.header.Get(k); v != want {
					t.Errorf("header %s = %q, want %q", k, v, want)
				}
			}
		})
	}
}

func TestNewChat(t *testing.T) {
	tests := []struct {
		name     string
		req      NewChatRequest
		body     string
		wantReq  string
		wantChat Chat
	}{
		{
			name:     "top level",
			req:      NewChatRequest{ClientID: "qa-1"},
			body:     fixture(t, "new_chat.json"),
			wantReq:  `{"client_id":"qa-1"}`,
			wantChat: Chat{ID: "chat_01HZX", AgentID: "agt_7f3c", ClientID: "qa-1", CreatedAt: "2025-06-01T12:00:00Z", Status: "active"},
		},
		{
			name:     "envelope with metadata",
			req:      NewChatRequest{ClientID: "qa-2", Metadata: map[string]any{"suite": "smoke", "n": 2}},
			body:     fixture(t, "new_chat_envelope.json"),
			wantReq:  `{"client_id":"qa-2","metadata":{"n":2,"suite":"smoke"}}`,
			wantChat: Chat{ID: "chat_01HZY", AgentID: "agt_7f3c", ClientID: "qa-2", CreatedAt: "2025-06-01T12:00:01Z", Status: "active"},
		},
		{
			name:     "numeric id",
			req:      NewChatRequest{ClientID: "x"},
			body:     `{"chat_id": 12345, "created_at": 1717243200}`,
			wantReq:  `{"client_id":"x"}`,
			wantChat: Chat{ID: "12345", CreatedAt: "1717243200"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRecorder(t, answer(201, tt.body))
			o := newConn(t, srv.URL, nil)
			chat, err := o.NewChat(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if !validTraceID(chat.TraceID) {
				t.Errorf("chat trace id %q is not 32 hex digits", chat.TraceID)
			}
			chat.TraceID = ""
			if chat != tt.wantChat {
				t.Errorf("chat = %+v, want %+v", chat, tt.wantChat)
			}
			if got := string(srv.last(t).body); got != tt.wantReq {
				t.Errorf("request body %s, want %s", got, tt.wantReq)
			}
		})
	}
}

func TestNewChatBadMetadata(t *testing.T) {
	srv := newRecorder(t, answer(200, `{"chat_id":"c"}`))
	o := newConn(t, srv.URL, nil)
	_, err := o.NewChat(context.Background(), NewChatRequest{Metadata: map[string]any{"f": func() {}}})
	if e := asError(t, err); e.Kind != KindClient {
		t.Fatalf("kind %v, want client", e.Kind)
	}
	if len(srv.reqs) != 0 {
		t.Fatal("a request was sent despite unencodable metadata")
	}
}

func TestSendReplyShapes(t *testing.T) {
	leadData := map[string]any{"email": "ana@example.com", "name": "Ana"}
	tests := []struct {
		name string
		body string
		want Reply // Raw checked separately
		raw  string
	}{
		{
			name: "v2 top level",
			body: fixture(t, "v2_top_level.json"),
			want: Reply{
				Text:      "The Growth plan is $49 per month and includes 10,000 API calls.",
				MessageID: "msg_9a1", AgentID: "agt_7f3c", Timestamp: "2025-06-01T12:00:00Z",
				Tools:          []ToolExecution{{Tool: "lead_capture", Status: "executed", Data: leadData}},
				ProcessingTime: 0.84, TokensUsed: 312, KnowledgeUsed: 2,
			},
			raw: "whole",
		},
		{
			name: "v2 envelope with handoff",
			body: fixture(t, "v2_envelope.json"),
			want: Reply{
				Text:      "Sure, a human colleague will email you shortly.",
				MessageID: "msg_9a2", AgentID: "agt_7f3c", Timestamp: "2025-06-01T12:00:03Z",
				Tools: []ToolExecution{{Tool: "email_handoff", Status: "executed",
					Data: map[string]any{"reason": "user asked for a human"}}},
				Handoff:        true,
				HandoffData:    json.RawMessage(`{"reason": "user asked for a human", "email": "ana@example.com"}`),
				ProcessingTime: 1.2, TokensUsed: 150,
			},
			raw: "data",
		},
		{
			name: "v1 minimal",
			body: fixture(t, "v1_minimal.json"),
			want: Reply{Text: "Hello! How can I help you today?"},
			raw:  "whole",
		},
		{
			name: "handoff data only",
			body: `{"response":"ok","handoff_data":{"reason":"x"}}`,
			want: Reply{Text: "ok", Handoff: true, HandoffData: json.RawMessage(`{"reason":"x"}`)},
			raw:  "whole",
		},
		{
			name: "empty handoff data is no handoff",
			body: `{"response":"ok","handoff_data":{ }}`,
			want: Reply{Text: "ok", HandoffData: json.RawMessage(`{ }`)},
			raw:  "whole",
		},
		{
			name: "handoff tool not executed",
			body: `{"response":"ok","tools_executed":[{"tool":"email_handoff","status":"failed"}]}`,
			want: Reply{Text: "ok", Tools: []ToolExecution{{Tool: "email_handoff", Status: "failed"}}},
			raw:  "whole",
		},
		{
			name: "handoff tool executed, no data",
			body: `{"response":"ok","handoff_data":null,"tools_executed":[{"tool":"email_handoff","status":"Executed","data":null}]}`,
			want: Reply{Text: "ok", Handoff: true, Tools: []ToolExecution{{Tool: "email_handoff", Status: "Executed"}}},
			raw:  "whole",
		},
		{
			name: "loose metadata and tool name",
			body: `{"response":"","metadata":{"processing_time":"0.5","tokens_used":12.0,"knowledge_chunks_used":null},"tools_executed":[{"name":"appointment","status":"executed","data":"10:00"}],"message_id":42}`,
			want: Reply{Text: "", MessageID: "42", ProcessingTime: 0.5, TokensUsed: 12,
				Tools: []ToolExecution{{Tool: "appointment", Status: "executed"}}},
			raw: "whole",
		},
		{
			name: "success true with top-level fields",
			body: `{"success":true,"response":"top"}`,
			want: Reply{Text: "top"},
			raw:  "whole",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRecorder(t, answer(200, tt.body))
			o := newConn(t, srv.URL, nil)
			got, err := o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "q"})
			if err != nil {
				t.Fatal(err)
			}
			wantRaw := tt.body
			if tt.raw == "data" {
				var env struct{ Data json.RawMessage }
				if err := json.Unmarshal([]byte(tt.body), &env); err != nil {
					t.Fatal(err)
				}
				wantRaw = string(env.Data)
			}
			if string(got.Raw) != wantRaw {
				t.Errorf("Raw = %s\nwant %s", got.Raw, wantRaw)
			}
			got.Raw = nil
			if !validTraceID(got.TraceID) || got.RequestID == "" {
				t.Errorf("reply lacks ids: request %q, trace %q", got.RequestID, got.TraceID)
			}
			got.RequestID, got.TraceID = "", ""
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("reply\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	tests := []struct {
		status int
		kind   ErrorKind // 0 = healthy
	}{
		{200, 0}, {204, 0}, {503, KindServer}, {401, KindClient}, {404, KindClient},
	}
	for _, tt := range tests {
		srv := newRecorder(t, answer(tt.status, `{"status":"x"}`))
		o := newConn(t, srv.URL, nil)
		err := o.Health(context.Background())
		if tt.kind == 0 {
			if err != nil {
				t.Errorf("status %d: %v", tt.status, err)
			}
			continue
		}
		if e := asError(t, err); e.Kind != tt.kind || e.Op != "health" || e.Status != tt.status {
			t.Errorf("status %d: got %v/%s/%d, want %v", tt.status, e.Kind, e.Op, e.Status, tt.kind)
		}
	}
}

func TestSendWithoutChatID(t *testing.T) {
	srv := newRecorder(t, answer(200, `{"response":"x"}`))
	o := newConn(t, srv.URL, nil)
	_, err := o.Send(context.Background(), Chat{}, Message{Content: "x"})
	if e := asError(t, err); e.Kind != KindClient {
		t.Fatalf("kind %v, want client", e.Kind)
	}
	if len(srv.reqs) != 0 {
		t.Fatal("a request was sent without a chat ID")
	}
}

// TestConcurrentSendsReuseConnections hammers one Optimly from many
// goroutines (run with -race) and checks that keep-alive works: far fewer
// TCP connections than requests, which only happens when every body is read
// to the end and closed.
func TestConcurrentSendsReuseConnections(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ChatID  string `json:"chat_id"`
			Content string `json:"content"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"chat_id": req.ChatID, "response": "echo:" + req.Content})
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	const workers, perWorker = 16, 40
	o := newConn(t, srv.URL, func(op *Options) { op.MaxConns = workers })
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			chat := Chat{ID: "chat-" + string(rune('a'+w))}
			for i := range perWorker {
				content := chat.ID + "/" + string(rune('0'+i%10))
				r, err := o.Send(context.Background(), chat, Message{Content: content})
				if err != nil {
					errs <- err
					return
				}
				if r.Text != "echo:"+content {
					errs <- errors.New("reply " + r.Text + " does not match " + content)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := conns.Load(); n > 2*workers {
		t.Fatalf("%d connections for %d requests: keep-alive is not working", n, workers*perWorker)
	}
}

func TestCloseKeepsConnUsable(t *testing.T) {
	srv := newRecorder(t, answer(200, `{"response":"x"}`))
	o := newConn(t, srv.URL, nil)
	for range 2 {
		if _, err := o.Send(context.Background(), Chat{ID: "c"}, Message{}); err != nil {
			t.Fatal(err)
		}
		o.Close()
	}
}
