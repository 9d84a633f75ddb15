package runner

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/scenarios"
)

func TestRunOutcomes(t *testing.T) {
	onOp := func(op string, e *agent.Error) func(int64, string) *agent.Error {
		return func(_ int64, o string) *agent.Error {
			if o == op {
				return e
			}
			return nil
		}
	}
	firstSendFails := func(e *agent.Error) func(int64, string) *agent.Error {
		return func(n int64, o string) *agent.Error {
			if n == 2 {
				return e
			}
			return nil
		}
	}
	tests := []struct {
		name         string
		turns        int
		onFail       scenarios.OnFail
		fault        func(int64, string) *agent.Error
		evaluate     string // fail turns whose reply contains it
		want         Outcome
		wantTurns    []Outcome
		wantAttempts int64 // as counted by the agent
		wantReason   string
	}{
		{name: "pass", turns: 2, want: Passed, wantTurns: []Outcome{Passed, Passed}, wantAttempts: 3},
		{name: "fail stops", turns: 3, evaluate: "turn 2", want: Failed,
			wantTurns: []Outcome{Passed, Failed}, wantAttempts: 3, wantReason: "turn 2: not_contains turn 2: reply contained it"},
		{name: "fail continues", turns: 3, onFail: scenarios.OnFailContinue, evaluate: "turn 2", want: Failed,
			wantTurns: []Outcome{Passed, Failed, Passed}, wantAttempts: 4, wantReason: "turn 2:"},
		{name: "500 is not retried", turns: 2, fault: onOp("send", err500), want: Errored,
			wantTurns: []Outcome{Errored}, wantAttempts: 2, wantReason: "turn 1: server (HTTP 500)"},
		{name: "503 retried then passes", turns: 1, fault: firstSendFails(err503), want: Passed,
			wantTurns: []Outcome{Passed}, wantAttempts: 3},
		{name: "unsent transport failure retried then passes", turns: 1, fault: firstSendFails(errNet), want: Passed,
			wantTurns: []Outcome{Passed}, wantAttempts: 3},
		{name: "transport failure after sending not re-sent", turns: 2, fault: firstSendFails(errSent), want: Errored,
			wantTurns: []Outcome{Errored}, wantAttempts: 2, wantReason: "turn 1: transport, not re-sent (the agent may have processed it)"},
		{name: "429 until attempts run out", turns: 2, fault: onOp("send", err429), want: Throttled,
			wantTurns: []Outcome{Throttled}, wantAttempts: 1 + 4, wantReason: "turn 1: throttled (HTTP 429) after 4 attempts"},
		{name: "client error not retried", turns: 2, fault: onOp("send", err404), want: Errored,
			wantTurns: []Outcome{Errored}, wantAttempts: 2},
		{name: "new chat fails", turns: 2, fault: onOp("new-chat", err500), want: Errored,
			wantAttempts: 1, wantReason: "new chat: server (HTTP 500)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := scenario(t, "s", tt.turns, 1)
			if tt.onFail != "" {
				sc.OnFail = tt.onFail
			}
			conn := &fakeConn{fault: tt.fault}
			rec := &recorder{}
			opts := Options{Conn: conn, Observer: rec, Retry: fastRetry, RunID: "r1"}
			if tt.evaluate != "" {
				opts.evaluate = failOn(tt.evaluate)
			} else {
				opts.evaluate = failOn("\x00never")
			}
			sum, err := Run(context.Background(), suiteOf(sc), opts)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			c := rec.checkAccounted(t, 1)[1]
			if c.Outcome != tt.want {
				t.Errorf("outcome %q (%s), want %q", c.Outcome, c.Reason, tt.want)
			}
			if !strings.HasPrefix(c.Reason, tt.wantReason) {
				t.Errorf("reason %q, want prefix %q", c.Reason, tt.wantReason)
			}
			var got []Outcome
			for _, tr := range c.Turns {
				got = append(got, tr.Outcome)
			}
			if strings.Join(outcomeStrings(got), ",") != strings.Join(outcomeStrings(tt.wantTurns), ",") {
				t.Errorf("turn outcomes %v, want %v", got, tt.wantTurns)
			}
			if n := conn.attempts.Load(); n != tt.wantAttempts {
				t.Errorf("agent saw %d attempts, want %d", n, tt.wantAttempts)
			}
			if sum.Attempts != tt.wantAttempts || sum.Spent != tt.wantAttempts {
				t.Errorf("summary attempts %d spent %d, want %d", sum.Attempts, sum.Spent, tt.wantAttempts)
			}
			if sum.Completed != 1 || sum.Started != 1 || sum.Outcomes[tt.want] != 1 || sum.Interrupted || sum.StopReason != "" {
				t.Errorf("summary %+v", sum)
			}
			var callAttempts int64
			for _, call := range rec.calls {
				callAttempts += int64(call.Attempts)
			}
			if callAttempts != tt.wantAttempts {
				t.Errorf("calls report %d attempts, want %d", callAttempts, tt.wantAttempts)
			}
		})
	}
}

