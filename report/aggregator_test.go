package report

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// TestAggregatorConcurrent feeds thousands of calls from many goroutines,
// with snapshots taken meanwhile, and checks that every histogram holds
// exactly the calls it covers and that outcomes add up.
func TestAggregatorConcurrent(t *testing.T) {
	const goroutines, perG = 64, 40
	scens := []*scenarios.Scenario{scen("s0", 1, 1), scen("s1", 1, 1), scen("s2", 1, 0.5), scen("s3", 1, 1), scen("s4", 1, 1)}
	outcomes := []runner.Outcome{runner.Passed, runner.Passed, runner.Passed, runner.Passed, runner.Failed, runner.Errored, runner.Throttled}

	// What each conversation does, decided by its id.
	type plan struct {
		scen    int
		turns   int
		outcome runner.Outcome
	}
	planFor := func(id int) plan {
		if id%11 == 0 {
			return plan{scen: id % 5, outcome: runner.NotRun}
		}
		return plan{scen: id % 5, turns: 1 + id%4, outcome: outcomes[id%7]}
	}

	a := NewAggregator(Meta{RunID: "race", Started: t0, Transcripts: Transcripts{Policy: TranscriptsAll}})
	stop := make(chan struct{})
	var snaps sync.WaitGroup
	snaps.Add(1)
	go func() { // a progress bar polling while the run goes on
		defer snaps.Done()
		for {
			select {
			case <-stop:
				return
			default:
				s := a.Snapshot()
				if s.Conversations != int64(s.Total()) {
					t.Errorf("snapshot outcomes do not add up: %+v", s)
					return
				}
				time.Sleep(time.Millisecond)
			}
		}
	}()
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := 0; k < perG; k++ {
				id := g + k*goroutines
				p := planFor(id)
				var turns []runner.TurnResult
				for i := 0; i < p.turns; i++ {
					ms := 1 + (id*7+i*13)%3000
					if id%97 == 0 {
						ms = 10 * 60 * 1000 // beyond the histogram: clamped, not dropped
					}
					turns = append(turns, turn(i, ms, runner.Passed, "q", "a"))
				}
				if p.outcome == runner.Failed {
					turns[len(turns)-1].Outcome = runner.Failed
					turns[len(turns)-1].Verdicts = []scenarios.Verdict{bad("x", "no")}
				}
				feed(a, conv{id: id, scen: scens[p.scen], iter: id / 5, outcome: p.outcome, turns: turns})
			}
		}(g)
	}
	wg.Wait()
	close(stop)
	snaps.Wait()

	// The expected counts, computed independently.
	var conversations, newChats, turnCalls int64
	perScen := map[string]int64{}
	perTurn := map[int]int64{}
	byOutcome := map[runner.Outcome]int{}
	for id := 0; id < goroutines*perG; id++ {
		p := planFor(id)
		conversations++
		byOutcome[p.outcome]++
		if p.outcome == runner.NotRun {
			continue
		}
		newChats++
		turnCalls += int64(p.turns)
		perScen[scens[p.scen].Name] += int64(p.turns)
		for i := 0; i < p.turns; i++ {
			perTurn[i]++
		}
	}

	res := a.Result(Finish{Ended: t0.Add(time.Minute)})
	tot := res.Totals
	if int64(tot.Conversations) != conversations || tot.Calls != newChats+turnCalls || tot.Turns != turnCalls {
		t.Errorf("totals = %+v, want %d conversations, %d calls, %d turns", tot, conversations, newChats+turnCalls, turnCalls)
	}
	for o, want := range map[runner.Outcome]int{runner.Passed: tot.Passed, runner.Failed: tot.Failed,
		runner.Errored: tot.Errored, runner.Throttled: tot.Throttled, runner.NotRun: tot.NotRun} {
		if byOutcome[o] != want {
			t.Errorf("totals %s = %d, want %d", o, want, byOutcome[o])
		}
	}
	wantHist := map[string]int64{
		HistOverall + "/all":       newChats + turnCalls,
		HistCallKind + "/new_chat": newChats,
		HistCallKind + "/turn":     turnCalls,
	}
	for n, c := range perScen {
		wantHist[HistScenario+"/"+n] = c
	}
	for i, c := range perTurn {
		wantHist[HistTurn+"/"+strconv.Itoa(i)] = c
	}
	if len(res.Histograms) != len(wantHist) {
		t.Errorf("%d histograms, want %d", len(res.Histograms), len(wantHist))
	}
	for _, h := range res.Histograms {
		key := h.Kind + "/" + h.Name
		want, ok := wantHist[key]
		if !ok {
			t.Errorf("unexpected histogram %s", key)
			continue
		}
		hist, err := h.Decode()
		if err != nil {
			t.Fatal(err)
		}
		if h.Count != want || hist.TotalCount() != want {
			t.Errorf("histogram %s: count %d, encoded %d, want %d", key, h.Count, hist.TotalCount(), want)
		}
	}
	all := res.Histogram(HistOverall, "all")
	if lim := HighestLatencyMicros; all.MaxUS < lim-lim/1000 || all.MaxUS > lim+lim/1000 {
		t.Errorf("max = %dµs; the 10-minute calls should be clamped to %dµs", all.MaxUS, lim)
	}
	var scenRuns int
	for _, s := range res.Scenarios {
		scenRuns += s.Runs
		if got := s.Total(); got != s.Runs {
			t.Errorf("scenario %s: outcomes add up to %d, runs %d", s.Name, got, s.Runs)
		}
		if len(s.Conversations) != s.Runs {
			t.Errorf("scenario %s: %d transcripts for %d runs", s.Name, len(s.Conversations), s.Runs)
		}
		for i := 1; i < len(s.Conversations); i++ {
			if s.Conversations[i-1].Iteration > s.Conversations[i].Iteration {
				t.Errorf("scenario %s: conversations not sorted by iteration", s.Name)
				break
			}
		}
	}
	if scenRuns != tot.Conversations {
		t.Errorf("scenario runs add up to %d, want %d", scenRuns, tot.Conversations)
	}
	snap := a.Snapshot()
	if snap.Calls != tot.Calls || snap.Conversations != int64(tot.Conversations) || snap.Failed != tot.Failed {
		t.Errorf("final snapshot %+v disagrees with totals %+v", snap, tot)
	}
	if snap.P95 <= 0 {
		t.Errorf("P95 = %v, want > 0", snap.P95)
	}
}

