package report

import (
	"bytes"
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
	// Thresholds read them.
	for _, tt := range []struct {
		expr string
		pass bool
	}{
		{"tpot p50<47ms", true}, {"tpot.p50<46ms", false}, {"itl max<=21ms", true}, {"itl min>15ms", false},
		{"ttft p95<101ms", true}, {"stall max<30ms", false},
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
	for _, bad := range []string{"scenario:x ttft p95<1s", "tpot calls>1", "ttft pass_rate>0.5", "ttft <1s", "tpot.<1s"} {
		if _, err := ParseThreshold(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
