package agentsim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Server is the simulated agent: an http.Handler serving the Optimly external
// API (see the package doc and New). It is safe for concurrent use.
type Server struct {
	agent    Agent // private copy; Faults live in faults
	agentID  string
	kb       *kbIndex
	greeting string
	faults   atomic.Pointer[Faults]
	limits   *limiter // nil when no limit is set
	now      func() time.Time

	mu    sync.RWMutex
	chats map[string]*chat

	reqSeq  atomic.Uint64 // draws for latency and faults
	chatSeq atomic.Uint64
	msgSeq  atomic.Uint64

	newChats, turns, v1Turns, messages, health, agentCalls, dropped, canceled atomic.Int64
	openAITurns                                                               atomic.Int64
	byStatus                                                                  [600]atomic.Int64
}

// chat is one open chat and its history.
type chat struct {
	id       string
	clientID string
	created  time.Time

	mu      sync.Mutex
	turns   int
	history []histMsg
}

type histMsg struct {
	id      uint64
	user    bool
	content string
	at      time.Time
}

// maxHistory bounds the messages kept per chat; older ones are forgotten so
// a long benchmark on one chat cannot grow memory without bound.
const maxHistory = 1000

// maxBody bounds the request bodies the server reads.
const maxBody = 1 << 20

// Stats counts what the server has seen since New. Every request to an agent
// endpoint (new-chat, v2, v1, chat history) is an agent call — what the API
// provider would bill — whatever its answer; health checks, unknown paths
// and wrong methods are not. Each agent call ends in exactly one of ByStatus,
// Dropped or Canceled.
type Stats struct {
	// NewChats, Turns, V1Turns and Messages count calls answered with
	// success (including malformed and slow answers): chats opened, v2 and v1
	// turns answered, chat histories read.
	NewChats, Turns, V1Turns, Messages int64
	// OpenAITurns counts chat completions answered on /v1/chat/completions
	// (streamed or not).
	OpenAITurns int64
	// Health counts health checks.
	Health int64
	// AgentCalls counts every agent call, whatever its answer.
	AgentCalls int64
	// Dropped counts agent calls whose connection was closed on purpose
	// (the drop fault); Canceled those abandoned by the client before the
	// answer.
	Dropped, Canceled int64
	// ByStatus counts agent calls by HTTP status answered.
	ByStatus map[int]int64
}

// New returns a server for a. The agent is copied: changing a afterwards has
// no effect (use SetFaults to change faults at run time).
func New(a *Agent) *Server {
	s := &Server{agent: *a, chats: make(map[string]*chat), now: time.Now}
	s.agent.APIKeys = append([]string(nil), a.APIKeys...)
	s.agentID = a.ID
	if s.agentID == "" {
		s.agentID = slug(a.Name)
	}
	s.kb = newKBIndex(a.Knowledge)
	s.greeting = a.Personality.Greeting
	if s.greeting == "" {
		s.greeting = DefaultGreeting
	}
	s.SetFaults(a.Faults)
	if a.Limits.any() {
		s.limits = newLimiter(a.Limits, time.Now())
	}
	return s
}

// SetFaults replaces the fault fractions; calls already past their fault
// draw are not affected. Safe to call while the server is serving.
func (s *Server) SetFaults(f Faults) {
	s.faults.Store(&f)
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := Stats{
		NewChats:    s.newChats.Load(),
		Turns:       s.turns.Load(),
		V1Turns:     s.v1Turns.Load(),
		Messages:    s.messages.Load(),
		OpenAITurns: s.openAITurns.Load(),
		Health:      s.health.Load(),
		AgentCalls:  s.agentCalls.Load(),
		Dropped:     s.dropped.Load(),
		Canceled:    s.canceled.Load(),
		ByStatus:    map[int]int64{},
	}
	for code := range s.byStatus {
		if n := s.byStatus[code].Load(); n > 0 {
			st.ByStatus[code] = n
		}
	}
	return st
}

