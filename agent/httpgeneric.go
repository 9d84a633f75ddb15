package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/evalrun/evalrun/internal/tmpl"
)

// HTTPConfig describes a chat API that is neither Optimly nor
// OpenAI-compatible, for the generic transport (kind "http"). In
// evalrun.yaml it is the `http:` block of a target; the field names in
// errors are those YAML keys.
//
// Templates (paths, header values, bodies) take these placeholders:
//
//	{{ session }}       the session id (from CreateSession, else a local id)
//	{{ content }}       the user message
//	{{ history_json }}  the conversation so far: [{"role","content"}, ...]
//	{{ client_id }}     the conversation's client id
//	{{ env.NAME }}      environment variable NAME, read once by NewHTTP
//
// In a JSON body a placeholder inside a string literal is inserted
// JSON-escaped ("{{ content }}" stays one valid string whatever the user
// typed); outside a string, session, content and client_id are inserted as
// JSON strings and history_json as an array. In a path a value is
// URL-path-escaped; in a form body (Content-Type
// application/x-www-form-urlencoded) query-escaped. Values read from the
// environment are redacted from errors and debug output.
type HTTPConfig struct {
	// CreateSession, when set, is sent by NewChat; the session id is read
	// from its answer (SessionPath, SessionHeader or SessionCookie). Nil
	// means NewChat makes no call and the session is a local id.
	CreateSession *HTTPRequestSpec
	// SessionPath is the JSON path of the session id in CreateSession's
	// answer (e.g. "id" or "data.session_key").
	SessionPath string
	// SessionHeader is a response header holding the session id instead.
	SessionHeader string
	// SessionCookie is a cookie (Set-Cookie) holding the session id
	// instead; send it back with a header such as
	// `Cookie: sid={{ session }}`.
	SessionCookie string
	// Send is the request of one turn (required).
	Send HTTPRequestSpec
	// ReplyPath is the JSON path of the reply text in Send's answer
	// (required), e.g. "reply" or "messages[-1].content".
	ReplyPath string
	// ToolsPath is the JSON path of an array of tools the agent ran; each
	// element is a name, or an object whose ToolNameField (default "name",
	// then "tool"), ToolStatusField (default "status"; absent means
	// "called") and ToolDataField (default "data"; an object, or a JSON
	// object in a string) are read.
	ToolsPath                                     string
	ToolNameField, ToolStatusField, ToolDataField string
	// HandoffPath is the JSON path of a value that, when present and not
	// null, false, "", {} or [], means the conversation went to a human.
	HandoffPath string
	// TokensPath is the JSON path of the tokens the reply used.
	TokensPath string
	// Headers are sent with every request (after the key's header, which
	// they may not replace); values are templates.
	Headers map[string]string
	// HealthPath is GET by Health; empty means Health makes no call and
	// reports the target up.
	HealthPath string
	// Getenv resolves {{ env.NAME }}; nil means os.Getenv. An unset or
	// empty variable is an error.
	Getenv func(string) string
}

// HTTPRequestSpec is one templated request.
type HTTPRequestSpec struct {
	// Method defaults to POST.
	Method string
	// Path is appended to the base URL (required); it may carry a query.
	Path string
	// Headers are added to the config's Headers (values are templates).
	Headers map[string]string
	// Body is the body template; empty sends no body.
	Body string
}

// HTTP is a Conn to a JSON-over-HTTP chat API described by an HTTPConfig.
// It keeps the conversation client-side too, for {{ history_json }}.
type HTTP struct {
	*core
	base    string
	create  *compiledReq
	send    *compiledReq
	health  string
	sessP   JSONPath
	sessHdr string
	sessCk  string
	reply   JSONPath
	tools   JSONPath
	handoff JSONPath
	tokens  JSONPath
	tname   string
	tstatus string
	tdata   string
}

var (
	_ Conn       = (*HTTP)(nil)
	_ CallCoster = (*HTTP)(nil)
)

