package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// OpenAIConfig is what the openai transport needs besides Options.
type OpenAIConfig struct {
	// Model is sent as "model" (required).
	Model string
	// SystemPrompt, when set, is the first message of every conversation
	// (role "system").
	SystemPrompt string
	// Stream asks for the answer as server-sent events ("stream": true),
	// which gives Reply.TTFT, Chunks, Gaps and MaxGap.
	Stream bool
	// NoStreamUsage leaves out "stream_options": {"include_usage": true},
	// which a streamed request otherwise carries so that the last chunk
	// reports token usage. Some servers reject stream_options.
	NoStreamUsage bool
	// Path is the chat completions path under BaseURL. Zero means
	// "/v1/chat/completions".
	Path string
	// HealthPath is what Health GETs. Zero means "/v1/models".
	HealthPath string
	// NoHealthCheck makes Health succeed without a call, for servers
	// without a models endpoint.
	NoHealthCheck bool
	// Temperature and MaxTokens are sent when set.
	Temperature *float64
	MaxTokens   int
	// Tools is a JSON array of tool (function) definitions sent as
	// "tools" as written; nil sends none.
	Tools json.RawMessage
	// ToolStatus is the ToolExecution.Status given to each tool call of a
	// reply. Zero means "called" (the model asked for the call; the server
	// did not run it). Set "executed" to reuse Optimly scenarios whose
	// `tool:` expectations want that status.
	ToolStatus string
	// Request options (promptfoo's OpenAI provider has the same), sent
	// when set: ResponseFormat ("response_format", e.g.
	// {"type":"json_object"}), ToolChoice ("tool_choice": "auto", "none",
	// "required" or an object), Seed, Stop (a string or an array of
	// strings), MaxCompletionTokens ("max_completion_tokens").
	ResponseFormat      json.RawMessage
	ToolChoice          json.RawMessage
	Seed                *int64
	Stop                json.RawMessage
	MaxCompletionTokens int
	// Extra are further request fields sent as written (pass-through for
	// whatever else a server takes: top_p, logit_bias, user, ...). A key
	// of a named option above, or model, messages or stream, is an error.
	Extra map[string]json.RawMessage
	// Headers are sent with every chat request (not the health check),
	// besides the transport's own; they cannot replace the key's header.
	Headers map[string]string
	// ToolResults are canned tool results by tool name: the content of
	// the "tool" message that answers a call of that tool when the turn's
	// Message.ToolResults has none for it.
	ToolResults map[string]string
}

// NoToolResult is the content of the "tool" message that answers a call
// for which neither the turn (Message.ToolResults) nor the target
// (OpenAIConfig.ToolResults) gives a result. OpenAI-compatible servers
// require every call to be answered before the next message; this says
// plainly that no result exists rather than inventing one.
const NoToolResult = `{"error":"no result: the evalrun scenario gave none for this call (tool_results)"}`

// OpenAI is a Conn to an OpenAI-compatible chat completions server (a local
// LLM server, a gateway, the OpenAI API). The server keeps no conversation:
// NewChat creates one client-side (no call is made, see NewChatCalls) and
// every Send posts the whole conversation so far: the system prompt, each
// earlier user message and reply, and the new message.
//
// With Stream, the reply is read as server-sent events and timed: time to
// first token, the gaps between chunks, the longest stall. A stream that
// ends before "data: [DONE]" (or a finish_reason) is an error, never a
// short reply. Tool calls (and the legacy function_call) become
// Reply.Tools: the function's name, ToolStatus, and its arguments parsed as
// a JSON object ({"arguments": TEXT} when they are not one).
type OpenAI struct {
	*core
	cfg        OpenAIConfig
	url        string
	healthURL  string
	toolStatus string
	opts       []optKV     // request options, in order
	header     http.Header // extra headers of chat requests; read-only
	prefix     []byte      // request body up to the messages, shared read-only
}

var (
	_ Conn       = (*OpenAI)(nil)
	_ CallCoster = (*OpenAI)(nil)
)