func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		} else {
			dash = true
		}
	}
	if b.Len() == 0 {
		return "agent"
	}
	return b.String()
}

type endpoint int

const (
	epNone endpoint = iota
	epHealth
	epNewChat
	epV2
	epV1
	epMessages
)

const (
	chatPrefix = "/external/chat/"
	msgSuffix  = "/messages"
)

// ServeHTTP answers one request of the Optimly external API:
//
//	GET  /health                              200 {"status":"ok"}; no auth, never counted
//	POST /external/message/new-chat           open a chat
//	POST /external/agent/v2                   one turn, with tools and metadata
//	POST /external/agent                      one turn, legacy v1 shape, no tools
//	GET  /external/chat/{chat_id}/messages    the chat's history
//	POST /v1/chat/completions                 OpenAI-compatible (see openai.go)
//	GET  /v1/models                           OpenAI-compatible model list; no auth, never counted
//
// An agent call is checked in this order: API key (401), quota (429), rate
// limits (429 with Retry-After), injected faults, request body (422, or 413
// over 1 MiB), chat id (404); then the simulated latency passes (abandoned
// if the client goes away) and the agent answers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch path {
	case openAIPath:
		s.serveOpenAI(w, r)
		return
	case openAIModels:
		s.serveModels(w, r)
		return
	}
	ep, chatID, method := epNone, "", http.MethodPost
	switch {
	case path == "/health":
		ep, method = epHealth, http.MethodGet
	case path == "/external/message/new-chat":
		ep = epNewChat
	case path == "/external/agent/v2":
		ep = epV2
	case path == "/external/agent":
		ep = epV1
	case strings.HasPrefix(path, chatPrefix) && strings.HasSuffix(path, msgSuffix) && len(path) > len(chatPrefix)+len(msgSuffix):
		chatID = path[len(chatPrefix) : len(path)-len(msgSuffix)]
		if !strings.Contains(chatID, "/") {
			ep, method = epMessages, http.MethodGet
		}
	}
	if ep == epNone {
		s.writeError(w, http.StatusNotFound, "not_found", "Not Found", false)
		return
	}
	if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
		w.Header().Set("Allow", method)
		s.writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method Not Allowed", false)
		return
	}
	if ep == epHealth {
		s.health.Add(1)
		s.writeBody(w, r, http.StatusOK, []byte(`{"status":"ok"}`), false, faultNone)
		return
	}

	n := s.agentCalls.Add(1)
	if !s.authorized(r) {
		s.writeError(w, http.StatusUnauthorized, "unauthorized", "Invalid API key", true)
		return
	}
	if q := s.agent.Quota; q > 0 && n > q {
		s.writeError(w, http.StatusTooManyRequests, "quota_exceeded", "Monthly API call quota exceeded for your plan", true)
		return
	}
	if s.limits != nil {
		if wait, ok := s.limits.admit(ep, s.now()); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
			s.writeError(w, http.StatusTooManyRequests, "rate_limited", "Rate limit exceeded", true)
			return
		}
	}
	seq := s.reqSeq.Add(1)
	f := s.pickFault(seq)
	switch f {
	case faultThrottle:
		w.Header().Set("Retry-After", strconv.Itoa(int((s.faults.Load().RetryAfter+time.Second-1)/time.Second)))
		s.writeError(w, http.StatusTooManyRequests, "rate_limited", "Rate limit exceeded", true)
		return
	case faultError500:
		s.writeError(w, http.StatusInternalServerError, "internal_error", "Internal server error", true)
		return
	case faultError503:
		s.writeError(w, http.StatusServiceUnavailable, "service_unavailable", "Service temporarily unavailable", true)
		return
	case faultDrop:
		s.drop(w)
		return
	}

	sc := getScratch()
	defer putScratch(sc)
	switch ep {
	case epNewChat:
		s.newChat(w, r, sc, f)
	case epV2, epV1:
		s.turn(w, r, sc, f, seq, ep == epV2)
	case epMessages:
		s.history(w, r, sc, f, chatID)
	}
}