// NewHTTP checks opts and cfg strictly (every error names the field) and
// returns the transport. It makes no connection.
func NewHTTP(opts Options, cfg HTTPConfig) (*HTTP, error) {
	if opts.APIVersion != 0 {
		return nil, fmt.Errorf("agent: APIVersion %d applies to Optimly targets only", opts.APIVersion)
	}
	c, base, err := newCore(opts)
	if err != nil {
		return nil, err
	}
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	h := &HTTP{core: c, base: base}
	cx := &compiler{getenv: getenv, core: c}
	fail := func(field string, err error) (*HTTP, error) {
		return nil, fmt.Errorf("agent: http: %s: %w", field, err)
	}
	common, err := cx.headers("headers", cfg.Headers)
	if err != nil {
		return nil, err
	}
	if cfg.CreateSession != nil {
		if h.create, err = cx.request("create_session", *cfg.CreateSession, common, false); err != nil {
			return nil, err
		}
		n := 0
		for _, s := range []string{cfg.SessionPath, cfg.SessionHeader, cfg.SessionCookie} {
			if s != "" {
				n++
			}
		}
		if n != 1 {
			return nil, errors.New("agent: http: create_session: set exactly one of session_path, session_header and session_cookie to say where the session id is")
		}
		if cfg.SessionPath != "" {
			if h.sessP, err = ParseJSONPath(cfg.SessionPath); err != nil {
				return fail("session_path", err)
			}
		}
		if cfg.SessionHeader != "" && !validHeaderName(cfg.SessionHeader) {
			return fail("session_header", fmt.Errorf("%q is not a valid header name", cfg.SessionHeader))
		}
		h.sessHdr, h.sessCk = cfg.SessionHeader, cfg.SessionCookie
	} else if cfg.SessionPath != "" || cfg.SessionHeader != "" || cfg.SessionCookie != "" {
		return nil, errors.New("agent: http: session_path, session_header and session_cookie need a create_session request")
	}
	if cfg.Send.Path == "" {
		return nil, errors.New("agent: http: send.path is required (e.g. /chat/{{ session }}/messages)")
	}
	if h.send, err = cx.request("send", cfg.Send, common, true); err != nil {
		return nil, err
	}
	if cfg.ReplyPath == "" {
		return nil, errors.New("agent: http: reply_path is required: the JSON path of the reply text, e.g. reply or data.message.content")
	}
	for _, p := range []struct {
		field, src string
		dst        *JSONPath
	}{{"reply_path", cfg.ReplyPath, &h.reply}, {"tools_path", cfg.ToolsPath, &h.tools}, {"handoff_path", cfg.HandoffPath, &h.handoff}, {"tokens_path", cfg.TokensPath, &h.tokens}} {
		if p.src == "" {
			continue
		}
		if *p.dst, err = ParseJSONPath(p.src); err != nil {
			return fail(p.field, err)
		}
	}
	if cfg.ToolsPath == "" && (cfg.ToolNameField != "" || cfg.ToolStatusField != "" || cfg.ToolDataField != "") {
		return nil, errors.New("agent: http: tool_name_field, tool_status_field and tool_data_field need tools_path")
	}
	h.tname, h.tstatus, h.tdata = cfg.ToolNameField, cmpOr(cfg.ToolStatusField, "status"), cmpOr(cfg.ToolDataField, "data")
	if cfg.HealthPath != "" {
		hp, err := checkPath("http: health_path", cfg.HealthPath, "")
		if err != nil {
			return nil, err
		}
		h.health = base + hp
	}
	return h, nil
}

// NewChatCalls returns 1 with a create_session request, else 0.
func (h *HTTP) NewChatCalls() int {
	if h.create != nil {
		return 1
	}
	return 0
}

// tmplVars are the values of one request's placeholders.
type tmplVars struct {
	session, content, clientID string
	history                    []byte // JSON array
}

