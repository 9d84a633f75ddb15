package report

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

var loadT0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// lagConv returns a started conversation with the given schedule lag.
func lagConv(id int, scheduled time.Time, lag time.Duration) *runner.Conversation {
	return &runner.Conversation{
		ID: id, Scenario: &scenarios.Scenario{Name: "s", MinPassRate: 1}, Outcome: runner.Passed,
		Scheduled: scheduled, Start: scheduled.Add(lag), End: scheduled.Add(lag + time.Millisecond),
	}
}

func TestMissedArrivalsCountInTheLag(t *testing.T) {
	// 90 arrivals started 2 ms late; 10 were due but never started (the run
	// stopped 1 s after them): they count in the lag with their 1 s, and
	// the warning names them.
	a := NewAggregator(Meta{Started: loadT0, Load: LoadInfo{Model: LoadOpen, PeakRate: 100}})
	for i := range 100 {
		at := loadT0.Add(time.Duration(i) * 10 * time.Millisecond)
		if i < 90 {
			a.ConversationDone(lagConv(i, at, 2*time.Millisecond))
			continue
		}
		a.ConversationDone(&runner.Conversation{ID: i, Scenario: &scenarios.Scenario{Name: "s", MinPassRate: 1},
			Outcome: runner.NotRun, Reason: runner.ReasonMaxInFlight, Scheduled: at, End: at.Add(time.Second)})
	}
	res := a.Result(Finish{Ended: loadT0.Add(time.Minute), Schedule: runner.ScheduleStats{MaxInFlight: 5, Missed: 10, MissedCapped: 10}})
	lag := res.Histogram(HistScheduleLag, ScheduleLagName)
	if lag == nil || lag.Count != 100 || lag.MaxUS < 990_000 {
		t.Fatalf("schedule lag %+v, want 100 values, the largest 1s", lag)
	}
	found := false
	for _, w := range res.Warnings {
		if strings.Contains(w, "10 arrivals due before the end of the run never started") && strings.Contains(w, "--max-in-flight") {
			found = true
		}
	}
	if !found {
		t.Errorf("warnings %q lack the missed arrivals", res.Warnings)
	}
}

func TestServiceAndLagHistograms(t *testing.T) {
	a := NewAggregator(Meta{Started: loadT0, Load: LoadInfo{Model: LoadOpen, PeakRate: 10}})
	for i := range 100 {
		at := loadT0.Add(time.Duration(i) * 100 * time.Millisecond)
		a.CallDone(&runner.Call{Kind: runner.CallNewChat, Conversation: i, Turn: -1, Intended: at, Latency: 100 * time.Millisecond, Service: 5 * time.Millisecond, Attempts: 1})
		a.ConversationDone(lagConv(i, at, 2*time.Millisecond))
	}
	res := a.Result(Finish{Ended: loadT0.Add(time.Minute)})
	svc := res.Histogram(HistService, string(runner.CallNewChat))
	lat := res.Histogram(HistCallKind, string(runner.CallNewChat))
	lag := res.Histogram(HistScheduleLag, ScheduleLagName)
	if svc == nil || lat == nil || lag == nil {
		t.Fatalf("histograms missing: %+v", res.Histograms)
	}
	if svc.Count != 100 || svc.P50US < 4900 || svc.P50US > 5100 {
		t.Errorf("service %+v, want 100 values of 5ms", svc)
	}
	if lat.P50US < 99000 {
		t.Errorf("latency %+v, want 100ms", lat)
	}
	if lag.Count != 100 || lag.P99US < 1900 || lag.P99US > 2100 {
		t.Errorf("schedule lag %+v, want 100 values of 2ms", lag)
	}
	if ts := res.Histogram(HistService, string(runner.CallTurn)); ts == nil || ts.Count != 0 {
		t.Errorf("the turn service histogram should be there, empty: %+v", ts)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings %q: a 2ms lag at 10/s (gap 100ms) is on schedule", res.Warnings)
	}
	if _, err := ReadResult(bytes.NewReader(mustJSON(t, res))); err != nil {
		t.Errorf("the result with the new histograms does not read back: %v", err)
	}

	// Without a load model the result keeps its earlier shape.
	b := NewAggregator(Meta{Started: loadT0})
	b.CallDone(&runner.Call{Kind: runner.CallTurn, Intended: loadT0, Latency: time.Millisecond, Service: time.Millisecond, Attempts: 1})
	b.ConversationDone(lagConv(1, loadT0, time.Millisecond))
	for _, h := range b.Result(Finish{}).Histograms {
		if h.Kind == HistService || h.Kind == HistScheduleLag {
			t.Errorf("histogram %s without a load model", h.Kind)
		}
	}
}