func TestFirstFailure(t *testing.T) {
	res := mixedResult()
	tests := []struct {
		scenario string
		want     *Failure
	}{
		{"appointment", nil},
		{"lead-capture", nil}, // not run is not a failure of the agent
		{"pricing", &Failure{Conversation: 3, Iteration: 1, Outcome: runner.Failed, Turn: 1,
			Expectation: `contains "yearly"`, Reason: `reply does not contain "yearly"`,
			ReplyExcerpt: "I'm sorry, I can only help with questions about our products and services, such as plans, pricing, features and booking a demo with our sales team."}},
		{"human-handoff", &Failure{Conversation: 7, Iteration: 0, Outcome: runner.Errored, Turn: 0, Reason: "send: server (HTTP 500)"}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			s := res.Scenario(tt.scenario)
			if s == nil {
				t.Fatalf("no scenario %q", tt.scenario)
			}
			got := s.FirstFailure
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("first failure = %+v, want %+v", got, tt.want)
			}
		})
	}

	// Independent of delivery order: feed the conversations of one
	// scenario in order and in reverse.
	s := scen("order", 4, 1)
	for _, rev := range []bool{false, true} {
		a := NewAggregator(Meta{})
		for k := 0; k < 4; k++ {
			it := k
			if rev {
				it = 3 - k
			}
			out := runner.Failed
			if it == 0 {
				out = runner.Passed
			}
			feed(a, conv{id: 10 + it, scen: s, iter: it, outcome: out, turns: []runner.TurnResult{
				turn(0, 10, out, "q", "reply "+strconv.Itoa(it), bad("e"+strconv.Itoa(it), "r"+strconv.Itoa(it))),
			}})
		}
		ff := a.Result(Finish{}).Scenario("order").FirstFailure
		if ff == nil || ff.Iteration != 1 || ff.Expectation != "e1" || ff.ReplyExcerpt != "reply 1" {
			t.Errorf("reverse %v: first failure = %+v, want iteration 1", rev, ff)
		}
	}
}

func TestScenarioStatus(t *testing.T) {
	tests := []struct {
		minPass              float64
		passed, failed, skip int
		wantReq              int
		wantStatus           string
	}{
		{1, 5, 0, 0, 5, StatusPassed},
		{1, 4, 1, 0, 5, StatusFailed},
		{0.8, 4, 1, 0, 4, StatusPassed}, // 0.8×5 is exactly 4
		{0.8, 3, 2, 0, 4, StatusFailed},
		{0.95, 19, 1, 0, 19, StatusPassed},
		{0.5, 1, 0, 2, 2, StatusFailed}, // not run counts as not passed
		{0, 0, 3, 0, 0, StatusPassed},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("min%.2f_%dp_%df_%ds", tt.minPass, tt.passed, tt.failed, tt.skip)
		t.Run(name, func(t *testing.T) {
			a := NewAggregator(Meta{})
			s := scen("s", tt.passed+tt.failed+tt.skip, tt.minPass)
			id := 0
			add := func(n int, o runner.Outcome) {
				for i := 0; i < n; i++ {
					a.ConversationDone(&runner.Conversation{ID: id, Scenario: s, Iteration: id, Outcome: o})
					id++
				}
			}
			add(tt.passed, runner.Passed)
			add(tt.failed, runner.Failed)
			add(tt.skip, runner.NotRun)
			sr := a.Result(Finish{}).Scenario("s")
			if sr.Required != tt.wantReq || sr.Status != tt.wantStatus {
				t.Errorf("required %d status %s, want %d %s", sr.Required, sr.Status, tt.wantReq, tt.wantStatus)
			}
		})
	}
}