// NewChat sends the create_session request and reads the session id, or,
// without one, starts a local session.
func (h *HTTP) NewChat(ctx context.Context, req NewChatRequest) (Chat, error) {
	const op = "new-chat"
	trace := NewTraceID()
	if h.create == nil {
		if err := ctx.Err(); err != nil {
			return Chat{}, &Error{Op: op, Kind: KindCanceled, Err: err}
		}
		id := "local-" + randomHex(8)
		return Chat{ID: id, ClientID: req.ClientID, Status: "local", TraceID: trace, local: &localChat{session: id}}, nil
	}
	v := tmplVars{clientID: req.ClientID, history: []byte("[]")}
	data, status, hdr, m, e := h.roundTrip(ctx, h.create.build(h.base, op, &v, trace, h.maxBody))
	if e != nil {
		return Chat{}, e
	}
	var id string
	switch {
	case h.sessHdr != "":
		id = hdr.Get(h.sessHdr)
	case h.sessCk != "":
		for _, ck := range (&http.Response{Header: hdr}).Cookies() {
			if ck.Name == h.sessCk {
				id = ck.Value
			}
		}
	default:
		doc, err := decodeAny(data)
		if err != nil {
			pe := h.protocolError(op, status, data, err)
			pe.RequestID = m.requestID
			return Chat{}, pe
		}
		id, _ = lookupString(h.sessP, doc)
	}
	if id == "" {
		where := "JSON path " + h.sessP.String()
		if h.sessHdr != "" {
			where = "header " + h.sessHdr
		} else if h.sessCk != "" {
			where = "cookie " + h.sessCk
		}
		return Chat{}, &Error{Op: op, Kind: KindProtocol, Status: status, RequestID: m.requestID,
			Detail: h.detail("no session id at " + where + " of the create_session answer")}
	}
	return Chat{ID: id, ClientID: req.ClientID, Status: "active", TraceID: trace, local: &localChat{session: id}}, nil
}

// Send sends the templated turn and reads the reply at reply_path.
func (h *HTTP) Send(ctx context.Context, chat Chat, msg Message) (Reply, error) {
	const op = "send"
	if chat.local == nil {
		return Reply{}, &Error{Op: op, Kind: KindClient, Detail: "chat was not opened by this transport's NewChat"}
	}
	v := tmplVars{session: chat.local.session, content: msg.Content, clientID: cmpOr(msg.ClientID, chat.ClientID)}
	if h.send.usesHistory {
		v.history = chat.local.historyJSON()
	}
	data, status, _, m, e := h.roundTrip(ctx, h.send.build(h.base, op, &v, chat.TraceID, h.maxBody))
	if e != nil {
		return Reply{}, e
	}
	r, err := h.decode(data)
	if err != nil {
		pe := h.protocolError(op, status, data, err)
		pe.RequestID = m.requestID
		return Reply{}, pe
	}
	r.RequestID, r.TraceID = m.requestID, m.traceID
	chat.local.record(msg.Content, r.Text)
	return r, nil
}

// Health GETs health_path; without one it reports up without a call.
func (h *HTTP) Health(ctx context.Context) error {
	if h.health == "" {
		return nil
	}
	_, _, _, _, e := h.roundTrip(ctx, &request{op: "health", method: http.MethodGet, url: h.health, limit: maxErrorBody, header: h.send.static})
	if e != nil {
		return e
	}
	return nil
}

func decodeAny(data []byte) (any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty body")
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var doc any
	if err := d.Decode(&doc); err != nil {
		return nil, jsonProblem(err)
	}
	return doc, nil
}

