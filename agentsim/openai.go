package agentsim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The simulated agent also plays an OpenAI-compatible chat completions
// server, with the same knowledge base, tools, latency, faults, quota and
// limits as its Optimly side:
//
//	POST /v1/chat/completions   {"model", "messages", "stream"?, "stream_options"?}
//	GET  /v1/models             the agent as the one model; no auth, not counted
//
// The key must come as "Authorization: Bearer KEY"; errors have OpenAI's
// shape {"error": {"message", "type", "code"}}. The conversation is the
// request's messages: the last user message is answered, and the number of
// user messages is its turn number. Tools that run are answered as
// tool_calls (finish_reason "tool_calls") whose arguments are the Optimly
// tool's data, besides the acknowledging text. A streamed answer is sent as
// server-sent events: a role chunk, one chunk per word, one chunk per tool
// call (its arguments split in two), a finish chunk, the usage chunk when
// stream_options.include_usage is set, then "data: [DONE]". The slow fault
// stalls the stream half-way; the malformed fault sends a truncated chunk.

const (
	openAIPath   = "/v1/chat/completions"
	openAIModels = "/v1/models"
)

type oaRequest struct {
	Model    *string `json:"model"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Stream        bool `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// writeOpenAIError answers {"error": {"message", "type", "code"}}.
func (s *Server) writeOpenAIError(w http.ResponseWriter, status int, typ, code, msg string) {
	b := make([]byte, 0, len(msg)+96)
	b = append(b, `{"error":{"message":`...)
	b = appendJSONString(b, msg)
	b = appendStrField(b, false, "type", typ)
	b = appendKey(b, false, "code")
	if code == "" {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, code)
	}
	b = append(b, '}', '}')
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	s.byStatus[status].Add(1)
	_, _ = w.Write(b)
}

// bearer reports whether r carries one of the agent's keys as a Bearer
// token (the only form OpenAI-compatible servers take).
func (s *Server) bearer(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if len(h) <= 7 || !equalFoldASCII(h[:7], "bearer ") {
		return false
	}
	return s.validKey(strings.TrimSpace(h[7:]))
}

func (s *Server) serveModels(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", http.MethodGet)
		s.writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method Not Allowed", false)
		return
	}
	s.health.Add(1)
	b := []byte(`{"object":"list","data":[{"object":"model","owned_by":"agentsim","id":`)
	b = appendJSONString(b, s.agentID)
	b = append(b, "}]}"...)
	s.writeBody(w, r, http.StatusOK, b, false, faultNone)
}

