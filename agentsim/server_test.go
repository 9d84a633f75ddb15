package agentsim

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// unwrap checks the shape of a body (plain or envelope) and returns the
// payload: the data of a success, the detail of an error.
func unwrap(t *testing.T, envelope bool, status int, body []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, body)
	}
	ok := status < 400
	if envelope {
		m, isObj := v.(map[string]any)
		if !isObj || m["success"] != ok {
			t.Fatalf("envelope: want success=%v, got %s", ok, body)
		}
		if ok {
			if len(m) != 2 {
				t.Fatalf("success envelope has keys other than success/data: %s", body)
			}
			return m["data"]
		}
		if code, _ := m["error"].(string); code == "" {
			t.Fatalf("error envelope without an error code: %s", body)
		}
		return m["detail"]
	}
	if ok {
		return v
	}
	m, isObj := v.(map[string]any)
	if !isObj || len(m) != 1 {
		t.Fatalf("error body must be {\"detail\":...}, got %s", body)
	}
	return m["detail"]
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func hasKeys(t *testing.T, v any, keys ...string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("want an object, got %T %v", v, v)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("missing key %q in %v", k, m)
		}
	}
	if len(m) != len(keys) {
		t.Errorf("keys = %v, want exactly %v", keysOf(m), keys)
	}
	return m
}

func validation(field, msg, typ string) string {
	loc := `["body"]`
	if field != "" {
		loc = `["body","` + field + `"]`
	}
	return `[{"loc":` + loc + `,"msg":"` + msg + `","type":"` + typ + `"}]`
}

