package agentsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/examples"
)

const testKey = "test-key-123"

// baseline returns the example baseline agent with no latency and the test key.
func baseline(t testing.TB) *Agent {
	t.Helper()
	a, err := ParseAgent("baseline.agent.yaml", examples.BaselineAgent)
	if err != nil {
		t.Fatalf("parse baseline: %v", err)
	}
	a.APIKeys = []string{testKey}
	a.Latency = LatencyModel{}
	return a
}

// fixture serves a over httptest and closes it at the end of the test.
type fixture struct {
	t   testing.TB
	srv *httptest.Server
	s   *Server
}

func serve(t testing.TB, a *Agent) *fixture {
	t.Helper()
	return serveServer(t, New(a))
}

func serveServer(t testing.TB, s *Server) *fixture {
	t.Helper()
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return &fixture{t: t, srv: hs, s: s}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// do sends a request. auth is the whole Authorization header ("" sends
// none), or "X-API-Key: KEY" to send that header instead.
func (f *fixture) do(method, path, auth, body string) resp {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	switch {
	case strings.HasPrefix(auth, "X-API-Key: "):
		req.Header.Set("X-API-Key", strings.TrimPrefix(auth, "X-API-Key: "))
	case auth != "":
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp{res.StatusCode, res.Header, b}
}

const bearer = "Bearer " + testKey

// newChat opens a chat and returns its id.
func (f *fixture) newChat(client string) string {
	f.t.Helper()
	r := f.do("POST", "/external/message/new-chat", bearer, `{"client_id":`+quote(client)+`}`)
	if r.status != 200 {
		f.t.Fatalf("new-chat: %d %s", r.status, r.body)
	}
	m := r.json(f.t)
	if f.s.agent.Envelope {
		m = m["data"].(map[string]any)
	}
	return m["chat_id"].(string)
}

// send sends one v2 turn and returns the decoded reply.
func (f *fixture) send(chatID, content string) map[string]any {
	f.t.Helper()
	r := f.do("POST", "/external/agent/v2", bearer, `{"chat_id":`+quote(chatID)+`,"content":`+quote(content)+`}`)
	if r.status != 200 {
		f.t.Fatalf("v2 %q: %d %s", content, r.status, r.body)
	}
	return r.json(f.t)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func compactJSON(t testing.TB, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	return buf.String()
}
