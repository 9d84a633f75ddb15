package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRegradeRechecksFieldExpectations: a run against a plain net/http
// agent keeps each reply's JSON body (bounded) in the result, so regrade
// checks field: expectations again. A field: expectation made stricter in
// the scenario flips the verdicts it decides; a result written before the
// body was kept (no "raw") keeps the recorded field: verdicts and says so;
// a body over the 4 KiB bound is whole in the transcripts stream (checked
// again) and cut in the result (recorded verdict kept).
func TestRegradeRechecksFieldExpectations(t *testing.T) {
	const body = `{"response":"The starter plan is $29.","confidence":0.4,"meta":{"plan":"starter"}}`
	pad := strings.Repeat("x", 5000) // a body over report.MaxStoredText
	bigBody := `{"response":"The starter plan is $29.","confidence":0.4,"pad":"` + pad + `"}`
	server := func(body string) *httptest.Server {
		var chats atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			switch r.URL.Path {
			case "/health":
				io.WriteString(w, `{"status":"ok"}`)
			case "/external/message/new-chat":
				fmt.Fprintf(w, `{"chat_id":"c%d"}`, chats.Add(1))
			default:
				io.WriteString(w, body)
			}
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	write := func(name, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p(name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	scenario := func(gte string) string {
		return "name: conf\nrepeat: 3\nturns:\n  - user: hi\n    expect:\n      - icontains: starter\n      - field: {path: confidence, gte: " + gte + "}\n"
	}
	write("loose/conf.yaml", scenario("0.3"))
	write("strict/conf.yaml", scenario("0.5"))
	run := func(want int, args ...string) *cli {
		t.Helper()
		var c cli
		c.env = map[string]string{"OPTIMLY_API_KEY": "sk-test-regrade-field"}
		if code := c.run(t, args...); code != want {
			t.Fatalf("evalrun %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, c.stdout.String(), c.stderr.String())
		}
		return &c
	}

	run(exitOK, "run", "--quiet", "--target", server(body).URL, "--limit", "none", "--out", p("r.json"), p("loose"))
	res := readResult(t, p("r.json"))
	if n := len(res.Scenarios[0].Conversations); n != 3 {
		t.Fatalf("%d kept conversations, want 3", n)
	}
	if got := res.Scenarios[0].Conversations[0].Turns[0].Raw; got != body {
		t.Fatalf("stored raw body %q, want the body the server sent %q", got, body)
	}

	c := run(exitOK, "regrade", p("r.json"), p("loose"))
	if out := c.stdout.String(); !strings.Contains(out, "No verdict changed") || strings.Contains(out, "kept as recorded") {
		t.Errorf("same scenario, regrade output:\n%s", out)
	}
	c = run(exitFailed, "regrade", p("r.json"), p("strict"), "--out", p("strict.json"))
	if out := c.stdout.String(); !strings.Contains(out, "field confidence >= 0.5") || !strings.Contains(out, "newly failing") ||
		!strings.Contains(out, "is 0.4, want >= 0.5") || strings.Contains(out, "kept as recorded") {
		t.Errorf("stricter field:, regrade output:\n%s", out)
	}
	if st := readResult(t, p("strict.json")); st.Totals.Failed != 3 || st.Totals.Passed != 0 {
		t.Errorf("regraded totals %+v, want 3 failed", st.Totals)
	}

	// A file written before bodies were kept: the field: verdicts stay.
	data, err := os.ReadFile(p("r.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	removed := 0
	for _, s := range doc["scenarios"].([]any) {
		for _, cv := range s.(map[string]any)["conversations"].([]any) {
			for _, tr := range cv.(map[string]any)["turns"].([]any) {
				if _, ok := tr.(map[string]any)["raw"]; ok {
					delete(tr.(map[string]any), "raw")
					removed++
				}
			}
		}
	}
	old, _ := json.Marshal(doc)
	write("old.json", string(old))
	if removed != 3 {
		t.Fatalf("removed %d raw bodies, want 3", removed)
	}
	c = run(exitOK, "regrade", p("old.json"), p("loose"))
	if out := c.stdout.String(); !strings.Contains(out, "3 verdict(s) of field:/judge: expectations kept as recorded") || !strings.Contains(out, "No verdict changed") {
		t.Errorf("old file, regrade output:\n%s", out)
	}

	// A body over the bound: cut in the result, whole in the transcripts.
	run(exitOK, "run", "--quiet", "--target", server(bigBody).URL, "--limit", "none", "--out", p("big.json"), "--transcripts", "all", p("loose"))
	big := readResult(t, p("big.json"))
	if raw := big.Scenarios[0].Conversations[0].Turns[0].Raw; len(raw) > 4<<10+64 || !strings.HasSuffix(raw, fmt.Sprintf("[cut: %d bytes in all]", len(bigBody))) {
		t.Errorf("kept raw body of %d bytes ends %q", len(raw), raw[max(0, len(raw)-40):])
	}
	c = run(exitFailed, "regrade", p("big.json"), p("strict"))
	if out := c.stdout.String(); !strings.Contains(out, "newly failing") || strings.Contains(out, "kept as recorded") {
		t.Errorf("big bodies from the transcripts, regrade output:\n%s", out)
	}
	if err := os.Remove(p("big.transcripts.jsonl")); err != nil {
		t.Fatal(err)
	}
	c = run(exitOK, "regrade", p("big.json"), p("loose"))
	if out := c.stdout.String(); !strings.Contains(out, "3 verdict(s) of field:/judge: expectations kept as recorded") || !strings.Contains(out, "No verdict changed") {
		t.Errorf("big bodies cut in the result, regrade output:\n%s", out)
	}
}
