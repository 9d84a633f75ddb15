package agent

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSendsWhatTheAPIDocuments: every key placement reaches the server with
// the documented headers, and net/http asks for gzip (RFC 9110 §12.5.3: a
// request without Accept-Encoding accepts any coding).
func TestSendsWhatTheAPIDocuments(t *testing.T) {
	for _, tc := range []struct {
		name   string
		auth   func(*Options)
		header string // where the key is expected, "" for the query
		value  string
	}{
		{"bearer", func(*Options) {}, "Authorization", "Bearer " + testKey},
		{"x-api-key", func(o *Options) { o.Header = "X-API-Key" }, "X-Api-Key", testKey},
		{"query", func(o *Options) { o.Auth = "query" }, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRecorder(t, answer(200, fixture(t, "v2_top_level.json")))
			o := newConn(t, srv.URL, tc.auth)
			if _, err := o.Send(context.Background(), Chat{ID: "c 1", TraceID: NewTraceID()}, Message{Content: "héllo \"x\"", ClientID: "q", SessionID: "s"}); err != nil {
				t.Fatal(err)
			}
			got := srv.last(t)
			if got.method != http.MethodPost || got.path != "/external/agent/v2" {
				t.Errorf("request %s %s", got.method, got.path)
			}
			for k, want := range map[string]string{
				"Accept":          "application/json",
				"Accept-Encoding": "gzip",
				"Content-Type":    "application/json",
				"User-Agent":      DefaultUserAgent,
			} {
				if v := got.header.Get(k); v != want {
					t.Errorf("header %s: %q, want %q", k, v, want)
				}
			}
			for _, k := range []string{"X-Request-Id", "Traceparent"} {
				if len(got.header[k]) != 1 {
					t.Errorf("header %s: %q, want one value", k, got.header[k])
				}
			}
			if tc.header != "" && got.header.Get(tc.header) != tc.value {
				t.Errorf("header %s: %q, want the key", tc.header, got.header.Get(tc.header))
			}
			if !strings.Contains(string(got.body), `"content":"héllo \"x\""`) {
				t.Errorf("body %s", got.body)
			}
		})
	}
}

// TestGzipAnswers: an answer gzipped by the server, asked for or not, is
// decoded.
func TestGzipAnswers(t *testing.T) {
	reply := fixture(t, "v2_top_level.json")
	srv := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		io.WriteString(zw, reply)
		zw.Close()
	})
	o := newConn(t, srv.URL, nil)
	r, err := o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Text == "" {
		t.Errorf("gzipped reply decoded to %+v", r)
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

// TestKeepAlive: calls reuse one connection; a connection the server
// closes after its answer (Connection: close) or while it idles is not
// used again, and no call is sent twice.
func TestKeepAlive(t *testing.T) {
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
	t.Run("reuse with a per-call context", func(t *testing.T) {
		srv, conns := countingServer(t, answer(200, reply))
		o := newConn(t, srv.URL, nil)
		for range 20 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := o.Send(ctx, Chat{ID: "c"}, Message{Content: "x"})
			cancel()
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := conns.Load(); n != 1 {
			t.Errorf("20 calls, each with its own context, opened %d connections, want 1", n)
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
		o := newConn(t, srv.URL, nil)
		for i := range 3 {
			if _, err := o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"}); err != nil {
				t.Fatalf("call %d: %v", i+1, err)
			}
			// Close the idle connection on the server's side, as an idle
			// timeout would, and give the FIN time to arrive.
			srv.CloseClientConnections()
			time.Sleep(50 * time.Millisecond)
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

// TestFraming: chunked bodies with trailers, interim 1xx answers, HTTP/1.0
// and bodies that end with the connection are decoded; malformed framing
// is a transport failure, never a reply.
func TestFraming(t *testing.T) {
	body := `{"response":"hi"}`
	chunked := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"res\r\nc\r\nponse\":\"hi\"}\r\n0\r\nX-Trailer: 1\r\n\r\n"
	for _, tc := range []struct {
		name    string
		answers []string
	}{
		{"chunked twice on one connection", []string{chunked, chunked}},
		{"interim 100", []string{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n" + body}},
		{"interim 103", []string{"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n" + body}},
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
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n" + body,
		"HTTP/1.1 2x0 OK\r\n\r\n",
	} {
		_, err := newConn(t, rawServer(t, bad), nil).Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"})
		if err == nil {
			t.Errorf("answer %q: no error", bad)
			continue
		}
		if e := asError(t, err); e.Kind != KindTransport {
			t.Errorf("answer %q: %v, want a transport failure", bad, e)
		}
	}
	o := newConn(t, rawServer(t, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 2\r\n\r\n{}"), nil)
	_, err := o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"})
	if e := asError(t, err); e.Kind != KindThrottled || e.RetryAfter != 7*time.Second || e.Status != 429 {
		t.Errorf("got %+v, want throttled with Retry-After 7s", e)
	}
}

// TestQueryKeyNeverInErrors: with the key in the query, a failed call's
// error does not show it.
func TestQueryKeyNeverInErrors(t *testing.T) {
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

// TestSendBody: the message body as encoding/json writes it, without HTML
// escaping, with metadata for API v2 only.
func TestSendBody(t *testing.T) {
	m := Message{Content: "<b>Tom & \"Jerry\"</b>\n\u2028\xff", ClientID: "qa-1", SessionID: "s-2"}
	for _, tc := range []struct {
		version int
		want    string
	}{
		{1, `{"chat_id":"c-1","content":"<b>Tom & \"Jerry\"</b>\n\u2028\ufffd"}`},
		{2, `{"chat_id":"c-1","content":"<b>Tom & \"Jerry\"</b>\n\u2028\ufffd","metadata":{"client_id":"qa-1","session_id":"s-2","source":"evalrun"}}`},
	} {
		if got := string(sendBody("c-1", m, tc.version)); got != tc.want {
			t.Errorf("v%d:\n got %s\nwant %s", tc.version, got, tc.want)
		}
	}
}

// TestHTTP2WhenTLSOffersIt: an https target that offers h2 in ALPN is
// called over HTTP/2, one connection for all calls.
func TestHTTP2WhenTLSOffersIt(t *testing.T) {
	var protos sync.Map
	reply := fixture(t, "v2_top_level.json")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos.Store(r.Proto, true)
		answer(200, reply)(w, r)
	}))
	srv.EnableHTTP2 = true
	var conns atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	o := newConn(t, srv.URL, func(op *Options) { op.TLSConfig = &tls.Config{RootCAs: pool} })
	// The first call alone: calls that start together on a new host each
	// dial until ALPN has said h2 (net/http then keeps one connection).
	if _, err := o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if _, ok := protos.Load("HTTP/2.0"); !ok {
		var got []any
		protos.Range(func(k, _ any) bool { got = append(got, k); return true })
		t.Errorf("server saw %v, want HTTP/2.0", got)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("11 calls over HTTP/2 opened %d connections, want 1", n)
	}
}