func (s *Server) serveOpenAI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method Not Allowed", false)
		return
	}
	n := s.agentCalls.Add(1)
	if !s.bearer(r) {
		s.writeOpenAIError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "Incorrect API key provided.")
		return
	}
	if q := s.agent.Quota; q > 0 && n > q {
		s.writeOpenAIError(w, http.StatusTooManyRequests, "insufficient_quota", "insufficient_quota", "You exceeded your current quota, please check your plan and billing details.")
		return
	}
	if s.limits != nil {
		if wait, ok := s.limits.admit(epV2, s.now()); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
			s.writeOpenAIError(w, http.StatusTooManyRequests, "requests", "rate_limit_exceeded", "Rate limit reached for requests.")
			return
		}
	}
	seq := s.reqSeq.Add(1)
	f := s.pickFault(seq)
	switch f {
	case faultThrottle:
		w.Header().Set("Retry-After", strconv.Itoa(int((s.faults.Load().RetryAfter+time.Second-1)/time.Second)))
		s.writeOpenAIError(w, http.StatusTooManyRequests, "requests", "rate_limit_exceeded", "Rate limit reached for requests.")
		return
	case faultError500:
		s.writeOpenAIError(w, http.StatusInternalServerError, "server_error", "", "The server had an error while processing your request.")
		return
	case faultError503:
		s.writeOpenAIError(w, http.StatusServiceUnavailable, "server_error", "", "The engine is currently overloaded, please try again later.")
		return
	case faultDrop:
		s.drop(w)
		return
	}

	sc := getScratch()
	defer putScratch(sc)
	body, tooLarge, err := readBody(r.Body, sc.body[:0])
	sc.body = body
	if tooLarge {
		s.writeOpenAIError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", "", "Request body too large (limit 1 MiB).")
		return
	}
	var req oaRequest
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		s.writeOpenAIError(w, http.StatusBadRequest, "invalid_request_error", "", "We could not parse the JSON body of your request.")
		return
	}
	turn, content := 0, ""
	for _, m := range req.Messages {
		if m.Role == "user" {
			turn++
			content = messageText(m.Content)
		}
	}
	switch {
	case req.Model == nil || *req.Model == "":
		s.writeOpenAIError(w, http.StatusBadRequest, "invalid_request_error", "", "you must provide a model parameter")
		return
	case turn == 0:
		s.writeOpenAIError(w, http.StatusBadRequest, "invalid_request_error", "", "messages must contain at least one user message")
		return
	}
	lat := s.agent.Latency.sample(s.agent.Seed, seq)
	if !sleep(r.Context(), lat) {
		s.canceled.Add(1)
		return
	}
	rep := s.answer(turn, content, true, sc)
	calls := rep.toolCalls(s)
	id := draw(s.agent.Seed, saltMsg, s.msgSeq.Add(1))
	completion := int(float64(rep.wordsOut)*1.3 + 0.5)
	prompt := int(float64(rep.wordsIn)*1.3+0.5) + 8*(len(req.Messages)-1)
	finish := "stop"
	if len(calls) > 0 {
		finish = "tool_calls"
	}
	if req.Stream {
		usage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
		s.streamOpenAI(w, r, f, id, *req.Model, rep.text, calls, finish, prompt, completion, usage)
		s.openAITurns.Add(1)
		return
	}
	b := sc.out[:0]
	b = append(b, '{')
	b = appendKey(b, true, "id")
	b = appendID(b, "chatcmpl-", id)
	b = appendStrField(b, false, "object", "chat.completion")
	b = appendKey(b, false, "created")
	b = strconv.AppendInt(b, s.now().Unix(), 10)
	b = appendStrField(b, false, "model", *req.Model)
	b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	b = appendJSONString(b, rep.text)
	if len(calls) > 0 {
		b = append(b, `,"tool_calls":[`...)
		for i, c := range calls {
			if i > 0 {
				b = append(b, ',')
			}
			b = c.append(b, -1, c.args)
		}
		b = append(b, ']')
	}
	b = append(b, `},"finish_reason":`...)
	b = appendJSONString(b, finish)
	b = append(b, `}],`...)
	b = appendUsage(b, prompt, completion)
	b = append(b, '}')
	sc.out = b
	if s.openAIBody(w, r, b, f) {
		s.openAITurns.Add(1)
	}
}

