package agent

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
)

// TestErrorsAsAClientGivesThem checks that core, which calls the
// Transport's RoundTrip directly, reports a failure with the very error an
// http.Client (with the same Transport settings and redirects answered)
// gives for the same request against the same server: a *url.Error naming
// the method and URL, http.ErrSchemeMismatch for an HTTP answer to HTTPS.
// The classification rests on these errors, so they must not change.
func TestErrorsAsAClientGivesThem(t *testing.T) {
	refused := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr
	}
	tests := []struct {
		name   string
		base   func(t *testing.T) string
		kind   ErrorKind
		unsent bool
		is     error // errors.Is must hold, nil: not checked
	}{
		{"connection refused", refused, KindTransport, true, nil},
		{"closed without answer", func(t *testing.T) string { return newRecorder(t, hijack("")).URL }, KindTransport, false, nil},
		{"garbage status line", func(t *testing.T) string { return newRecorder(t, hijack("HTTP/1.1 abc\r\n\r\n")).URL }, KindTransport, false, nil},
		{"https to an http server", func(t *testing.T) string {
			return strings.Replace(newRecorder(t, answer(200, `{}`)).URL, "http://", "https://", 1)
		}, KindTransport, true, http.ErrSchemeMismatch}, // the handshake failed: nothing of the request was sent
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := tt.base(t)
			o := newConn(t, base, nil)
			_, err := o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"})
			e := asError(t, err)
			if e.Kind != tt.kind || e.Unsent != tt.unsent {
				t.Fatalf("got %v (unsent %v), want %v, unsent %v", e, e.Unsent, tt.kind, tt.unsent)
			}
			var ue *url.Error
			if !errors.As(e.Err, &ue) || ue.Op != "Post" || ue.URL != base+"/external/agent/v2" {
				t.Fatalf("Err %#v, want a *url.Error for Post %s", e.Err, base+"/external/agent/v2")
			}
			if tt.is != nil && !errors.Is(e, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", e, tt.is)
			}

			// The same request through an http.Client on a Transport
			// configured alike.
			client := &http.Client{
				Transport:     o.transport.Clone(),
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			}
			defer client.CloseIdleConnections()
			req, err := http.NewRequest(http.MethodPost, base+"/external/agent/v2", strings.NewReader(`{"chat_id":"c","content":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp, cerr := client.Do(req)
			if cerr == nil {
				resp.Body.Close()
				t.Fatalf("the client got HTTP %d where core failed with %v", resp.StatusCode, e)
			}
			if got, want := e.Err.Error(), cerr.Error(); got != want {
				t.Errorf("core's error\n  %s\nthe client's\n  %s", got, want)
			}
			if got, want := reflect.TypeOf(errors.Unwrap(e.Err)), reflect.TypeOf(errors.Unwrap(cerr)); got != want {
				t.Errorf("core's underlying error is a %v, the client's a %v", got, want)
			}
		})
	}
}

// TestRedirectsAnswered: every 3xx, with or without a usable Location, is
// answered as a protocol error carrying the status, never followed (the
// key would go along), and never re-sent.
func TestRedirectsAnswered(t *testing.T) {
	var hits atomic.Int32
	other := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	tests := []struct {
		status   int
		location string
		detail   string
	}{
		{301, other.URL + "/x", "redirect to " + other.URL + "/x"},
		{302, other.URL + "/x", "redirect to " + other.URL + "/x"},
		{303, other.URL + "/x", "redirect to " + other.URL + "/x"},
		{307, other.URL + "/x", "redirect to " + other.URL + "/x"},
		{308, "/elsewhere", "redirect to /elsewhere"},
		{307, "", "unexpected HTTP status"},
		{302, "http://[::1", "redirect to http://[::1"}, // not a URL: a Client failed the call with a parse error
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status)+" "+tt.location, func(t *testing.T) {
			srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.location != "" {
					w.Header().Set("Location", tt.location)
				}
				w.WriteHeader(tt.status)
			})
			o := newConn(t, srv.URL, nil)
			_, err := o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"})
			e := asError(t, err)
			if e.Kind != KindProtocol || e.Status != tt.status || e.Retryable() || !strings.HasPrefix(e.Detail, tt.detail) {
				t.Fatalf("got %v (status %d, detail %q), want protocol %d %q…", e, e.Status, e.Detail, tt.status, tt.detail)
			}
			srv.mu.Lock()
			n := len(srv.reqs)
			srv.mu.Unlock()
			if n != 1 {
				t.Fatalf("server saw %d requests, want 1", n)
			}
		})
	}
	if hits.Load() != 0 {
		t.Fatal("a redirect was followed (and the key sent along)")
	}
}

// TestHeaderTemplate checks the cloned header template against the headers
// built for a call with (empty) extra headers, and both against what a
// call must carry: Accept, Content-Type only with a body, the ids, and the
// key in a header exactly when it is not sent in the query.
func TestHeaderTemplate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"bearer", Options{APIKey: testKey}},
		{"x-api-key", Options{APIKey: testKey, Header: "X-API-Key"}},
		{"own header", Options{APIKey: testKey, Auth: "header", Header: "X-Agent-Token"}},
		{"key in a header the template sets", Options{APIKey: testKey, Auth: "header", Header: "Accept"}},
		{"query", Options{APIKey: testKey, Auth: "query"}},
		{"no key", Options{}},
		{"user agent", Options{APIKey: testKey, UserAgent: "qa-bot/1.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.BaseURL = "http://127.0.0.1:1"
			c, _, err := newCore(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for _, body := range [][]byte{nil, []byte(`{}`)} {
				fast := c.header(&request{body: body}, "p-1", "00-tp-01")
				slow := c.header(&request{body: body, header: http.Header{}}, "p-1", "00-tp-01")
				if !reflect.DeepEqual(fast, slow) {
					t.Errorf("body %q: template gives\n  %v\nkey by key\n  %v", body, fast, slow)
				}
				if got := fast.Get("X-Request-Id"); got != "p-1" {
					t.Errorf("X-Request-Id %q", got)
				}
				if got := fast.Get("Traceparent"); got != "00-tp-01" {
					t.Errorf("Traceparent %q", got)
				}
				if got := fast.Get("Accept"); got != "application/json" && opts.Header != "Accept" {
					t.Errorf("Accept %q", got)
				}
				if got := fast.Get("Content-Type"); (got == "application/json") != (body != nil) {
					t.Errorf("body %q: Content-Type %q", body, got)
				}
				hasKey := false
				for _, vs := range fast {
					for _, v := range vs {
						hasKey = hasKey || strings.Contains(v, testKey)
					}
				}
				if want := opts.APIKey != "" && opts.Auth != "query"; hasKey != want {
					t.Errorf("key in a header: %v, want %v (%v)", hasKey, want, fast)
				}
				// The clone's keys are the call's own: adding one leaves
				// the template alone. (The value slices are shared by
				// design and never written.)
				fast.Set("X-Extra", "1")
				if c.hdrBody.Get("X-Extra") != "" || c.hdrNoBody.Get("X-Extra") != "" {
					t.Fatal("a call's header changed the template")
				}
			}
		})
	}
}

// TestIDs checks the per-attempt ids: a request id of the core's prefix and
// a counter, and a traceparent with the chat's trace id (a new one when it
// is missing or malformed) and a fresh, non-zero span id.
func TestIDs(t *testing.T) {
	c, _, err := newCore(Options{BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	trace := NewTraceID()
	spans := map[string]bool{}
	for i, tr := range []string{trace, "", "not-a-trace", strings.Repeat("0", 32), trace} {
		m, tp := c.ids(&request{traceID: tr})
		if want := c.idPrefix + "-" + string(rune('1'+i)); m.requestID != want {
			t.Errorf("request id %q, want %q", m.requestID, want)
		}
		parts := traceparentRE.FindStringSubmatch(tp)
		if parts == nil {
			t.Fatalf("traceparent %q is not 00-<32 hex>-<16 hex>-01", tp)
		}
		if parts[1] != m.traceID || (validTraceID(tr) && m.traceID != tr) || !validTraceID(m.traceID) {
			t.Errorf("trace id %q in %q for %q", m.traceID, tp, tr)
		}
		if parts[2] == strings.Repeat("0", 16) || spans[parts[2]] {
			t.Errorf("span id %q is zero or repeated", parts[2])
		}
		spans[parts[2]] = true
	}
}

// TestSendBodyPooled: bodies encoded concurrently with the pooled encoders,
// of sizes from empty to beyond the pooled buffer's cap, are each exactly
// what marshalJSON gives for the message's wire form, and a body stays
// intact after later ones are encoded.
func TestSendBodyPooled(t *testing.T) {
	type meta struct {
		ClientID  string `json:"client_id,omitempty"`
		SessionID string `json:"session_id,omitempty"`
		Source    string `json:"source"`
	}
	type wire struct { // the wire form as it was defined before pooling
		ChatID   string `json:"chat_id"`
		Content  string `json:"content"`
		Metadata *meta  `json:"metadata,omitempty"`
	}
	want := func(chat string, m Message, version int) string {
		w := wire{ChatID: chat, Content: m.Content}
		if version != 1 {
			w.Metadata = &meta{m.ClientID, m.SessionID, cmpOr(m.Source, "evalrun")}
		}
		return string(marshalJSON(w))
	}
	sizes := []int{0, 1, 100, 4 << 10, maxPooledBody + 1, 10}
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			var kept [][]byte
			var wants []string
			for i := range 200 {
				n := sizes[(i+g)%len(sizes)]
				m := Message{Content: strings.Repeat(string(rune('a'+g)), n) + "<&>", ClientID: "c", Source: []string{"", "qa"}[i%2]}
				v := 1 + i%2
				body, w := sendBody("chat-"+string(rune('0'+g)), m, v), want("chat-"+string(rune('0'+g)), m, v)
				if string(body) != w {
					errs <- errors.New("body " + string(body[:min(len(body), 60)]) + "… differs from marshalJSON's")
					return
				}
				kept, wants = append(kept, body), append(wants, w)
			}
			for i := range kept {
				if string(kept[i]) != wants[i] {
					errs <- errors.New("an earlier body changed after later ones were encoded")
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestCallersClientTrace: a caller's own httptrace.ClientTrace in the
// context sees its call's events, and only its call's: the pooled trace
// that tells whether a request was written must not carry the caller's
// hooks into later calls.
func TestCallersClientTrace(t *testing.T) {
	srv := newRecorder(t, answer(200, `{"response":"ok"}`))
	o := newConn(t, srv.URL, nil)
	var wrote, gotConn atomic.Int32
	mine := &httptrace.ClientTrace{
		WroteHeaders: func() { wrote.Add(1) },
		GotConn:      func(httptrace.GotConnInfo) { gotConn.Add(1) },
	}
	traced := httptrace.WithClientTrace(context.Background(), mine)
	for i := range 6 {
		ctx := context.Background()
		if i%2 == 0 {
			ctx = traced
		}
		if _, err := o.Send(ctx, Chat{ID: "c"}, Message{Content: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if wrote.Load() != 3 || gotConn.Load() != 3 {
		t.Fatalf("the caller's hooks fired %d (WroteHeaders) and %d (GotConn) times for its 3 calls of 6", wrote.Load(), gotConn.Load())
	}
}

// TestParsedTarget: a URL parsed once for all calls gives the request
// http.NewRequest gives (URL, Host), with the key in the query under query
// auth, and calls with it reach the server as before.
func TestParsedTarget(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts Options
		path string
	}{
		{"bearer", Options{APIKey: testKey}, "/external/agent/v2"},
		{"query", Options{APIKey: testKey, Auth: "query"}, "/external/agent/v2"},
		{"query, own name, prefix", Options{APIKey: "k+y&z/=", Auth: "query", QueryParam: "token"}, "/prefix/external/agent/v2"},
		{"no key", Options{}, "/external/message/new-chat"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.BaseURL = "http://127.0.0.1:8080"
			c, base, err := newCore(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			raw := base + tt.path
			got := c.target(raw)
			want, err := http.NewRequest(http.MethodPost, c.withQueryKey(raw), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || !reflect.DeepEqual(got, want.URL) || got.Host != want.Host {
				t.Fatalf("parsed %#v, http.NewRequest %#v (Host %q)", got, want.URL, want.Host)
			}
			if opts.Auth == "query" && got.Query().Get(cmpOr(opts.QueryParam, DefaultQueryParam)) != opts.APIKey {
				t.Errorf("query %q does not carry the key", got.RawQuery)
			}
		})
	}
	if u := (&core{}).target("://nope"); u != nil {
		t.Errorf("target of a malformed URL = %v, want nil (the call reports the error)", u)
	}
}
