package agent

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkSend measures one Send round trip against a loopback httptest
// server answering a fixed, real-shaped v2 reply. allocs/op covers both the
// client and the server side of the exchange (they share the process).
func BenchmarkSend(b *testing.B) {
	reply, err := os.ReadFile(filepath.Join("testdata", "replies", "v2_top_level.json"))
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(reply)
	}))
	defer srv.Close()
	o := newConn(b, srv.URL, nil)
	chat := Chat{ID: "chat_01HZX"}
	msg := Message{Content: "What does the Growth plan cost?", ClientID: "qa-1", SessionID: "run-1"}
	ctx := context.Background()

	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := o.Send(ctx, chat, msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := o.Send(ctx, chat, msg); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkSendRaw is BenchmarkSend against a raw-socket HTTP/1.1 server
// that allocates nothing per request (it reads the head, skips the body by
// its Content-Length and writes a fixed answer), so allocs/op and B/op are
// the client's own: the Optimly transport, net/http's client and
// encoding/json. new-chat measures NewChat, send measures Send.
func BenchmarkSendRaw(b *testing.B) {
	reply, err := os.ReadFile(filepath.Join("testdata", "replies", "v2_top_level.json"))
	if err != nil {
		b.Fatal(err)
	}
	chatReply := []byte(`{"chat_id":"chat-1","agent_id":"bench-agent","client_id":"qa-1","created_at":"2026-12-06T13:53:42Z","status":"active"}`)
	url := rawHTTPServer(b, func(path []byte) []byte {
		if bytes.HasSuffix(path, []byte("/new-chat")) {
			return chatReply
		}
		return reply
	})
	o := newConn(b, url, nil)
	chat := Chat{ID: "chat_01HZX", TraceID: NewTraceID()}
	msg := Message{Content: "What does the Growth plan cost?", ClientID: "qa-1", SessionID: "run-1"}
	ctx := context.Background()
	b.Run("send", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := o.Send(ctx, chat, msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("new-chat", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := o.NewChat(ctx, NewChatRequest{ClientID: "qa-1"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// rawHTTPServer serves keep-alive HTTP/1.1 on a loopback socket with
// buffers reused per connection: every request (Content-Length bodies only)
// gets 200 and body(path) as application/json. It returns the base URL.
func rawHTTPServer(tb testing.TB, body func(path []byte) []byte) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveRaw(c, body)
		}
	}()
	return "http://" + ln.Addr().String()
}

func serveRaw(c net.Conn, body func(path []byte) []byte) {
	defer c.Close()
	r := bufio.NewReader(c)
	var out []byte
	var path []byte
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		// request line: METHOD SP PATH SP VERSION
		if i := bytes.IndexByte(line, ' '); i > 0 {
			rest := line[i+1:]
			if j := bytes.IndexByte(rest, ' '); j > 0 {
				path = append(path[:0], rest[:j]...)
			}
		}
		n := 0
		for {
			line, err = r.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(bytes.TrimSpace(line)) == 0 {
				break
			}
			const cl = "content-length:"
			if len(line) > len(cl) && bytes.EqualFold(line[:len(cl)], []byte(cl)) {
				v := bytes.TrimSpace(line[len(cl):])
				n = 0
				for _, d := range v {
					n = n*10 + int(d-'0')
				}
			}
		}
		if _, err := r.Discard(n); err != nil {
			return
		}
		b := body(path)
		out = append(out[:0], "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "...)
		out = strconv.AppendInt(out, int64(len(b)), 10)
		out = append(out, "\r\n\r\n"...)
		out = append(out, b...)
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// BenchmarkSendBody encodes one API v2 message body.
func BenchmarkSendBody(b *testing.B) {
	msg := Message{Content: "What does the Growth plan cost?", ClientID: "qa-1", SessionID: "run-1"}
	b.ReportAllocs()
	for b.Loop() {
		sendBody("chat_01HZX", msg, 2)
	}
}