func mustJSON(t *testing.T, r *Result) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := (JSONWriter{}).Write(&buf, r); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWarnings(t *testing.T) {
	openRun := func(rate float64, lag time.Duration) *Aggregator {
		a := NewAggregator(Meta{Started: loadT0, Load: LoadInfo{Model: LoadOpen, PeakRate: rate}})
		for i := range 200 {
			a.ConversationDone(lagConv(i, loadT0.Add(time.Duration(i)*time.Millisecond), lag))
		}
		return a
	}
	// closedRun sends rate calls/s for 10 s, none in [gapFrom, gapTo).
	closedRun := func(rate int, gapFrom, gapTo time.Duration) *Aggregator {
		a := NewAggregator(Meta{Started: loadT0, Load: LoadInfo{Model: LoadClosed}})
		step := time.Second / time.Duration(rate)
		for at := time.Duration(0); at < 10*time.Second; at += step {
			if at >= gapFrom && at < gapTo {
				continue
			}
			a.CallDone(&runner.Call{Kind: runner.CallTurn, Intended: loadT0.Add(at), Latency: time.Millisecond, Service: time.Millisecond, Attempts: 1})
		}
		return a
	}
	for _, tc := range []struct {
		name string
		agg  *Aggregator
		fin  Finish
		want []string // substrings, one per warning, in order
	}{
		{name: "open on schedule", agg: openRun(100, 500*time.Microsecond)},
		{name: "open, lag under the floor", agg: openRun(2000, 4*time.Millisecond)},
		{name: "open behind", agg: openRun(100, 1200*time.Millisecond),
			want: []string{"the run fell behind schedule: p99 schedule lag 1.2s"}},
		{name: "open, lag over a tenth of the gap", agg: openRun(10, 20*time.Millisecond),
			want: []string{"p99 schedule lag 20ms (conversations start every 100ms"}},
		{name: "cap hits and extra warnings", agg: openRun(100, 0),
			fin:  Finish{Warnings: []string{"from the CLI"}, Schedule: runner.ScheduleStats{MaxInFlight: 50, CapHits: 7, FirstCapHit: 1500 * time.Millisecond}},
			want: []string{"from the CLI", "cap of 50 conversations in flight (--max-in-flight) held back 7 arrivals, the first at +1.5s"}},
		{name: "closed, steady", agg: closedRun(500, 0, 0)},
		{name: "closed, stalled a second", agg: closedRun(500, 4*time.Second, 5*time.Second),
			want: []string{"the closed model sent almost no calls for 1.0s in all (500 calls/s otherwise)"}},
		{name: "closed, tail is not a stall", agg: closedRun(500, 8*time.Second, 11*time.Second)},
		{name: "closed, too slow to tell", agg: closedRun(50, 4*time.Second, 5*time.Second)},
		{name: "closed, short dip", agg: closedRun(500, 4*time.Second, 4200*time.Millisecond)},
	} {
		got := tc.agg.Result(tc.fin).Warnings
		if len(got) != len(tc.want) {
			t.Errorf("%s: warnings %q, want %d", tc.name, got, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: warning %q, want it to contain %q", tc.name, got[i], w)
			}
		}
	}
}

func TestConsoleShowsLoadRowsAndWarnings(t *testing.T) {
	a := NewAggregator(Meta{Started: loadT0, Load: LoadInfo{Model: LoadOpen, PeakRate: 100}})
	for i := range 50 {
		at := loadT0.Add(time.Duration(i) * 10 * time.Millisecond)
		a.CallDone(&runner.Call{Kind: runner.CallNewChat, Conversation: i, Turn: -1, Intended: at, Latency: time.Second, Service: time.Millisecond, Attempts: 1})
		a.ConversationDone(lagConv(i, at, time.Second))
	}
	var buf bytes.Buffer
	if err := (ConsoleWriter{Width: 100}).Write(&buf, a.Result(Finish{Ended: loadT0.Add(time.Minute)})); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"service new chat", "schedule lag", "warning: the run fell behind schedule: p99 schedule lag 1.0s"} {
		if !strings.Contains(out, want) {
			t.Errorf("console output lacks %q:\n%s", want, out)
		}
	}
}