func outcomeStrings(os []Outcome) []string {
	var s []string
	for _, o := range os {
		s = append(s, string(o))
	}
	return s
}

func TestRunRecordsTurns(t *testing.T) {
	sc := scenario(t, "s", 2, 1)
	conn := &fakeConn{reply: func(content string) agent.Reply {
		return agent.Reply{Text: "re: " + content, TokensUsed: 7, Handoff: true,
			Tools: []agent.ToolExecution{{Tool: "lead_capture", Status: "executed"}}}
	}}
	rec := &recorder{}
	var seen []*scenarios.Observation
	opts := Options{Conn: conn, Observer: rec, RunID: "abc", evaluate: func(_ *scenarios.Turn, obs *scenarios.Observation, _ map[string]string) []scenarios.Verdict {
		seen = append(seen, obs) // turns of one conversation are sequential
		return nil
	}}
	if _, err := Run(context.Background(), suiteOf(sc), opts); err != nil {
		t.Fatal(err)
	}
	c := rec.checkAccounted(t, 1)[1]
	if c.ClientID != "evalrun-abc-1" || c.ChatID != "chat-1" || c.Outcome != Passed {
		t.Fatalf("conversation %+v", c)
	}
	if len(c.Turns) != 2 || c.Turns[1].Sent != "s turn 2" || c.Turns[1].Reply != "re: s turn 2" ||
		c.Turns[1].Tokens != 7 || !c.Turns[1].Handoff || len(c.Turns[1].Tools) != 1 || c.Turns[1].Attempts != 1 {
		t.Fatalf("turns %+v", c.Turns)
	}
	if len(seen) != 2 || seen[0].Tools[0].Name != "lead_capture" || seen[0].TokensUsed != 7 || !seen[0].Handoff {
		t.Fatalf("observations %+v", seen)
	}
	kinds := map[CallKind]int{}
	for _, call := range rec.calls {
		kinds[call.Kind]++
		if call.Kind == CallNewChat && call.Turn != -1 {
			t.Errorf("new chat call has turn %d", call.Turn)
		}
		if call.Status != 200 || call.Err != nil || call.Scenario != "s" || call.Conversation != 1 {
			t.Errorf("call %+v", call)
		}
	}
	if kinds[CallNewChat] != 1 || kinds[CallTurn] != 2 {
		t.Errorf("call kinds %v", kinds)
	}
}

func TestRunClientIDTemplate(t *testing.T) {
	sc := scenario(t, "s", 1, 2)
	sc.ClientID, _ = scenarios.ParseTemplate("qa-fixed")
	rec := &recorder{}
	if _, err := Run(context.Background(), suiteOf(sc), Options{Conn: &fakeConn{}, Observer: rec}); err != nil {
		t.Fatal(err)
	}
	for _, c := range rec.checkAccounted(t, 2) {
		if c.ClientID != "qa-fixed" {
			t.Errorf("client id %q", c.ClientID)
		}
	}
}

func TestRunOrderIsIterationMajor(t *testing.T) {
	a, b, c := scenario(t, "a", 1, 3), scenario(t, "b", 1, 1), scenario(t, "c", 1, 2)
	rec := &recorder{}
	sum, err := Run(context.Background(), suiteOf(a, b, c), Options{Conn: &fakeConn{}, Observer: rec})
	if err != nil {
		t.Fatal(err)
	}
	m := rec.checkAccounted(t, 6)
	want := []string{"a0", "b0", "c0", "a1", "c1", "a2"}
	for i, w := range want {
		got := m[i+1].Scenario.Name + string(rune('0'+m[i+1].Iteration))
		if got != w {
			t.Errorf("conversation %d is %s, want %s", i+1, got, w)
		}
	}
	if sum.Conversations != 6 || sum.Completed != 6 {
		t.Errorf("summary %+v", sum)
	}
}