// authorized reports whether r carries one of the agent's keys, as a Bearer
// token, an X-API-Key header or an api_key query parameter.
func (s *Server) authorized(r *http.Request) bool {
	key := ""
	if h := r.Header.Get("Authorization"); len(h) > 7 && equalFoldASCII(h[:7], "bearer ") {
		key = strings.TrimSpace(h[7:])
	} else if h := r.Header.Get("X-API-Key"); h != "" {
		key = strings.TrimSpace(h)
	} else if r.URL.RawQuery != "" {
		key = r.URL.Query().Get("api_key")
	}
	return s.validKey(key)
}

// validKey reports whether key is one of the agent's keys, in constant time.
func (s *Server) validKey(key string) bool {
	if key == "" {
		return false
	}
	ok := false
	for _, k := range s.agent.APIKeys {
		if constantTimeEqual(key, k) {
			ok = true
		}
	}
	return ok
}

func constantTimeEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var v byte
	for i := 0; i < len(a); i++ {
		v |= a[i] ^ b[i]
	}
	return v == 0
}

type fault int

const (
	faultNone fault = iota
	faultThrottle
	faultError500
	faultError503
	faultDrop
	faultMalformed
	faultSlow
)

func (s *Server) pickFault(seq uint64) fault {
	f := s.faults.Load()
	if !f.any() {
		return faultNone
	}
	u := unit(draw(s.agent.Seed, saltFault, seq))
	for _, c := range [...]struct {
		p float64
		f fault
	}{{f.Throttle, faultThrottle}, {f.Error500, faultError500}, {f.Error503, faultError503}, {f.Drop, faultDrop}, {f.Malformed, faultMalformed}, {f.Slow, faultSlow}} {
		if c.p >= 1 || u < c.p {
			return c.f
		}
		u -= c.p
	}
	return faultNone
}

// drop closes the connection without a response.
func (s *Server) drop(w http.ResponseWriter) {
	s.dropped.Add(1)
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	// Not hijackable (HTTP/2, a recorder): abort the handler, which makes
	// net/http reset the stream without a response.
	panic(http.ErrAbortHandler)
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// --- request decoding ---------------------------------------------------

type fieldError struct {
	field, msg, typ string
}

// validationDetail renders FastAPI-style 422 details.
func validationDetail(errs []fieldError) []validationWire {
	out := make([]validationWire, len(errs))
	for i, e := range errs {
		loc := []string{"body"}
		if e.field != "" {
			loc = append(loc, e.field)
		}
		out[i] = validationWire{Loc: loc, Msg: e.msg, Type: e.typ}
	}
	return out
}

type callRequest struct {
	ChatID   *string         `json:"chat_id"`
	Content  *string         `json:"content"`
	ClientID *string         `json:"client_id"`
	Metadata json.RawMessage `json:"metadata"`
}

// decode reads and checks the body; required names the fields that must be
// present and non-empty. On a problem it answers (413/422) and returns false.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, sc *scratch, req *callRequest, required ...string) bool {
	body, tooLarge, err := readBody(r.Body, sc.body[:0])
	sc.body = body
	if tooLarge {
		s.writeError(w, http.StatusRequestEntityTooLarge, "payload_too_large", "Request body too large (limit 1 MiB)", true)
		return false
	}
	if err != nil {
		s.writeValidation(w, []fieldError{{"", "could not read the request body", "value_error"}})
		return false
	}
	if err := json.Unmarshal(body, req); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field == "":
			s.writeValidation(w, []fieldError{{"", "value is not a valid dict", "type_error.dict"}})
		case errors.As(err, &te):
			s.writeValidation(w, []fieldError{{te.Field, "str type expected", "type_error.str"}})
		default:
			s.writeValidation(w, []fieldError{{"", "invalid JSON: " + err.Error(), "value_error.jsondecode"}})
		}
		return false
	}
	var errs []fieldError
	for _, f := range required {
		var v *string
		switch f {
		case "chat_id":
			v = req.ChatID
		case "content":
			v = req.Content
		case "client_id":
			v = req.ClientID
		}
		switch {
		case v == nil:
			errs = append(errs, fieldError{f, "field required", "value_error.missing"})
		case strings.TrimSpace(*v) == "":
			errs = append(errs, fieldError{f, "ensure this value has at least 1 characters", "value_error.any_str.min_length"})
		}
	}
	if m := strings.TrimSpace(string(req.Metadata)); m != "" && m != "null" && m[0] != '{' {
		errs = append(errs, fieldError{"metadata", "value is not a valid dict", "type_error.dict"})
	}
	if len(errs) > 0 {
		s.writeValidation(w, errs)
		return false
	}
	return true
}

