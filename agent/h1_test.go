package agent

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestH1ServesPlainHTTPOnly: the own client serves http:// without debug
// logging; https and debug logging go through net/http.
func TestH1ServesPlainHTTPOnly(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want bool
	}{
		{"loopback http", Options{BaseURL: "http://127.0.0.1:9"}, true},
		{"with a path prefix", Options{BaseURL: "http://[::1]:9/api"}, true},
		{"https", Options{BaseURL: "https://127.0.0.1:9"}, false},
		{"debug logging", Options{BaseURL: "http://127.0.0.1:9", Debug: io.Discard}, false},
	} {
		o, err := NewOptimly(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := o.h1 != nil; got != tc.want {
			t.Errorf("%s: h1 client %v, want %v", tc.name, got, tc.want)
		}
	}
	h := newH1Client("http://127.0.0.1:8080/x", time.Second, 1)
	for _, tc := range []struct {
		url, path string
		ok        bool
	}{
		{"http://127.0.0.1:8080/x/external/agent/v2", "/x/external/agent/v2", true},
		{"http://127.0.0.1:8080", "/", true},
		{"http://127.0.0.1:8081/x", "", false},
		{"http://127.0.0.1:8080/a b", "", false},
		{"http://127.0.0.1:8080/caf\xc3\xa9", "", false},
	} {
		p, ok := h.path(tc.url)
		if p != tc.path || ok != tc.ok {
			t.Errorf("path(%q) = %q, %v; want %q, %v", tc.url, p, ok, tc.path, tc.ok)
		}
	}
}

// TestH1SendsWhatNetHTTPSends: the same calls through the own client and
// through net/http (debug logging on) reach the server as the same
// requests, but for net/http's Accept-Encoding and the per-attempt ids.
func TestH1SendsWhatNetHTTPSends(t *testing.T) {
	for _, auth := range []func(*Options){
		func(*Options) {},
		func(o *Options) { o.Header = "X-API-Key" },
		func(o *Options) { o.Auth = "query" },
	} {
		srv := newRecorder(t, answer(200, fixture(t, "v2_top_level.json")))
		var got []recorded
		for _, debug := range []bool{false, true} {
			o := newConn(t, srv.URL, func(op *Options) {
				auth(op)
				if debug {
					op.Debug = io.Discard
				}
			})
			if (o.h1 != nil) == debug {
				t.Fatalf("debug %v: h1 client %v", debug, o.h1 != nil)
			}
			if _, err := o.Send(context.Background(), Chat{ID: "c 1", TraceID: NewTraceID()}, Message{Content: "héllo \"x\"", ClientID: "q", SessionID: "s"}); err != nil {
				t.Fatal(err)
			}
			got = append(got, srv.last(t))
		}
		h1, std := got[0], got[1]
		if h1.method != std.method || h1.path != std.path || string(h1.body) != string(std.body) {
			t.Errorf("request differs:\nh1       %s %s %s\nnet/http %s %s %s", h1.method, h1.path, h1.body, std.method, std.path, std.body)
		}
		for _, hd := range []http.Header{h1.header, std.header} {
			for _, k := range []string{"Accept-Encoding", "X-Request-Id", "Traceparent"} {
				if k != "Accept-Encoding" && len(hd[k]) != 1 {
					t.Errorf("header %s: %q, want one value", k, hd[k])
				}
				delete(hd, k)
			}
		}
		if a, b := h1.header, std.header; len(a) != len(b) {
			t.Errorf("headers differ:\nh1       %v\nnet/http %v", a, b)
		} else {
			for k := range b {
				if strings.Join(a[k], ",") != strings.Join(b[k], ",") {
					t.Errorf("header %s: h1 %q, net/http %q", k, a[k], b[k])
				}
			}
		}
	}
}

