package runner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/scenarios"
)

var verbose = flag.Bool("props.v", false, "log each randomized run of TestRunProperties")

// TestRunProperties runs randomized suites against a faulty fake agent, with
// random concurrency, budget and a cancellation at a random moment, and checks
// the runner's invariants every time.
func TestRunProperties(t *testing.T) {
	iterations := 50
	if testing.Short() {
		iterations = 10
	}
	for it := range iterations {
		seed := uint64(it) + 1
		t.Run(fmt.Sprint(seed), func(t *testing.T) { checkRandomRun(t, seed) })
	}
}

func checkRandomRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 42))
	var scs []*scenarios.Scenario
	for i := range 1 + rng.IntN(4) {
		sc := scenario(t, fmt.Sprintf("s%d", i), 1+rng.IntN(4), 1+rng.IntN(15))
		if rng.IntN(2) == 0 {
			sc.OnFail = scenarios.OnFailContinue
		}
		for _, turn := range sc.Turns {
			turn.Think = time.Duration(rng.IntN(300)) * time.Microsecond
		}
		scs = append(scs, sc)
	}
	suite := suiteOf(scs...)
	total := len(plan(suite))
	concurrency := 1 + rng.IntN(64)

	faults := []*agent.Error{err429, err503, err500, errNet, errSent, err404,
		{Kind: agent.KindThrottled, Status: 429, RetryAfter: time.Millisecond}}
	frac := rng.Float64() * 0.5
	fault := randomFaults(seed, frac, faults...)
	quotaAt := int64(-1)
	if rng.IntN(5) == 0 {
		quotaAt = 1 + rng.Int64N(int64(total)*2)
	}
	conn := &fakeConn{delay: time.Duration(rng.IntN(200)) * time.Microsecond, fault: func(n int64, op string) *agent.Error {
		if n == quotaAt {
			return &agent.Error{Kind: agent.KindQuotaExhausted, Status: 402, Op: op}
		}
		return fault(n, op)
	}}

	est := EstimateCost(suite, 1, 0.2)
	limit := est.WorstCase
	if rng.IntN(2) == 0 {
		limit = rng.Int64N(est.WorstCase + 1)
	}
	budget := NewBudget(limit, 1, est.RetryAllowance)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if rng.IntN(3) != 0 {
		time.AfterFunc(time.Duration(rng.IntN(15000))*time.Microsecond, cancel)
	}
	rec := &recorder{}
	sum, err := Run(ctx, suite, Options{
		Conn: conn, Observer: rec, Concurrency: concurrency, Budget: budget,
		Retry: fastRetry, Seed: int64(seed), evaluate: failOn("turn 3"),
	})

	// Every conversation is reported exactly once, with a reason when it
	// did not pass.
	m := rec.checkAccounted(t, total)
	counts := map[Outcome]int{}
	for _, c := range m {
		counts[c.Outcome]++
		switch c.Outcome {
		case Passed:
			if len(c.Turns) != len(c.Scenario.Turns) {
				t.Errorf("conversation %d passed with %d of %d turns", c.ID, len(c.Turns), len(c.Scenario.Turns))
			}
		case NotRun:
			if c.Reason != ReasonBudget && c.Reason != ReasonInterrupted && c.Reason != ReasonQuotaExhausted {
				t.Errorf("conversation %d not run for %q", c.ID, c.Reason)
			}
		case Failed, Errored, Throttled:
			if c.Reason == "" {
				t.Errorf("conversation %d: %s without a reason", c.ID, c.Outcome)
			}
		default:
			t.Errorf("conversation %d: outcome %q", c.ID, c.Outcome)
		}
	}
	for o, n := range counts {
		if sum.Outcomes[o] != n {
			t.Errorf("summary counts %v, reported %v", sum.Outcomes, counts)
			break
		}
	}
	if sum.Conversations != total || sum.Completed != total-counts[NotRun] {
		t.Errorf("summary %+v for %d conversations, %d not run", sum, total, counts[NotRun])
	}

	// The agent never saw more calls than the budget, each of them charged.
	attempts := conn.attempts.Load()
	if attempts > limit || attempts != budget.Spent() || sum.Attempts != attempts {
		t.Errorf("agent saw %d attempts; budget limit %d, spent %d; summary %d", attempts, limit, budget.Spent(), sum.Attempts)
	}
	if budget.Available()+budget.RetryAllowance()+budget.Spent() != budget.Limit() {
		t.Errorf("reservations not all released")
	}
	if conn.maxInflight.Load() > int64(concurrency) {
		t.Errorf("%d calls in flight with concurrency %d", conn.maxInflight.Load(), concurrency)
	}
	var callAttempts int64
	for _, c := range rec.calls {
		callAttempts += int64(c.Attempts)
		if c.Latency < c.Service {
			t.Errorf("call latency %v < service %v", c.Latency, c.Service)
		}
	}
	if callAttempts != attempts {
		t.Errorf("calls report %d attempts, agent saw %d", callAttempts, attempts)
	}

	if *verbose {
		t.Logf("seed %d: conc %d, %d conversations, limit %d, attempts %d, %v, stop %q", seed, concurrency, total, limit, attempts, counts, sum.StopReason)
	}

	// The error says why the run stopped.
	switch {
	case sum.StopReason == StopQuotaExhausted:
		if !errors.Is(err, ErrQuotaExhausted) {
			t.Errorf("quota stop with err %v", err)
		}
	case sum.Interrupted:
		if !errors.Is(err, ErrInterrupted) || sum.StopReason != StopInterrupted {
			t.Errorf("interrupted with err %v, stop reason %q", err, sum.StopReason)
		}
	default:
		if err != nil {
			t.Errorf("clean run with err %v", err)
		}
		if countReason(m, ReasonInterrupted)+countReason(m, ReasonQuotaExhausted) != 0 {
			t.Errorf("clean run with stopped conversations")
		}
	}
}

func countReason(m map[int]*Conversation, reason string) int {
	n := 0
	for _, c := range m {
		if c.Outcome == NotRun && c.Reason == reason {
			n++
		}
	}
	return n
}