func TestEndpoints(t *testing.T) {
	type tc struct {
		name, method, path, auth, body string
		status                         int
		detail                         string                          // errors: the expected detail, as JSON
		check                          func(t *testing.T, payload any) // successes
		header                         map[string]string
	}
	cases := []tc{
		{name: "health", method: "GET", path: "/health", status: 200, check: func(t *testing.T, p any) {
			if m := hasKeys(t, p, "status"); m["status"] != "ok" {
				t.Errorf("status = %v", m["status"])
			}
		}},
		{name: "health wrong method", method: "POST", path: "/health", status: 405, detail: `"Method Not Allowed"`, header: map[string]string{"Allow": "GET"}},
		{name: "unknown path", method: "GET", path: "/external/nope", auth: bearer, status: 404, detail: `"Not Found"`},
		{name: "new chat", method: "POST", path: "/external/message/new-chat", auth: bearer, body: `{"client_id":"c-1","metadata":{"source":"test"}}`, status: 200, check: func(t *testing.T, p any) {
			m := hasKeys(t, p, "chat_id", "agent_id", "client_id", "created_at", "status")
			if m["client_id"] != "c-1" || m["status"] != "active" || m["agent_id"] != "brightdesk-support" || !strings.HasPrefix(m["chat_id"].(string), "chat_") {
				t.Errorf("new chat = %v", m)
			}
			if _, err := time.Parse(time.RFC3339Nano, m["created_at"].(string)); err != nil {
				t.Errorf("created_at: %v", err)
			}
		}},
		{name: "new chat missing client_id", method: "POST", path: "/external/message/new-chat", auth: bearer, body: `{}`, status: 422, detail: validation("client_id", "field required", "value_error.missing")},
		{name: "new chat metadata not a dict", method: "POST", path: "/external/message/new-chat", auth: bearer, body: `{"client_id":"c","metadata":[1]}`, status: 422, detail: validation("metadata", "value is not a valid dict", "type_error.dict")},
		{name: "new chat no key", method: "POST", path: "/external/message/new-chat", body: `{"client_id":"c"}`, status: 401, detail: `"Invalid API key"`},
		{name: "new chat wrong method", method: "GET", path: "/external/message/new-chat", auth: bearer, status: 405, detail: `"Method Not Allowed"`, header: map[string]string{"Allow": "POST"}},
		{name: "v2 turn", method: "POST", path: "/external/agent/v2", auth: bearer, body: `{"chat_id":"CHAT","content":"What does the Growth plan cost?","metadata":{"client_id":"c","session_id":"s","source":"evalrun"}}`, status: 200, check: func(t *testing.T, p any) {
			m := hasKeys(t, p, "agent_id", "chat_id", "response", "message_id", "timestamp", "tools_executed", "handoff_data", "metadata")
			if !strings.Contains(m["response"].(string), "$99/mo") || m["handoff_data"] != nil || len(m["tools_executed"].([]any)) != 0 {
				t.Errorf("v2 reply = %v", m)
			}
			md := hasKeys(t, m["metadata"], "processing_time", "tokens_used", "knowledge_chunks_used")
			if md["knowledge_chunks_used"].(float64) < 1 || md["tokens_used"].(float64) < 10 {
				t.Errorf("metadata = %v", md)
			}
		}},
		{name: "v2 X-API-Key", method: "POST", path: "/external/agent/v2", auth: "X-API-Key: " + testKey, body: `{"chat_id":"CHAT","content":"hi"}`, status: 200, check: func(t *testing.T, p any) {}},
		{name: "v2 lower-case bearer", method: "POST", path: "/external/agent/v2", auth: "bearer " + testKey, body: `{"chat_id":"CHAT","content":"hi"}`, status: 200, check: func(t *testing.T, p any) {}},
		{name: "v2 no key", method: "POST", path: "/external/agent/v2", body: `{"chat_id":"CHAT","content":"hi"}`, status: 401, detail: `"Invalid API key"`},
		{name: "v2 wrong key", method: "POST", path: "/external/agent/v2", auth: "Bearer nope", body: `{"chat_id":"CHAT","content":"hi"}`, status: 401, detail: `"Invalid API key"`},
		{name: "v2 key prefix", method: "POST", path: "/external/agent/v2", auth: bearer[:len(bearer)-1], body: `{"chat_id":"CHAT","content":"hi"}`, status: 401, detail: `"Invalid API key"`},
		{name: "v2 unknown chat", method: "POST", path: "/external/agent/v2", auth: bearer, body: `{"chat_id":"chat_missing","content":"hi"}`, status: 404, detail: `"Chat not found"`},
		{name: "v2 malformed JSON", method: "POST", path: "/external/agent/v2", auth: bearer, body: `{"chat_id":`, status: 422, detail: validation("", "invalid JSON: unexpected end of JSON input", "value_error.jsondecode")},
		{name: "v2 empty body", method: "POST", path: "/external/agent/v2", auth: bearer, status: 422, detail: validation("", "invalid JSON: unexpected end of JSON input", "value_error.jsondecode")},
		{name: "v2 missing content", method: "POST", path: "/external/agent/v2", auth: bearer, body: `{"chat_id":"CHAT"}`, status: 422, detail: validation("content", "field required", "value_error.missing")},
		{name: "v2 missing both", method: "POST", path: "/external/agent/v2", auth: bearer, body: `{}`, status: 422, detail: `[{"loc":["body","chat_id"],"msg":"field required","type":"value_error.missing"},{"loc":["body","content"],"msg":"field required","type":"value_error.missing"}]`},
		{name: "v2 empty content", method: "POST", path: "/external/agent/v2", auth: bearer, body: `{"chat_id":"CHAT","content":"  "}`, status: 422, detail: validation("content", "ensure this value has at least 1 characters", "value_error.any_str.min_length")},
		{name: "v2 content not a string", method: "POST", path: "/external/agent/v2", auth: bearer, body: `{"chat_id":"CHAT","content":42}`, status: 422, detail: validation("content", "str type expected", "type_error.str")},
		{name: "v2 body not an object", method: "POST", path: "/external/agent/v2", auth: bearer, body: `["hi"]`, status: 422, detail: validation("", "value is not a valid dict", "type_error.dict")},
		{name: "v2 body too large", method: "POST", path: "/external/agent/v2", auth: bearer, body: `{"chat_id":"CHAT","content":"` + strings.Repeat("a", maxBody) + `"}`, status: 413, detail: `"Request body too large (limit 1 MiB)"`},
		{name: "v2 wrong method", method: "GET", path: "/external/agent/v2", auth: bearer, status: 405, detail: `"Method Not Allowed"`, header: map[string]string{"Allow": "POST"}},
		{name: "v1 turn", method: "POST", path: "/external/agent", auth: bearer, body: `{"chat_id":"CHAT","content":"Tell me about your refund policy"}`, status: 200, check: func(t *testing.T, p any) {
			m := hasKeys(t, p, "response", "chat_id", "message_id", "timestamp")
			if !strings.Contains(m["response"].(string), "30 days") {
				t.Errorf("v1 reply = %v", m)
			}
		}},
		{name: "v1 unknown chat", method: "POST", path: "/external/agent", auth: bearer, body: `{"chat_id":"x","content":"hi"}`, status: 404, detail: `"Chat not found"`},
		{name: "history", method: "GET", path: "/external/chat/HCHAT/messages", auth: bearer, status: 200, check: func(t *testing.T, p any) {
			list, ok := p.([]any)
			if !ok || len(list) != 2 {
				t.Fatalf("history = %v, want the 2 messages of the setup turn", p)
			}
			u := hasKeys(t, list[0], "message_id", "sender", "content", "timestamp")
			a := hasKeys(t, list[1], "message_id", "sender", "content", "timestamp")
			if u["sender"] != "user" || u["content"] != "hello" || a["sender"] != "assistant" || !strings.HasPrefix(a["content"].(string), "Hi! I'm the Brightdesk") {
				t.Errorf("history = %v", list)
			}
		}},
		{name: "history unknown chat", method: "GET", path: "/external/chat/nope/messages", auth: bearer, status: 404, detail: `"Chat not found"`},
		{name: "history no key", method: "GET", path: "/external/chat/CHAT/messages", status: 401, detail: `"Invalid API key"`},
		{name: "history wrong method", method: "POST", path: "/external/chat/CHAT/messages", auth: bearer, status: 405, detail: `"Method Not Allowed"`},
		{name: "history nested path", method: "GET", path: "/external/chat/a/b/messages", auth: bearer, status: 404, detail: `"Not Found"`},
	}
	for _, envelope := range []bool{false, true} {
		t.Run(fmt.Sprintf("envelope=%v", envelope), func(t *testing.T) {
			a := baseline(t)
			a.Envelope = envelope
			f := serve(t, a)
			chat := f.newChat("setup")
			hchat := f.newChat("history") // one turn, read by the history case
			if r := f.do("POST", "/external/agent/v2", bearer, `{"chat_id":"`+hchat+`","content":"hello"}`); r.status != 200 {
				t.Fatalf("setup turn: %d %s", r.status, r.body)
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					path := strings.ReplaceAll(strings.ReplaceAll(c.path, "HCHAT", hchat), "CHAT", chat)
					r := f.do(c.method, path, c.auth, strings.ReplaceAll(c.body, "CHAT", chat))
					if r.status != c.status {
						t.Fatalf("status = %d, want %d; body %s", r.status, c.status, r.body)
					}
					if ct := r.header.Get("Content-Type"); ct != "application/json" {
						t.Errorf("Content-Type = %q", ct)
					}
					for k, v := range c.header {
						if got := r.header.Get(k); got != v {
							t.Errorf("header %s = %q, want %q", k, got, v)
						}
					}
					p := unwrap(t, envelope, r.status, r.body)
					if c.status >= 400 {
						got, _ := json.Marshal(p)
						if string(got) != compactJSON(t, []byte(c.detail)) {
							t.Errorf("detail = %s\nwant     %s", got, c.detail)
						}
						return
					}
					c.check(t, p)
				})
			}
		})
	}
}

