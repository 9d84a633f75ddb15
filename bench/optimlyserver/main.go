// Command optimlyserver is a plain Go net/http server that answers the
// Optimly external API shape (docs/optimly.md) with encoding/json, for the
// benchmarks in bench/: it is not evalrun's simulated agent and shares no
// code with evalrun, so the benchmarks measure evalrun against a server
// stack it did not write.
//
//	optimlyserver [-addr 127.0.0.1:0] [-stats-addr 127.0.0.1:0] [-latency D] [-key-env NAME]
//
// It prints one line on stdout, "URL STATS_URL", once both listeners are
// up. It counts every request (per path), every accepted TCP connection,
// the connections open now and the most open at once; GET STATS_URL/stats
// answers them as JSON (?reset=1 also sets the peak of open connections to
// the number open now, for the next measurement), and SIGTERM or SIGINT
// prints them on stderr before it exits.
//
// Endpoints: GET /health; POST /external/message/new-chat (answers a new
// chat_id); POST /external/agent/v2 and POST /external/agent (answers a
// reply: a message about the Growth plan's price when the content mentions
// "growth", else an acknowledgement quoting the message);
// GET /external/chat/{id}/messages (an empty history). With -key-env NAME,
// every request except /health must carry "Authorization: Bearer $NAME"
// (or X-API-Key); otherwise 401. -latency holds every answer to a message
// that long (new chats, history and health answer at once, as evalrun's
// simulated agent does).
// Both listeners are on loopback only.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "optimlyserver:", err)
		os.Exit(1)
	}
}

// stats are the server's counters.
type stats struct {
	requests    atomic.Int64 // every request answered, whatever its status
	errors      atomic.Int64 // requests answered 4xx (bad key, bad JSON, unknown path)
	connections atomic.Int64 // TCP connections accepted
	open        atomic.Int64 // connections open now
	maxOpen     atomic.Int64 // most connections open at once (since the last reset)
	chats       atomic.Int64
	byPath      map[string]*atomic.Int64 // the known paths, and "other"
}

var paths = []string{"GET /health", "POST /external/message/new-chat", "POST /external/agent/v2",
	"POST /external/agent", "GET /external/chat/{id}/messages", "other"}

func newStats() *stats {
	s := &stats{byPath: map[string]*atomic.Int64{}}
	for _, p := range paths {
		s.byPath[p] = new(atomic.Int64)
	}
	return s
}

// snapshot is the JSON of GET /stats.
type snapshot struct {
	Requests    int64            `json:"requests"`
	Errors      int64            `json:"errors"`
	Connections int64            `json:"connections"`
	Open        int64            `json:"open"`
	MaxOpen     int64            `json:"max_open"`
	ByPath      map[string]int64 `json:"by_path"`
}

func (s *stats) snapshot() snapshot {
	by := make(map[string]int64, len(s.byPath))
	for k, v := range s.byPath {
		if n := v.Load(); n > 0 {
			by[k] = n
		}
	}
	return snapshot{Requests: s.requests.Load(), Errors: s.errors.Load(), Connections: s.connections.Load(),
		Open: s.open.Load(), MaxOpen: s.maxOpen.Load(), ByPath: by}
}

// countingListener counts the TCP connections it accepts.
type countingListener struct {
	net.Listener
	s *stats
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.connections.Add(1)
	}
	return c, err
}

func (s *stats) connState(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		n := s.open.Add(1)
		for {
			m := s.maxOpen.Load()
			if n <= m || s.maxOpen.CompareAndSwap(m, n) {
				break
			}
		}
	case http.StateClosed, http.StateHijacked:
		s.open.Add(-1)
	}
}

// count adds the request to its path's counter: the chat id is folded out
// of the history path, and a path the API does not have counts as "other".
func (s *stats) count(r *http.Request) {
	p := r.URL.Path
	if strings.HasPrefix(p, "/external/chat/") {
		p = "/external/chat/{id}/messages"
	}
	c, ok := s.byPath[r.Method+" "+p]
	if !ok {
		c = s.byPath["other"]
	}
	c.Add(1)
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "address of the API (loopback only)")
	statsAddr := flag.String("stats-addr", "127.0.0.1:0", "address of GET /stats (loopback only)")
	latency := flag.Duration("latency", 0, "hold every answer to a message this long")
	keyEnv := flag.String("key-env", "", "environment variable holding the API key every request must carry (empty: no check)")
	flag.Parse()
	var key string
	if *keyEnv != "" {
		key = os.Getenv(*keyEnv)
		if key == "" {
			return fmt.Errorf("-key-env %s: the variable is empty or unset", *keyEnv)
		}
	}
	for _, a := range []string{*addr, *statsAddr} {
		if err := loopback(a); err != nil {
			return err
		}
	}
	s := newStats()
	api, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	sl, err := net.Listen("tcp", *statsAddr)
	if err != nil {
		return fmt.Errorf("-stats-addr: %w", err)
	}
	srv := &http.Server{Handler: handler(s, key, *latency), ConnState: s.connState, ReadHeaderTimeout: 10 * time.Second}
	statsSrv := &http.Server{Handler: statsHandler(s), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(countingListener{api, s}) }()
	go func() { errc <- statsSrv.Serve(sl) }()
	fmt.Printf("http://%s http://%s\n", api.Addr(), sl.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case err := <-errc:
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	_ = statsSrv.Shutdown(ctx)
	b, _ := json.Marshal(s.snapshot())
	fmt.Fprintf(os.Stderr, "optimlyserver stats: %s\n", b)
	return nil
}

func loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q: only loopback addresses (127.0.0.1, [::1]) are allowed", addr)
	}
	return nil
}

func statsHandler(s *stats) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		snap := s.snapshot()
		if r.URL.Query().Get("reset") == "1" {
			s.maxOpen.Store(s.open.Load())
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(snap)
	})
	return mux
}

type newChatRequest struct {
	ClientID string         `json:"client_id"`
	Metadata map[string]any `json:"metadata"`
}

type newChatResponse struct {
	ChatID    string `json:"chat_id"`
	AgentID   string `json:"agent_id"`
	ClientID  string `json:"client_id"`
	CreatedAt string `json:"created_at"`
	Status    string `json:"status"`
}

type messageRequest struct {
	ChatID   string         `json:"chat_id"`
	Content  string         `json:"content"`
	Metadata map[string]any `json:"metadata"`
}

type messageResponse struct {
	Response       string   `json:"response"`
	MessageID      string   `json:"message_id"`
	AgentID        string   `json:"agent_id"`
	Timestamp      string   `json:"timestamp"`
	ToolsExecuted  []string `json:"tools_executed"`
	ProcessingTime float64  `json:"processing_time"`
}

type detail struct {
	Detail string `json:"detail"`
}

const agentID = "bench-agent"

func handler(s *stats, key string, latency time.Duration) http.Handler {
	var msgs atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("POST /external/message/new-chat", func(w http.ResponseWriter, r *http.Request) {
		var req newChatRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			s.errors.Add(1)
			writeJSON(w, http.StatusUnprocessableEntity, detail{"invalid JSON body: " + err.Error()})
			return
		}
		n := s.chats.Add(1)
		writeJSON(w, http.StatusOK, newChatResponse{ChatID: "chat-" + strconv.FormatInt(n, 10), AgentID: agentID,
			ClientID: req.ClientID, CreatedAt: time.Now().UTC().Format(time.RFC3339), Status: "active"})
	})
	message := func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if latency > 0 {
			t := time.NewTimer(latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		var req messageRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			s.errors.Add(1)
			writeJSON(w, http.StatusUnprocessableEntity, detail{"invalid JSON body: " + err.Error()})
			return
		}
		if req.ChatID == "" || req.Content == "" {
			s.errors.Add(1)
			writeJSON(w, http.StatusUnprocessableEntity, detail{"chat_id and content are required"})
			return
		}
		text := "Thanks, noted: " + req.Content
		if strings.Contains(strings.ToLower(req.Content), "growth") {
			text = "The Growth plan costs $99/mo and includes 10 agent seats, live chat, automations and all standard integrations."
		}
		writeJSON(w, http.StatusOK, messageResponse{Response: text, MessageID: "msg-" + strconv.FormatInt(msgs.Add(1), 10),
			AgentID: agentID, Timestamp: time.Now().UTC().Format(time.RFC3339), ToolsExecuted: []string{},
			ProcessingTime: time.Since(start).Seconds()})
	}
	mux.HandleFunc("POST /external/agent/v2", message)
	mux.HandleFunc("POST /external/agent", message)
	mux.HandleFunc("GET /external/chat/{id}/messages", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, []any{})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.count(r)
		if key != "" && r.URL.Path != "/health" && !authorized(r, key) {
			s.errors.Add(1)
			writeJSON(w, http.StatusUnauthorized, detail{"invalid or missing API key"})
			return
		}
		if _, pattern := mux.Handler(r); pattern == "" {
			s.errors.Add(1)
		}
		mux.ServeHTTP(w, r)
	})
}

func authorized(r *http.Request, key string) bool {
	if h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && h == key {
		return true
	}
	return r.Header.Get("X-API-Key") == key
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
