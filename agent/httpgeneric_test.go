package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// conversationsAPI mimics a "create a conversation, then post messages to
// it" API: POST /api/conversations answers {"conversation":{"id"}};
// POST /api/conversations/{id}/messages {"message":{"text"}} answers the
// whole thread, the last message being the assistant's, plus actions and
// usage. It wants "X-Api-Token: <key>".
func conversationsAPI(t *testing.T, key string) *httptest.Server {
	var mu sync.Mutex
	threads := map[string][]map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Token") != key {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":{"message":"bad token"}}`)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "POST" && r.URL.Path == "/api/conversations":
			id := fmt.Sprintf("conv_%d", len(threads)+1)
			threads[id] = nil
			w.WriteHeader(201)
			fmt.Fprintf(w, `{"conversation":{"id":%q,"created":"now"}}`, id)
		case r.Method == "POST" && strings.HasPrefix(r.URL.Path, "/api/conversations/") && strings.HasSuffix(r.URL.Path, "/messages"):
			id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/conversations/"), "/messages")
			th, ok := threads[id]
			if !ok {
				w.WriteHeader(404)
				fmt.Fprint(w, `{"error":{"message":"no such conversation"}}`)
				return
			}
			var in struct {
				Message struct{ Text string } `json:"message"`
			}
			if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
				w.WriteHeader(400)
				fmt.Fprintf(w, `{"error":{"message":%q}}`, err.Error())
				return
			}
			reply := fmt.Sprintf("You said %q (message %d)", in.Message.Text, len(th)/2+1)
			th = append(th, map[string]string{"role": "user", "text": in.Message.Text}, map[string]string{"role": "assistant", "text": reply})
			threads[id] = th
			actions := `[]`
			if strings.Contains(in.Message.Text, "@") {
				actions = `[{"type":"lead_capture","state":"done","payload":{"email":"ana@example.com"}}]`
			}
			b, _ := json.Marshal(th)
			fmt.Fprintf(w, `{"messages":%s,"actions":%s,"usage":{"tokens":%d}}`, b, actions, 10*len(th))
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// sessionKeyAPI mimics an "interact with a session key" API: the client
// picks the session key; POST /state/user/{key}/interact with
// {"action":{"type":"text","payload"},"history"} answers a list of traces;
// the key goes bare in Authorization.
func sessionKeyAPI(t *testing.T, key string, seen *[]string) *httptest.Server {
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != key {
			w.WriteHeader(403)
			fmt.Fprint(w, `{"message":"forbidden"}`)
			return
		}
		var in struct {
			Action struct {
				Type    string `json:"type"`
				Payload string `json:"payload"`
			} `json:"action"`
			History []chatMessage `json:"history"`
		}
		body := new(bytes.Buffer)
		body.ReadFrom(r.Body)
		if err := json.Unmarshal(body.Bytes(), &in); err != nil || in.Action.Type != "text" {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"message":"bad request"}`)
			return
		}
		mu.Lock()
		*seen = append(*seen, r.URL.Path+" "+body.String())
		mu.Unlock()
		fmt.Fprintf(w, `[{"type":"speak","payload":{"message":"..."}},{"type":"text","payload":{"message":%q}}]`,
			fmt.Sprintf("echo %s after %d messages", in.Action.Payload, len(in.History)))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestGenericConversationsAPI(t *testing.T) {
	const key = "tok-123456789"
	srv := conversationsAPI(t, key)
	cfg := HTTPConfig{
		CreateSession: &HTTPRequestSpec{Path: "/api/conversations", Body: `{"client":"{{ client_id }}"}`},
		SessionPath:   "conversation.id",
		Send:          HTTPRequestSpec{Path: "/api/conversations/{{ session }}/messages", Body: `{"message":{"text":"{{ content }}"}}`},
		ReplyPath:     "messages[-1].text",
		ToolsPath:     "actions", ToolNameField: "type", ToolStatusField: "state", ToolDataField: "payload",
		TokensPath: "usage.tokens",
	}
	h, err := NewHTTP(Options{BaseURL: srv.URL, APIKey: key, Auth: "header", Header: "X-Api-Token"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	if h.NewChatCalls() != 1 {
		t.Error("create_session is a call")
	}
	ctx := context.Background()
	chat, err := h.NewChat(ctx, NewChatRequest{ClientID: "qa"})
	if err != nil || chat.ID != "conv_1" {
		t.Fatalf("%+v %v", chat, err)
	}
	r, err := h.Send(ctx, chat, Message{Content: `Say "hi"`})
	if err != nil {
		t.Fatal(err)
	}
	if r.Text != `You said "Say \"hi\"" (message 1)` || r.TokensUsed != 20 || r.RequestID == "" {
		t.Fatalf("%+v", r)
	}
	r, err = h.Send(ctx, chat, Message{Content: "mail me: ana@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(r.Text, "(message 2)") || len(r.Tools) != 1 || r.Tools[0].Tool != "lead_capture" || r.Tools[0].Status != "done" || r.Tools[0].Data["email"] != "ana@example.com" {
		t.Fatalf("%+v", r)
	}
	_, err = h.Send(ctx, Chat{ID: "conv_9", local: &localChat{session: "conv_9"}}, Message{Content: "x"})
	if e := asError(t, err); e.Kind != KindClient || !strings.Contains(e.Detail, "no such conversation") {
		t.Fatalf("%v", err)
	}
}

func TestGenericSessionKeyAPI(t *testing.T) {
	const key = "VF.DM.secret42"
	var seen []string
	srv := sessionKeyAPI(t, key, &seen)
	env := map[string]string{"VF_VERSION": "production"}
	cfg := HTTPConfig{
		Send: HTTPRequestSpec{
			Path:    "/state/user/{{ session }}/interact",
			Headers: map[string]string{"versionID": "{{ env.VF_VERSION }}"},
			Body:    `{"action":{"type":"text","payload":"{{ content }}"},"history":{{ history_json }}}`,
		},
		ReplyPath: "[-1].payload.message",
		Getenv:    func(k string) string { return env[k] },
	}
	h, err := NewHTTP(Options{BaseURL: srv.URL, APIKey: key, Auth: "header", Header: "Authorization"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	if h.NewChatCalls() != 0 {
		t.Error("a local session costs no call")
	}
	ctx := context.Background()
	chat, _ := h.NewChat(ctx, NewChatRequest{})
	for i, want := range []string{"echo a\nb after 0 messages", "echo c after 2 messages"} {
		msg := []string{"a\nb", "c"}[i]
		r, err := h.Send(ctx, chat, Message{Content: msg})
		if err != nil {
			t.Fatal(err)
		}
		if r.Text != want {
			t.Fatalf("turn %d: %q, want %q", i, r.Text, want)
		}
	}
	if !strings.HasPrefix(seen[1], "/state/user/"+chat.ID+"/interact ") || !strings.Contains(seen[1], `"history":[{"role":"user","content":"a\nb"},`) {
		t.Errorf("second request %s", seen[1])
	}
}

func TestNewHTTPValidation(t *testing.T) {
	send := HTTPRequestSpec{Path: "/c", Body: `{"q":"{{ content }}"}`}
	env := func(k string) string { return map[string]string{"SET": "v"}[k] }
	tests := []struct {
		name string
		cfg  HTTPConfig
		want string
	}{
		{"no send path", HTTPConfig{ReplyPath: "r"}, "send.path is required"},
		{"no reply path", HTTPConfig{Send: send}, "reply_path is required"},
		{"bad reply path", HTTPConfig{Send: send, ReplyPath: "a..b"}, "reply_path"},
		{"bad index", HTTPConfig{Send: send, ReplyPath: "a[x]"}, "reply_path"},
		// the one template syntax and its messages (internal/tmpl, as in scenarios)
		{"unknown placeholder", HTTPConfig{Send: HTTPRequestSpec{Path: "/c", Body: `{"q":"{{ contnet }}"}`}, ReplyPath: "r"}, "send.body: undefined name {{ contnet }} (did you mean content?); valid here: {{ session }}, {{ content }}, {{ history_json }}, {{ client_id }}, {{ env.NAME }}"},
		{"content in create", HTTPConfig{CreateSession: &HTTPRequestSpec{Path: "/s", Body: `{"q":"{{ content }}"}`}, SessionPath: "id", Send: send, ReplyPath: "r"}, "create_session.body: undefined name {{ content }}; valid here: {{ client_id }}, {{ env.NAME }}"},
		{"unclosed", HTTPConfig{Send: HTTPRequestSpec{Path: "/c/{{session"}, ReplyPath: "r"}, `send.path: at byte 3: "{{" is not closed by "}}"`},
		{"unclosed in query", HTTPConfig{Send: HTTPRequestSpec{Path: "/c?q={{content"}, ReplyPath: "r"}, `send.path: at byte 5: "{{" is not closed by "}}"`},
		{"empty placeholder", HTTPConfig{Send: HTTPRequestSpec{Path: "/c", Body: `{"q":"{{ }}"}`}, ReplyPath: "r"}, `send.body: at byte 6: empty placeholder "{{}}"`},
		{"bad name", HTTPConfig{Send: HTTPRequestSpec{Path: "/c", Body: `{"q":"{{ a-b }}"}`}, ReplyPath: "r"}, `send.body: at byte 6: invalid name "a-b" in placeholder`},
		{"arguments", HTTPConfig{Send: HTTPRequestSpec{Path: "/c", Body: `{"q":"{{ content x }}"}`}, ReplyPath: "r"}, `send.body: {{ content }} takes no arguments, got "x"`},
		{"bad env name", HTTPConfig{Send: send, ReplyPath: "r", Headers: map[string]string{"X-K": "{{ env.A-B }}"}}, `headers.X-K: at byte 0: {{ env.A-B }}: invalid variable name "A-B"`},
		{"unset env, spaced", HTTPConfig{Send: send, ReplyPath: "r", Headers: map[string]string{"X-K": "{{ env UNSET }}"}}, "headers.X-K: environment variable UNSET is not set"},
		{"invalid JSON body", HTTPConfig{Send: HTTPRequestSpec{Path: "/c", Body: `{"q": {{ content }}`}, ReplyPath: "r"}, "send.body is not valid JSON"},
		{"unset env", HTTPConfig{Send: send, ReplyPath: "r", Headers: map[string]string{"X-K": "{{ env.UNSET }}"}}, "headers.X-K: environment variable UNSET is not set"},
		{"bad method", HTTPConfig{Send: HTTPRequestSpec{Method: "FETCH", Path: "/c"}, ReplyPath: "r"}, "send.method"},
		{"relative path", HTTPConfig{Send: HTTPRequestSpec{Path: "c"}, ReplyPath: "r"}, "send.path"},
		{"two session sources", HTTPConfig{CreateSession: &HTTPRequestSpec{Path: "/s"}, SessionPath: "id", SessionHeader: "X-S", Send: send, ReplyPath: "r"}, "exactly one of"},
		{"session without create", HTTPConfig{SessionPath: "id", Send: send, ReplyPath: "r"}, "need a create_session"},
		{"tool fields without path", HTTPConfig{Send: send, ReplyPath: "r", ToolNameField: "x"}, "need tools_path"},
		{"header replaces auth", HTTPConfig{Send: send, ReplyPath: "r", Headers: map[string]string{"authorization": "x"}}, "already goes in this header"},
		{"bad header name", HTTPConfig{Send: send, ReplyPath: "r", Headers: map[string]string{"X Y": "x"}}, "not a valid header name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Getenv = env
			_, err := NewHTTP(Options{BaseURL: "https://a.io", APIKey: "k"}, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestTemplateEscaping: values are escaped for where they land, and
// environment values are redacted from errors.
func TestTemplateEscaping(t *testing.T) {
	var got []recorded
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"r":"ok"}`)) })
	env := func(string) string { return "s3cr3t-env" }
	h, err := NewHTTP(Options{BaseURL: srv.URL}, HTTPConfig{
		Send: HTTPRequestSpec{Path: "/s/{{ session }}?c={{ content }}", Headers: map[string]string{"X-Sig": "{{ env.SIG }}"},
			Body: `{"text":"pre {{ content }}","raw":{{ content }},"h":"{{ history_json }}","sid":{{ session }}}`},
		ReplyPath: "r", Getenv: env,
	})
	if err != nil {
		t.Fatal(err)
	}
	chat := Chat{ID: "a/b", local: &localChat{session: "a/b"}}
	if _, err := h.Send(context.Background(), chat, Message{Content: "x \"y\"&z"}); err != nil {
		t.Fatal(err)
	}
	got = []recorded{srv.last(t)}
	want := `{"text":"pre x \"y\"&z","raw":"x \"y\"&z","h":"[]","sid":"a/b"}`
	if string(got[0].body) != want {
		t.Errorf("body\n got %s\nwant %s", got[0].body, want)
	}
	if got[0].header.Get("X-Sig") != "s3cr3t-env" {
		t.Errorf("env header %q", got[0].header.Get("X-Sig"))
	}
	srv.Close()
	_, err = h.Send(context.Background(), chat, Message{Content: "q"})
	if err == nil || strings.Contains(err.Error(), "s3cr3t-env") {
		t.Fatalf("error %v", err)
	}
}

func TestParseJSONPath(t *testing.T) {
	doc := map[string]any{"a": map[string]any{"b": []any{"x", map[string]any{"c.d": "deep"}}}, "n": json.Number("42")}
	for _, tt := range []struct {
		path, want string
		ok         bool
	}{
		{"a.b[0]", "x", true}, {"$.a.b[-1]['c.d']", "deep", true}, {`a.b[1]["c.d"]`, "deep", true},
		{"n", "42", true}, {"a.b[2]", "", false}, {"a.z", "", false}, {"a.b.c", "", false},
	} {
		p, err := ParseJSONPath(tt.path)
		if err != nil {
			t.Fatalf("%s: %v", tt.path, err)
		}
		got, ok := lookupString(p, doc)
		if ok != tt.ok || got != tt.want {
			t.Errorf("%s = %q %v, want %q %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
	for _, bad := range []string{"", "a.", ".", "a..b", "a[", "a[b]"} {
		if _, err := ParseJSONPath(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseJSONPath(f *testing.F) {
	for _, s := range []string{"a.b[0]", "$", "$.x[-1]['k']", "a..b", "[", "a[\"q\"]"} {
		f.Add(s)
	}
	doc := map[string]any{"a": []any{map[string]any{"b": "c"}}}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseJSONPath(s)
		if err != nil {
			return
		}
		p.Lookup(doc) // must not panic
		if p.String() != s {
			t.Fatalf("String %q != %q", p.String(), s)
		}
	})
}

// FuzzHTTPTemplates compiles arbitrary request templates (internal/tmpl
// syntax, the HTTP target's vocabulary): never a panic, an error always
// names the field, and an env value never appears in an error.
func FuzzHTTPTemplates(f *testing.F) {
	for _, s := range []string{`{"q":"{{ content }}"}`, `{{ history_json }}`, `{"a":{{ env.SECRET_V }}}`, `{{`, `{{ }}`, `{{ content x }}`, `{"q":"{{ env SECRET_V }}"}`, `a={{ content }}&b={{ session }}`} {
		f.Add(s, "/c/{{ session }}?q={{ client_id }}", "{{ env.SECRET_V }}")
	}
	f.Fuzz(func(t *testing.T, body, path, header string) {
		cfg := HTTPConfig{
			Send:      HTTPRequestSpec{Path: path, Body: body, Headers: map[string]string{"X-H": header}},
			ReplyPath: "r",
			Getenv:    func(k string) string { return map[string]string{"SECRET_V": "s3cr3t-value"}[k] },
		}
		_, err := NewHTTP(Options{BaseURL: "http://127.0.0.1:1", APIKey: "k"}, cfg)
		if err == nil {
			return
		}
		if !strings.HasPrefix(err.Error(), "agent: http: ") {
			t.Fatalf("error does not name the target: %v", err)
		}
		if strings.Contains(err.Error(), "s3cr3t-value") && !strings.Contains(body+path+header, "s3cr3t-value") {
			t.Fatalf("error shows an env value: %v", err)
		}
	})
}
