package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestGETIsNotReplayedOnDroppedConnection: net/http resends a bodiless GET
// by itself when a reused keep-alive connection is closed before the
// answer. Every such resend is an agent call the budget did not charge (the
// soak found the history call counted twice by the server), so each attempt
// must reach the server at most once.
func TestGETIsNotReplayedOnDroppedConnection(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		if r.URL.Path == "/external/chat/c1/messages" && n >= 2 {
			// Drop the (reused) connection without an answer.
			hj, ok := w.(http.Hijacker)
			if !ok {
				t.Error("cannot hijack")
				return
			}
			conn, _, err := hj.Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`[]`))
	}))
	defer srv.Close()
	o, err := NewOptimly(Options{BaseURL: srv.URL, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := o.History(ctx, Chat{ID: "c1"}); err != nil { // opens the connection
		t.Fatal(err)
	}
	before := hits.Load()
	if _, err := o.History(ctx, Chat{ID: "c1"}); err == nil {
		t.Fatal("a dropped connection reported as success")
	}
	if got := hits.Load() - before; got != 1 {
		t.Fatalf("one History attempt reached the server %d times; net/http replayed it", got)
	}
}
