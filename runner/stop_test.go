package runner

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evalrun/evalrun/agent"
)

// cancelAfter is an Observer that calls cancel once n conversations are done.
type cancelAfter struct {
	*recorder
	n      int64
	done   atomic.Int64
	cancel func()
}

func (c *cancelAfter) ConversationDone(conv *Conversation) {
	c.recorder.ConversationDone(conv)
	if c.done.Add(1) == c.n {
		c.cancel()
	}
}

func TestCancelMidRunAccountsForEveryConversation(t *testing.T) {
	const concurrency = 4
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancelled atomic.Bool
	var late atomic.Int64
	conn := &fakeConn{delay: 200 * time.Microsecond, fault: func(int64, string) *agent.Error {
		if cancelled.Load() {
			late.Add(1)
		}
		return nil
	}}
	obs := &cancelAfter{recorder: &recorder{}, n: 10, cancel: func() { cancelled.Store(true); cancel() }}
	sc := scenario(t, "s", 3, 100)
	for _, turn := range sc.Turns {
		turn.Think = 100 * time.Microsecond
	}
	sum, err := Run(ctx, suiteOf(sc), Options{Conn: conn, Observer: obs, Concurrency: concurrency})
	if !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want ErrInterrupted wrapping context.Canceled", err)
	}
	m := obs.checkAccounted(t, 100)
	notRun := 0
	for _, c := range m {
		switch c.Outcome {
		case NotRun:
			notRun++
			if c.Reason != ReasonInterrupted {
				t.Errorf("conversation %d: reason %q", c.ID, c.Reason)
			}
		case Passed:
		default:
			t.Errorf("conversation %d: %s (%s)", c.ID, c.Outcome, c.Reason)
		}
	}
	if notRun == 0 || !sum.Interrupted || sum.StopReason != StopInterrupted {
		t.Errorf("not run %d, summary %+v", notRun, sum)
	}
	if sum.Outcomes[NotRun] != notRun || sum.Outcomes[Passed]+notRun != 100 || sum.Completed != sum.Outcomes[Passed] {
		t.Errorf("summary counts %+v", sum)
	}
	// Calls already past their checks when the run stopped may still arrive,
	// at most one per conversation in flight.
	if late.Load() > concurrency {
		t.Errorf("%d calls sent after cancellation", late.Load())
	}
	after := conn.attempts.Load()
	time.Sleep(5 * time.Millisecond)
	if conn.attempts.Load() != after || conn.inflight.Load() != 0 {
		t.Error("calls still being made after Run returned")
	}
}

func TestCancelLetsCallsInFlightFinish(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn := &fakeConn{hold: make(chan struct{}), started: make(chan struct{}, 1)}
	rec := &recorder{}
	done := make(chan struct{})
	var sum *Summary
	go func() {
		defer close(done)
		sum, _ = Run(ctx, suiteOf(scenario(t, "s", 2, 3)), Options{Conn: conn, Observer: rec})
	}()
	<-conn.started // the first new chat is in flight
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned before the call in flight finished")
	case <-time.After(5 * time.Millisecond):
	}
	close(conn.hold)
	<-done
	if len(rec.calls) != 1 || rec.calls[0].Err != nil || rec.calls[0].Kind != CallNewChat {
		t.Fatalf("calls %+v, want the new chat to finish successfully", rec.calls)
	}
	m := rec.checkAccounted(t, 3)
	for _, c := range m {
		if c.Outcome != NotRun || c.Reason != ReasonInterrupted {
			t.Errorf("conversation %d: %s %q", c.ID, c.Outcome, c.Reason)
		}
	}
	if m[1].ChatID != "chat-1" || sum.Started != 1 || conn.attempts.Load() != 1 {
		t.Errorf("conversation 1 %+v, summary %+v", m[1], sum)
	}
}

