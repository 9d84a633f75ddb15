package runner

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// TestThinkTimeHoldsNoGoroutine: conversations in their think time are
// parked on a timer, not on a goroutine each, and a stop wakes them at once
// to end as interrupted.
func TestThinkTimeHoldsNoGoroutine(t *testing.T) {
	const n = 300
	sc := scenario(t, "s", 2, n)
	sc.Turns[1].Think = time.Hour // never reached: the run is cancelled
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &recorder{}
	conn := &fakeConn{}
	before := runtime.NumGoroutine()
	done := make(chan error, 1)
	var sum *Summary
	go func() {
		var err error
		sum, err = Run(ctx, suiteOf(sc), Options{Conn: conn, Observer: rec, Concurrency: n})
		done <- err
	}()
	// Every conversation has sent its first turn and thinks for an hour.
	deadline := time.Now().Add(20 * time.Second)
	for conn.attempts.Load() < 2*n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := conn.attempts.Load(); got < 2*n {
		t.Fatalf("%d calls after 20s, want %d", got, 2*n)
	}
	time.Sleep(20 * time.Millisecond)
	if g := runtime.NumGoroutine() - before; g > n/2 {
		t.Errorf("%d goroutines for %d conversations in their think time, want far fewer", g, n)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("err %v, want ErrInterrupted", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after the cancel: parked conversations were not woken")
	}
	m := rec.checkAccounted(t, n)
	for _, c := range m {
		if c.Outcome != NotRun || c.Reason != ReasonInterrupted || len(c.Turns) != 1 {
			t.Errorf("conversation %d: %s (%s), %d turns; want not_run (interrupted) after 1 turn", c.ID, c.Outcome, c.Reason, len(c.Turns))
		}
	}
	if sum.Outcomes[NotRun] != n {
		t.Errorf("summary %+v", sum.Outcomes)
	}
}

// TestParkedConversationsResume: turns after a think time longer than
// parkAfter are sent, in order, at their time.
func TestParkedConversationsResume(t *testing.T) {
	sc := scenario(t, "s", 3, 20)
	for _, turn := range sc.Turns[1:] {
		turn.Think = 20 * time.Millisecond
	}
	rec := &recorder{}
	sum, err := Run(context.Background(), suiteOf(sc), Options{Conn: &fakeConn{}, Observer: rec, Concurrency: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rec.checkAccounted(t, 20) {
		if c.Outcome != Passed || len(c.Turns) != 3 {
			t.Fatalf("conversation %d: %s (%s), %d turns", c.ID, c.Outcome, c.Reason, len(c.Turns))
		}
		if d := c.End.Sub(c.Start); d < 40*time.Millisecond {
			t.Errorf("conversation %d took %v, less than its think times", c.ID, d)
		}
	}
	if sum.Outcomes[Passed] != 20 {
		t.Errorf("summary %+v", sum.Outcomes)
	}
}
