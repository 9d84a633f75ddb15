package report

import (
	"bytes"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/runner"
)

// TestTokenLatencies: the inter-token latency and time per output token
// of streamed replies, from the server's completion tokens or, without
// them, the content chunks; known inputs give known values.
func TestTokenLatencies(t *testing.T) {
	a := NewAggregator(Meta{RunID: "tokens", Started: t0})
	// 100ms to the first chunk, then gaps of 10ms and 30ms: 40ms from the
	// first to the last chunk, 140ms to the last.
	withUsage := streamedTurn(0, 3, 100*time.Millisecond, 10*time.Millisecond, 30*time.Millisecond)
	withUsage.OutputTokens = 5 // ITL 40/4 = 10ms, TPOT 140/5 = 28ms
	noUsage := streamedTurn(1, 3, 100*time.Millisecond, 10*time.Millisecond, 30*time.Millisecond)
	// 3 chunks: ITL 40/2 = 20ms, TPOT 140/3 = 46.667ms
	one := streamedTurn(2, 1, 50*time.Millisecond, 0, 0) // one token: a TPOT of 50ms, no ITL
	plain := turn(3, 300, runner.Passed, "q", "a")       // not streamed: nothing
	feed(a, conv{id: 1, scen: scen("s", 1, 1), outcome: runner.Passed, turns: []runner.TurnResult{withUsage, noUsage, one, plain}})
	res := a.Result(Finish{Ended: t0.Add(time.Minute)})
	var buf bytes.Buffer
	if err := (JSONWriter{}).Write(&buf, res); err != nil {
		t.Fatal(err)
	}
	back, err := ReadResult(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		kind     string
		count    int64
		min, max time.Duration
	}{
		{HistITL, 2, 10 * time.Millisecond, 20 * time.Millisecond},
		{HistTPOT, 3, 28 * time.Millisecond, 50 * time.Millisecond},
	} {
		h := back.Histogram(tt.kind, StreamName)
		if h == nil || h.Count != tt.count || !near(h.MinUS, tt.min) || !near(h.MaxUS, tt.max) {
			t.Errorf("%s = %+v, want %d values from %v to %v", tt.kind, h, tt.count, tt.min, tt.max)
		}
	}
	if h := back.Histogram(HistTPOT, StreamName); h != nil && !near(h.P50US, 46667*time.Microsecond) {
		t.Errorf("tpot p50 %dµs, want 46.667ms", h.P50US)
	}
	// Output tokens/s per reply, in milli-tokens/s: 5/0.14s = 35.714,
	// 3/0.14s = 21.429, 1/0.05s = 20; the inverse of each TPOT.
	if h := back.Histogram(HistOutputTPS, StreamName); h == nil || h.Count != 3 || h.Unit != UnitMilliTokensPerSecond ||
		!nearMilli(h.MinUS, 20000) || !nearMilli(h.P50US, 21429) || !nearMilli(h.MaxUS, 35714) {
		t.Errorf("output_tps = %+v, want 3 values 20, 21.429, 35.714 tok/s in %s", h, UnitMilliTokensPerSecond)
	}
	// The run: 5 (usage) + 3 + 1 (chunks) tokens over its minute.
	if st := back.Stream; st == nil || *st != (StreamTotals{Replies: 3, UsageReplies: 1, OutputTokens: 9, OutputTokensPerS: 0.15}) {
		t.Errorf("stream totals %+v, want 3 replies, 1 with usage, 9 tokens, 0.15 tok/s", st)
	}
	// Thresholds read them.
	for _, tt := range []struct {
		expr string
		pass bool
	}{
		{"tpot p50<47ms", true}, {"tpot.p50<46ms", false}, {"itl max<=21ms", true}, {"itl min>15ms", false},
		{"ttft p95<101ms", true}, {"stall max<30ms", false},
		// Output tokens/s: higher is better, a plain number of tokens/s.
		{"output_tps p50>21", true}, {"output_tps p50>=21.44", true}, {"output_tps p50>21.44", false}, // 21.429 is in the bucket up to 21.44
		{"output_tps min>=20", true}, {"output_tps.min>20", false}, {"output_tps max<35", false}, {"output_tps mean>25", true},
		{"output_tps run>0.1", true}, {"output_tps.run>=0.15", true}, {"output_tps run>0.15", false},
		{"target:tokens output_tps run>0.1", false}, // the target is named ""
	} {
		th, err := ParseThreshold(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := th.Evaluate(back); got.Passed != tt.pass {
			t.Errorf("%s: %+v, want passed %v", tt.expr, got, tt.pass)
		}
	}
	var out bytes.Buffer
	if err := (ConsoleWriter{Width: 100}).Write(&out, back); err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{"inter-token", "per output token"} {
		if !strings.Contains(out.String(), row) {
			t.Errorf("console lacks %q:\n%s", row, out.String())
		}
	}
	paths, err := WriteHgrmDir(t.TempDir(), back)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(paths, " "); !strings.Contains(got, "itl-turn.hgrm") || !strings.Contains(got, "tpot-turn.hgrm") {
		t.Errorf("hgrm files %v lack itl and tpot", paths)
	}
	// A run that did not stream has none of them: the threshold says so.
	a = NewAggregator(Meta{RunID: "plain", Started: t0})
	feed(a, conv{id: 1, scen: scen("s", 1, 1), outcome: runner.Passed, turns: []runner.TurnResult{plain}})
	r := a.Result(Finish{Ended: t0.Add(time.Minute)})
	th, _ := ParseThreshold("tpot p50<40ms")
	if got := th.Evaluate(r); got.Passed || !strings.Contains(got.Value, "no streamed turn") {
		t.Errorf("non-streamed run: %+v", got)
	}
	for _, expr := range []string{"output_tps p50>1", "output_tps run>1"} {
		th, _ := ParseThreshold(expr)
		if got := th.Evaluate(r); got.Passed || !strings.Contains(got.Value, "no streamed turn") {
			t.Errorf("non-streamed run, %s: %+v", expr, got)
		}
	}
	if r.Stream != nil || r.Histogram(HistOutputTPS, StreamName) != nil {
		t.Errorf("non-streamed run has stream totals %+v or an output_tps histogram", r.Stream)
	}
}

// nearMilli reports whether v is want within the histogram's 3
// significant digits.
func nearMilli(v, want int64) bool { return v >= want-want/500-1 && v <= want+want/500+1 }

// TestThresholdValueShown: the measured value of an output_tps threshold
// is in tokens/s, never a duration, and a run's rate names its tokens and
// wall time.
func TestThresholdValueShown(t *testing.T) {
	a := NewAggregator(Meta{RunID: "v", Started: t0})
	tr := streamedTurn(0, 4, 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond) // 200ms to the last chunk
	tr.OutputTokens = 10                                                                    // 50 tok/s
	feed(a, conv{id: 1, scen: scen("s", 1, 1), outcome: runner.Passed, turns: []runner.TurnResult{tr}})
	r := a.Result(Finish{Ended: t0.Add(2 * time.Second)}) // 10 tokens in 2s: 5 tok/s
	for _, tt := range []struct{ expr, value string }{
		{"output_tps p50>20", "50.02 tok/s"}, // 3 significant digits: the bucket of 50 ends at 50.02
		{"output_tps run>1", "5.000 tok/s (10 tokens in 2.00s)"},
		{"tpot p50<40ms", "20.02ms"},
	} {
		th, err := ParseThreshold(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := th.Evaluate(r); got.Value != tt.value || !got.Passed {
			t.Errorf("%s: %+v, want %q, passed", tt.expr, got, tt.value)
		}
	}
}

func TestFormatTPS(t *testing.T) {
	for _, tt := range []struct {
		in   float64
		want string
	}{
		{0, "0.000 tok/s"}, {0.25, "0.250 tok/s"}, {9.9994, "9.999 tok/s"}, {9.9996, "10.00 tok/s"},
		{23.456, "23.46 tok/s"}, {191.24, "191.2 tok/s"}, {999.96, "1000 tok/s"}, {12345.6, "12346 tok/s"}, {-1, "0.000 tok/s"},
	} {
		if got := FormatTPS(tt.in); got != tt.want {
			t.Errorf("FormatTPS(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTPSMilli(t *testing.T) {
	for _, tt := range []struct {
		n    int
		d    time.Duration
		want int64
	}{
		{10, time.Second, 10000}, {1, 3 * time.Second, 333}, {3, 140 * time.Millisecond, 21429},
		{0, time.Second, 0}, {5, 0, HighestLatencyMicros}, {1 << 30, time.Microsecond, HighestLatencyMicros},
	} {
		if got := tpsMilli(tt.n, tt.d); got != tt.want {
			t.Errorf("tpsMilli(%d, %v) = %d, want %d", tt.n, tt.d, got, tt.want)
		}
	}
}

func TestStreamThresholdParse(t *testing.T) {
	for _, tt := range []struct{ expr, canon string }{
		{"ttft p95<800ms", "ttft.p95"}, {"TPOT  p50 < 40ms", "tpot.p50"}, {"itl.p99<100ms", "itl.p99"},
		{"target:a tpot max<1s", "tpot.max"}, {"chunk_gap p99.9<2s", "chunk_gap.p99.9"},
	} {
		th, err := ParseThreshold(tt.expr)
		if err != nil || th.Metric != tt.canon {
			t.Errorf("%q: %q, %v; want %q", tt.expr, th.Metric, err, tt.canon)
		}
	}
	for _, bad := range []string{"scenario:x ttft p95<1s", "tpot calls>1", "ttft pass_rate>0.5", "ttft <1s", "tpot.<1s",
		"itl run<1s", "output_tps calls>1", "tag:x output_tps run>1"} {
		if _, err := ParseThreshold(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	// Output tokens/s takes tokens per second, not a duration, and says so.
	for _, tt := range []struct{ expr, canon, err string }{
		{"output_tps p50>20", "output_tps.p50", ""}, {"OUTPUT_TPS  p5 >= 12.5", "output_tps.p5", ""},
		{"output_tps.run>100", "output_tps.run", ""}, {"target:a output_tps min>1", "output_tps.min", ""},
		{"output_tps p50>20ms", "", `col 16: "20ms": want output tokens per second, a plain number of 0 or more, e.g. 20 (not a duration)`},
		{"output_tps p50>-1", "", "plain number of 0 or more"},
		{"output_tps run>", "", "want a value such as 20 (tokens/s)"},
		{"scenario:x output_tps p50>1", "", "output_tps.p50 is measured on the whole run (or a target:) only"},
	} {
		th, err := ParseThreshold(tt.expr)
		switch {
		case tt.err == "" && (err != nil || th.Metric != tt.canon):
			t.Errorf("%q: %q, %v; want %q", tt.expr, th.Metric, err, tt.canon)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%q: error %v, want one containing %q", tt.expr, err, tt.err)
		}
	}
}

// streamedResult is a passed run of two conversations whose replies
// streamed with known timings: three replies, 12 tokens from usage and 3
// from chunks, over a run of 3 seconds.
func streamedResult() *Result {
	a := NewAggregator(Meta{RunID: "streamed", Version: "test", Started: t0,
		Target: Target{Name: "llm", Kind: "openai", URL: "http://127.0.0.1:8080/v1"}})
	r1 := streamedTurn(0, 5, 100*time.Millisecond, 20*time.Millisecond, 20*time.Millisecond) // 180ms to the last chunk
	r1.OutputTokens = 9                                                                      // 50 tok/s, ITL 10ms, TPOT 20ms
	r2 := streamedTurn(1, 3, 200*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond) // 300ms, no usage: 3 tokens, 10 tok/s
	r3 := streamedTurn(0, 3, 60*time.Millisecond, 30*time.Millisecond, 30*time.Millisecond)  // 120ms
	r3.OutputTokens = 3                                                                      // 25 tok/s
	feed(a, conv{id: 1, scen: scen("chat", 2, 1), outcome: runner.Passed, turns: []runner.TurnResult{r1, r2}})
	feed(a, conv{id: 2, scen: scen("chat", 2, 1), iter: 1, outcome: runner.Passed, turns: []runner.TurnResult{r3}})
	return a.Result(Finish{Ended: t0.Add(3 * time.Second)})
}

// TestStreamedWriters: every writer shows the token-level metrics of a
// streamed run (output tokens/s in tok/s, never as a latency) and the
// run's output tokens/s, and none of them for a run that did not stream.
func TestStreamedWriters(t *testing.T) {
	res := streamedResult()
	md := render(t, MarkdownWriter{}, res)
	golden(t, "md_streamed.md", md)
	checkMarkdown(t, string(md))
	junit := render(t, JUnitWriter{Hostname: "ci-runner"}, res)
	checkJUnitStructure(t, junit)
	page := render(t, HTMLWriter{}, res)
	console := render(t, ConsoleWriter{Width: 120}, res)
	const summary = "15 output tokens in 3 streamed replies, 5.000 tok/s over the run's 3.00s; tokens as the server reported them for 2, content chunks counted for 1"
	for _, tt := range []struct {
		writer string
		out    []byte
		want   []string
	}{
		{"markdown", md, []string{"| output tokens/s per reply (`output_tps`) | 3 | 10.00 tok/s | 25.01 tok/s |", "| time per output token (`tpot`) | 3 |", summary}},
		{"junit", junit, []string{`<property name="evalrun.stream.ttft" value="p50 100.0ms`, `<property name="evalrun.stream.itl"`,
			`<property name="evalrun.stream.tpot" value="p50 40.03ms`, `<property name="evalrun.stream.output_tps" value="min 10.00 tok/s · p50 25.01 tok/s`,
			`<property name="evalrun.stream.output_tokens" value="15"/>`, `<property name="evalrun.stream.output_tokens_per_s" value="5"/>`}},
		{"html", page, []string{"<h2>Streamed replies</h2>", "<td>output tokens/s per reply <code>output_tps</code></td><td class=\"num\">3</td><td class=\"num\">10.00 tok/s</td>", html.EscapeString(summary)}},
		{"console", console, []string{"per output token", "output tokens/s per reply: min 10.00 tok/s · p50 25.01 tok/s", "output: " + summary}},
	} {
		for _, w := range tt.want {
			if !bytes.Contains(tt.out, []byte(w)) {
				t.Errorf("%s lacks %q:\n%s", tt.writer, w, tt.out)
			}
		}
		if bytes.Contains(tt.out, []byte("tok/sms")) || bytes.Contains(tt.out, []byte("25.01ms")) {
			t.Errorf("%s shows tokens/s as a latency:\n%s", tt.writer, tt.out)
		}
	}
	// Not streamed: nothing of it in any writer.
	for _, r := range []*Result{gatedResult(), passedResult(), emptyResult()} {
		for name, w := range map[string]Writer{"markdown": MarkdownWriter{}, "junit": JUnitWriter{}, "html": HTMLWriter{}, "console": ConsoleWriter{}} {
			out := string(render(t, w, r))
			for _, no := range []string{"Streamed replies", "streamed repl", "evalrun.stream", "tok/s", "output_tps"} {
				if strings.Contains(out, no) {
					t.Errorf("%s of non-streamed run %s shows %q", name, r.RunID, no)
				}
			}
		}
	}
}

// TestStreamedMergeAndRead: merged shards add their output tokens and
// divide by the merged wall time; the histogram keeps its unit and counts;
// a result file with a wrong unit or impossible totals is refused.
func TestStreamedMergeAndRead(t *testing.T) {
	a, b := streamedResult(), streamedResult()
	b.RunID = "streamed-2"
	// b ran from 1s to 4s: together 4s.
	b.Started, b.Ended = t0.Add(time.Second), t0.Add(4*time.Second)
	m, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if st := m.Stream; st == nil || *st != (StreamTotals{Replies: 6, UsageReplies: 4, OutputTokens: 30, OutputTokensPerS: 7.5}) {
		t.Errorf("merged stream %+v, want 6 replies, 4 with usage, 30 tokens, 7.5 tok/s over 4s", m.Stream)
	}
	if h := m.Histogram(HistOutputTPS, StreamName); h == nil || h.Count != 6 || h.Unit != UnitMilliTokensPerSecond || !nearMilli(h.MinUS, 10000) {
		t.Errorf("merged output_tps %+v", h)
	}
	var buf bytes.Buffer
	if err := (JSONWriter{}).Write(&buf, m); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte(`"unit": "milli_tokens_per_s"`)) || !bytes.Contains(buf.Bytes(), []byte(`"output_tokens_per_s": 7.5`)) {
		t.Errorf("result file lacks the unit or the run's rate:\n%s", buf.String())
	}
	raw := buf.String()
	for _, tt := range []struct{ old, new, err string }{
		{`"unit": "milli_tokens_per_s"`, `"unit": "us"`, `histograms[`},
		{`"output_tokens": 30`, `"output_tokens": -1`, "stream: "},
		{`"usage_replies": 4`, `"usage_replies": 7`, "stream: "},
	} {
		bad := strings.Replace(raw, tt.old, tt.new, 1)
		if bad == raw {
			t.Fatalf("%s not in the result file", tt.old)
		}
		_, err := ReadResult(strings.NewReader(bad))
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: error %v, want %q", tt.new, err, tt.err)
		}
	}
	back, err := ReadResult(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	// The .hgrm file shows tokens/s (milli-tokens/s over 1000).
	dir := t.TempDir()
	if _, err := WriteHgrmDir(dir, back); err != nil {
		t.Fatal(err)
	}
	hg, err := os.ReadFile(filepath.Join(dir, "output_tps-turn.hgrm"))
	if err != nil {
		t.Fatal(err)
	}
	if first := strings.Fields(strings.SplitN(string(hg), "\n", 4)[2]); len(first) < 1 || !strings.HasPrefix(first[0], "10.0") {
		t.Errorf("output_tps.hgrm starts at %v, want 10.0… (tokens/s):\n%s", first, hg)
	}
}

// streamedRun is a run of n one-turn conversations whose replies streamed
// 10 tokens (usage) in 5 chunks, the first after ttft, then gap apart.
func streamedRun(id string, n int, ttft, gap time.Duration) *Result {
	a := NewAggregator(Meta{RunID: id, Started: t0, Target: Target{Name: "llm", Kind: "openai"}})
	for i := range n {
		tr := streamedTurn(0, 5, ttft, gap, gap)
		tr.OutputTokens = 10
		feed(a, conv{id: i + 1, scen: scen("chat", n, 1), iter: i, outcome: runner.Passed, turns: []runner.TurnResult{tr}})
	}
	return a.Result(Finish{Ended: t0.Add(time.Minute)})
}

// TestCompareStreamed: compare lines up the token-level metrics of two
// streamed runs; output tokens/s regresses when it falls (higher is
// better) and is printed in tok/s, the latencies when they rise.
func TestCompareStreamed(t *testing.T) {
	fast := streamedRun("fast", 200, 60*time.Millisecond, 10*time.Millisecond) // 100ms: 100 tok/s
	slow := streamedRun("slow", 200, 60*time.Millisecond, 35*time.Millisecond) // 200ms: 50 tok/s
	c, err := Compare(fast, slow, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Stream) != 4 {
		t.Fatalf("stream rows %+v, want ttft, itl, tpot, output_tps", c.Stream)
	}
	regs := strings.Join(c.Regressions, "\n")
	for _, want := range []string{"output tokens/s per reply: p50 100.0 tok/s → 50.02 tok/s (-50%", "time per output token: p50 10.01ms → 20.02ms (+100%",
		"inter-token latency: p50"} {
		if !strings.Contains(regs, want) {
			t.Errorf("regressions lack %q:\n%s", want, regs)
		}
	}
	if strings.Contains(regs, "time to first token") {
		t.Errorf("an unchanged ttft regressed:\n%s", regs)
	}
	var text, md bytes.Buffer
	if err := c.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
		if !strings.Contains(out, "Streamed replies") || !strings.Contains(out, "tok/s [") || strings.Contains(out, "tok/sms") {
			t.Errorf("%s comparison:\n%s", name, out)
		}
	}
	// Faster output is no regression.
	c, err = Compare(slow, fast, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Regressed() {
		t.Errorf("faster run regressed: %v", c.Regressions)
	}
	// Only one side streamed: nothing compared, nothing printed.
	c, err = Compare(passedResult(), fast, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	text.Reset()
	if err := c.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if len(c.Stream) != 0 || strings.Contains(text.String(), "Streamed replies") {
		t.Errorf("stream compared with a run that did not stream: %+v\n%s", c.Stream, text.String())
	}
}

// TestStreamedRunWriters: in a run of several targets, each writer shows
// the streamed replies of the target that streamed, named by it.
func TestStreamedRunWriters(t *testing.T) {
	a := NewAggregator(Meta{RunID: "streamed", Started: t0, Target: Target{Name: "plain", Kind: "optimly"}})
	feed(a, conv{id: 1, scen: scen("chat", 1, 1), outcome: runner.Passed, turns: []runner.TurnResult{turn(0, 100, runner.Passed, "q", "a")}})
	plain := a.Result(Finish{Ended: t0.Add(time.Second)})
	run := NewRun(streamedResult(), plain)
	for _, tt := range []struct {
		name string
		w    RunWriter
		want []string
	}{
		{"markdown", MarkdownWriter{}, []string{"| output tokens/s per reply (`output_tps`) | 3 |", "Output: 15 output tokens"}},
		{"html", HTMLWriter{}, []string{"<td>llm · output tokens/s per reply <code>output_tps</code>", "Output: llm: 15 output tokens"}},
		{"junit", JUnitWriter{}, []string{`<property name="evalrun.stream.output_tokens" value="15"/>`}},
		{"console", ConsoleWriter{}, []string{"output: 15 output tokens"}},
	} {
		var buf bytes.Buffer
		if err := tt.w.WriteRun(&buf, run); err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.want {
			if n := strings.Count(buf.String(), w); n != 1 {
				t.Errorf("%s: %q %d times, want once:\n%s", tt.name, w, n, buf.String())
			}
		}
	}
}
