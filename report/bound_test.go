package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// TestFailingHugeRepliesStayBounded: 100 failed conversations, each with a
// 4 MB reply (and a 100 KB error and verdict reason), used to be kept whole:
// a 420 MB result and GBs of heap. The result keeps a MaxStoredText excerpt
// of each, so the result file is small and the heap after the run holds no
// reply; the transcripts stream, asked for, has every reply whole.
func TestFailingHugeRepliesStayBounded(t *testing.T) {
	const convs, replySize = 100, 4_000_000
	var stream bytes.Buffer
	sc := scen("huge", convs, 1)
	a := NewAggregator(Meta{RunID: "huge", Started: t0, Transcripts: Transcripts{Policy: TranscriptsFailed}})
	streamed := NewAggregator(Meta{RunID: "huge", Started: t0, Transcripts: Transcripts{Policy: TranscriptsAll, Stream: &stream, StreamName: "t.jsonl"}})

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	conv := func(i int) *runner.Conversation {
		reply := strings.Repeat(string(rune('a'+i%26)), replySize) // a new 4 MB string each time
		return &runner.Conversation{ID: i, Scenario: sc, Iteration: i, Outcome: runner.Failed, Reason: "turn 1 failed",
			Start: t0, End: t0.Add(time.Second), Turns: []runner.TurnResult{{
				Index: 0, Sent: "hi", Reply: reply, Attempts: 1, Outcome: runner.Failed, Error: "agent said: " + reply[:100_000],
				Verdicts: []scenarios.Verdict{{Expectation: `contains "x"`, Reason: "got " + reply[:100_000]}},
			}}}
	}
	for i := range convs {
		c := conv(i)
		a.CallDone(&runner.Call{Kind: runner.CallTurn, Scenario: "huge", Conversation: i, Intended: t0, Latency: time.Millisecond, Attempts: 1, Status: 200})
		a.ConversationDone(c)
	}
	res := a.Result(Finish{Ended: t0.Add(time.Minute)})
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew by %.1f MB over %d conversations with %d MB replies", float64(grown)/1e6, convs, replySize/1_000_000)
	if grown > 32<<20 {
		t.Errorf("heap grew by %d MB after the run: replies are kept whole", grown>>20)
	}

	var out bytes.Buffer
	if err := (JSONWriter{}).Write(&out, res); err != nil {
		t.Fatal(err)
	}
	t.Logf("result: %d bytes", out.Len())
	if out.Len() > 3*convs*(MaxStoredText+200)+64<<10 {
		t.Errorf("result is %d bytes for %d conversations: not bounded", out.Len(), convs)
	}
	back, err := ReadResult(&out)
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, s := range back.Scenarios {
		for _, cv := range s.Conversations {
			kept++
			tr := cv.Turns[0]
			if len(tr.Reply) > MaxStoredText+64 || !strings.Contains(tr.Reply, "[cut: 4000000 bytes in all]") {
				t.Fatalf("kept reply is %d bytes, ends %q", len(tr.Reply), tr.Reply[max(len(tr.Reply)-60, 0):])
			}
			if len(tr.Error) > MaxStoredText+64 || len(tr.Verdicts[0].Reason) > MaxStoredText+64 {
				t.Fatalf("kept error %d bytes, verdict reason %d bytes", len(tr.Error), len(tr.Verdicts[0].Reason))
			}
		}
	}
	if kept != convs {
		t.Errorf("the result keeps %d failed conversations, want %d", kept, convs)
	}

	for i := range 1 { // the stream keeps replies whole; one is enough to see it
		streamed.ConversationDone(conv(i))
	}
	streamed.Result(Finish{Ended: t0.Add(time.Minute)})
	sc2 := bufio.NewScanner(&stream)
	sc2.Buffer(nil, 64<<20)
	lines := 0
	for sc2.Scan() {
		var l TranscriptLine
		if err := json.Unmarshal(sc2.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if len(l.Turns[0].Reply) != replySize {
			t.Errorf("streamed reply is %d bytes, want the whole %d", len(l.Turns[0].Reply), replySize)
		}
		lines++
	}
	if lines != 1 {
		t.Errorf("%d streamed lines, want 1", lines)
	}
}

func TestBoundText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int // bytes kept before the mark; -1: unchanged
	}{
		{"short", -1},
		{strings.Repeat("x", MaxStoredText), -1},
		{strings.Repeat("x", MaxStoredText+1), MaxStoredText},
		{strings.Repeat("é", MaxStoredText), MaxStoredText}, // 2-byte runes: cut on a boundary
		{"a" + strings.Repeat("€", MaxStoredText), MaxStoredText - 3 + 1},
	} {
		got := boundText(tc.in)
		if tc.want < 0 {
			if got != tc.in {
				t.Errorf("len %d: changed", len(tc.in))
			}
			continue
		}
		head, _, ok := strings.Cut(got, "… [cut: ")
		if !ok || len(head) > MaxStoredText || !strings.HasPrefix(tc.in, head) || len(head) < tc.want-3 {
			t.Errorf("len %d: kept %d bytes (mark %v)", len(tc.in), len(head), ok)
		}
	}
}