// NewOpenAI checks opts and cfg and returns the transport. It makes no
// connection.
func NewOpenAI(opts Options, cfg OpenAIConfig) (*OpenAI, error) {
	if opts.APIVersion != 0 {
		return nil, fmt.Errorf("agent: APIVersion %d applies to Optimly targets only", opts.APIVersion)
	}
	c, base, err := newCore(opts)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, errors.New("agent: openai: model is required (e.g. gpt-4o-mini, or the name a local server loaded)")
	}
	path, err := checkPath("openai: path", cfg.Path, "/v1/chat/completions")
	if err != nil {
		return nil, err
	}
	hpath, err := checkPath("openai: health_path", cfg.HealthPath, "/v1/models")
	if err != nil {
		return nil, err
	}
	// The SDK convention puts /v1 in the base URL (http://host:8000/v1);
	// evalrun's default paths carry it too. Accept both, never /v1/v1.
	path, hpath = underV1(base, path), underV1(base, hpath)
	if cfg.MaxTokens < 0 {
		return nil, fmt.Errorf("agent: openai: max_tokens %d is negative", cfg.MaxTokens)
	}
	if len(cfg.Tools) > 0 {
		var tools []json.RawMessage
		if err := json.Unmarshal(cfg.Tools, &tools); err != nil {
			return nil, fmt.Errorf("agent: openai: tools must be a JSON array of tool definitions: %w", err)
		}
	}
	o := &OpenAI{core: c, cfg: cfg, url: base + path, healthURL: base + hpath, toolStatus: cmpOr(cfg.ToolStatus, "called")}
	if err := o.setOptions(); err != nil {
		return nil, err
	}
	if o.header, err = requestHeaders("openai: headers", cfg.Headers, o.authName); err != nil {
		return nil, err
	}
	o.prefix = o.bodyPrefix(o.opts)
	return o, nil
}

// RequestFields returns the request fields every chat request carries
// besides model, stream and messages (temperature, seed, tools,
// stream_options, ...), as sent; nil when none. The caller may keep it.
func (o *OpenAI) RequestFields() map[string]json.RawMessage {
	if len(o.opts) == 0 {
		return nil
	}
	m := make(map[string]json.RawMessage, len(o.opts))
	for _, kv := range o.opts {
		m[kv.key] = append(json.RawMessage(nil), kv.val...)
	}
	return m
}

// HeaderNames returns the names of the extra headers of chat requests
// (OpenAIConfig.Headers, canonicalised), sorted; nil when none.
func (o *OpenAI) HeaderNames() []string {
	if len(o.header) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(o.header))
}

// optKV is one request field besides model, stream and messages.
type optKV struct {
	key string
	val json.RawMessage
}

// reservedFields are the request fields the transport owns.
var reservedFields = []string{"model", "messages", "stream"}

// setOptions checks the request options of cfg and lists them in the
// order they are sent.
func (o *OpenAI) setOptions() error {
	cfg := o.cfg
	add := func(k string, v json.RawMessage) { o.opts = append(o.opts, optKV{k, v}) }
	if cfg.Stream && !cfg.NoStreamUsage {
		add("stream_options", json.RawMessage(`{"include_usage":true}`))
	}
	if cfg.Temperature != nil {
		add("temperature", marshalJSON(*cfg.Temperature))
	}
	if cfg.MaxTokens > 0 {
		add("max_tokens", marshalJSON(cfg.MaxTokens))
	}
	if cfg.MaxCompletionTokens < 0 {
		return fmt.Errorf("agent: openai: max_completion_tokens %d is negative", cfg.MaxCompletionTokens)
	}
	if cfg.MaxCompletionTokens > 0 {
		add("max_completion_tokens", marshalJSON(cfg.MaxCompletionTokens))
	}
	if cfg.Seed != nil {
		add("seed", marshalJSON(*cfg.Seed))
	}
	if len(cfg.Stop) > 0 {
		var one string
		var many []string
		if json.Unmarshal(cfg.Stop, &one) != nil && json.Unmarshal(cfg.Stop, &many) != nil {
			return fmt.Errorf("agent: openai: stop must be a string or an array of strings, not %s", cfg.Stop)
		}
		add("stop", compactJSON(cfg.Stop))
	}
	if len(cfg.ResponseFormat) > 0 {
		var m map[string]any
		if json.Unmarshal(cfg.ResponseFormat, &m) != nil || m["type"] == nil {
			return fmt.Errorf(`agent: openai: response_format must be an object with a "type", e.g. {"type":"json_object"}, not %s`, cfg.ResponseFormat)
		}
		add("response_format", compactJSON(cfg.ResponseFormat))
	}
	if len(cfg.ToolChoice) > 0 {
		if !json.Valid(cfg.ToolChoice) {
			return errors.New(`agent: openai: tool_choice is not JSON: want "auto", "none", "required" or {"type":"function","function":{"name":...}}`)
		}
		add("tool_choice", compactJSON(cfg.ToolChoice))
	}
	if len(cfg.Tools) > 0 {
		add("tools", compactJSON(cfg.Tools))
	}
	keys := make([]string, 0, len(cfg.Extra))
	for k := range cfg.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := cfg.Extra[k]
		switch {
		case slices.Contains(reservedFields, k):
			return fmt.Errorf("agent: openai: extra: %q is set by the transport (model, messages, stream are not options)", k)
		case slices.ContainsFunc(o.opts, func(kv optKV) bool { return kv.key == k && k != "stream_options" }):
			return fmt.Errorf("agent: openai: extra: %q is an option of its own: set openai.%s instead", k, k)
		case !json.Valid(v):
			return fmt.Errorf("agent: openai: extra: %q is not valid JSON", k)
		}
		if k == "stream_options" { // replaces the transport's
			o.opts = slices.DeleteFunc(o.opts, func(kv optKV) bool { return kv.key == k })
		}
		add(k, compactJSON(v))
	}
	return nil
}

