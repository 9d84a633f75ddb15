package main

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The conformance suite: `evalrun run`, in-process and as users run it,
// against Optimly-shaped servers written here on raw sockets, each with
// one behaviour of the HTTP stacks agents really sit behind. For each, over
// 24 conversations of a new chat and 3 turns with 10 in flight:
//
//   - the server read exactly the attempts evalrun charged (at most, when
//     the server drops connections it announced as kept alive: a request
//     written into a socket the server already closed is charged but
//     never read);
//   - no request id, and no (chat, message) pair, was processed twice;
//   - a server that keeps connections alive saw at most 10 + 2 of them.

const (
	confConversations = 24
	confInFlight      = 10
	confKey           = "k-conformance-7c1e"
)

// quirks is what a conformance server does differently from a plain
// keep-alive HTTP/1.1 server.
type quirks struct {
	closeAfter    int           // Connection: close on the nth answer of a connection
	idle          time.Duration // a connection idle this long is closed
	connClose     bool          // Connection: close on every answer
	http10        bool          // HTTP/1.0 answers without Content-Length, ended by closing
	chunked       bool          // chunked bodies, 10 bytes a chunk, with a trailer
	interim       bool          // 100 Continue and 103 Early Hints before every answer
	dribble       bool          // bodies written 7 bytes at a time
	strayCRLF     bool          // a CRLF after every Content-Length body
	gzip          bool          // every body gzipped, asked for or not
	silentClose   int           // closed without a word after n answers, keep-alive announced
	throttleEvery int           // every nth agent request answered 429 with Retry-After: 0
	redirectTo    string        // message sends answered 307 to this base URL
	escapes       bool          // message sends answered 500 with terminal escapes
	stall         time.Duration // message sends answered only after this long
}

// confServer is an Optimly-shaped agent on a raw TCP listener.
type confServer struct {
	t     *testing.T
	q     quirks
	ln    net.Listener
	conns atomic.Int64 // connections accepted
	seq   atomic.Int64

	mu        sync.Mutex
	requests  int64          // agent requests read (new chats and sends)
	processed map[string]int // "new|client" and "chat|content": answered 2xx
	throttled map[string]bool
	ids       map[string]int // X-Request-Id values seen
	keyless   int64          // agent requests without the key
}

func startConfServer(t *testing.T, q quirks) *confServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &confServer{t: t, q: q, ln: ln, processed: map[string]int{}, throttled: map[string]bool{}, ids: map[string]int{}}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				s.serve(c)
			}()
		}
	}()
	return s
}

func (s *confServer) url() string { return "http://" + s.ln.Addr().String() }

// answer is what the server decided to send for one request.
type answer struct {
	status int
	header [][2]string
	body   []byte
}

// serve reads requests off one connection and answers them with the
// server's quirks.
func (s *confServer) serve(c net.Conn) {
	br := bufio.NewReader(c)
	bw := bufio.NewWriter(c)
	for n := 1; ; n++ {
		if s.q.idle > 0 {
			_ = c.SetReadDeadline(time.Now().Add(s.q.idle))
		} else {
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		}
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		_ = c.SetReadDeadline(time.Time{})
		a := s.handle(req, body)
		closing := s.q.connClose || s.q.http10 || (s.q.closeAfter > 0 && n >= s.q.closeAfter)
		silent := s.q.silentClose > 0 && n >= s.q.silentClose
		if err := s.write(bw, a, req, closing); err != nil {
			return
		}
		if closing || silent {
			return
		}
	}
}

