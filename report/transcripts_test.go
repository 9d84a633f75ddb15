package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

func TestParseTranscriptPolicy(t *testing.T) {
	tests := []struct {
		in   string
		want TranscriptPolicy
		err  bool
	}{
		{"failed", TranscriptsFailed, false},
		{"sample", TranscriptsSample, false},
		{"all", TranscriptsAll, false},
		{" none ", TranscriptsNone, false},
		{"", "", true},
		{"ALL", "", true},
		{"failures", "", true},
	}
	for _, tt := range tests {
		got, err := ParseTranscriptPolicy(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseTranscriptPolicy(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.err)
		}
		if err != nil && !strings.Contains(err.Error(), "failed, sample, all, none") {
			t.Errorf("error %q does not list the valid policies", err)
		}
	}
}

// bulkOutcome decides a bulk conversation's outcome by its iteration:
// failures and errors only in the first 10 iterations, so what a policy
// keeps does not grow with the run.
func bulkOutcome(iter int) runner.Outcome {
	switch {
	case iter < 10 && iter%3 == 1:
		return runner.Failed
	case iter == 2:
		return runner.Errored
	case iter == 8:
		return runner.Throttled
	}
	return runner.Passed
}

// feedBulk feeds n conversations per scenario of two scenarios.
func feedBulk(a *Aggregator, n int) {
	ss := []*scenarios.Scenario{scen("alpha", n, 0.5), scen("beta", n, 0.5)}
	id := 0
	for iter := 0; iter < n; iter++ {
		for _, s := range ss {
			out := bulkOutcome(iter)
			tr := turn(0, 100+iter%50, out, "hello", fmt.Sprintf("reply %d", id), ok(`icontains "reply"`))
			if out == runner.Failed {
				tr.Verdicts = []scenarios.Verdict{bad(`contains "x"`, `reply does not contain "x"`)}
			}
			if out == runner.Errored || out == runner.Throttled {
				tr.Reply, tr.Verdicts, tr.Error = "", nil, "send: server (HTTP 500)"
			}
			feed(a, conv{id: id, scen: s, iter: iter, outcome: out, reason: string(out), turns: []runner.TurnResult{tr}})
			id++
		}
	}
}

func TestTranscriptPolicies(t *testing.T) {
	const n = 60
	// Per scenario, iterations 1, 4, 7 failed, 2 errored, 8 throttled.
	const bad = 5
	ref := func() *Result {
		a := NewAggregator(Meta{Transcripts: Transcripts{Policy: TranscriptsAll}})
		feedBulk(a, n)
		return a.Result(Finish{})
	}()
	tests := []struct {
		tr       Transcripts
		wantKept int // per scenario
	}{
		{Transcripts{}, DefaultTranscriptSample},
		{Transcripts{Policy: TranscriptsSample, Sample: 5}, 5 + 2},
		{Transcripts{Policy: TranscriptsSample, Sample: -1}, bad},
		{Transcripts{Policy: TranscriptsFailed}, bad},
		{Transcripts{Policy: TranscriptsNone}, 0},
		{Transcripts{Policy: TranscriptsAll}, n},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.tr.Policy, tt.tr.Sample), func(t *testing.T) {
			a := NewAggregator(Meta{Transcripts: tt.tr})
			feedBulk(a, n)
			res := a.Result(Finish{})
			if !reflect.DeepEqual(res.Totals, ref.Totals) {
				t.Errorf("totals %+v, want %+v: a policy must not change the counts", res.Totals, ref.Totals)
			}
			if !reflect.DeepEqual(res.Histograms, ref.Histograms) {
				t.Error("histograms differ from the run that kept everything")
			}
			for i, s := range res.Scenarios {
				if len(s.Conversations) != tt.wantKept {
					t.Errorf("%s: kept %d transcripts, want %d", s.Name, len(s.Conversations), tt.wantKept)
				}
				if !reflect.DeepEqual(s.FirstFailure, ref.Scenarios[i].FirstFailure) {
					t.Errorf("%s: first failure %+v, want %+v", s.Name, s.FirstFailure, ref.Scenarios[i].FirstFailure)
				}
				if s.Runs != n || s.Status != ref.Scenarios[i].Status {
					t.Errorf("%s: runs %d status %s, want %d %s", s.Name, s.Runs, s.Status, n, ref.Scenarios[i].Status)
				}
				for _, c := range s.Conversations {
					if tt.tr.Policy == TranscriptsFailed && c.Outcome == runner.Passed {
						t.Errorf("%s: failed policy kept a passed conversation", s.Name)
					}
				}
			}
			ti := res.Transcripts
			if ti == nil || ti.Kept != 2*tt.wantKept || ti.Streamed != 0 || ti.File != "" {
				t.Errorf("transcripts info %+v, want kept %d and nothing streamed", ti, 2*tt.wantKept)
			}
			// What the policy kept still reads back.
			var buf bytes.Buffer
			if err := (JSONWriter{}).Write(&buf, res); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadResult(&buf); err != nil {
				t.Errorf("result with policy %q does not read back: %v", tt.tr.Policy, err)
			}
		})
	}
}