// compactJSON returns valid JSON v without insignificant white space.
func compactJSON(v json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return v
	}
	return b.Bytes()
}

// requestHeaders checks extra request headers and returns them
// canonicalised; none may be the key's header (authName) or one the
// transport sets.
func requestHeaders(field string, in map[string]string, authName string) (http.Header, error) {
	if len(in) == 0 {
		return nil, nil
	}
	h := make(http.Header, len(in))
	for k, v := range in {
		ck := http.CanonicalHeaderKey(k)
		switch {
		case !validHeaderName(k):
			return nil, fmt.Errorf("agent: %s: %q is not a valid header name", field, k)
		case strings.ContainsAny(v, "\r\n\x00"):
			return nil, fmt.Errorf("agent: %s: the value of %s holds a line break or NUL", field, ck)
		case ck == "Authorization" || ck == "X-Api-Key" || (authName != "" && ck == authName) ||
			ck == "Content-Length" || ck == "Host" || ck == "X-Request-Id" || ck == "Traceparent":
			return nil, fmt.Errorf("agent: %s: %s is set by the transport (the key goes in api_key_env / auth)", field, ck)
		}
		h[ck] = []string{v}
	}
	return h, nil
}

// checkPath validates a request path: empty gives def; otherwise it must
// start with "/" and carry no fragment.
func checkPath(field, p, def string) (string, error) {
	if p == "" {
		return def, nil
	}
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "# \t\r\n") {
		return "", fmt.Errorf("agent: %s %q: want an absolute path such as %q", field, p, def)
	}
	return p, nil
}

// underV1 drops a leading /v1 from path when base already ends in /v1.
func underV1(base, path string) string {
	if strings.HasSuffix(base, "/v1") && strings.HasPrefix(path, "/v1/") {
		return path[len("/v1"):]
	}
	return path
}

// NewChatCalls returns 0: NewChat makes no call.
func (o *OpenAI) NewChatCalls() int { return 0 }

// NewChat starts a conversation client-side: a local chat id and a trace
// id. No request is sent.
func (o *OpenAI) NewChat(ctx context.Context, req NewChatRequest) (Chat, error) {
	if err := ctx.Err(); err != nil {
		return Chat{}, &Error{Op: "new-chat", Kind: KindCanceled, Err: err}
	}
	return Chat{ID: "local-" + randomHex(8), ClientID: req.ClientID, Status: "local", TraceID: NewTraceID(), local: &localChat{}}, nil
}

// Health GETs HealthPath (default /v1/models); any 2xx means up. With
// NoHealthCheck it makes no call and returns nil.
func (o *OpenAI) Health(ctx context.Context) error {
	if o.cfg.NoHealthCheck {
		return nil
	}
	_, _, _, _, e := o.roundTrip(ctx, &request{op: "health", method: http.MethodGet, url: o.healthURL, limit: maxErrorBody})
	if e != nil {
		return e
	}
	return nil
}