// decode reads a reply body through the configured paths.
func (h *HTTP) decode(data []byte) (Reply, error) {
	doc, err := decodeAny(data)
	if err != nil {
		return Reply{}, err
	}
	text, ok := lookupString(h.reply, doc)
	if !ok {
		if _, exists := h.reply.Lookup(doc); exists {
			return Reply{}, fmt.Errorf("reply_path %s is not a string", h.reply)
		}
		return Reply{}, fmt.Errorf("no reply at reply_path %s", h.reply)
	}
	r := Reply{Text: text, Raw: data}
	if !h.tokens.IsZero() {
		if s, ok := lookupString(h.tokens, doc); ok {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				r.TokensUsed = int(f)
			}
		}
	}
	if !h.handoff.IsZero() {
		if v, ok := h.handoff.Lookup(doc); ok {
			b, _ := json.Marshal(v)
			if nonEmptyJSON(b) {
				r.Handoff, r.HandoffData = true, b
			}
		}
	}
	if !h.tools.IsZero() {
		if v, ok := h.tools.Lookup(doc); ok {
			list, isList := v.([]any)
			if !isList && v != nil {
				return Reply{}, fmt.Errorf("tools_path %s is not an array", h.tools)
			}
			for _, el := range list {
				if t, ok := h.tool(el); ok {
					r.Tools = append(r.Tools, t)
					if t.Tool == "email_handoff" {
						r.Handoff = true
					}
				}
			}
		}
	}
	return r, nil
}

func (h *HTTP) tool(el any) (ToolExecution, bool) {
	switch x := el.(type) {
	case string:
		return ToolExecution{Tool: x, Status: "called"}, x != ""
	case map[string]any:
		t := ToolExecution{Status: "called"}
		names := []string{"name", "tool"}
		if h.tname != "" {
			names = []string{h.tname}
		}
		for _, n := range names {
			if s, ok := x[n].(string); ok && s != "" {
				t.Tool = s
				break
			}
		}
		if s, ok := x[h.tstatus].(string); ok && s != "" {
			t.Status = s
		}
		switch d := x[h.tdata].(type) {
		case map[string]any:
			t.Data = d
		case string:
			var m map[string]any
			if json.Unmarshal([]byte(d), &m) == nil {
				t.Data = m
			}
		}
		return t, t.Tool != ""
	}
	return ToolExecution{}, false
}

// --- templates ----------------------------------------------------------------

// placeholderNames are the names of the request templates' vocabulary
// (besides env.NAME), in documentation order; placeholderKinds maps them to
// their kinds.
var (
	placeholderNames = []string{"session", "content", "history_json", "client_id"}
	placeholderKinds = map[string]int{"session": phSession, "content": phContent, "history_json": phHistory, "client_id": phClientID}
)

// placeholder kinds
const (
	phLiteral = iota
	phSession
	phContent
	phHistory
	phClientID
)

// escaping of a placeholder's value
const (
	escRaw       = iota
	escJSONStr   // inside a JSON string literal
	escJSONValue // a JSON value of its own
	escPath      // URL path
	escQuery     // query or form value
)

type segment struct {
	kind int
	lit  string
	esc  int
}

type template struct {
	segs []segment
}

func (t *template) uses(kind int) bool {
	return slices.ContainsFunc(t.segs, func(s segment) bool { return s.kind == kind })
}

func (t *template) render(b []byte, v *tmplVars) []byte {
	for _, s := range t.segs {
		if s.kind == phLiteral {
			b = append(b, s.lit...)
			continue
		}
		var val string
		switch s.kind {
		case phSession:
			val = v.session
		case phContent:
			val = v.content
		case phClientID:
			val = v.clientID
		case phHistory:
			hist := v.history
			if hist == nil {
				hist = []byte("[]")
			}
			if s.esc == escJSONValue || s.esc == escRaw {
				b = append(b, hist...)
				continue
			}
			val = string(hist)
		}
		switch s.esc {
		case escJSONStr:
			q := marshalJSON(val)
			b = append(b, q[1:len(q)-1]...)
		case escJSONValue:
			b = append(b, marshalJSON(val)...)
		case escPath:
			b = append(b, url.PathEscape(val)...)
		case escQuery:
			b = append(b, url.QueryEscape(val)...)
		default:
			b = append(b, val...)
		}
	}
	return b
}

type compiledReq struct {
	method      string
	path        *template
	body        *template // nil: no body
	static      http.Header
	dynamic     map[string]*template // header templates with per-call placeholders
	usesHistory bool
}

