package main

import (
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/report"
)

// sseTimedServer is a plain SSE server, independent of agentsim, with
// known timings: the first content chunk 40ms after the request, then
// chunks-1 more 20ms apart, each carrying perChunk tokens ("t0 t1 "), and
// usage.completion_tokens = chunks×perChunk when usage is true.
func sseTimedServer(t *testing.T, chunks, perChunk int, usage bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		time.Sleep(40 * time.Millisecond)
		for i := range chunks {
			if i > 0 {
				time.Sleep(20 * time.Millisecond)
			}
			var text strings.Builder
			for k := range perChunk {
				text.WriteString("t" + strconv.Itoa(i*perChunk+k) + " ")
			}
			_, _ = w.Write([]byte(`data: {"choices":[{"index":0,"delta":{"content":"` + text.String() + `"}}]}` + "\n\n"))
			_ = rc.Flush()
		}
		_, _ = w.Write([]byte(`data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n"))
		if usage {
			n := strconv.Itoa(chunks * perChunk)
			_, _ = w.Write([]byte(`data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":` + n + `,"total_tokens":` + n + `}}` + "\n\n"))
		}
		_, _ = w.Write([]byte("data: [DONE]\n\n"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestOutputTokensPerSecondEndToEnd runs the CLI against plain SSE servers
// with known timings and token counts and checks output tokens/s per reply
// and for the run in the result file, the thresholds on them, and the
// streaming rows of the console, Markdown, HTML and JUnit reports.
func TestOutputTokensPerSecondEndToEnd(t *testing.T) {
	dir := t.TempDir()
	suite := filepath.Join(dir, "tokens.yaml")
	if err := os.WriteFile(suite, []byte("name: tokens\nrepeat: 2\nturns:\n  - user: one\n  - user: two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const turns = 4 // 2 conversations × 2 turns
	for _, tt := range []struct {
		name     string
		perChunk int
		usage    bool
		tokens   int // per reply, as evalrun counts them
	}{
		// 5 chunks of 2 tokens, usage 10: the last chunk at 40+4×20 = 120ms
		// after sending, at most 10/0.120 = 83.3 tok/s.
		{"usage", 2, true, 10},
		// No usage: each of the 5 chunks counts as a token, at most 41.7 tok/s.
		{"chunks", 2, false, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := sseTimedServer(t, 5, tt.perChunk, tt.usage)
			out, md, junit, page := filepath.Join(dir, tt.name+".json"), filepath.Join(dir, tt.name+".md"),
				filepath.Join(dir, tt.name+".xml"), filepath.Join(dir, tt.name+".html")
			c := &cli{}
			code := c.run(t, "run", "--out", out, "--md", md, "--junit", junit, "--html", page,
				"--target", srv.URL, "--kind", "openai", "--model", "m", "--stream", "--api-key-env", "", "--no-health-check",
				"--threshold", "output_tps p50>1", "--threshold", "output_tps run>0.1", "--threshold", "output_tps max<=84", suite)
			if code != exitOK {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, c.stdout.String(), c.stderr.String())
			}
			res := readResult(t, out)
			written := float64(tt.tokens) / 0.120 // tok/s if nothing but the server's sleeps took time
			h := res.Histogram(report.HistOutputTPS, report.StreamName)
			if h == nil || h.Count != turns || h.Unit != report.UnitMilliTokensPerSecond {
				t.Fatalf("output_tps histogram %+v, want %d values in %s", h, turns, report.UnitMilliTokensPerSecond)
			}
			// Scheduling only adds time: the rate is at most the written one
			// (plus the histogram's 0.1%), and a 10× bound catches a wrong
			// formula without asserting tight timing.
			if p50 := float64(h.P50US) / 1000; p50 > written*1.002 || p50 < written/10 {
				t.Errorf("output_tps p50 %.3f tok/s, want at most %.3f (and more than a tenth of it)", p50, written)
			}
			st := res.Stream
			wantUsage := int64(0)
			if tt.usage {
				wantUsage = turns
			}
			if st == nil || st.Replies != turns || st.UsageReplies != wantUsage || st.OutputTokens != int64(turns*tt.tokens) {
				t.Fatalf("stream totals %+v, want %d replies, %d with usage, %d tokens", st, turns, wantUsage, turns*tt.tokens)
			}
			// The run's rate is Σ tokens ÷ wall time; a conversation's two
			// turns take at least 2×120ms, so at most Σ tokens ÷ 0.240s.
			if want := float64(st.OutputTokens) / (res.DurationMS / 1000); math.Abs(st.OutputTokensPerS-want) > 0.001 ||
				st.OutputTokensPerS > float64(st.OutputTokens)/0.240 {
				t.Errorf("run output tokens/s %.3f, want %d tokens ÷ %.1fms = %.3f", st.OutputTokensPerS, st.OutputTokens, res.DurationMS, want)
			}
			for _, th := range res.Thresholds {
				if !th.Passed || !strings.Contains(th.Value, "tok/s") {
					t.Errorf("threshold %+v", th)
				}
			}
			t.Logf("measured: output_tps p50 %.3f tok/s (written %.3f), run %.3f tok/s (%d tokens in %.1fms)",
				float64(h.P50US)/1000, written, st.OutputTokensPerS, st.OutputTokens, res.DurationMS)
			for _, f := range []struct{ name, text string }{
				{"console", c.stdout.String()}, {"markdown", readText(t, md)}, {"html", readText(t, page)}, {"junit", readText(t, junit)},
			} {
				for _, want := range []string{"output_tps", "tok/s", strconv.Itoa(turns*tt.tokens) + " output tokens"} {
					if f.name == "console" && want == "output_tps" {
						want = "output tokens/s per reply"
					}
					if f.name == "junit" && strings.HasSuffix(want, "output tokens") {
						want = `name="evalrun.stream.output_tokens" value="` + strconv.Itoa(turns*tt.tokens) + `"`
					}
					if !strings.Contains(f.text, want) {
						t.Errorf("%s report lacks %q:\n%s", f.name, want, f.text)
					}
				}
			}
		})
	}
	// A gate the run misses fails it, with the value measured in tok/s.
	srv := sseTimedServer(t, 5, 2, true)
	out := filepath.Join(dir, "gated.json")
	c := &cli{}
	code := c.run(t, "run", "--quiet", "--out", out, "--target", srv.URL, "--kind", "openai", "--model", "m", "--stream",
		"--api-key-env", "", "--no-health-check", "--threshold", "output_tps p50>1000", suite)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d\n%s", code, exitFailed, c.stderr.String())
	}
	if th := readResult(t, out).Thresholds; len(th) != 1 || th[0].Passed || !strings.HasSuffix(th[0].Value, " tok/s") {
		t.Errorf("thresholds %+v", th)
	}
	// A duration is not a rate: the flag says so before anything runs.
	c = &cli{}
	if code := c.run(t, "run", "--dry-run", "--target", srv.URL, "--kind", "openai", "--model", "m", "--api-key-env", "",
		"--threshold", "output_tps p50>20ms", suite); code == exitOK || !strings.Contains(c.stderr.String(), "not a duration") {
		t.Errorf("exit %d, stderr:\n%s", code, c.stderr.String())
	}
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOutputTokensPerSecondAgentsim: against the simulated agent's OpenAI
// endpoint (--kind openai --stream without --target) the run gets output
// tokens/s per reply and for the run, and gates on them hold.
func TestOutputTokensPerSecondAgentsim(t *testing.T) {
	out := filepath.Join(t.TempDir(), "s.json")
	c := &cli{}
	if code := c.run(t, "run", "--quiet", "--out", out, "--kind", "openai", "--stream",
		"--threshold", "output_tps p50>0", "--threshold", "output_tps run>0", repoPath("examples/pricing.yaml")); code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, c.stdout.String(), c.stderr.String())
	}
	res := readResult(t, out)
	h := res.Histogram(report.HistOutputTPS, report.StreamName)
	st := res.Stream
	if h == nil || st == nil || h.Count != st.Replies || st.Replies == 0 || st.OutputTokens < st.Replies {
		t.Fatalf("output_tps %+v, stream %+v: want one value per streamed reply, a token or more each", h, st)
	}
	t.Logf("agentsim: %d replies, %d tokens (%d from usage), output_tps p50 %.3f tok/s, run %.3f tok/s",
		st.Replies, st.OutputTokens, st.UsageReplies, float64(h.P50US)/1000, st.OutputTokensPerS)
}