// bodyPrefix encodes the part of a request body before the messages: the
// model, the stream flag and opts.
func (o *OpenAI) bodyPrefix(opts []optKV) []byte {
	b := []byte(`{"model":`)
	b = append(b, marshalJSON(o.cfg.Model)...)
	if o.cfg.Stream {
		b = append(b, `,"stream":true`...)
	}
	for _, kv := range opts {
		b = append(b, ',')
		b = append(b, marshalJSON(kv.key)...)
		b = append(b, ':')
		b = append(b, kv.val...)
	}
	return append(b, `,"messages":`...)
}

// messageOptions applies a message's request options over the target's:
// the body prefix and the headers to send. A Body value of JSON null
// removes the target's option of that name.
func (o *OpenAI) messageOptions(mo *RequestOptions) ([]byte, http.Header, *Error) {
	if mo == nil || (len(mo.Body) == 0 && len(mo.Headers) == 0) {
		return o.prefix, o.header, nil
	}
	prefix := o.prefix
	if len(mo.Body) > 0 {
		opts := make([]optKV, 0, len(o.opts)+len(mo.Body))
		for _, kv := range o.opts {
			if v, ok := mo.Body[kv.key]; ok {
				kv.val = v
			}
			opts = append(opts, kv)
		}
		keys := make([]string, 0, len(mo.Body))
		for k := range mo.Body {
			if !slices.ContainsFunc(o.opts, func(kv optKV) bool { return kv.key == k }) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			if slices.Contains(reservedFields, k) {
				return nil, nil, &Error{Op: "send", Kind: KindClient, Detail: fmt.Sprintf("request option %q is set by the target, not per scenario", k)}
			}
			opts = append(opts, optKV{k, mo.Body[k]})
		}
		opts = slices.DeleteFunc(opts, func(kv optKV) bool { return string(bytes.TrimSpace(kv.val)) == "null" })
		for _, kv := range opts {
			if !json.Valid(kv.val) {
				return nil, nil, &Error{Op: "send", Kind: KindClient, Detail: fmt.Sprintf("request option %q is not valid JSON", kv.key)}
			}
		}
		prefix = o.bodyPrefix(opts)
	}
	header := o.header
	if len(mo.Headers) > 0 {
		extra, err := requestHeaders("scenario openai.headers", mo.Headers, o.authName)
		if err != nil {
			return nil, nil, &Error{Op: "send", Kind: KindClient, Detail: err.Error()}
		}
		header = make(http.Header, len(o.header)+len(extra))
		for k, v := range o.header {
			header[k] = v
		}
		for k, v := range extra {
			header[k] = v
		}
	}
	return prefix, header, nil
}

// toolMessages answers the calls of the last reply in history, if it made
// any: one "tool" message per call (a "function" message for a legacy
// function_call), its content from results (by call id, then by tool
// name), then the target's canned ToolResults, else NoToolResult.
func (o *OpenAI) toolMessages(history []chatMessage, results map[string]string) []chatMessage {
	if len(history) == 0 {
		return nil
	}
	last := history[len(history)-1]
	if last.Role != "assistant" {
		return nil
	}
	result := func(id, name string) string {
		if v, ok := results[id]; ok && id != "" {
			return v
		}
		if v, ok := results[name]; ok {
			return v
		}
		if v, ok := o.cfg.ToolResults[name]; ok {
			return v
		}
		return NoToolResult
	}
	var out []chatMessage
	for _, c := range last.ToolCalls {
		out = append(out, chatMessage{Role: "tool", ToolCallID: c.ID, Content: result(c.ID, c.Function.Name)})
	}
	if f := last.FunctionCall; f != nil {
		out = append(out, chatMessage{Role: "function", Name: f.Name, Content: result("", f.Name)})
	}
	return out
}

// body encodes one request: the prefix, then the system prompt, the
// history, the results of the last reply's tool calls and the new user
// message.
func (o *OpenAI) body(prefix []byte, history, tools []chatMessage, content string) []byte {
	msgs := make([]chatMessage, 0, len(history)+len(tools)+2)
	if o.cfg.SystemPrompt != "" {
		msgs = append(msgs, chatMessage{Role: "system", Content: o.cfg.SystemPrompt})
	}
	msgs = append(msgs, history...)
	msgs = append(msgs, tools...)
	msgs = append(msgs, chatMessage{Role: "user", Content: content})
	b := append([]byte(nil), prefix...)
	b = append(b, marshalJSON(msgs)...)
	return append(b, '}')
}