func TestAbortCancelsCallsInFlight(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	abort, abortNow := context.WithCancel(context.Background())
	defer abortNow()
	conn := &fakeConn{hold: make(chan struct{}), started: make(chan struct{}, 8)}
	rec := &recorder{}
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, suiteOf(scenario(t, "s", 2, 5)), Options{
			Conn: conn, Observer: rec, Concurrency: 3, Abort: abort, CallTimeout: time.Minute, Retry: fastRetry})
		done <- err
	}()
	for range 3 {
		<-conn.started
	}
	cancel()
	abortNow()
	var err error
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after Abort")
	}
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err %v", err)
	}
	rec.checkAccounted(t, 5)
	if len(rec.calls) != 3 || conn.attempts.Load() != 3 {
		t.Fatalf("%d calls, %d attempts; want the 3 in flight, not retried", len(rec.calls), conn.attempts.Load())
	}
	for _, c := range rec.calls {
		if c.Err == nil || c.Attempts != 1 {
			t.Errorf("aborted call %+v", c)
		}
	}
}

// TestCallTimeout: a call cut short by CallTimeout is a timeout, and is not
// sent again: the agent may have processed it.
func TestCallTimeout(t *testing.T) {
	conn := &fakeConn{hold: make(chan struct{})}
	defer close(conn.hold)
	rec := &recorder{}
	retry := RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}
	_, err := Run(context.Background(), suiteOf(scenario(t, "s", 1, 1)), Options{Conn: conn, Observer: rec, CallTimeout: 2 * time.Millisecond, Retry: retry})
	if err != nil {
		t.Fatal(err)
	}
	c := rec.checkAccounted(t, 1)[1]
	if c.Outcome != Errored || conn.attempts.Load() != 1 || rec.calls[0].Err.Kind != agent.KindTimeout {
		t.Fatalf("conversation %+v, attempts %d", c, conn.attempts.Load())
	}
}

// quotaWatcher notes when the runner has seen the quota-exhausted answer.
type quotaWatcher struct {
	*recorder
	answered atomic.Bool
}

func (q *quotaWatcher) CallDone(c *Call) {
	if c.Err != nil && c.Err.Kind == agent.KindQuotaExhausted {
		q.answered.Store(true)
	}
	q.recorder.CallDone(c)
}

func TestQuotaExhaustedStopsTheRun(t *testing.T) {
	const concurrency = 4
	var late atomic.Int64
	rec := &quotaWatcher{recorder: &recorder{}}
	conn := &fakeConn{delay: 100 * time.Microsecond, fault: func(n int64, op string) *agent.Error {
		if rec.answered.Load() {
			late.Add(1)
		}
		if n == 20 {
			return &agent.Error{Kind: agent.KindQuotaExhausted, Status: 402, Op: op, Detail: "monthly quota used up"}
		}
		return nil
	}}
	budget := NewBudget(1000, 1, 10)
	sum, err := Run(context.Background(), suiteOf(scenario(t, "s", 2, 50)), Options{Conn: conn, Observer: rec, Concurrency: concurrency, Budget: budget})
	if !errors.Is(err, ErrQuotaExhausted) {
		t.Fatalf("err %v, want ErrQuotaExhausted", err)
	}
	if sum.StopReason != StopQuotaExhausted || sum.Interrupted {
		t.Errorf("summary %+v", sum)
	}
	if late.Load() > concurrency-1 {
		t.Errorf("%d calls sent after the quota answer", late.Load())
	}
	m := rec.checkAccounted(t, 50)
	quota := 0
	for _, c := range m {
		if c.Outcome == NotRun {
			if c.Reason != ReasonQuotaExhausted {
				t.Errorf("conversation %d: reason %q", c.ID, c.Reason)
			}
			quota++
		}
	}
	if quota < 40 {
		t.Errorf("only %d conversations stopped for quota", quota)
	}
	if budget.Spent() != conn.attempts.Load() || sum.Spent != budget.Spent() {
		t.Errorf("spent %d, summary %d, attempts %d", budget.Spent(), sum.Spent, conn.attempts.Load())
	}
	var quotaCalls int
	for _, c := range rec.calls {
		if c.Err != nil && c.Err.Kind == agent.KindQuotaExhausted {
			quotaCalls++
			if c.Attempts != 1 {
				t.Errorf("quota answer retried: %+v", c)
			}
		}
	}
	if quotaCalls != 1 {
		t.Errorf("%d quota-exhausted calls, want 1", quotaCalls)
	}
}

