package agent

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