// Send posts the conversation with the new message and returns the
// assistant's answer. On success the exchange joins the chat's history.
func (o *OpenAI) Send(ctx context.Context, chat Chat, msg Message) (Reply, error) {
	const op = "send"
	if chat.local == nil {
		return Reply{}, &Error{Op: op, Kind: KindClient, Detail: "chat was not opened by this transport's NewChat"}
	}
	prefix, header, perr := o.messageOptions(msg.Options)
	if perr != nil {
		return Reply{}, perr
	}
	history := chat.local.snapshot()
	tools := o.toolMessages(history, msg.ToolResults)
	req := &request{op: op, method: http.MethodPost, url: o.url, body: o.body(prefix, history, tools, msg.Content), limit: o.maxBody, traceID: chat.TraceID, header: header}
	var (
		r   Reply
		err *Error
	)
	if o.cfg.Stream {
		r, err = o.sendStream(ctx, req)
	} else {
		data, status, _, m, e := o.roundTrip(ctx, req)
		if e != nil {
			return Reply{}, e
		}
		r, err = o.decode(op, status, data)
		r.RequestID, r.TraceID = m.requestID, m.traceID
		if err != nil {
			err.RequestID = m.requestID
		}
	}
	if err != nil {
		return Reply{}, err
	}
	assistant := chatMessage{Role: "assistant", Content: r.Text}
	if r.assistant != nil {
		assistant = *r.assistant
		r.assistant = nil
	}
	chat.local.add(append(tools, chatMessage{Role: "user", Content: msg.Content}, assistant)...)
	return r, nil
}

// --- non-streamed answers ---------------------------------------------------

type oaFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type oaToolCall struct {
	Index    *int       `json:"index,omitempty"`
	ID       string     `json:"id,omitempty"`
	Type     string     `json:"type,omitempty"`
	Function oaFunction `json:"function"`
}

type oaMessage struct {
	Role         string       `json:"role,omitempty"`
	Content      *string      `json:"content"`
	ToolCalls    []oaToolCall `json:"tool_calls,omitempty"`
	FunctionCall *oaFunction  `json:"function_call,omitempty"`
}

type oaUsage struct {
	PromptTokens     looseNum `json:"prompt_tokens"`
	CompletionTokens looseNum `json:"completion_tokens"`
	TotalTokens      looseNum `json:"total_tokens"`
}

type oaChoice struct {
	Index        int       `json:"index"`
	Message      oaMessage `json:"message"`
	Delta        oaMessage `json:"delta"`
	FinishReason *string   `json:"finish_reason"`
}

type oaResponse struct {
	ID      looseString     `json:"id"`
	Model   looseString     `json:"model"`
	Created looseNum        `json:"created"`
	Choices []oaChoice      `json:"choices"`
	Usage   *oaUsage        `json:"usage"`
	Error   json.RawMessage `json:"error"`
}

// decode reads a chat.completion body.
func (o *OpenAI) decode(op string, status int, data []byte) (Reply, *Error) {
	var w oaResponse
	if err := unmarshalObject(data, &w); err != nil {
		return Reply{}, o.protocolError(op, status, data, err)
	}
	if nonEmptyJSON(w.Error) {
		return Reply{}, o.streamError(op, status, w.Error)
	}
	if len(w.Choices) == 0 {
		return Reply{}, o.protocolError(op, status, data, errors.New(`body has no "choices"`))
	}
	m := w.Choices[0].Message
	if m.Content == nil && len(m.ToolCalls) == 0 && m.FunctionCall == nil {
		return Reply{}, o.protocolError(op, status, data, errors.New(`choices[0].message has neither "content" nor "tool_calls"`))
	}
	r := Reply{MessageID: w.ID.s, Raw: data}
	if m.Content != nil {
		r.Text = *m.Content
	}
	o.setTools(&r, m.ToolCalls, m.FunctionCall)
	setUsage(&r, w.Usage)
	return r, nil
}

