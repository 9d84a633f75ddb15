package report

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evalrun/evalrun/runner"
)

// streamedTurn returns a passed turn whose reply came in chunks chunks:
// the first after ttft, then gaps of gap, except that the last gap is
// stall (when chunks > 1).
func streamedTurn(i, chunks int, ttft, gap, stall time.Duration) runner.TurnResult {
	t := turn(i, 500, runner.Passed, "q", "a")
	t.TTFT, t.Chunks = ttft, chunks
	for k := 1; k < chunks; k++ {
		g := gap
		if k == chunks-1 {
			g = stall
		}
		t.Gaps = append(t.Gaps, g)
		t.MaxGap = max(t.MaxGap, g)
	}
	return t
}

// TestAggregatorStreaming feeds conversations whose turns streamed or not,
// from many goroutines, and checks that the time-to-first-token and stall
// histograms hold one value per streamed turn, the chunk-gap histogram
// every gap, with the values given, and that they survive the result file.
func TestAggregatorStreaming(t *testing.T) {
	const goroutines, perG = 16, 30
	var wantTurns, wantGaps, wantStreamed int64
	for id := 0; id < goroutines*perG; id++ {
		for i := 0; i < 1+id%3; i++ {
			wantTurns++
			if c := chunksOf(id, i); c > 0 {
				wantStreamed++
				wantGaps += int64(c - 1)
			}
		}
	}
	a := NewAggregator(Meta{RunID: "stream", Started: t0})
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := 0; k < perG; k++ {
				id := g + k*goroutines
				var turns []runner.TurnResult
				for i := 0; i < 1+id%3; i++ {
					if c := chunksOf(id, i); c > 0 {
						turns = append(turns, streamedTurn(i, c, 200*time.Millisecond, 10*time.Millisecond, 2*time.Second))
					} else {
						turns = append(turns, turn(i, 300, runner.Passed, "q", "a"))
					}
				}
				feed(a, conv{id: id, scen: scen("s", 1, 1), outcome: runner.Passed, turns: turns})
			}
		}(g)
	}
	wg.Wait()
	res := a.Result(Finish{Ended: t0.Add(time.Hour)})
	if res.Totals.Turns != wantTurns || wantStreamed == 0 || wantStreamed == wantTurns {
		t.Fatalf("fixture: %d turns, %d streamed; want some streamed and some not", res.Totals.Turns, wantStreamed)
	}

	var buf bytes.Buffer
	if err := (JSONWriter{}).Write(&buf, res); err != nil {
		t.Fatal(err)
	}
	back, err := ReadResult(&buf)
	if err != nil {
		t.Fatalf("result does not read back: %v", err)
	}
	tests := []struct {
		kind     string
		count    int64
		min, max time.Duration // the values recorded, within the histogram's precision
	}{
		{HistTTFT, wantStreamed, 200 * time.Millisecond, 200 * time.Millisecond},
		{HistChunkGap, wantGaps, 10 * time.Millisecond, 2 * time.Second},
		// A reply of one chunk has no gap: its longest stall is 0.
		{HistStall, wantStreamed, 0, 2 * time.Second},
	}
	for _, tt := range tests {
		h := back.Histogram(tt.kind, StreamName)
		if h == nil {
			t.Errorf("no %s histogram", tt.kind)
			continue
		}
		hist, err := h.Decode()
		if err != nil {
			t.Fatal(err)
		}
		if h.Count != tt.count || hist.TotalCount() != tt.count {
			t.Errorf("%s: count %d (encoded %d), want %d", tt.kind, h.Count, hist.TotalCount(), tt.count)
		}
		if !near(h.MinUS, tt.min) || !near(h.MaxUS, tt.max) {
			t.Errorf("%s: min %dµs max %dµs, want %v and %v", tt.kind, h.MinUS, h.MaxUS, tt.min, tt.max)
		}
	}
	// Streaming takes nothing from the call histograms.
	if h := back.Histogram(HistCallKind, "turn"); h == nil || h.Count != wantTurns {
		t.Errorf("turn call histogram = %+v, want %d calls", h, wantTurns)
	}

	// The console shows them; the hgrm writer writes them.
	var out bytes.Buffer
	if err := (ConsoleWriter{Width: 100}).Write(&out, back); err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{"first token", "chunk gap", "longest stall"} {
		if !strings.Contains(out.String(), row) {
			t.Errorf("console has no %q row:\n%s", row, out.String())
		}
	}
	paths, err := WriteHgrmDir(t.TempDir(), back)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, p := range paths {
		names[filepath.Base(p)] = true
	}
	for _, n := range []string{"ttft-turn.hgrm", "chunk_gap-turn.hgrm", "stall-turn.hgrm"} {
		if !names[n] {
			t.Errorf("hgrm files %v lack %s", paths, n)
		}
	}
}

// chunksOf decides how many chunks turn i of conversation id streamed: 0
// (not streamed) for a third of them, 1 to 7 otherwise.
func chunksOf(id, i int) int {
	if (id+i)%3 == 0 {
		return 0
	}
	return 1 + (id*5+i)%7
}

// near reports whether us, a histogram value in µs, is d within the
// histogram's 3 significant digits.
func near(us int64, d time.Duration) bool {
	want := d.Microseconds()
	diff := us - want
	if diff < 0 {
		diff = -diff
	}
	return diff <= want/500+1
}

// TestAggregatorNoStreaming checks that a run without streamed turns has
// no streaming histograms and no streaming rows in its console report.
func TestAggregatorNoStreaming(t *testing.T) {
	a := NewAggregator(Meta{RunID: "plain", Started: t0})
	feed(a, conv{id: 1, scen: scen("s", 1, 1), outcome: runner.Passed, turns: []runner.TurnResult{turn(0, 100, runner.Passed, "q", "a")}})
	res := a.Result(Finish{Ended: t0.Add(time.Minute)})
	for _, k := range []string{HistTTFT, HistChunkGap, HistStall} {
		if h := res.Histogram(k, StreamName); h != nil {
			t.Errorf("unexpected %s histogram: %+v", k, h)
		}
	}
	raw, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(`"ttft"`)) {
		t.Error("result file mentions ttft without streamed turns")
	}
	var out bytes.Buffer
	if err := (ConsoleWriter{}).Write(&out, res); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "first token") {
		t.Errorf("console shows a first-token row without streamed turns:\n%s", out.String())
	}
}