// readBody reads r into buf, up to maxBody bytes.
func readBody(r io.Reader, buf []byte) (out []byte, tooLarge bool, err error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > maxBody {
			return buf, true, nil
		}
		if err == io.EOF {
			return buf, false, nil
		}
		if err != nil {
			return buf, false, err
		}
	}
}

// --- endpoints ------------------------------------------------------------

func (s *Server) newChat(w http.ResponseWriter, r *http.Request, sc *scratch, f fault) {
	var req callRequest
	if !s.decode(w, r, sc, &req, "client_id") {
		return
	}
	now := s.now()
	id := draw(s.agent.Seed, saltChat, s.chatSeq.Add(1))
	c := &chat{id: hexID("chat_", id), clientID: *req.ClientID, created: now}
	s.mu.Lock()
	s.chats[c.id] = c
	s.mu.Unlock()

	b := appendJSON(sc.out[:0], newChatWire{ChatID: c.id, AgentID: s.agentID, ClientID: c.clientID, CreatedAt: stamp(now), Status: "active"})
	sc.out = b
	if s.writeBody(w, r, http.StatusOK, b, true, f) {
		s.newChats.Add(1)
	}
}

func (s *Server) lookup(id string) *chat {
	s.mu.RLock()
	c := s.chats[id]
	s.mu.RUnlock()
	return c
}

func (s *Server) turn(w http.ResponseWriter, r *http.Request, sc *scratch, f fault, seq uint64, v2 bool) {
	var req callRequest
	if !s.decode(w, r, sc, &req, "chat_id", "content") {
		return
	}
	c := s.lookup(*req.ChatID)
	if c == nil {
		s.writeError(w, http.StatusNotFound, "not_found", "Chat not found", true)
		return
	}
	lat := s.agent.Latency.sample(s.agent.Seed, seq)
	if !sleep(r.Context(), lat) {
		s.canceled.Add(1)
		return
	}
	content := *req.Content

	c.mu.Lock()
	c.turns++
	turn := c.turns
	c.mu.Unlock()

	rep := s.answer(turn, content, v2, sc)
	now := s.now()
	userID := draw(s.agent.Seed, saltMsg, s.msgSeq.Add(1))
	replyID := draw(s.agent.Seed, saltMsg, s.msgSeq.Add(1))
	c.mu.Lock()
	if len(c.history)+2 > maxHistory {
		c.history = append(c.history[:0], c.history[len(c.history)-maxHistory/2:]...)
	}
	c.history = append(c.history, histMsg{userID, true, content, now}, histMsg{replyID, false, rep.text, now})
	c.mu.Unlock()

	var b []byte
	if v2 {
		tools, handoff := rep.tools(s)
		b = appendJSON(sc.out[:0], v2Wire{AgentID: s.agentID, ChatID: c.id, Response: rep.text,
			MessageID: hexID("msg_", replyID), Timestamp: stamp(now), Tools: tools, HandoffData: handoff,
			Metadata: metaWire{ProcessingTime: lat.Seconds(), TokensUsed: int64(float64(rep.wordsIn+rep.wordsOut)*1.3 + 0.5), KnowledgeChunksUsed: int64(rep.matched)}})
	} else {
		b = appendJSON(sc.out[:0], v1Wire{Response: rep.text, ChatID: c.id, MessageID: hexID("msg_", replyID), Timestamp: stamp(now)})
	}
	sc.out = b
	if s.writeBody(w, r, http.StatusOK, b, true, f) {
		if v2 {
			s.turns.Add(1)
		} else {
			s.v1Turns.Add(1)
		}
	}
}