// streamError classifies an {"error": ...} object in a 2xx answer or in
// the middle of a stream: a quota message is KindQuotaExhausted, anything
// else KindServer (the server failed while answering).
func (o *OpenAI) streamError(op string, status int, raw json.RawMessage) *Error {
	msg := jsonText(raw, 0)
	if msg == "" {
		msg = "error object without a message"
	}
	e := &Error{Op: op, Kind: KindServer, Status: status, Detail: o.detail("server reported an error: " + msg)}
	if mentionsQuota(msg) {
		e.Kind = KindQuotaExhausted
	}
	return e
}

func setUsage(r *Reply, u *oaUsage) {
	if u == nil {
		return
	}
	r.PromptTokens = int(u.PromptTokens)
	r.CompletionTokens = int(u.CompletionTokens)
	r.TokensUsed = int(u.TotalTokens)
	if r.TokensUsed == 0 {
		r.TokensUsed = r.PromptTokens + r.CompletionTokens
	}
}

// setTools maps tool calls to Reply.Tools, and keeps the assistant
// message as the model sent it (calls, ids and arguments) for the history.
func (o *OpenAI) setTools(r *Reply, calls []oaToolCall, legacy *oaFunction) {
	if len(calls) > 0 || (legacy != nil && legacy.Name != "") {
		a := &chatMessage{Role: "assistant", Content: r.Text}
		for _, c := range calls {
			c.Index = nil
			c.Type = cmpOr(c.Type, "function")
			a.ToolCalls = append(a.ToolCalls, c)
		}
		if legacy != nil && legacy.Name != "" {
			f := *legacy
			a.FunctionCall = &f
		}
		r.assistant = a
	}
	add := func(f oaFunction, id string) {
		t := ToolExecution{Tool: f.Name, Status: o.toolStatus, CallID: id}
		if args := strings.TrimSpace(f.Arguments); args != "" {
			var m map[string]any
			if json.Unmarshal([]byte(args), &m) == nil && m != nil {
				t.Data = m
			} else {
				t.Data = map[string]any{"arguments": f.Arguments}
			}
		}
		r.Tools = append(r.Tools, t)
		if f.Name == "email_handoff" {
			r.Handoff = true
		}
	}
	for _, c := range calls {
		add(c.Function, c.ID)
	}
	if legacy != nil && legacy.Name != "" {
		add(*legacy, "")
	}
}

// --- streamed answers -------------------------------------------------------

// maxSSELine bounds one line (and one event's data) of a stream.
const maxSSELine = 1 << 20