func TestStatsCountAgentCalls(t *testing.T) {
	f := serve(t, baseline(t))
	chat := f.newChat("c")                                                           // 200
	f.send(chat, "hello")                                                            // 200
	f.do("POST", "/external/agent", bearer, `{"chat_id":"`+chat+`","content":"hi"}`) // 200 v1
	f.do("GET", "/external/chat/"+chat+"/messages", bearer, "")                      // 200 history
	f.do("POST", "/external/agent/v2", "", `{"chat_id":"`+chat+`","content":"hi"}`)  // 401
	f.do("POST", "/external/agent/v2", bearer, `{"chat_id":"nope","content":"hi"}`)  // 404
	f.do("POST", "/external/agent/v2", bearer, `{"chat_id":"`+chat+`"}`)             // 422
	f.do("GET", "/health", "", "")                                                   // not counted
	f.do("GET", "/external/agent/v2", bearer, "")                                    // 405, not counted
	f.do("GET", "/nowhere", bearer, "")                                              // 404 path, not counted
	want := Stats{NewChats: 1, Turns: 1, V1Turns: 1, Messages: 1, Health: 1, AgentCalls: 7,
		ByStatus: map[int]int64{200: 4, 401: 1, 404: 1, 422: 1}}
	if got := f.s.Stats(); !reflect.DeepEqual(got, want) {
		t.Errorf("stats = %+v\nwant    %+v", got, want)
	}
}

func TestEnvelopeShapes(t *testing.T) {
	a := baseline(t)
	a.Envelope = true
	f := serve(t, a)
	r := f.do("POST", "/external/message/new-chat", bearer, `{"client_id":"c"}`)
	if !strings.HasPrefix(string(r.body), `{"success":true,"data":{"chat_id":`) {
		t.Errorf("success body = %s", r.body)
	}
	r = f.do("POST", "/external/agent/v2", "Bearer wrong", `{}`)
	if got, want := string(r.body), `{"success":false,"error":"unauthorized","detail":"Invalid API key"}`; got != want {
		t.Errorf("error body = %s, want %s", got, want)
	}
}