func TestRunMaxConversations(t *testing.T) {
	conn := &fakeConn{}
	rec := &recorder{}
	sum, err := Run(context.Background(), suiteOf(scenario(t, "a", 2, 5)), Options{Conn: conn, Observer: rec, MaxConversations: 2})
	if err != nil {
		t.Fatal(err)
	}
	rec.checkAccounted(t, 2)
	if sum.Conversations != 2 || conn.attempts.Load() != 6 {
		t.Errorf("summary %+v, attempts %d", sum, conn.attempts.Load())
	}
}

func TestRunBadOptions(t *testing.T) {
	suite := suiteOf(scenario(t, "a", 1, 1))
	tests := []struct {
		name  string
		suite *scenarios.Suite
		opts  Options
		want  string
	}{
		{"nil conn", suite, Options{}, "Options.Conn is nil"},
		{"nil suite", nil, Options{Conn: &fakeConn{}}, "suite is nil"},
		{"negative concurrency", suite, Options{Conn: &fakeConn{}, Concurrency: -1}, "Options.Concurrency is -1"},
		{"negative max", suite, Options{Conn: &fakeConn{}, MaxConversations: -2}, "Options.MaxConversations is -2"},
		{"negative retry", suite, Options{Conn: &fakeConn{}, Retry: RetryPolicy{MaxAttempts: -1}}, "retry policy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum, err := Run(context.Background(), tt.suite, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want it to mention %q", err, tt.want)
			}
			if sum == nil {
				t.Fatal("nil summary")
			}
		})
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	const ra = 15 * time.Millisecond
	conn := &fakeConn{fault: func(n int64, op string) *agent.Error {
		if op == "send" && n <= 3 { // attempts 2 and 3: the first two sends
			return &agent.Error{Kind: agent.KindThrottled, Status: 429, RetryAfter: ra, Op: op}
		}
		return nil
	}}
	rec := &recorder{}
	retry := RetryPolicy{MaxAttempts: 5, BaseDelay: time.Microsecond, MaxDelay: time.Microsecond, MaxRetryAfter: time.Second}
	if _, err := Run(context.Background(), suiteOf(scenario(t, "s", 1, 1)), Options{Conn: conn, Observer: rec, Retry: retry}); err != nil {
		t.Fatal(err)
	}
	for _, c := range rec.calls {
		if c.Kind != CallTurn {
			continue
		}
		if c.Attempts != 3 || c.Err != nil {
			t.Fatalf("turn call %+v, want 3 attempts and success", c)
		}
		// Two Retry-After waits happened before the last attempt.
		if c.Latency < 2*ra {
			t.Errorf("latency %v shorter than two Retry-After waits (%v)", c.Latency, 2*ra)
		}
	}
	if got := rec.checkAccounted(t, 1)[1]; got.Outcome != Passed || got.Turns[0].Attempts != 3 {
		t.Errorf("conversation %+v", got)
	}
}