// countingServer counts the connections the server accepted.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// TestH1KeepAlive: calls reuse one connection; a connection the server
// closes after its answer (Connection: close, HTTP/1.0) or while it idles
// is not used again, and no call is sent twice.
func TestH1KeepAlive(t *testing.T) {
	reply := fixture(t, "v2_top_level.json")
	t.Run("reuse", func(t *testing.T) {
		srv, conns := countingServer(t, answer(200, reply))
		o := newConn(t, srv.URL, nil)
		for range 20 {
			if _, err := o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"}); err != nil {
				t.Fatal(err)
			}
		}
		if n := conns.Load(); n != 1 {
			t.Errorf("20 calls opened %d connections, want 1", n)
		}
	})
	t.Run("connection close", func(t *testing.T) {
		srv, conns := countingServer(t, answer(200, reply, "Connection", "close"))
		o := newConn(t, srv.URL, nil)
		for range 3 {
			if _, err := o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"}); err != nil {
				t.Fatal(err)
			}
		}
		if n := conns.Load(); n != 3 {
			t.Errorf("3 calls answered with Connection: close opened %d connections, want 3", n)
		}
	})
	t.Run("server closes idle connections", func(t *testing.T) {
		var hits atomic.Int64
		srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			answer(200, reply)(w, r)
		})
		srv.Config.SetKeepAlivesEnabled(true)
		o := newConn(t, srv.URL, nil)
		for i := range 3 {
			if _, err := o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"}); err != nil {
				t.Fatalf("call %d: %v", i+1, err)
			}
			// Close the idle connection on the server's side, as an idle
			// timeout would, and give the FIN time to arrive.
			srv.CloseClientConnections()
			time.Sleep(2 * h1ProbeAfter)
		}
		if n, c := hits.Load(), conns.Load(); n != 3 || c != 3 {
			t.Errorf("3 calls: server saw %d calls on %d connections, want 3 on 3", n, c)
		}
	})
}

// rawServer answers every request on a connection with the next of
// answers, written as they are.
func rawServer(t *testing.T, answers ...string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for _, a := range answers {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					if _, err := io.WriteString(c, a); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// TestH1Framing: chunked bodies with trailers, interim 1xx answers,
// HTTP/1.0 and bodies that end with the connection decode as with net/http.
func TestH1Framing(t *testing.T) {
	body := `{"response":"hi"}`
	chunked := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"res\r\nc\r\nponse\":\"hi\"}\r\n0\r\nX-Trailer: 1\r\n\r\n"
	for _, tc := range []struct {
		name    string
		answers []string
	}{
		{"chunked twice on one connection", []string{chunked, chunked}},
		{"interim 100", []string{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n" + body}},
		{"HTTP/1.0 until close", []string{"HTTP/1.0 200 OK\r\n\r\n" + body}},
		{"folded header line", []string{"HTTP/1.1 200 OK\r\nX-Long: a\r\n b\r\nContent-Length: 17\r\n\r\n" + body, "HTTP/1.1 200 OK\r\ncontent-length:17\r\n\r\n" + body}},
		{"LF line ends, repeated equal length", []string{"HTTP/1.1 200 OK\nContent-Length: 17\nContent-Length: 17\n\n" + body}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newConn(t, rawServer(t, tc.answers...), nil)
			for range tc.answers {
				r, err := o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"})
				if err != nil {
					t.Fatal(err)
				}
				if r.Text != "hi" {
					t.Fatalf("reply %q, want hi", r.Text)
				}
			}
		})
	}
	for _, bad := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 17\r\nContent-Length: 18\r\n\r\n" + body,
		"HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: 17\r\n\r\n" + body,
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n" + body,
		"HTTP/1.1 2x0 OK\r\n\r\n",
	} {
		// As net/http (debug logging on) takes it.
		url := rawServer(t, bad)
		_, want := newConn(t, url, func(o *Options) { o.Debug = io.Discard }).Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"})
		_, err := newConn(t, url, nil).Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"})
		if (err == nil) != (want == nil) || err != nil && asError(t, err).Kind != asError(t, want).Kind {
			t.Errorf("answer %q: got %v, net/http %v", bad, err, want)
		}
	}
	o := newConn(t, rawServer(t, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 2\r\n\r\n{}"), nil)
	_, err := o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"})
	if e := asError(t, err); e.Kind != KindThrottled || e.RetryAfter != 7*time.Second || e.Status != 429 {
		t.Errorf("got %+v, want throttled with Retry-After 7s", e)
	}
}

// TestH1QueryKeyNeverInErrors: with the key in the query, a failed call's
// error does not show it.
func TestH1QueryKeyNeverInErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	o := newConn(t, "http://"+addr, func(op *Options) { op.Auth = "query"; op.APIKey = "s3cr3t/key" })
	_, err = o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"})
	if err == nil {
		t.Fatal("a call to a closed port succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, "s3cr3t") || strings.Contains(msg, url.QueryEscape("s3cr3t/key")) {
		t.Errorf("error shows the key: %s", msg)
	}
}