func (s *Server) history(w http.ResponseWriter, r *http.Request, sc *scratch, f fault, id string) {
	c := s.lookup(id)
	if c == nil {
		s.writeError(w, http.StatusNotFound, "not_found", "Chat not found", true)
		return
	}
	c.mu.Lock()
	list := make([]historyWire, len(c.history))
	for i, m := range c.history {
		sender := "assistant"
		if m.user {
			sender = "user"
		}
		list[i] = historyWire{MessageID: hexID("msg_", m.id), Sender: sender, Content: m.content, Timestamp: stamp(m.at)}
	}
	c.mu.Unlock()
	b := appendJSON(sc.out[:0], list)
	sc.out = b
	if s.writeBody(w, r, http.StatusOK, b, true, f) {
		s.messages.Add(1)
	}
}

// --- writing --------------------------------------------------------------

var jsonContentType = []string{"application/json"}

// writeBody writes a success body (wrapped in the envelope when the agent
// says so), applying the malformed or slow fault. counted says whether this
// is an agent call (for ByStatus). It reports whether the answer was sent.
func (s *Server) writeBody(w http.ResponseWriter, r *http.Request, status int, body []byte, counted bool, f fault) bool {
	if s.agent.Envelope {
		wrapped := make([]byte, 0, len(body)+32)
		wrapped = append(wrapped, `{"success":true,"data":`...)
		wrapped = append(wrapped, body...)
		body = append(wrapped, '}')
	}
	if f == faultMalformed {
		body = body[:len(body)/2]
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	if counted {
		s.byStatus[status].Add(1)
	}
	if r.Method == http.MethodHead {
		return true
	}
	if f == faultSlow {
		half := len(body) / 2
		_, _ = w.Write(body[:half])
		_ = http.NewResponseController(w).Flush()
		if !sleep(r.Context(), s.faults.Load().SlowDelay) {
			return true
		}
		body = body[half:]
	}
	_, _ = w.Write(body)
	return true
}

func (s *Server) writeValidation(w http.ResponseWriter, errs []fieldError) {
	s.writeErrorJSON(w, http.StatusUnprocessableEntity, "validation_error", validationDetail(errs), true)
}

// writeError answers an error with a text detail.
func (s *Server) writeError(w http.ResponseWriter, status int, code, detail string, counted bool) {
	s.writeErrorJSON(w, status, code, detail, counted)
}

// writeErrorJSON answers {"detail":DETAIL}, or in the envelope
// {"success":false,"error":CODE,"detail":DETAIL}.
func (s *Server) writeErrorJSON(w http.ResponseWriter, status int, code string, detail any, counted bool) {
	var b []byte
	if s.agent.Envelope {
		b = appendJSON(nil, envelopeErrorWire{Error: code, Detail: detail})
	} else {
		b = appendJSON(nil, errorWire{Detail: detail})
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = contentLength(b)
	w.WriteHeader(status)
	if counted {
		s.byStatus[status].Add(1)
	}
	_, _ = w.Write(b)
}

// scratch holds per-request buffers, pooled.
type scratch struct {
	body []byte
	out  []byte
	norm []byte
	toks []span
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{body: make([]byte, 0, 1024), out: make([]byte, 0, 2048), norm: make([]byte, 0, 256), toks: make([]span, 0, 64)}
}}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(sc *scratch) {
	if cap(sc.body) > 64<<10 || cap(sc.out) > 256<<10 {
		return // do not keep huge buffers
	}
	scratchPool.Put(sc)
}