// sendStream sends a streamed request and assembles the answer.
func (o *OpenAI) sendStream(ctx context.Context, req *request) (Reply, *Error) {
	req.accept = "text/event-stream"
	start := time.Now()
	resp, cctx, cancel, m, e := o.open(ctx, req)
	if e != nil {
		return Reply{}, e
	}
	defer cancel()
	defer resp.Body.Close()
	fail := func(e *Error) (Reply, *Error) {
		e.RequestID = m.requestID
		return Reply{}, e
	}
	var body io.Reader = resp.Body
	sse := strings.HasPrefix(strings.ToLower(resp.Header.Get("Content-Type")), "text/event-stream")
	if !sse {
		// No event-stream type: the body decides, as in the OpenAI SDKs.
		br := bufio.NewReaderSize(resp.Body, 4096)
		body = br
		var err error
		if sse, err = sniffSSE(br); err != nil {
			return fail(o.callError(ctx, cctx, req.op, resp.StatusCode, "reading the response body", err))
		}
	}
	if !sse {
		// The server ignored "stream": read a whole answer.
		data, err := readBody(body, resp.ContentLength, o.maxBody)
		if err == errTooLarge {
			return fail(&Error{Op: req.op, Kind: KindProtocol, Status: resp.StatusCode, Detail: fmt.Sprintf("response body exceeds %d bytes", o.maxBody)})
		}
		if err != nil {
			return fail(o.callError(ctx, cctx, req.op, resp.StatusCode, "reading the response body", err))
		}
		r, pe := o.decode(req.op, resp.StatusCode, data)
		if pe != nil {
			return fail(pe)
		}
		r.RequestID, r.TraceID = m.requestID, m.traceID
		return r, nil
	}
	lim := &io.LimitedReader{R: body, N: o.maxBody + 1}
	p := newSSEParser(lim, maxSSELine)
	var (
		acc   streamAcc
		last  time.Time
		r     Reply
		done  bool
		debug []string
	)
	for !done {
		ev, err := p.next()
		if err != nil {
			switch {
			case lim.N <= 0:
				return fail(&Error{Op: req.op, Kind: KindProtocol, Status: resp.StatusCode, Detail: fmt.Sprintf("event stream exceeds %d bytes", o.maxBody)})
			case errors.Is(err, errSSELine):
				return fail(&Error{Op: req.op, Kind: KindProtocol, Status: resp.StatusCode, Detail: err.Error()})
			case err == io.EOF && acc.finished:
				done = true // no [DONE], but the answer said it was complete
				continue
			case err == io.EOF:
				return fail(&Error{Op: req.op, Kind: KindTransport, Status: resp.StatusCode, Detail: fmt.Sprintf("event stream ended before [DONE] after %d chunks", r.Chunks)})
			}
			return fail(o.callError(ctx, cctx, req.op, resp.StatusCode, fmt.Sprintf("reading the event stream after %d chunks", r.Chunks), err))
		}
		now := time.Now()
		if o.debug != nil {
			debug = append(debug, "data: "+ev.Data)
		}
		data := strings.TrimSpace(ev.Data)
		if data == "[DONE]" {
			break
		}
		if ev.Event == "error" {
			return fail(o.streamError(req.op, resp.StatusCode, json.RawMessage(data)))
		}
		var chunk oaChunk
		if err := unmarshalObject([]byte(data), &chunk); err != nil {
			return fail(o.protocolError(req.op, resp.StatusCode, []byte(data), fmt.Errorf("event %d: %w", r.Chunks+1, err)))
		}
		if nonEmptyJSON(chunk.Error) {
			return fail(o.streamError(req.op, resp.StatusCode, chunk.Error))
		}
		if acc.add(&chunk) {
			if r.Chunks == 0 {
				r.TTFT = now.Sub(start)
			} else {
				gap := now.Sub(last)
				r.Gaps = append(r.Gaps, gap)
				r.MaxGap = max(r.MaxGap, gap)
			}
			last = now
			r.Chunks++
		}
	}
	if o.debug != nil {
		o.debug.write(o.core, []string{"< " + m.requestID + " stream: " + strings.Join(debug, " | ")})
	}
	if !acc.any {
		return fail(&Error{Op: req.op, Kind: KindProtocol, Status: resp.StatusCode, Detail: "event stream carried no chat.completion.chunk"})
	}
	r.Text = joinText(acc.text)
	r.MessageID = acc.id
	calls := acc.toolCalls()
	o.setTools(&r, calls, acc.legacy())
	setUsage(&r, acc.usage)
	r.Raw = acc.raw(r.Text, calls)
	r.RequestID, r.TraceID = m.requestID, m.traceID
	return r, nil
}

// oaChunk is one chat.completion.chunk. Its texts are kept as bytes
// (rawText) and decoded once joined, so a character split between two
// chunks survives.
type oaChunk struct {
	ID      looseString     `json:"id"`
	Model   looseString     `json:"model"`
	Choices []oaChunkChoice `json:"choices"`
	Usage   *oaUsage        `json:"usage"`
	Error   json.RawMessage `json:"error"`
}

type oaChunkChoice struct {
	Index        int     `json:"index"`
	Delta        oaDelta `json:"delta"`
	FinishReason *string `json:"finish_reason"`
}

type oaDelta struct {
	Content      rawText          `json:"content"`
	ToolCalls    []oaDeltaCall    `json:"tool_calls"`
	FunctionCall *oaDeltaFunction `json:"function_call"`
}

type oaDeltaCall struct {
	Index    *int            `json:"index"`
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Function oaDeltaFunction `json:"function"`
}

type oaDeltaFunction struct {
	Name      string  `json:"name"`
	Arguments rawText `json:"arguments"`
}

// accCall is a tool call being assembled from deltas.
type accCall struct {
	id, typ, name string
	args          []byte
}