func TestBudgetNeverOvershotUnderLoad(t *testing.T) {
	suite := suiteOf(scenario(t, "a", 2, 60), scenario(t, "b", 3, 40)) // 60×3 + 40×4 = 340 calls
	const headroom = 200
	n, est := FitConversations(suite, headroom, 1, 0.3)
	if n == 0 || est.WorstCase > headroom {
		t.Fatalf("fit %d, %+v", n, est)
	}
	for _, partial := range []bool{true, false} {
		conn := &fakeConn{fault: randomFaults(11, 0.3, err429)}
		budget := NewBudget(headroom, 1, est.RetryAllowance)
		opts := Options{Conn: conn, Budget: budget, Concurrency: 64, Retry: fastRetry}
		total := 100
		if partial {
			opts.MaxConversations, total = n, n
		}
		rec := &recorder{}
		opts.Observer = rec
		sum, err := Run(context.Background(), suite, opts)
		if err != nil {
			t.Fatal(err)
		}
		rec.checkAccounted(t, total)
		if a := conn.attempts.Load(); a > headroom || a != budget.Spent() {
			t.Errorf("partial %v: agent saw %d attempts, budget spent %d, limit %d", partial, a, budget.Spent(), headroom)
		}
		if partial && sum.Started != n {
			t.Errorf("partial: started %d of %d that fit", sum.Started, n)
		}
		if !partial && sum.Outcomes[NotRun] == 0 {
			t.Errorf("without --partial some conversations should be refused for budget: %+v", sum)
		}
	}
}

func TestRunWithCancelledContextStartsNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	conn := &fakeConn{}
	rec := &recorder{}
	sum, err := Run(ctx, suiteOf(scenario(t, "s", 1, 4)), Options{Conn: conn, Observer: rec})
	if !errors.Is(err, ErrInterrupted) || !sum.Interrupted || sum.Started != 0 || conn.attempts.Load() != 0 {
		t.Fatalf("err %v summary %+v attempts %d", err, sum, conn.attempts.Load())
	}
	for _, c := range rec.checkAccounted(t, 4) {
		if c.Outcome != NotRun || c.Reason != ReasonInterrupted {
			t.Errorf("conversation %d: %s %q", c.ID, c.Outcome, c.Reason)
		}
	}
}

func TestRejectedKeyStopsTheRun(t *testing.T) {
	for _, status := range []int{401, 403} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			rec := &recorder{}
			conn := &fakeConn{fault: func(n int64, op string) *agent.Error {
				return &agent.Error{Kind: agent.KindClient, Status: status, Op: op, Detail: "Invalid API key"}
			}}
			sum, err := Run(context.Background(), suiteOf(scenario(t, "s", 2, 30)), Options{Conn: conn, Observer: rec, Concurrency: 2})
			if !errors.Is(err, ErrRejected) || sum.StopReason != StopRejected {
				t.Fatalf("err %v, stop reason %q; want ErrRejected", err, sum.StopReason)
			}
			if n := conn.attempts.Load(); n > 2 {
				t.Errorf("%d calls sent with a rejected key, want at most one per worker", n)
			}
			m := rec.checkAccounted(t, 30)
			var errored, rejected int
			for _, c := range m {
				switch {
				case c.Outcome == Errored:
					errored++
				case c.Outcome == NotRun && c.Reason == ReasonRejected:
					rejected++
				default:
					t.Errorf("conversation %d: %s %q", c.ID, c.Outcome, c.Reason)
				}
			}
			if errored < 1 || errored+rejected != 30 {
				t.Errorf("errored %d, not run for the key %d", errored, rejected)
			}
		})
	}
}
