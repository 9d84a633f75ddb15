package agentsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
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
// tool's data, besides the acknowledging text; as the OpenAI API does, a
// request whose assistant message has tool_calls not each answered by a
// "tool" message (tool_call_id) before the next message is refused (400).
// A streamed answer is sent as
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
		Role      string          `json:"role"`
		Content   json.RawMessage `json:"content"`
		ToolCalls []struct {
			ID string `json:"id"`
		} `json:"tool_calls"`
		ToolCallID string `json:"tool_call_id"`
	} `json:"messages"`
	Stream        bool `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// writeOpenAIError answers {"error": {"message", "type", "code"}}.
func (s *Server) writeOpenAIError(w http.ResponseWriter, status int, typ, code, msg string) {
	e := oaErrorWire{Error: oaErrorBody{Message: msg, Type: typ}}
	if code != "" {
		e.Error.Code = &code
	}
	b := appendJSON(nil, e)
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = contentLength(b)
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
	b := appendJSON(nil, oaModelsWire{Object: "list", Data: []oaModelWire{{Object: "model", OwnedBy: "agentsim", ID: s.agentID}}})
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
	if msg := unansweredCalls(&req); msg != "" {
		s.writeOpenAIError(w, http.StatusBadRequest, "invalid_request_error", "", msg)
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
	msg := &oaMessageWire{Role: "assistant", Content: &rep.text}
	for _, c := range calls {
		msg.ToolCalls = append(msg.ToolCalls, c.wire(-1, c.args))
	}
	b := appendJSON(sc.out[:0], oaCompletionWire{ID: hexID("chatcmpl-", id), Object: "chat.completion", Created: s.now().Unix(), Model: *req.Model,
		Choices: []oaChoiceWire{{Index: 0, Message: msg, FinishReason: &finish}}, Usage: usageWire(prompt, completion)})
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

// unansweredCalls checks the tool-call protocol as the OpenAI API does:
// an assistant message with tool_calls must be followed by one "tool"
// message per call id before any other message, and a tool message must
// answer a call. It returns the API's complaint, or "".
func unansweredCalls(req *oaRequest) string {
	var pending []string
	for _, m := range req.Messages {
		if m.Role == "tool" {
			i := slices.Index(pending, m.ToolCallID)
			if i < 0 {
				return fmt.Sprintf("Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls' (tool_call_id %q).", m.ToolCallID)
			}
			pending = slices.Delete(pending, i, i+1)
			continue
		}
		if len(pending) > 0 {
			return "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: " + strings.Join(pending, ", ")
		}
		if m.Role == "assistant" {
			for _, c := range m.ToolCalls {
				pending = append(pending, c.ID)
			}
		}
	}
	return ""
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

// wire returns the tool call object; index >= 0 sets "index" (streamed
// deltas) and args is the (partial) arguments text.
func (c oaCall) wire(index int, args string) oaToolCallWire {
	t := oaToolCallWire{ID: c.id, Type: "function", Function: oaFunctionWire{Name: c.name, Arguments: args}}
	if index >= 0 {
		t.Index = &index
	}
	return t
}

// toolCalls renders the tools that ran as OpenAI tool calls whose
// arguments are the Optimly tools' data.
func (rep *reply) toolCalls(s *Server) []oaCall {
	var out []oaCall
	obj := func(d toolData) string { return string(appendJSON(nil, d)) }
	add := func(name, args string) {
		out = append(out, oaCall{id: "call_" + strconv.Itoa(len(out)+1) + "_" + name, name: name, args: args})
	}
	if rep.lead {
		add("lead_capture", obj(toolData{Email: rep.email, Phone: rep.phone, Name: rep.name}))
	}
	if rep.when != "" {
		add("appointment", obj(toolData{When: rep.when}))
	}
	if rep.handoff {
		add("email_handoff", obj(toolData{Reason: "customer asked to talk to a human", Queue: orDefault(s.agent.Tools.EmailHandoff.Queue, DefaultQueue)}))
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
	created := s.now().Unix()
	chunk := func(choices []oaChoiceWire, usage *oaUsageWire) []byte {
		ev := append([]byte(nil), "data: "...)
		ev = appendJSON(ev, oaCompletionWire{ID: hexID("chatcmpl-", id), Object: "chat.completion.chunk", Created: created, Model: model, Choices: choices, Usage: usage})
		return append(ev, "\n\n"...)
	}
	delta := func(d *oaMessageWire, finish *string) []byte {
		return chunk([]oaChoiceWire{{Index: 0, Delta: d, FinishReason: finish}}, nil)
	}
	empty := ""
	events := [][]byte{delta(&oaMessageWire{Role: "assistant", Content: &empty}, nil)}
	for _, word := range splitWords(text) {
		events = append(events, delta(&oaMessageWire{Content: &word}, nil))
	}
	for i, c := range calls {
		half := len(c.args) / 2
		for k, part := range []string{c.args[:half], c.args[half:]} {
			t := c.wire(i, part)
			if k > 0 {
				t = oaToolCallWire{Index: t.Index, Function: oaFunctionWire{Arguments: part}}
			}
			events = append(events, delta(&oaMessageWire{ToolCalls: []oaToolCallWire{t}}, nil))
		}
	}
	events = append(events, delta(&oaMessageWire{}, &finish))
	if usage {
		events = append(events, chunk([]oaChoiceWire{}, usageWire(prompt, completion)))
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