func (c *compiledReq) build(base, op string, v *tmplVars, trace string, limit int64) *request {
	r := &request{op: op, method: c.method, url: base + string(c.path.render(nil, v)), traceID: trace, limit: limit, header: c.static}
	if c.body != nil {
		r.body = c.body.render(make([]byte, 0, 256+len(v.content)+len(v.history)), v)
	}
	if len(c.dynamic) > 0 {
		h := c.static.Clone()
		for k, t := range c.dynamic {
			h[k] = []string{string(t.render(nil, v))}
		}
		r.header = h
	}
	return r
}

// compiler turns the config's templates into compiled requests.
type compiler struct {
	getenv func(string) string
	core   *core
}

// parse compiles one template, in the one template syntax (internal/tmpl,
// as scenario text) with this context's vocabulary; off0 is the byte
// offset of src in the field's text, for errors. mode says how placeholders
// are escaped:
// escPath, escQuery, escRaw (headers) or escJSONStr/escJSONValue decided by
// position (JSON bodies, pass escJSONValue).
func (cx *compiler) parse(field, src string, off0, mode int, allowed map[int]bool) (*template, error) {
	t := &template{}
	inString := false // JSON string state of the literal text so far
	lit := strings.Builder{}
	flush := func() {
		if lit.Len() > 0 {
			t.segs = append(t.segs, segment{kind: phLiteral, lit: lit.String()})
			lit.Reset()
		}
	}
	scanJSON := func(s string) {
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case '\\':
				if inString {
					i++
				}
			case '"':
				inString = !inString
			}
		}
	}
	parts, terr := tmpl.Parse(src)
	if terr != nil {
		return nil, fmt.Errorf("agent: http: %s: at byte %d: %s", field, off0+terr.Off, terr.Msg)
	}
	for _, p := range parts {
		if p.Ph == nil {
			lit.WriteString(p.Lit)
			if mode == escJSONValue {
				scanJSON(p.Lit)
			}
			continue
		}
		name, args := p.Ph.Name, p.Ph.Args
		if name == "env" {
			if !tmpl.ValidName(args, false) {
				return nil, fmt.Errorf("agent: http: %s: {{ env %s }}: want {{ env.NAME }} or {{ env NAME }}, NAME made of letters, digits and '_'", field, args)
			}
			val := cx.getenv(args)
			if val == "" {
				return nil, fmt.Errorf("agent: http: %s: environment variable %s is not set", field, args)
			}
			cx.core.secrets.Add(val)
			switch {
			case mode == escJSONValue && inString:
				q := marshalJSON(val)
				lit.Write(q[1 : len(q)-1])
			case mode == escJSONValue:
				lit.Write(marshalJSON(val))
			case mode == escPath:
				lit.WriteString(url.PathEscape(val))
			case mode == escQuery:
				lit.WriteString(url.QueryEscape(val))
			default:
				lit.WriteString(val)
			}
			continue
		}
		kind := placeholderKinds[name]
		if kind == phLiteral || !allowed[kind] {
			var names, valid []string
			for _, n := range placeholderNames {
				if allowed[placeholderKinds[n]] {
					names = append(names, "{{ "+n+" }}")
					valid = append(valid, n)
				}
			}
			names = append(names, "{{ env.NAME }}")
			return nil, fmt.Errorf("agent: http: %s: %s; valid here: %s", field, tmpl.Undefined(name, valid), strings.Join(names, ", "))
		}
		if args != "" {
			return nil, fmt.Errorf("agent: http: %s: %s", field, tmpl.NoArgs(name, args))
		}
		flush()
		esc := mode
		if mode == escJSONValue && inString {
			esc = escJSONStr
		}
		t.segs = append(t.segs, segment{kind: kind, esc: esc})
	}
	flush()
	if mode == escJSONValue && inString {
		return nil, fmt.Errorf("agent: http: %s: a JSON string is not closed", field)
	}
	return t, nil
}

func (cx *compiler) headers(field string, hs map[string]string) (map[string]string, error) {
	for k := range hs {
		if !validHeaderName(k) {
			return nil, fmt.Errorf("agent: http: %s: %q is not a valid header name", field, k)
		}
		if cx.core.authName != "" && strings.EqualFold(k, cx.core.authName) {
			return nil, fmt.Errorf("agent: http: %s.%s: the API key already goes in this header (see auth); remove it or set auth", field, k)
		}
	}
	return hs, nil
}