// openAIBody writes a non-streamed success, applying the malformed and slow
// faults (no envelope: OpenAI servers have none).
func (s *Server) openAIBody(w http.ResponseWriter, r *http.Request, body []byte, f fault) bool {
	saved := s.agent.Envelope
	if !saved {
		return s.writeBody(w, r, http.StatusOK, body, true, f)
	}
	if f == faultMalformed {
		body = body[:len(body)/2]
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	s.byStatus[http.StatusOK].Add(1)
	_, _ = w.Write(body)
	return true
}

func appendUsage(b []byte, prompt, completion int) []byte {
	b = append(b, `"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(completion), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt+completion), 10)
	return append(b, '}')
}

// messageText returns a message's content: a string, or the text parts of
// a content array.
func messageText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) == nil {
		var b strings.Builder
		for _, p := range parts {
			if p.Type == "text" {
				b.WriteString(p.Text)
			}
		}
		return b.String()
	}
	return ""
}

// oaCall is one tool call of an answer.
type oaCall struct {
	id, name, args string
}

// append appends the tool call object; index >= 0 adds "index" (streamed
// deltas) and args is the (partial) arguments text.
func (c oaCall) append(b []byte, index int, args string) []byte {
	b = append(b, '{')
	if index >= 0 {
		b = append(b, `"index":`...)
		b = strconv.AppendInt(b, int64(index), 10)
		b = append(b, ',')
	}
	b = appendStrField(b, true, "id", c.id)
	b = appendStrField(b, false, "type", "function")
	b = append(b, `,"function":{"name":`...)
	b = appendJSONString(b, c.name)
	b = append(b, `,"arguments":`...)
	b = appendJSONString(b, args)
	return append(b, '}', '}')
}

// toolCalls renders the tools that ran as OpenAI tool calls whose
// arguments are the Optimly tools' data.
func (rep *reply) toolCalls(s *Server) []oaCall {
	var out []oaCall
	obj := func(kv ...string) string {
		b := []byte{'{'}
		first := true
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				continue
			}
			b = appendStrField(b, first, kv[i], kv[i+1])
			first = false
		}
		return string(append(b, '}'))
	}
	add := func(name, args string) {
		out = append(out, oaCall{id: "call_" + strconv.Itoa(len(out)+1) + "_" + name, name: name, args: args})
	}
	if rep.lead {
		add("lead_capture", obj("email", rep.email, "phone", rep.phone, "name", rep.name))
	}
	if rep.when != "" {
		add("appointment", obj("when", rep.when))
	}
	if rep.handoff {
		add("email_handoff", obj("reason", "customer asked to talk to a human", "queue", orDefault(s.agent.Tools.EmailHandoff.Queue, DefaultQueue)))
	}
	return out
}

// streamOpenAI writes the answer as server-sent events.
func (s *Server) streamOpenAI(w http.ResponseWriter, r *http.Request, f fault, id uint64, model, text string, calls []oaCall, finish string, prompt, completion int, usage bool) {
	h := w.Header()
	h["Content-Type"] = []string{"text/event-stream"}
	h["Cache-Control"] = []string{"no-cache"}
	w.WriteHeader(http.StatusOK)
	s.byStatus[http.StatusOK].Add(1)
	rc := http.NewResponseController(w)
	created := strconv.AppendInt(nil, s.now().Unix(), 10)
	head := func(b []byte) []byte {
		b = append(b, `data: {"id":`...)
		b = appendID(b, "chatcmpl-", id)
		b = append(b, `,"object":"chat.completion.chunk","created":`...)
		b = append(b, created...)
		b = appendStrField(b, false, "model", model)
		return append(b, `,"choices":[`...)
	}
	var events [][]byte
	ev := head(nil)
	events = append(events, append(ev, `{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`+"\n\n"...))
	for _, word := range splitWords(text) {
		ev := head(nil)
		ev = append(ev, `{"index":0,"delta":{"content":`...)
		ev = appendJSONString(ev, word)
		events = append(events, append(ev, `},"finish_reason":null}]}`+"\n\n"...))
	}
	for i, c := range calls {
		half := len(c.args) / 2
		for k, part := range []string{c.args[:half], c.args[half:]} {
			ev := head(nil)
			ev = append(ev, `{"index":0,"delta":{"tool_calls":[`...)
			if k == 0 {
				ev = c.append(ev, i, part)
			} else {
				ev = append(ev, `{"index":`...)
				ev = strconv.AppendInt(ev, int64(i), 10)
				ev = append(ev, `,"function":{"arguments":`...)
				ev = appendJSONString(ev, part)
				ev = append(ev, `}}`...)
			}
			events = append(events, append(ev, `]},"finish_reason":null}]}`+"\n\n"...))
		}
	}
	ev = head(nil)
	ev = append(ev, `{"index":0,"delta":{},"finish_reason":`...)
	ev = appendJSONString(ev, finish)
	events = append(events, append(ev, "}]}\n\n"...))
	if usage {
		ev = head(nil)
		ev = append(ev, "],"...)
		ev = appendUsage(ev, prompt, completion)
		events = append(events, append(ev, "}\n\n"...))
	}
	events = append(events, []byte("data: [DONE]\n\n"))
	for i, ev := range events {
		if f == faultSlow && i == len(events)/2 {
			_ = rc.Flush()
			if !sleep(r.Context(), s.faults.Load().SlowDelay) {
				return
			}
		}
		if f == faultMalformed && i == len(events)/2 {
			ev = append(ev[:len(ev)/2:len(ev)/2], "\n\n"...)
		}
		if _, err := w.Write(ev); err != nil {
			return
		}
		_ = rc.Flush()
	}
}

// splitWords splits text into chunks of one word each, the white space
// kept with the word before it, so the chunks join back to text.
func splitWords(text string) []string {
	var out []string
	start := 0
	for i := 0; i < len(text); i++ {
		if text[i] == ' ' && (i+1 == len(text) || text[i+1] != ' ') {
			out = append(out, text[start:i+1])
			start = i + 1
		}
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}