func TestRetryAfterCapped(t *testing.T) {
	conn := &fakeConn{fault: func(n int64, op string) *agent.Error {
		if op == "send" && n == 2 {
			return &agent.Error{Kind: agent.KindThrottled, Status: 429, RetryAfter: time.Hour, Op: op}
		}
		return nil
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	retry := RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxRetryAfter: time.Millisecond}
	sum, err := Run(ctx, suiteOf(scenario(t, "s", 1, 1)), Options{Conn: conn, Retry: retry})
	if err != nil || sum.Outcomes[Passed] != 1 {
		t.Fatalf("err %v summary %+v: an hour-long Retry-After must be capped", err, sum)
	}
}

func TestRetryStopsWhenAllowanceIsEmpty(t *testing.T) {
	conn := &fakeConn{fault: func(_ int64, op string) *agent.Error {
		if op == "send" {
			return &agent.Error{Kind: agent.KindThrottled, Status: 429, Op: op}
		}
		return nil
	}}
	budget := NewBudget(100, 1, 2)
	rec := &recorder{}
	_, err := Run(context.Background(), suiteOf(scenario(t, "s", 1, 2)), Options{Conn: conn, Observer: rec, Retry: fastRetry, Budget: budget})
	if err != nil {
		t.Fatal(err)
	}
	// 2 conversations × 2 calls, plus only the 2 retries the allowance has.
	if n := conn.attempts.Load(); n != 6 {
		t.Errorf("agent saw %d attempts, want 6", n)
	}
	for _, c := range rec.checkAccounted(t, 2) {
		if c.Outcome != Throttled {
			t.Errorf("conversation %d: %s (%s), want throttled", c.ID, c.Outcome, c.Reason)
		}
	}
	if budget.Spent() != 6 || budget.RetryAllowance() != 0 {
		t.Errorf("spent %d allowance %d", budget.Spent(), budget.RetryAllowance())
	}
}

func TestBudgetRefusesConversation(t *testing.T) {
	conn := &fakeConn{}
	rec := &recorder{}
	// Each conversation needs 3 calls; 7 units hold two of them.
	budget := NewBudget(7, 1, 0)
	sum, err := Run(context.Background(), suiteOf(scenario(t, "s", 2, 3)), Options{Conn: conn, Observer: rec, Budget: budget})
	if err != nil {
		t.Fatal(err)
	}
	m := rec.checkAccounted(t, 3)
	if m[3].Outcome != NotRun || m[3].Reason != ReasonBudget || len(m[3].Turns) != 0 {
		t.Errorf("conversation 3: %+v", m[3])
	}
	if conn.attempts.Load() != 6 || budget.Spent() != 6 || sum.Started != 2 || sum.Outcomes[NotRun] != 1 {
		t.Errorf("attempts %d spent %d summary %+v", conn.attempts.Load(), budget.Spent(), sum)
	}
}

func TestConcurrencyNeverExceeded(t *testing.T) {
	for _, n := range []int{1, 3, 8} {
		conn := &fakeConn{delay: time.Millisecond}
		sum, err := Run(context.Background(), suiteOf(scenario(t, "s", 2, 40)), Options{Conn: conn, Concurrency: n})
		if err != nil {
			t.Fatal(err)
		}
		if m := conn.maxInflight.Load(); m > int64(n) {
			t.Errorf("concurrency %d: %d calls in flight", n, m)
		}
		if sum.Completed != 40 {
			t.Errorf("concurrency %d: completed %d", n, sum.Completed)
		}
	}
}

func TestLatencyFromIntendedTime(t *testing.T) {
	sc := scenario(t, "s", 3, 4)
	for _, turn := range sc.Turns {
		turn.Think = time.Millisecond
	}
	conn := &fakeConn{delay: time.Millisecond, fault: randomFaults(3, 0.3, err429, err503)}
	rec := &recorder{}
	if _, err := Run(context.Background(), suiteOf(sc), Options{Conn: conn, Observer: rec, Concurrency: 2, Retry: fastRetry}); err != nil {
		t.Fatal(err)
	}
	if len(rec.calls) == 0 {
		t.Fatal("no calls")
	}
	for _, c := range rec.calls {
		if c.Latency < c.Service || c.Service <= 0 || c.Intended.IsZero() {
			t.Errorf("call %+v: latency %v < service %v", c, c.Latency, c.Service)
		}
	}
}

// countingLimiter counts how often it was waited on.
type countingLimiter struct{ n atomicCounter }

func (l *countingLimiter) Wait(ctx context.Context) error { l.n.add(); return ctx.Err() }

type failingLimiter struct{}

func (failingLimiter) Wait(context.Context) error { return errors.New("burst exceeded") }

func TestLimiterStack(t *testing.T) {
	a, b, chat := &countingLimiter{}, &countingLimiter{}, &countingLimiter{}
	conn := &fakeConn{fault: func(n int64, op string) *agent.Error {
		if n == 2 {
			return err429
		}
		return nil
	}}
	_, err := Run(context.Background(), suiteOf(scenario(t, "s", 2, 2)), Options{
		Conn: conn, Limiters: []Limiter{a, nil, b}, NewChatLimiter: chat, Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	// 2 conversations × 3 calls + 1 retry: every attempt waits on every limiter.
	if a.n.get() != 7 || b.n.get() != 7 {
		t.Errorf("limiters waited %d and %d times, want 7", a.n.get(), b.n.get())
	}
	if chat.n.get() != 2 {
		t.Errorf("new-chat limiter waited %d times, want 2", chat.n.get())
	}

	rec := &recorder{}
	sum, err := Run(context.Background(), suiteOf(scenario(t, "s", 1, 1)), Options{Conn: conn, Observer: rec, Limiters: []Limiter{failingLimiter{}}})
	if err != nil {
		t.Fatal(err)
	}
	if c := rec.checkAccounted(t, 1)[1]; c.Outcome != Errored || !strings.Contains(c.Reason, "rate limiter: burst exceeded") || sum.Attempts != 0 {
		t.Errorf("broken limiter: %+v, attempts %d", c, sum.Attempts)
	}
}

func TestParseLimit(t *testing.T) {
	tests := []struct {
		in      string
		perSec  float64
		wantErr string
	}{
		{"5/s", 5, ""},
		{"100/min", 100.0 / 60, ""},
		{" 1000 / h ", 1000.0 / 3600, ""},
		{"0.5/second", 0.5, ""},
		{"10", 0, "want COUNT/UNIT"},
		{"x/s", 0, "positive number"},
		{"-1/s", 0, "positive number"},
		{"0/s", 0, "positive number"},
		{"NaN/s", 0, "positive number"},
		{"3/day", 0, "unknown unit"},
	}
	for _, tt := range tests {
		l, err := ParseLimit(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if got := float64(l.Limit()); got < tt.perSec*0.999999 || got > tt.perSec*1.000001 || l.Burst() != 1 {
			t.Errorf("%q: limit %v burst %d, want %v/s burst 1", tt.in, got, l.Burst(), tt.perSec)
		}
	}
}

func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"5/s", "100/min", "1000/h", "1e300/s", "/", "", "1/", "0.0001/hour"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLimit(s)
		if err != nil {
			if l != nil {
				t.Fatal("limiter with an error")
			}
			return
		}
		if l.Limit() <= 0 || l.Burst() != 1 {
			t.Fatalf("%q: limit %v burst %d", s, l.Limit(), l.Burst())
		}
	})
}

// TestRunIterationsPerScenario: with --repeat, each scenario numbers its
// own conversations 0..n-1, whatever the other scenarios' repeat (a suite
// whose largest repeat is 3 used to number b's passes 0, 3, 6), and the
// shards of a sharded run together number them as the whole run does.
func TestRunIterationsPerScenario(t *testing.T) {
	want := map[string]int{"a": 9, "b": 3, "c": 6}
	check := func(t *testing.T, its map[string][]int) {
		t.Helper()
		for name, n := range want {
			got := slices.Sorted(slices.Values(its[name]))
			w := make([]int, n)
			for i := range w {
				w[i] = i
			}
			if !slices.Equal(got, w) {
				t.Errorf("scenario %s iterations %v, want %v", name, got, w)
			}
		}
	}
	run := func(t *testing.T, sh Shard, its map[string][]int) {
		a, b, c := scenario(t, "a", 1, 3), scenario(t, "b", 1, 1), scenario(t, "c", 1, 2)
		rec := &recorder{}
		o := Options{Repeat: 3, Shard: sh, Conn: &fakeConn{}, Observer: rec}
		if _, err := Run(context.Background(), suiteOf(a, b, c), o); err != nil {
			t.Fatal(err)
		}
		for _, conv := range rec.byID(t) {
			its[conv.Scenario.Name] = append(its[conv.Scenario.Name], conv.Iteration)
		}
	}
	t.Run("whole run", func(t *testing.T) {
		its := map[string][]int{}
		run(t, Shard{}, its)
		check(t, its)
	})
	t.Run("two shards", func(t *testing.T) {
		its := map[string][]int{}
		run(t, Shard{Index: 1, Count: 2}, its)
		run(t, Shard{Index: 2, Count: 2}, its)
		check(t, its)
	})
}

// startRecorder is a recorder that is also told when conversations start.
type startRecorder struct {
	recorder
	started sync.Map // conversation ID → true
	early   atomic.Int64
}

func (r *startRecorder) ConversationStarted(c *Conversation) {
	if _, dup := r.started.LoadOrStore(c.ID, true); dup {
		r.early.Add(1000) // reported twice
	}
}

func (r *startRecorder) ConversationDone(c *Conversation) {
	if _, ok := r.started.Load(c.ID); !ok && !c.Start.IsZero() {
		r.early.Add(1) // done before its start was reported
	}
	r.recorder.ConversationDone(c)
}

// TestStartObserver: an Observer that implements StartObserver hears of
// every conversation that starts, once, before its end, and of no other
// (a conversation the budget refuses never starts).
func TestStartObserver(t *testing.T) {
	rec := &startRecorder{}
	budget := NewBudget(7, 1, 0) // two conversations of three calls
	sum, err := Run(context.Background(), suiteOf(scenario(t, "s", 2, 3)), Options{Conn: &fakeConn{}, Observer: rec, Budget: budget, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	rec.started.Range(func(any, any) bool { n++; return true })
	if n != sum.Started || n != 2 || rec.early.Load() != 0 {
		t.Errorf("%d starts reported (problems %d), summary started %d", n, rec.early.Load(), sum.Started)
	}
}
