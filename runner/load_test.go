package runner

import (
	"context"
	"slices"
	"testing"
	"time"
)

func mustOpen(t *testing.T, o OpenOptions) *OpenSchedule {
	t.Helper()
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOpenModelRun(t *testing.T) {
	// Arrivals every 2 ms; every call takes 30 ms: the open model does not
	// wait for the agent, so many conversations overlap.
	conn := &fakeConn{delay: 30 * time.Millisecond}
	rec := &recorder{}
	sum, err := Run(context.Background(), suiteOf(scenario(t, "s", 1, 40)), Options{
		Conn: conn, Observer: rec, Schedule: mustOpen(t, OpenOptions{Rate: 500}),
	})
	if err != nil {
		t.Fatal(err)
	}
	m := rec.checkAccounted(t, 40)
	if sum.Outcomes[Passed] != 40 || sum.EndedBy != EndSuite {
		t.Fatalf("summary %+v", sum)
	}
	if n := conn.maxInflight.Load(); n < 3 {
		t.Errorf("at most %d calls in flight; the open model should not wait for replies", n)
	}
	// Conversations are scheduled on the arrival grid whatever the timing.
	first := m[1].Scheduled
	for id := 1; id <= 40; id++ {
		want := first.Add(time.Duration(id-1) * 2 * time.Millisecond)
		if got := m[id].Scheduled; !near(got.Sub(want), 0, time.Microsecond) {
			t.Errorf("conversation %d scheduled at +%v, want +%v", id, got.Sub(first), want.Sub(first))
		}
		if m[id].Start.Before(m[id].Scheduled) {
			t.Errorf("conversation %d started before its arrival time", id)
		}
	}
	// The first call of each conversation is measured from its arrival.
	for _, c := range rec.calls {
		if c.Kind == CallNewChat && !c.Intended.Equal(m[c.Conversation].Scheduled) {
			t.Errorf("new chat of %d: intended %v, scheduled %v", c.Conversation, c.Intended, m[c.Conversation].Scheduled)
		}
	}
}

// blockingLimiter makes every call wait d before it may be sent.
type blockingLimiter struct{ d time.Duration }

func (l blockingLimiter) Wait(ctx context.Context) error {
	select {
	case <-time.After(l.d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestLimiterWaitCountsInLatencyNotService(t *testing.T) {
	const wait = 100 * time.Millisecond
	rec := &recorder{}
	_, err := Run(context.Background(), suiteOf(scenario(t, "s", 1, 2)), Options{
		Conn: &fakeConn{}, Observer: rec, Limiters: []Limiter{blockingLimiter{wait}},
		Schedule: mustOpen(t, OpenOptions{Rate: 1000}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.calls) != 4 {
		t.Fatalf("%d calls, want 4", len(rec.calls))
	}
	for _, c := range rec.calls {
		if c.Latency < wait {
			t.Errorf("%s call: latency %v below the limiter's wait %v", c.Kind, c.Latency, wait)
		}
		if c.Service >= wait {
			t.Errorf("%s call: service %v includes the limiter's wait", c.Kind, c.Service)
		}
	}
}

func TestRepeatReplaysTheSuite(t *testing.T) {
	rec := &recorder{}
	a, b := scenario(t, "a", 1, 1), scenario(t, "b", 1, 2)
	sum, err := Run(context.Background(), suiteOf(a, b), Options{Conn: &fakeConn{}, Observer: rec, Repeat: 3})
	if err != nil {
		t.Fatal(err)
	}
	m := rec.checkAccounted(t, 9)
	if sum.Conversations != 9 {
		t.Errorf("summary counts %d conversations", sum.Conversations)
	}
	// One pass is a0 b0 b1; each scenario counts its own iterations over
	// the passes (a: 0..2, b: 0..5), not by the largest repeat.
	var got []string
	for id := 1; id <= 9; id++ {
		got = append(got, m[id].Scenario.Name+string(rune('0'+m[id].Iteration)))
	}
	want := []string{"a0", "b0", "b1", "a1", "b2", "b3", "a2", "b4", "b5"}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func TestDurationLoopsTheSuite(t *testing.T) {
	rec := &recorder{}
	sum, err := Run(context.Background(), suiteOf(scenario(t, "s", 1, 1)), Options{
		Conn: &fakeConn{delay: 2 * time.Millisecond}, Observer: rec, Concurrency: 2, Duration: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.EndedBy != EndDuration {
		t.Errorf("ended by %q, want duration", sum.EndedBy)
	}
	if sum.Conversations < 2 || sum.Outcomes[Passed] != sum.Conversations {
		t.Errorf("summary %+v: want several conversations, all passed", sum)
	}
	rec.checkAccounted(t, sum.Conversations)
}

func TestMaxConversationsBoundsADuration(t *testing.T) {
	rec := &recorder{}
	sum, err := Run(context.Background(), suiteOf(scenario(t, "s", 1, 1)), Options{
		Conn: &fakeConn{}, Observer: rec, Duration: time.Minute, MaxConversations: 5,
		Schedule: mustOpen(t, OpenOptions{Rate: 1000}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.EndedBy != EndSuite || sum.Conversations != 5 || sum.Outcomes[Passed] != 5 {
		t.Errorf("summary %+v, want 5 passed conversations", sum)
	}
	rec.checkAccounted(t, 5)
}

func TestStagesEndTheRun(t *testing.T) {
	// 0 → 200/s over 100 ms: the integral is 10 conversations.
	rec := &recorder{}
	sum, err := Run(context.Background(), suiteOf(scenario(t, "s", 1, 1)), Options{
		Conn: &fakeConn{}, Observer: rec, Repeat: 1000,
		Schedule: mustOpen(t, OpenOptions{Stages: []Stage{{200, 100 * time.Millisecond}}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.EndedBy != EndSchedule || sum.Conversations != 10 {
		t.Errorf("summary %+v, want 10 conversations ended by the schedule", sum)
	}
	rec.checkAccounted(t, 10)
}

func TestGraceCutsConversationsShort(t *testing.T) {
	hold := make(chan struct{}) // never closed: the agent never answers
	conn := &fakeConn{hold: hold}
	rec := &recorder{}
	sum, err := Run(context.Background(), suiteOf(scenario(t, "s", 2, 1)), Options{
		Conn: conn, Observer: rec, Duration: 50 * time.Millisecond, Grace: 50 * time.Millisecond,
		Schedule: mustOpen(t, OpenOptions{Rate: 100}),
	})
	if err != nil {
		t.Fatalf("a grace cut-off is not an error: %v", err)
	}
	if sum.Interrupted || sum.StopReason != "" {
		t.Errorf("summary %+v: a grace cut-off is not an interrupt", sum)
	}
	if sum.Conversations == 0 {
		t.Fatal("nothing started")
	}
	for id, c := range rec.checkAccounted(t, sum.Conversations) {
		if c.Outcome != NotRun || c.Reason != ReasonGrace {
			t.Errorf("conversation %d: %s %q, want not_run %q", id, c.Outcome, c.Reason, ReasonGrace)
		}
	}
	// One attempt at most per conversation: a cut call is not retried. An
	// arrival due just before the end may be cut by the grace before its
	// first call is sent, so there can be fewer attempts.
	if n := conn.attempts.Load(); n > int64(sum.Conversations) || n == 0 {
		t.Errorf("%d attempts for %d conversations: want 1 to %d (a cut call must not be retried)", n, sum.Conversations, sum.Conversations)
	}
}

func TestGraceLetsConversationsFinish(t *testing.T) {
	// Calls take 60 ms and the duration is 30 ms: the conversations started
	// finish within the (default) grace.
	rec := &recorder{}
	sum, err := Run(context.Background(), suiteOf(scenario(t, "s", 1, 1)), Options{
		Conn: &fakeConn{delay: 60 * time.Millisecond}, Observer: rec, Duration: 30 * time.Millisecond,
		Schedule: mustOpen(t, OpenOptions{Rate: 100}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Conversations == 0 || sum.Outcomes[Passed] != sum.Conversations {
		t.Errorf("summary %+v: every started conversation should pass", sum)
	}
}

func TestBudgetBoundsADuration(t *testing.T) {
	// 10 calls of budget, 2 calls per conversation: 5 conversations, then
	// the run stops scheduling long before its hour is up.
	budget := NewBudget(10, 1, 0)
	conn := &fakeConn{}
	rec := &recorder{}
	sum, err := Run(context.Background(), suiteOf(scenario(t, "s", 1, 1)), Options{
		Conn: conn, Observer: rec, Budget: budget, Duration: time.Hour,
		Schedule: mustOpen(t, OpenOptions{Rate: 1000}),
	})
	if err != nil {
		t.Fatalf("running out of budget in a timed run is not an error: %v", err)
	}
	if sum.EndedBy != EndBudget || sum.Conversations != 5 || sum.Outcomes[Passed] != 5 {
		t.Errorf("summary %+v, want 5 passed conversations ended by the budget", sum)
	}
	if n := conn.attempts.Load(); n > 10 {
		t.Errorf("%d calls sent with a budget of 10", n)
	}
	rec.checkAccounted(t, 5)
}

func TestLoadApplyAndEstimate(t *testing.T) {
	a, b := scenario(t, "a", 1, 1), scenario(t, "b", 3, 1) // 2 and 4 calls
	suite := suiteOf(a, b)
	for _, tc := range []struct {
		name    string
		load    Load
		want    int64
		bounded bool
		calls   int64
	}{
		{name: "one pass", load: Load{}, want: 2, bounded: true, calls: 6},
		{name: "repeat", load: Load{Repeat: 3}, want: 6, bounded: true, calls: 18},
		{name: "repeat capped", load: Load{Repeat: 3, MaxConversations: 3}, want: 3, bounded: true, calls: 8},
		{name: "open at a rate, one pass", load: Load{Rate: 5}, want: 2, bounded: true, calls: 6},
		{name: "open for a duration", load: Load{Rate: 2000, Duration: 10 * time.Second}, want: 20000, bounded: true, calls: 60000},
		{name: "stages", load: Load{Stages: []Stage{{10, 10 * time.Second}, {50, 10 * time.Second}}}, want: 350, bounded: true, calls: 175*2 + 175*4},
		{name: "stages cut by duration", load: Load{Stages: []Stage{{10, 10 * time.Second}}, Duration: 5 * time.Second}, want: 13, bounded: true},
		{name: "poisson adds 3 sd", load: Load{Rate: 100, Duration: time.Second, Arrival: ArrivalPoisson}, want: 130, bounded: true},
		{name: "duration and repeat", load: Load{Rate: 100, Duration: time.Hour, Repeat: 2}, want: 4, bounded: true},
		{name: "closed for a duration", load: Load{Concurrency: 4, Duration: time.Minute}, bounded: false},
		{name: "closed for a duration, capped", load: Load{Duration: time.Minute, MaxConversations: 7}, want: 7, bounded: true},
	} {
		n, ok := ScheduledConversations(suite, tc.load)
		if n != tc.want || ok != tc.bounded {
			t.Errorf("%s: %d conversations (bounded %v), want %d (%v)", tc.name, n, ok, tc.want, tc.bounded)
		}
		e, ok := ScheduleEstimate(suite, tc.load, 1, 0.1)
		if ok != tc.bounded || e.Conversations != tc.want {
			t.Errorf("%s: estimate %+v", tc.name, e)
		}
		if tc.calls > 0 && e.Calls != tc.calls {
			t.Errorf("%s: %d calls, want %d", tc.name, e.Calls, tc.calls)
		}
		if ok && e.WorstCase != e.Cost+retryAllowance(e.Cost, 0.1) {
			t.Errorf("%s: worst case %d of cost %d", tc.name, e.WorstCase, e.Cost)
		}
	}

	// The looped estimate agrees with EstimateCost for one pass.
	if got, want := loopedEstimate(plan(suite), costOptions(nil), 2, 2, 0.25), EstimateCost(suite, 2, 0.25); got != want {
		t.Errorf("looped estimate of one pass %+v, EstimateCost %+v", got, want)
	}

	// --partial over a timed run: the largest prefix of the looped order.
	n, fit := FitSchedule(suite, Load{Rate: 10, Duration: time.Hour}, 20, 1, 0)
	// a b a b a b a costs 2+4+2+4+2+4+2 = 20; an eighth (b) would make 24.
	if n != 7 || fit.WorstCase != 20 {
		t.Errorf("FitSchedule: %d conversations, %+v", n, fit)
	}
	if n, _ := FitSchedule(suite, Load{Concurrency: 2, Duration: time.Hour}, 1, 1, 0); n != 0 {
		t.Errorf("FitSchedule with room for no conversation: %d", n)
	}

	var opts Options
	opts.MaxConversations = 4 // a --partial limit
	if err := (Load{Rate: 10, Stages: []Stage{{20, time.Minute}}, MaxConversations: 9, Grace: -1}).Apply(&opts, 1); err != nil {
		t.Fatal(err)
	}
	if _, ok := opts.Schedule.(*OpenSchedule); !ok || opts.Duration != time.Minute || opts.MaxConversations != 4 || opts.Grace != -1 {
		t.Errorf("applied options %+v", opts)
	}
	if err := (Load{Concurrency: 3, MaxInFlight: 5}).Apply(&opts, 1); err == nil {
		t.Error("max in flight with the closed model accepted")
	}
	if err := (Load{Rate: -2, Repeat: -1}).Check(); err == nil {
		t.Error("bad load accepted")
	}
}