func (cx *compiler) request(field string, spec HTTPRequestSpec, common map[string]string, isSend bool) (*compiledReq, error) {
	allowed := map[int]bool{phClientID: true}
	if isSend {
		allowed[phSession], allowed[phContent], allowed[phHistory] = true, true, true
	}
	method := strings.ToUpper(cmpOr(spec.Method, http.MethodPost))
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return nil, fmt.Errorf("agent: http: %s.method %q: want GET, POST, PUT, PATCH or DELETE", field, spec.Method)
	}
	if spec.Path == "" || spec.Path[0] != '/' || strings.ContainsAny(withoutPlaceholders(spec.Path), "# \t\r\n") {
		return nil, fmt.Errorf("agent: http: %s.path %q: want an absolute path such as /chat/{{ session }}/messages", field, spec.Path)
	}
	path, qry, _ := strings.Cut(spec.Path, "?")
	pt, err := cx.parse(field+".path", path, 0, escPath, allowed)
	if err != nil {
		return nil, err
	}
	if qry != "" {
		qt, err := cx.parse(field+".path", qry, len(path)+1, escQuery, allowed)
		if err != nil {
			return nil, err
		}
		pt.segs = append(append(pt.segs, segment{kind: phLiteral, lit: "?"}), qt.segs...)
	}
	c := &compiledReq{method: method, path: pt, static: http.Header{}, dynamic: map[string]*template{}}
	if _, err := cx.headers(field+".headers", spec.Headers); err != nil {
		return nil, err
	}
	merged := map[string]string{}
	for k, v := range common {
		merged[http.CanonicalHeaderKey(k)] = v
	}
	for k, v := range spec.Headers {
		merged[http.CanonicalHeaderKey(k)] = v
	}
	for k, v := range merged {
		fieldName := field + ".headers." + k
		if _, ok := spec.Headers[k]; !ok {
			fieldName = "headers." + k
		}
		t, err := cx.parse(fieldName, v, 0, escRaw, allowed)
		if err != nil {
			return nil, err
		}
		if len(t.segs) == 1 && t.segs[0].kind == phLiteral || len(t.segs) == 0 {
			val := ""
			if len(t.segs) == 1 {
				val = t.segs[0].lit
			}
			if strings.ContainsAny(val, "\r\n") {
				return nil, fmt.Errorf("agent: http: %s: a header value cannot contain a line break", fieldName)
			}
			c.static[k] = []string{val}
		} else {
			c.dynamic[k] = t
		}
	}
	if spec.Body != "" {
		ct := strings.ToLower(c.static.Get("Content-Type"))
		mode := escJSONValue
		switch {
		case ct == "" || strings.Contains(ct, "json"):
		case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
			mode = escQuery
		default:
			mode = escRaw
		}
		if c.body, err = cx.parse(field+".body", spec.Body, 0, mode, allowed); err != nil {
			return nil, err
		}
		if mode == escJSONValue {
			sample := c.body.render(nil, &tmplVars{session: "s", content: "c \"q\"", clientID: "id", history: []byte(`[{"role":"user","content":"x"}]`)})
			if !json.Valid(sample) {
				return nil, fmt.Errorf("agent: http: %s.body is not valid JSON once its placeholders are filled in: %s", field, shorten(cx.core.redact(string(sample)), 120))
			}
		}
		c.usesHistory = c.body.uses(phHistory)
	}
	for _, t := range c.dynamic {
		c.usesHistory = c.usesHistory || t.uses(phHistory)
	}
	c.usesHistory = c.usesHistory || pt.uses(phHistory)
	return c, nil
}

// withoutPlaceholders returns s with every "{{ ... }}" removed.
func withoutPlaceholders(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			return b.String() + s
		}
		b.WriteString(s[:i])
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return b.String() + s[i:]
		}
		s = s[i+j+2:]
	}
}