func TestClosedStalls(t *testing.T) {
	flat := func(n int, v int64) []int64 {
		s := make([]int64, n)
		for i := range s {
			s[i] = v
		}
		return s
	}
	withGap := func(s []int64, from, to int) []int64 {
		for i := from; i < to; i++ {
			s[i] = 1
		}
		return s
	}
	always := func(int) bool { return true }
	never := func(int) bool { return false }
	during := func(from, to int) func(int) bool { return func(b int) bool { return b >= from && b < to } }
	for _, tc := range []struct {
		name     string
		sends    []int64
		heldBack func(int) bool
		want     time.Duration
	}{
		{"short run", flat(10, 100), nil, 0},
		{"steady", flat(100, 100), nil, 0},
		{"two stalls", withGap(withGap(flat(100, 100), 20, 30), 50, 55), nil, 1500 * time.Millisecond},
		{"two stalls, held back throughout", withGap(withGap(flat(100, 100), 20, 30), 50, 55), always, 1500 * time.Millisecond},
		{"ramp up and tail", withGap(withGap(flat(100, 100), 0, 10), 90, 100), nil, 0},
		{"two-bucket dip", withGap(flat(100, 100), 40, 42), nil, 0},
		{"low rate", withGap(flat(100, 8), 40, 50), nil, 0},
		// A burst that started every conversation at once holds none back:
		// the gap while the replies come is no stall.
		{"nothing held back", withGap(withGap(flat(100, 100), 20, 30), 50, 55), never, 0},
		// Only the part of a gap when a conversation was held back counts,
		// and only runs of 3 buckets of it.
		{"held back in part", withGap(withGap(flat(100, 100), 20, 30), 50, 55), during(24, 30), 600 * time.Millisecond},
	} {
		if got, _ := closedStalls(tc.sends, tc.heldBack); got != tc.want {
			t.Errorf("%s: stalled %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestClosedBurstWarnsOfNoStall(t *testing.T) {
	// A closed run's calls per 100 ms: a dense start, 700 ms of nothing
	// while the burst's replies come back, then dense again. Its schedule
	// waited for no slot (every conversation had started): no warning. The
	// same gap while the schedule held a conversation back is a stall.
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		waits []time.Duration
		warn  bool
	}{
		{"nothing held back", nil, false},
		{"held back", slices.Repeat([]time.Duration{runner.WaitBucket}, 40), true},
	} {
		a := NewAggregator(Meta{Started: start, Load: LoadInfo{Model: LoadClosed}})
		for b := range 40 {
			if b >= 10 && b < 17 {
				continue
			}
			for i := range 50 {
				a.CallDone(&runner.Call{Kind: runner.CallTurn, Scenario: "s", Conversation: b*50 + i, Attempts: 1, Status: 200,
					Latency: time.Millisecond, Service: time.Millisecond, Intended: start.Add(time.Duration(b)*100*time.Millisecond + time.Millisecond)})
			}
		}
		res := a.Result(Finish{Ended: start.Add(4 * time.Second), Schedule: runner.ScheduleStats{Closed: true, WaitStart: start, Waits: tc.waits}})
		warned := false
		for _, w := range res.Warnings {
			if strings.Contains(w, "the closed model sent almost no calls") {
				warned = true
			}
		}
		if warned != tc.warn {
			t.Errorf("%s: warnings %q; want a stall warning: %v", tc.name, res.Warnings, tc.warn)
		}
	}
}

// BenchmarkCallDoneLoad records calls with their service time and intended
// send time from many goroutines, as a load run does (compare
// BenchmarkCallDone): the batching keeps the extra histograms off the
// workers' path.
func BenchmarkCallDoneLoad(b *testing.B) {
	a := NewAggregator(Meta{Started: time.Now(), Load: LoadInfo{Model: LoadOpen, PeakRate: 1000}})
	b.RunParallel(func(pb *testing.PB) {
		c := &runner.Call{Kind: runner.CallTurn, Scenario: "s", Turn: 1, Latency: 120 * time.Millisecond, Service: 80 * time.Millisecond, Attempts: 1, Intended: time.Now()}
		i := 0
		for pb.Next() {
			c.Conversation = i
			i++
			a.CallDone(c)
		}
	})
}