func TestRepliesDeterministic(t *testing.T) {
	script := []string{"hello", "What does the Growth plan cost?", "How much is it?", "Do you integrate with Slack?", "What does the Growth plan cost?", "blah blah"}
	// Reference: one chat, sequential, seed 42.
	ref := serve(t, baseline(t))
	refChat := ref.newChat("ref")
	var want []string
	for _, m := range script {
		want = append(want, ref.send(refChat, m)["response"].(string))
	}
	// Same seed, other chats and client ids, running concurrently with
	// noise chats: the same replies turn by turn.
	f := serve(t, baseline(t))
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			chat := f.newChat(fmt.Sprintf("client-%d", g))
			noise := f.newChat(fmt.Sprintf("noise-%d", g))
			for i, m := range script {
				f.send(noise, "What does the Scale plan cost?")
				if got := f.send(chat, m)["response"].(string); got != want[i] {
					errs <- fmt.Sprintf("goroutine %d turn %d: %q, want %q", g, i+1, got, want[i])
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	// Another seed changes some openers (and nothing else).
	other := baseline(t)
	other.Seed = 43
	o := serve(t, other)
	oc := o.newChat("ref")
	differ := 0
	for i, m := range script {
		got := o.send(oc, m)["response"].(string)
		if got != want[i] {
			differ++
		}
		for _, op := range other.Personality.Openers {
			got = strings.TrimPrefix(got, op)
		}
		w := want[i]
		for _, op := range other.Personality.Openers {
			w = strings.TrimPrefix(w, op)
		}
		if got != w {
			t.Errorf("seed 43 turn %d: %q differs beyond the opener from %q", i+1, got, w)
		}
	}
	if differ == 0 {
		t.Errorf("seed 43 gave exactly the replies of seed 42; the seed has no effect")
	}
}

func TestKnowledgeAnswers(t *testing.T) {
	a := baseline(t)
	a.Personality.Openers = nil
	f := serve(t, a)
	chat := f.newChat("c")
	cases := []struct {
		msg, want string
		chunks    float64
	}{
		{"What does the Growth plan cost?", "The Growth plan costs $99/mo", 2},
		{"WHAT ARE YOUR PRICES???", "Brightdesk has four plans", 1},
		{"What are your support hours?", "Support is available Monday to Friday", 1},
		{"Are you SOC 2 certified?", "SOC 2 Type II", 1},
		{"refund policy please", "within 30 days", 1},
		{"Tell me about the free trial", "14-day free trial", 1},
		{"hey", "Hi! I'm the Brightdesk assistant", 0},
		{"hey, do you work with HubSpot?", "integrates with Slack, HubSpot and Zapier", 1},
		{"What's the weather like?", "I'm not sure about that one", 0},
	}
	for _, c := range cases {
		r := f.send(chat, c.msg)
		if !strings.Contains(r["response"].(string), c.want) {
			t.Errorf("%q -> %q, want it to contain %q", c.msg, r["response"], c.want)
		}
		if got := r["metadata"].(map[string]any)["knowledge_chunks_used"]; got != c.chunks {
			t.Errorf("%q: knowledge_chunks_used = %v, want %v", c.msg, got, c.chunks)
		}
	}
}

func TestTokensUsed(t *testing.T) {
	a := &Agent{Name: "t", APIKeys: []string{testKey}, Fallback: "one two three four five six seven eight nine ten"}
	f := serve(t, a)
	r := f.send(f.newChat("c"), "a b c d e f g h i j")
	// 10 words in + 10 out = 20 words, * 1.3 = 26.
	if got := r["metadata"].(map[string]any)["tokens_used"]; got != 26.0 {
		t.Errorf("tokens_used = %v, want 26", got)
	}
}

func TestHistoryIsBounded(t *testing.T) {
	a := &Agent{Name: "t", APIKeys: []string{testKey}, Fallback: "ok"}
	s := New(a)
	sc := getScratch()
	defer putScratch(sc)
	c := &chat{id: "c"}
	s.chats["c"] = c
	for i := 0; i < maxHistory; i++ {
		c.history = append(c.history, histMsg{content: "x"})
	}
	f := serve(t, a)
	f.s.chats["c"] = c
	f.send("c", "last")
	if n := len(c.history); n > maxHistory || n < maxHistory/2 {
		t.Errorf("history length = %d, want between %d and %d", n, maxHistory/2, maxHistory)
	}
	if last := c.history[len(c.history)-1]; last.content != "ok" {
		t.Errorf("last message = %q, want the newest reply", last.content)
	}
}
