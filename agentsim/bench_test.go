package agentsim

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// discardWriter is a reusable http.ResponseWriter that drops the body, so
// the benchmark measures the server, not a recorder.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkTurn measures one v2 turn through ServeHTTP (no network), with
// zero latency, from parallel goroutines each with its own chat.
func BenchmarkTurn(b *testing.B) {
	a := baseline(b)
	s := New(a)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		req := httptest.NewRequest("POST", "/external/message/new-chat", strings.NewReader(`{"client_id":"bench"}`))
		req.Header.Set("Authorization", bearer)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		chat := rec.Body.String()
		chat = chat[strings.Index(chat, `"chat_id":"`)+len(`"chat_id":"`):]
		chat = chat[:strings.IndexByte(chat, '"')]
		msgs := [][]byte{
			[]byte(`{"chat_id":"` + chat + `","content":"What does the Growth plan cost?"}`),
			[]byte(`{"chat_id":"` + chat + `","content":"Do you integrate with Slack and HubSpot?"}`),
			[]byte(`{"chat_id":"` + chat + `","content":"something the knowledge base does not know"}`),
		}
		body := bytes.NewReader(nil)
		req = httptest.NewRequest("POST", "/external/agent/v2", nil)
		req.Header.Set("Authorization", bearer)
		req.Body = io.NopCloser(body)
		i := 0
		for pb.Next() {
			body.Reset(msgs[i%len(msgs)])
			i++
			clear(w.h)
			s.ServeHTTP(w, req)
			if w.status != 200 {
				b.Errorf("status %d", w.status)
				return
			}
		}
	})
}

// BenchmarkTurnHTTP measures a v2 turn over loopback HTTP with keep-alive,
// client included.
func BenchmarkTurnHTTP(b *testing.B) {
	a := baseline(b)
	f := serve(b, a)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		chat := f.newChat("bench")
		payload := []byte(`{"chat_id":"` + chat + `","content":"What does the Growth plan cost?"}`)
		for pb.Next() {
			req, _ := http.NewRequest("POST", f.srv.URL+"/external/agent/v2", bytes.NewReader(payload))
			req.Header.Set("Authorization", bearer)
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
}
