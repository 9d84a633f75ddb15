package agent

import (
	"bytes"
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

func TestCACertFile(t *testing.T) {
	srv := httptest.NewTLSServer(answer(200, `{"status":"ok"}`))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Without the CA the server is not trusted.
	o := newConn(t, srv.URL, nil)
	if err := o.Health(ctx); err == nil || asError(t, err).Kind != KindTransport {
		t.Fatalf("untrusted server: %v", err)
	}
	o = newConn(t, srv.URL, func(op *Options) { op.CACertFile = ca })
	if err := o.Health(ctx); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	bad := filepath.Join(dir, "bad.pem")
	_ = os.WriteFile(bad, []byte("not a cert"), 0o600)
	for _, f := range []string{bad, filepath.Join(dir, "missing.pem")} {
		if _, err := NewOptimly(Options{BaseURL: srv.URL, CACertFile: f}); err == nil || !strings.Contains(err.Error(), "CACertFile") {
			t.Errorf("%s: %v", f, err)
		}
	}
}

var traceparentRE = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-01$`)

func TestRequestIDsAndTraceparent(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "new-chat") {
			w.Write([]byte(`{"chat_id":"c1"}`))
			return
		}
		w.Write([]byte(`{"response":"ok"}`))
	})
	o := newConn(t, srv.URL, nil)
	ctx := context.Background()
	chat, err := o.NewChat(ctx, NewChatRequest{ClientID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := o.Send(ctx, chat, Message{Content: "hi"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	ids, spans := map[string]bool{}, map[string]bool{}
	for _, r := range srv.reqs {
		id := r.header.Get("X-Request-ID")
		m := traceparentRE.FindStringSubmatch(r.header.Get("Traceparent"))
		if id == "" || ids[id] || m == nil {
			t.Fatalf("request id %q (seen %v), traceparent %q", id, ids[id], r.header.Get("Traceparent"))
		}
		ids[id] = true
		if m[1] != chat.TraceID {
			t.Errorf("trace id %s, want the chat's %s", m[1], chat.TraceID)
		}
		if spans[m[2]] {
			t.Errorf("span id %s reused", m[2])
		}
		spans[m[2]] = true
	}
	if len(ids) != 9 {
		t.Errorf("%d requests", len(ids))
	}
}

func TestDebugDumpRedacts(t *testing.T) {
	for _, auth := range []string{"bearer", "header", "query"} {
		t.Run(auth, func(t *testing.T) {
			srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(`{"response":"echo ` + testKey + `"}`))
			})
			var buf bytes.Buffer
			o := newConn(t, srv.URL, func(op *Options) { op.Auth = auth; op.Debug = &buf })
			r, err := o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "my key is " + testKey})
			if err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if strings.Contains(out, testKey) {
				t.Fatalf("debug output reveals the key:\n%s", out)
			}
			for _, want := range []string{"> POST ", "< " + r.RequestID + " 200 OK", "X-Request-Id: " + r.RequestID, Redacted} {
				if !strings.Contains(out, want) {
					t.Errorf("debug output lacks %q:\n%s", want, out)
				}
			}
			if auth == "query" && !strings.Contains(out, "api_key="+Redacted) {
				t.Errorf("query key not shown redacted:\n%s", out)
			}
			last := srv.last(t)
			switch auth {
			case "header":
				if last.header.Get("X-API-Key") != testKey || last.header.Get("Authorization") != "" {
					t.Errorf("headers %v", last.header)
				}
			case "query":
				if last.header.Get("Authorization") != "" {
					t.Errorf("query auth also sent a header")
				}
			}
		})
	}
}

func TestQueryKeyRedactedFromErrors(t *testing.T) {
	o, err := NewOptimly(Options{BaseURL: "http://127.0.0.1:1", APIKey: "qk-" + strings.Repeat("z", 8), Auth: "query"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"})
	if err == nil || strings.Contains(err.Error(), "qk-zzzz") {
		t.Fatalf("error %v", err)
	}
	for _, tt := range []struct{ in, want string }{
		{`Post "https://h/x?api_key=abc&b=1": refused`, `Post "https://h/x?api_key=[REDACTED]&b=1": refused`},
		{"https://u:pw@h/p?token=t#f", "https://u:[REDACTED]@h/p?token=[REDACTED]#f"},
		{"https://h/p?keep=1", "https://h/p?keep=1"},
		{"https://h/p?Key=a&key=b", "https://h/p?Key=[REDACTED]&key=[REDACTED]"},
	} {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestInsecureHTTPRefusedForEveryKind(t *testing.T) {
	opts := Options{BaseURL: "http://agents.example.com", APIKey: "k"}
	cfgs := map[string]any{"optimly": nil, "openai": OpenAIConfig{Model: "m"}, "http": HTTPConfig{Send: HTTPRequestSpec{Path: "/x"}, ReplyPath: "r"}}
	for kind, cfg := range cfgs {
		if _, err := New(kind, opts, cfg); err == nil || !strings.Contains(err.Error(), "non-loopback") {
			t.Errorf("%s: %v", kind, err)
		}
		o := opts
		o.AllowInsecureHTTP = true
		if _, err := New(kind, o, cfg); err != nil {
			t.Errorf("%s with AllowInsecureHTTP: %v", kind, err)
		}
	}
}

func TestAuthValidation(t *testing.T) {
	for _, tt := range []struct {
		opts Options
		want string
	}{
		{Options{Auth: "basic"}, `Auth "basic"`},
		{Options{Auth: "query", Header: "X-API-Key"}, "Auth is \"query\""},
		{Options{QueryParam: "k"}, "QueryParam \"k\" is set"},
		{Options{Auth: "query", QueryParam: "a&b"}, "QueryParam"},
		{Options{Auth: "header", Header: "Bad Header"}, "not a valid HTTP header name"},
	} {
		tt.opts.BaseURL = "https://a.io"
		if _, err := NewOptimly(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.opts, err, tt.want)
		}
	}
}