// handle counts and answers one request.
func (s *confServer) handle(req *http.Request, body []byte) answer {
	if req.Method == http.MethodGet && req.URL.Path == "/health" {
		return answer{status: 200, body: []byte(`{"status":"ok"}`)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	n := s.requests
	if req.Header.Get("Authorization") != "Bearer "+confKey {
		s.keyless++
	}
	s.ids[req.Header.Get("X-Request-Id")]++
	var in struct {
		ClientID string `json:"client_id"`
		ChatID   string `json:"chat_id"`
		Content  string `json:"content"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return answer{status: 400, body: []byte(`{"detail":"bad json"}`)}
	}
	key := "new|" + in.ClientID
	if req.URL.Path != "/external/message/new-chat" {
		key = in.ChatID + "|" + in.Content
	}
	if s.q.throttleEvery > 0 && n%int64(s.q.throttleEvery) == 0 && !s.throttled[key] {
		// Each call is throttled at most once, so every conversation
		// passes within its attempts.
		s.throttled[key] = true
		return answer{status: 429, header: [][2]string{{"Retry-After", "0"}}, body: []byte(`{"detail":"slow down"}`)}
	}
	switch req.URL.Path {
	case "/external/message/new-chat":
		s.processed[key]++
		id := "chat_" + strconv.FormatInt(s.seq.Add(1), 10)
		out, _ := json.Marshal(map[string]string{"chat_id": id, "client_id": in.ClientID, "status": "active"})
		return answer{status: 200, body: out}
	case "/external/agent/v2":
		switch {
		case s.q.redirectTo != "":
			return answer{status: 307, header: [][2]string{{"Location", s.q.redirectTo + "/external/agent/v2"}}, body: []byte(`{}`)}
		case s.q.escapes:
			return answer{status: 500, body: []byte("\x1b[2J\x1b]0;owned\x07agent \x1b[31mexploded\x1b[0m\x07\x08")}
		}
		s.processed[key]++
		if s.q.stall > 0 {
			s.mu.Unlock()
			time.Sleep(s.q.stall)
			s.mu.Lock()
		}
		out, _ := json.Marshal(map[string]string{"chat_id": in.ChatID, "response": "You said: " + in.Content,
			"message_id": "msg_" + strconv.FormatInt(s.seq.Add(1), 10)})
		return answer{status: 200, body: out}
	}
	return answer{status: 404, body: []byte(`{"detail":"no such path"}`)}
}

// write sends one answer with the server's quirks.
func (s *confServer) write(bw *bufio.Writer, a answer, req *http.Request, closing bool) error {
	q := s.q
	proto := "HTTP/1.1"
	if q.http10 {
		proto = "HTTP/1.0"
	}
	if q.interim {
		bw.WriteString("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n")
	}
	body := a.body
	fmt.Fprintf(bw, "%s %d %s\r\nContent-Type: application/json\r\n", proto, a.status, http.StatusText(a.status))
	for _, h := range a.header {
		fmt.Fprintf(bw, "%s: %s\r\n", h[0], h[1])
	}
	if q.gzip {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(body)
		zw.Close()
		body = z.Bytes()
		bw.WriteString("Content-Encoding: gzip\r\n")
	}
	switch {
	case closing && !q.http10:
		bw.WriteString("Connection: close\r\n")
	case q.silentClose > 0:
		bw.WriteString("Connection: keep-alive\r\nKeep-Alive: timeout=60\r\n")
	}
	switch {
	case q.http10:
	case q.chunked:
		bw.WriteString("Transfer-Encoding: chunked\r\nTrailer: X-Done\r\n")
	default:
		fmt.Fprintf(bw, "Content-Length: %d\r\n", len(body))
	}
	bw.WriteString("\r\n")
	if q.chunked {
		var c bytes.Buffer
		for rest := body; len(rest) > 0; {
			k := min(10, len(rest))
			fmt.Fprintf(&c, "%x\r\n%s\r\n", k, rest[:k])
			rest = rest[k:]
		}
		c.WriteString("0\r\nX-Done: 1\r\n\r\n")
		body = c.Bytes()
	}
	if q.strayCRLF {
		body = append(body[:len(body):len(body)], '\r', '\n')
	}
	if !q.dribble {
		bw.Write(body)
		return bw.Flush()
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	for rest := body; len(rest) > 0; {
		k := min(7, len(rest))
		bw.Write(rest[:k])
		if err := bw.Flush(); err != nil {
			return err
		}
		rest = rest[k:]
		time.Sleep(100 * time.Microsecond)
	}
	return nil
}

// check reports a request id or (chat, message) processed twice.
func (s *confServer) check(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range s.processed {
		if n > 1 {
			t.Errorf("%q processed %d times", k, n)
		}
	}
	for id, n := range s.ids {
		if n > 1 || id == "" {
			t.Errorf("request id %q seen %d times", id, n)
		}
	}
	if s.keyless > 0 {
		t.Errorf("%d agent requests came without the key", s.keyless)
	}
}

// confSuite writes a suite of confConversations conversations of three
// turns, each turn after think.
func confSuite(t *testing.T, think time.Duration, turns int) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "name: conformance\nrepeat: %d\nturns:\n", confConversations)
	for i := 1; i <= turns; i++ {
		fmt.Fprintf(&b, "  - user: \"turn %d\"\n", i)
		if think > 0 {
			fmt.Fprintf(&b, "    think: %s\n", think)
		}
	}
	path := filepath.Join(t.TempDir(), "conformance.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConformance runs the CLI against each server behaviour.
func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		q    quirks
		// think before every turn.
		think time.Duration
		// mayDrop: the server closes connections it announced as kept
		// alive, so calls may fail, and a request may be charged that the
		// server never read.
		mayDrop bool
		// allPass: every conversation must pass.
		allPass bool
		// keepAlive: the server keeps connections alive: at most
		// confInFlight+2 of them.
		keepAlive bool
		short     bool   // run with -short too
		inFlight  int    // conversations in flight; 0 means confInFlight
		timeout   string // --timeout; "" means 10s
	}{
		{name: "plain keep-alive", allPass: true, keepAlive: true, short: true},
		{name: "keep-alive closed after 5 requests", q: quirks{closeAfter: 5}, allPass: true},
		{name: "idle timeout 50ms, think 70ms", q: quirks{idle: 50 * time.Millisecond}, think: 70 * time.Millisecond, mayDrop: true, short: true},
		// All 24 in flight at once and one turn: one 1.5 s think per conversation.
		{name: "idle timeout 1s, think 1.5s", q: quirks{idle: time.Second}, think: 1500 * time.Millisecond, mayDrop: true, inFlight: confConversations},
		{name: "Connection: close on every answer", q: quirks{connClose: true}, allPass: true},
		{name: "HTTP/1.0 without Content-Length", q: quirks{http10: true}, allPass: true},
		{name: "chunked bodies", q: quirks{chunked: true}, allPass: true, keepAlive: true},
		{name: "1xx interim answers", q: quirks{interim: true}, allPass: true, keepAlive: true},
		{name: "bodies dribbled", q: quirks{dribble: true}, allPass: true, keepAlive: true},
		{name: "stray CRLF after the body", q: quirks{strayCRLF: true}, mayDrop: true, short: true},
		{name: "gzip unasked", q: quirks{gzip: true}, allPass: true, keepAlive: true},
		{name: "keep-alive announced, closed silently", q: quirks{silentClose: 1}, mayDrop: true, short: true},
		{name: "keep-alive announced, closed silently after 3", q: quirks{silentClose: 3}, mayDrop: true},
		{name: "429 with Retry-After", q: quirks{throttleEvery: 5}, allPass: true, keepAlive: true, short: true},
		{name: "307 to another port", short: true},
		{name: "terminal escapes in a body", q: quirks{escapes: true}, short: true},
		// The agent processes the message but answers after --timeout: the
		// call is a timeout and is not sent again.
		// A request that times out may be closed before the server reads it
		// (a busy machine), so the server may read fewer than were charged.
		{name: "no answer before --timeout", q: quirks{stall: 500 * time.Millisecond}, timeout: "100ms", mayDrop: true, short: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && !tc.short {
				t.Skip("-short")
			}
			t.Parallel()
			var other *confServer
			if tc.name == "307 to another port" {
				other = startConfServer(t, quirks{})
				tc.q.redirectTo = other.url()
			}
			srv := startConfServer(t, tc.q)
			turns := 3
			if tc.think >= time.Second {
				turns = 1
			}
			inFlight := cmp.Or(tc.inFlight, confInFlight)
			out := filepath.Join(t.TempDir(), "result.json")
			c := &cli{env: map[string]string{"OPTIMLY_API_KEY": confKey}}
			args := []string{"run", "--target", srv.url(), "--concurrency", strconv.Itoa(inFlight),
				"--timeout", cmp.Or(tc.timeout, "10s"), "--quota", "100000", "--retry-allowance", "1", "--out", out}
			if tc.timeout != "" {
				// A short --timeout is about the calls; the start-up health
				// check could miss it on a loaded machine (-race, parallel
				// cases) and stop the run before the first call.
				args = append(args, "--no-health-check")
			}
			code := c.run(t, append(args, confSuite(t, tc.think, turns))...)
			if _, err := os.Stat(out); err != nil {
				t.Fatalf("exit %d, no result: %v\nstderr:\n%s", code, err, c.stderr.String())
			}
			res := readResult(t, out)
			tot := res.Totals
			srv.mu.Lock()
			requests := srv.requests
			srv.mu.Unlock()
			if os.Getenv("CONFORMANCE_SHOW") != "" {
				t.Logf("stdout:\n%s\nstderr:\n%s", c.stdout.String(), c.stderr.String())
			}
			t.Logf("%s: exit %d; %d conversations: %d passed, %d error; %d calls, %d attempts; server read %d requests on %d connections",
				tc.name, code, tot.Conversations, tot.Passed, tot.Errored, tot.Calls, tot.Attempts, requests, srv.conns.Load())
			if tot.Conversations != confConversations {
				t.Errorf("%d conversations in the result, want %d", tot.Conversations, confConversations)
			}
			switch {
			case requests > tot.Attempts:
				t.Errorf("server read %d requests, evalrun charged %d attempts: a request went out uncharged", requests, tot.Attempts)
			case requests < tot.Attempts && !tc.mayDrop:
				t.Errorf("server read %d requests, evalrun charged %d attempts", requests, tot.Attempts)
			}
			srv.check(t)
			if tc.allPass && (code != exitOK || tot.Passed != confConversations) {
				t.Errorf("exit %d, %d of %d conversations passed, want all\nstderr:\n%s", code, tot.Passed, confConversations, c.stderr.String())
			}
			if n := srv.conns.Load(); tc.keepAlive && n > int64(inFlight)+2 {
				t.Errorf("server accepted %d connections for %d conversations in flight, want at most %d", n, inFlight, inFlight+2)
			}
			all := c.stdout.String() + c.stderr.String()
			if raw, err := os.ReadFile(out); err == nil {
				all += string(raw)
			}
			if strings.ContainsAny(all, "\x1b\x07\x08\u009b") || strings.Contains(all, `\u001b`) {
				t.Errorf("a terminal escape or control character reached the output")
			}
			switch tc.name {
			case "307 to another port":
				if n := other.conns.Load(); n != 0 {
					t.Errorf("the redirect target accepted %d connections: the redirect was followed", n)
				}
				if tot.Passed != 0 || !strings.Contains(all, "not followed") {
					t.Errorf("%d conversations passed through a 307; output does not say the redirect was not followed", tot.Passed)
				}
			case "no answer before --timeout":
				if n := tot.CallErrors["timeout"]; n != confConversations || tot.CallErrors["canceled"] != 0 || tot.Attempts != tot.Calls {
					t.Errorf("call errors %v, %d attempts for %d calls: want %d timeouts, none re-sent", tot.CallErrors, tot.Attempts, tot.Calls, confConversations)
				}
				if !strings.Contains(all, "not re-sent") {
					t.Errorf("the result does not say the timed-out calls were not re-sent")
				}
			case "terminal escapes in a body":
				if !strings.Contains(all, "exploded") {
					t.Errorf("the server's message is not shown:\n%s", c.stderr.String())
				}
			}
		})
	}
}

// TestOnceWriter: net/http's diagnostics through the standard logger are
// shown once each, however many calls repeat them.
func TestOnceWriter(t *testing.T) {
	var buf bytes.Buffer
	w := &onceWriter{w: &buf, seen: map[string]bool{}}
	for range 50 {
		fmt.Fprintln(w, `Unsolicited response received on idle HTTP channel starting with "\r\n"; err=<nil>`)
	}
	fmt.Fprintln(w, "another message")
	want := "evalrun: net/http: Unsolicited response received on idle HTTP channel starting with \"\\r\\n\"; err=<nil> (shown once)\n" +
		"evalrun: net/http: another message (shown once)\n"
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
}