// lineCounter counts the lines written to it and keeps nothing.
type lineCounter struct{ lines, bytes int64 }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.lines += int64(bytes.Count(p, []byte("\n")))
	c.bytes += int64(len(p))
	return len(p), nil
}

// TestTranscriptStreamConstantMemory streams every conversation and checks
// that what the aggregator retains does not grow with the run.
func TestTranscriptStreamConstantMemory(t *testing.T) {
	kept := map[int]int{}
	for _, n := range []int{200, 2000} {
		var w lineCounter
		a := NewAggregator(Meta{Target: Target{Name: "sim"},
			Transcripts: Transcripts{Policy: TranscriptsAll, Sample: 3, Stream: &w, StreamName: "run.transcripts.jsonl"}})
		feedBulk(a, n)
		if err := a.FlushTranscripts(); err != nil {
			t.Fatal(err)
		}
		res := a.Result(Finish{})
		if w.lines != int64(2*n) {
			t.Errorf("n=%d: %d lines streamed, want %d", n, w.lines, 2*n)
		}
		ti := res.Transcripts
		if ti.Streamed != int64(2*n) || ti.File != "run.transcripts.jsonl" || ti.Policy != TranscriptsAll || ti.StreamError != "" {
			t.Errorf("n=%d: transcripts info %+v", n, ti)
		}
		if res.Totals.Conversations != 2*n {
			t.Errorf("n=%d: %d conversations counted", n, res.Totals.Conversations)
		}
		kept[n] = ti.Kept
	}
	// Per scenario: the 3 sampled iterations and the failing ones beyond
	// them (4, 7, 8), whatever n is.
	if kept[200] != 12 || kept[2000] != 12 {
		t.Errorf("kept %d transcripts of 400 and %d of 4000; want the same small number", kept[200], kept[2000])
	}
}

func TestTranscriptStreamReadBack(t *testing.T) {
	var buf bytes.Buffer
	a := NewAggregator(Meta{Target: Target{Name: "sim"}, Transcripts: Transcripts{Policy: TranscriptsAll, Stream: &buf}})
	feedBulk(a, 30)
	if err := a.FlushTranscripts(); err != nil {
		t.Fatal(err)
	}
	ref := NewAggregator(Meta{Transcripts: Transcripts{Policy: TranscriptsAll}})
	feedBulk(ref, 30)
	want := map[string]ConversationResult{}
	for _, s := range ref.Result(Finish{}).Scenarios {
		for _, c := range s.Conversations {
			want[fmt.Sprint(s.Name, c.ID)] = c
		}
	}
	seen := 0
	err := ReadTranscripts(&buf, func(l *TranscriptLine) error {
		seen++
		if l.Target != "sim" || l.File != "examples/"+l.Scenario+".yaml" {
			t.Errorf("line %d: target %q file %q", seen, l.Target, l.File)
		}
		w, ok := want[fmt.Sprint(l.Scenario, l.ID)]
		if !ok {
			t.Errorf("unexpected conversation %s/%d", l.Scenario, l.ID)
		} else if !reflect.DeepEqual(l.ConversationResult, w) {
			t.Errorf("conversation %s/%d differs:\n%+v\n%+v", l.Scenario, l.ID, l.ConversationResult, w)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != 60 {
		t.Errorf("read %d lines, want 60", seen)
	}
	stop := errors.New("stop")
	if err := ReadTranscripts(strings.NewReader(`{"scenario":"a","id":1,"outcome":"passed","turns":[]}`+"\n"), func(*TranscriptLine) error { return stop }); err != stop {
		t.Errorf("callback error not returned as is: %v", err)
	}
}

// failAfter fails every write after n bytes.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n < len(p) {
		return 0, errors.New("disk full")
	}
	f.n -= len(p)
	return len(p), nil
}

func TestTranscriptStreamError(t *testing.T) {
	a := NewAggregator(Meta{Transcripts: Transcripts{Policy: TranscriptsAll, Stream: &failAfter{n: 100}, StreamName: "t.jsonl"}})
	feedBulk(a, 2000) // more than the 64 kB buffer, so a write reaches the writer
	err := a.FlushTranscripts()
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("FlushTranscripts: %v, want the disk-full error", err)
	}
	res := a.Result(Finish{})
	if res.Totals.Conversations != 4000 {
		t.Errorf("counted %d conversations, want 4000 despite the stream error", res.Totals.Conversations)
	}
	if ti := res.Transcripts; !strings.Contains(ti.StreamError, "disk full") {
		t.Errorf("stream error not recorded: %+v", ti)
	}
}