func TestResultPassed(t *testing.T) {
	tests := []struct {
		name string
		res  *Result
		want bool
	}{
		{"all passed", passedResult(), true},
		{"mixed", mixedResult(), false},
		{"interrupted", interruptedResult(), false},
		{"empty", emptyResult(), false},
	}
	for _, tt := range tests {
		if got := tt.res.Passed(); got != tt.want {
			t.Errorf("%s: Passed() = %v, want %v", tt.name, got, tt.want)
		}
	}
	// Every scenario reached its min_pass_rate, but a conversation errored:
	// the run has not passed.
	a := NewAggregator(Meta{})
	s := scen("s", 2, 0.5)
	a.ConversationDone(&runner.Conversation{ID: 1, Scenario: s, Outcome: runner.Passed})
	a.ConversationDone(&runner.Conversation{ID: 2, Scenario: s, Iteration: 1, Outcome: runner.Errored})
	r := a.Result(Finish{})
	if r.Scenarios[0].Status != StatusPassed || r.Passed() {
		t.Errorf("status %s, Passed() %v; want scenario passed and run not passed", r.Scenarios[0].Status, r.Passed())
	}
	r = passedResult()
	r.Interrupted = true
	if r.Passed() || r.Finished() {
		t.Error("an interrupted run passed or finished")
	}
}

func TestAggregatorOddInput(t *testing.T) {
	a := NewAggregator(Meta{Target: Target{URL: "https://bob:pw@api.example.com/v2?api_key=sk-123&x=1#frag"}})
	a.CallDone(nil)
	a.ConversationDone(nil)
	a.CallDone(&runner.Call{Kind: runner.CallTurn, Conversation: -3, Turn: 0, Latency: -time.Second,
		Err: &agent.Error{Kind: agent.KindTimeout}})
	a.ConversationDone(&runner.Conversation{ID: -3, Outcome: "exploded", Turns: []runner.TurnResult{{Index: 0, Outcome: "weird"}}})
	res := a.Result(Finish{})
	if got, want := res.Target.URL, "https://api.example.com/v2?api_key=REDACTED&x=REDACTED"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	if len(res.Scenarios) != 1 || res.Scenarios[0].Name != UnnamedScenario || res.Scenarios[0].Errored != 1 {
		t.Fatalf("scenarios = %+v, want one unnamed with 1 error", res.Scenarios)
	}
	c := res.Scenarios[0].Conversations[0]
	if c.Outcome != runner.Errored || c.Turns[0].Outcome != runner.Errored {
		t.Errorf("unknown outcomes kept: %+v", c)
	}
	if res.Totals.CallErrors["timeout"] != 1 {
		t.Errorf("call errors = %v", res.Totals.CallErrors)
	}
	if h := res.Histogram(HistScenario, UnnamedScenario); h == nil || h.Count != 1 || h.MaxUS != 0 {
		t.Errorf("negative latency not recorded as 0: %+v", h)
	}
	// The result is valid: it reads back.
	if err := res.validate(); err != nil {
		t.Error(err)
	}
}

func BenchmarkCallDone(b *testing.B) {
	a := NewAggregator(Meta{})
	b.RunParallel(func(pb *testing.PB) {
		c := &runner.Call{Kind: runner.CallTurn, Scenario: "s", Turn: 1, Latency: 120 * time.Millisecond, Attempts: 1}
		i := 0
		for pb.Next() {
			c.Conversation = i
			i++
			a.CallDone(c)
		}
	})
}

func BenchmarkSnapshot(b *testing.B) {
	a := NewAggregator(Meta{})
	for i := 0; i < 10000; i++ {
		a.CallDone(&runner.Call{Kind: runner.CallTurn, Scenario: "s", Conversation: i, Turn: i % 5, Latency: time.Duration(i) * time.Millisecond})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.CallDone(&runner.Call{Kind: runner.CallTurn, Scenario: "s", Conversation: i, Turn: 1, Latency: time.Millisecond})
		_ = a.Snapshot()
	}
}

// TestSnapshotInFlight: conversations started and not done are in flight;
// one the runner skipped (never started) does not count.
func TestSnapshotInFlight(t *testing.T) {
	a := NewAggregator(Meta{RunID: "r"})
	now := time.Now()
	convs := make([]*runner.Conversation, 3)
	for i := range convs {
		convs[i] = &runner.Conversation{ID: i + 1, Start: now}
		a.ConversationStarted(convs[i])
	}
	if got := a.Snapshot().InFlight; got != 3 {
		t.Errorf("in flight %d, want 3", got)
	}
	convs[0].Outcome = runner.Passed
	a.ConversationDone(convs[0])
	a.ConversationDone(&runner.Conversation{ID: 9, Outcome: runner.NotRun}) // skipped: never started
	s := a.Snapshot()
	if s.InFlight != 2 || s.Conversations != 2 || s.Passed != 1 || s.NotRun != 1 {
		t.Errorf("snapshot %+v, want 2 in flight, 2 done (1 passed, 1 not run)", s)
	}
	var _ runner.StartObserver = a
}