// sniffSSE reports whether the body in br starts like an event stream: a
// field name (data, event, id, retry) and a colon, or a comment (a colon),
// after any blank lines and byte order mark. It peeks byte by byte, so it
// never waits for more than the first line needs (the time to first token
// is not delayed). A body that ends first is not a stream.
func sniffSSE(br *bufio.Reader) (bool, error) {
	fields := []string{"data:", "event:", "id:", "retry:"}
	for n := 1; n <= 512; n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return false, nil
			}
			return false, err
		}
		bom := []byte("\xef\xbb\xbf")
		if len(b) < len(bom) && bytes.HasPrefix(bom, b) {
			continue // part of a byte order mark
		}
		t := bytes.TrimLeft(bytes.TrimPrefix(b, bom), "\r\n")
		if len(t) == 0 {
			continue
		}
		if t[0] == ':' {
			return true, nil
		}
		partial := false
		for _, f := range fields {
			if bytes.HasPrefix(t, []byte(f)) {
				return true, nil
			}
			if bytes.HasPrefix([]byte(f), t) {
				partial = true
			}
		}
		if !partial {
			return false, nil
		}
	}
	return false, nil
}

// streamAcc assembles chat.completion.chunk events into one message.
type streamAcc struct {
	any      bool // some chunk arrived
	finished bool // a finish_reason arrived
	id       string
	model    string
	finish   string
	text     []byte     // joined bytes of delta.content (joinText decodes)
	calls    []*accCall // by index
	fn       *accCall   // legacy function_call
	usage    *oaUsage
}

// add folds a chunk in and reports whether it carried content (text or a
// tool call), i.e. whether it counts as a token chunk for the timings.
func (a *streamAcc) add(c *oaChunk) bool {
	a.any = true
	if a.id == "" {
		a.id = c.ID.s
	}
	if a.model == "" {
		a.model = c.Model.s
	}
	if c.Usage != nil {
		a.usage = c.Usage
	}
	content := false
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			continue // only the first choice is the reply
		}
		d := ch.Delta
		if len(d.Content.b) > 0 {
			a.text = append(a.text, d.Content.b...)
			content = true
		}
		for _, tc := range d.ToolCalls {
			i := len(a.calls)
			if tc.Index != nil {
				i = *tc.Index
			}
			if i < 0 || i > 128 {
				continue
			}
			for len(a.calls) <= i {
				a.calls = append(a.calls, &accCall{})
			}
			t := a.calls[i]
			if tc.ID != "" {
				t.id = tc.ID
			}
			if tc.Type != "" {
				t.typ = tc.Type
			}
			t.name += tc.Function.Name
			t.args = append(t.args, tc.Function.Arguments.b...)
			content = true
		}
		if f := d.FunctionCall; f != nil {
			if a.fn == nil {
				a.fn = &accCall{}
			}
			a.fn.name += f.Name
			a.fn.args = append(a.fn.args, f.Arguments.b...)
			content = true
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			a.finished, a.finish = true, *ch.FinishReason
		}
	}
	return content
}

func (a *streamAcc) toolCalls() []oaToolCall {
	var out []oaToolCall
	for i, c := range a.calls {
		if c.name == "" {
			continue
		}
		idx := i
		out = append(out, oaToolCall{Index: &idx, ID: c.id, Type: cmpOr(c.typ, "function"),
			Function: oaFunction{Name: c.name, Arguments: joinText(c.args)}})
	}
	return out
}

func (a *streamAcc) legacy() *oaFunction {
	if a.fn == nil {
		return nil
	}
	return &oaFunction{Name: a.fn.name, Arguments: joinText(a.fn.args)}
}

// raw renders the assembled answer as a non-streamed chat.completion, for
// field expectations.
func (a *streamAcc) raw(text string, calls []oaToolCall) json.RawMessage {
	calls = append([]oaToolCall(nil), calls...)
	for i := range calls {
		calls[i].Index = nil
	}
	var finish *string
	if a.finish != "" {
		finish = &a.finish
	}
	resp := struct {
		ID      string      `json:"id,omitempty"`
		Object  string      `json:"object"`
		Model   string      `json:"model,omitempty"`
		Choices []oaChoiceW `json:"choices"`
		Usage   *oaUsage    `json:"usage,omitempty"`
	}{ID: a.id, Object: "chat.completion", Model: a.model, Usage: a.usage,
		Choices: []oaChoiceW{{Message: oaMessage{Role: "assistant", Content: &text, ToolCalls: calls, FunctionCall: a.legacy()}, FinishReason: finish}}}
	b, _ := json.Marshal(resp)
	return b
}

// oaChoiceW is a choice as written into Reply.Raw.
type oaChoiceW struct {
	Index        int       `json:"index"`
	Message      oaMessage `json:"message"`
	FinishReason *string   `json:"finish_reason"`
}