func TestReadTranscriptsErrors(t *testing.T) {
	good := `{"scenario":"a","id":1,"iteration":0,"outcome":"passed","turns":[]}`
	tests := []struct {
		name, in, want string
	}{
		{"syntax", good + "\n{\"scenario\":", "result line 2, column 1: transcript: unexpected EOF"},
		{"outcome", good + "\n\n" + `{"scenario":"a","outcome":"maybe"}`, `result line 3, column 1: outcome: unknown outcome "maybe"`},
		{"turn outcome", `{"scenario":"a","outcome":"failed","turns":[{"outcome":"meh"}]}`, `turns[0].outcome: unknown outcome "meh"`},
		{"no scenario", `{"outcome":"passed"}`, "result line 1, column 1: scenario: empty"},
		{"two values", good + " " + good, "more than one JSON value"},
		{"negative latency", `{"scenario":"a","outcome":"passed","turns":[{"latency_ms":-1}]}`, "turns[0].latency_ms: -1 is not a latency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ReadTranscripts(strings.NewReader(tt.in), func(*TranscriptLine) error { return nil })
			var re *ReadError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want a ReadError containing %q", err, tt.want)
			}
		})
	}
}

func FuzzReadTranscripts(f *testing.F) {
	f.Add(`{"scenario":"a","id":1,"outcome":"passed","turns":[{"index":0,"sent":"hi","reply":"yo","latency_ms":1.5,"outcome":"passed"}]}`)
	f.Add("\n\n{\"scenario\":\"b\",\"outcome\":\"not_run\"}\n{")
	f.Add(`{"scenario":"a","outcome":"error","turns":[{"outcome":"error","error":"x"}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		n := 0
		err := ReadTranscripts(strings.NewReader(in), func(l *TranscriptLine) error {
			n++
			if l.Scenario == "" || !knownOutcome(l.Outcome) {
				t.Fatalf("line %d accepted with scenario %q outcome %q", n, l.Scenario, l.Outcome)
			}
			return nil
		})
		if err != nil && !errors.As(err, new(*ReadError)) {
			t.Fatalf("error %T %v is not a *ReadError", err, err)
		}
	})
}

func TestReadResultTranscripts(t *testing.T) {
	// A file without the transcripts block (written before it existed) reads.
	b := edit(t, func(m map[string]any) { delete(m, "transcripts") })
	if r, err := ReadResult(bytes.NewReader(b)); err != nil || r.Transcripts != nil {
		t.Errorf("result without transcripts: %v, %+v", err, r)
	}
	for _, tt := range []struct {
		name   string
		change func(ti map[string]any)
		want   string
	}{
		{"policy", func(ti map[string]any) { ti["policy"] = "most" }, `transcripts.policy: transcripts "most": valid policies`},
		{"kept", func(ti map[string]any) { ti["kept"] = 3.0 }, "transcripts: kept 3, sample 20, streamed 0: the scenarios hold 9 transcripts"},
	} {
		b := edit(t, func(m map[string]any) { tt.change(m["transcripts"].(map[string]any)) })
		if _, err := ReadResult(bytes.NewReader(b)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

// repeatReader yields one byte forever.
type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// TestReadTranscriptsHugeLine: a line longer than the 64 MiB a line may
// hold is an error naming its line number (it used to be a bare "token too
// long"). The input is generated, never held whole.
func TestReadTranscriptsHugeLine(t *testing.T) {
	good := `{"scenario":"a","id":1,"outcome":"passed","turns":[]}` + "\n"
	in := io.MultiReader(strings.NewReader(good+good), io.LimitReader(repeatReader('x'), maxTranscriptLine+1))
	lines := 0
	err := ReadTranscripts(in, func(*TranscriptLine) error { lines++; return nil })
	var re *ReadError
	if !errors.As(err, &re) || re.Line != 3 || !strings.Contains(err.Error(), "line is longer than 64 MiB") {
		t.Fatalf("error %v (line %d), want one for line 3 saying it is too long", err, func() int {
			if re != nil {
				return re.Line
			}
			return 0
		}())
	}
	if lines != 2 {
		t.Errorf("%d lines read before the long one, want 2", lines)
	}
}
