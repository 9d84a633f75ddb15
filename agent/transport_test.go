package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestTimeoutVersusCancel checks that the per-call timeout is KindTimeout
// (not retryable once the request was written: the agent may have
// processed it; wrapping context.DeadlineExceeded) while the caller's own
// cancellation is KindCanceled (not retryable, wrapping context.Canceled),
// whether the server stalls before the headers or in the middle of the body.
func TestTimeoutVersusCancel(t *testing.T) {
	stallHeaders := func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}
	stallBody := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, `{"response":"part`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}
	for _, stall := range []struct {
		name string
		h    http.HandlerFunc
	}{{"headers", stallHeaders}, {"body", stallBody}} {
		t.Run(stall.name+"/timeout", func(t *testing.T) {
			srv := newRecorder(t, stall.h)
			o := newConn(t, srv.URL, func(op *Options) { op.Timeout = 50 * time.Millisecond })
			_, err := o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"})
			e := asError(t, err)
			if e.Kind != KindTimeout || e.Retryable() || e.Unsent {
				t.Fatalf("got %v (retryable %v, unsent %v), want a timeout after sending, not retryable", e, e.Retryable(), e.Unsent)
			}
			if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				t.Fatalf("%v: want DeadlineExceeded and not Canceled in the chain", err)
			}
			if !strings.Contains(err.Error(), "within 50ms") {
				t.Errorf("error %q does not name the timeout", err)
			}
		})
		t.Run(stall.name+"/cancel", func(t *testing.T) {
			arrived := make(chan struct{}, 1)
			srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				arrived <- struct{}{}
				stall.h(w, r)
			})
			o := newConn(t, srv.URL, func(op *Options) { op.Timeout = time.Minute })
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				<-arrived
				if stall.name == "body" {
					time.Sleep(20 * time.Millisecond) // let the headers through first
				}
				cancel()
			}()
			_, err := o.Send(ctx, Chat{ID: "c"}, Message{Content: "x"})
			e := asError(t, err)
			if e.Kind != KindCanceled || e.Retryable() {
				t.Fatalf("got %v, want a non-retryable canceled", e)
			}
			if !errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%v: want Canceled and not DeadlineExceeded in the chain", err)
			}
		})
	}
}

func TestCancelCauseIsKept(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	o := newConn(t, srv.URL, nil)
	interrupted := errors.New("interrupted by signal")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(interrupted)
	_, err := o.Send(ctx, Chat{ID: "c"}, Message{})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, interrupted) {
		t.Fatalf("%v: want both context.Canceled and the cause", err)
	}
}

// hijack answers with raw bytes on the TCP connection, then closes it.
func hijack(raw string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		buf.WriteString(raw)
		buf.Flush()
		conn.Close()
	}
}

// TestTransportFailures: a connection that breaks after the request was
// written is a transport failure that is not re-sent, whatever the server
// sent before (nothing, garbage, part of a body).
func TestTransportFailures(t *testing.T) {
	tests := []struct {
		name   string
		h      http.HandlerFunc
		kind   ErrorKind
		status int
		detail string
	}{
		{"closed without answer", hijack(""), KindTransport, 0, ""},
		{"garbage status line", hijack("HTTP/1.1 abc\r\n\r\n"), KindTransport, 0, ""},
		{"body cut short", hijack("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"response\":"), KindTransport, 200, "reading the response body"},
		{"chunked body cut short", hijack("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"response\":\"x"), KindTransport, 200, "reading the response body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRecorder(t, tt.h)
			o := newConn(t, srv.URL, nil)
			_, err := o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"})
			e := asError(t, err)
			if e.Kind != tt.kind || e.Status != tt.status || e.Retryable() || e.Unsent {
				t.Fatalf("got %v (status %d, unsent %v), want %v status %d, not retryable", e, e.Status, e.Unsent, tt.kind, tt.status)
			}
			if e.Detail != tt.detail {
				t.Errorf("Detail %q, want %q", e.Detail, tt.detail)
			}
		})
	}
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	o := newConn(t, "http://"+addr, nil)
	_, err = o.NewChat(context.Background(), NewChatRequest{ClientID: "c"})
	if e := asError(t, err); e.Kind != KindTransport || e.Op != "new-chat" || !e.Unsent || !e.Retryable() {
		t.Fatalf("got %v (unsent %v), want a retryable new-chat transport error, unsent", e, e.Unsent)
	}
}

func TestBodyCap(t *testing.T) {
	const limit = 1024
	reply := func(n int) string { // a valid reply of exactly n bytes
		pre, post := `{"response":"`, `"}`
		return pre + strings.Repeat("a", n-len(pre)-len(post)) + post
	}
	tests := []struct {
		name    string
		h       http.HandlerFunc
		wantErr string // "" = success
		status  int
	}{
		{"at cap", answer(200, reply(limit)), "", 200},
		{"over cap by content-length", answer(200, reply(limit+1)), fmt.Sprintf("response body exceeds %d bytes", limit), 200},
		{"over cap chunked", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			for range 4 { // Flush forces chunked encoding: no Content-Length
				io.WriteString(w, reply(limit)[:limit/2])
				w.(http.Flusher).Flush()
			}
		}, fmt.Sprintf("response body exceeds %d bytes", limit), 200},
		{"endless body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			chunk := []byte(strings.Repeat(" ", 4096))
			for i := 0; i < 10000 && r.Context().Err() == nil; i++ {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, fmt.Sprintf("response body exceeds %d bytes", limit), 200},
		{"large error page is still classified", answer(500, `{"detail":"boom"}`+strings.Repeat(" ", maxErrorBody*2)), "server (HTTP 500): boom", 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRecorder(t, tt.h)
			o := newConn(t, srv.URL, func(op *Options) { op.MaxBodyBytes = limit })
			r, err := o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Raw) != limit {
					t.Fatalf("Raw has %d bytes, want %d", len(r.Raw), limit)
				}
				return
			}
			e := asError(t, err)
			if !strings.Contains(e.Error(), tt.wantErr) || e.Status != tt.status {
				t.Fatalf("got %q (status %d), want %q", e, e.Status, tt.wantErr)
			}
			if tt.status == 200 && e.Kind != KindProtocol {
				t.Fatalf("kind %v, want protocol", e.Kind)
			}
		})
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var hits atomic.Int32
	other := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
	})
	o := newConn(t, srv.URL, nil)
	_, err := o.Send(context.Background(), Chat{ID: "c"}, Message{Content: "x"})
	if e := asError(t, err); e.Kind != KindProtocol || e.Status != 307 {
		t.Fatalf("got %v, want protocol 307", e)
	}
	if hits.Load() != 0 {
		t.Fatal("the redirect was followed (and the key sent along)")
	}
}

func TestReadBody(t *testing.T) {
	tests := []struct {
		body  string
		cl    int64
		limit int64
		want  string
		err   error
	}{
		{"hello", 5, 10, "hello", nil},
		{"hello", -1, 10, "hello", nil},
		{"hello", -1, 5, "hello", nil},
		{"hello!", -1, 5, "hello", errTooLarge},
		{"hello", 6, 5, "", errTooLarge},
		{"", 0, 5, "", nil},
		{strings.Repeat("x", 3000), -1, 4000, strings.Repeat("x", 3000), nil},
	}
	for _, tt := range tests {
		got, err := readBody(strings.NewReader(tt.body), tt.cl, tt.limit)
		if string(got) != tt.want || err != tt.err {
			t.Errorf("readBody(%q, cl %d, limit %d) = %q, %v; want %q, %v", tt.body, tt.cl, tt.limit, got, err, tt.want, tt.err)
		}
	}
}
