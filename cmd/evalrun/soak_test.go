package main

import (
	"bytes"
	"context"
	"flag"
	"sync"
	"testing"
	"time"

	"github.com/evalrun/evalrun/bench/soak"
)

var (
	soakRuns = flag.Int("soak.runs", 100, "randomized runs of TestSoak")
	soakSeed = flag.Uint64("soak.seed", 1, "seed of TestSoak's cases")
)

// TestSoak is the CI-sized reliability soak (bench/soak.sh runs the full
// one with the built binary and real SIGINTs): randomized runs of the CLI,
// in-process, against a simulated agent on loopback with faults (429 with
// Retry-After, 5xx, dropped connections, malformed and slow bodies past the
// timeout), concurrency 1–256, budgets from tiny to ample, --partial, the
// server's quota running out, and interrupts at random moments (the first
// stops new work, a second in some runs cancels the calls in flight —
// what main wires SIGINT to). After each run: the agent counted no more
// calls than the budget, the ledger grew by exactly what it counted, every
// conversation is in the result with one outcome, the result file loads
// back, and the exit code is the documented one (see package soak).
//
// It is also the runner's property test of randomized runs with
// concurrency up to 256 and cancellation at a random moment.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak takes a while; run without -short")
	}
	const workers = 4
	var (
		mu    sync.Mutex
		tally soak.Tally
		wg    sync.WaitGroup
	)
	jobs := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				c := soak.NewCase(*soakSeed, i, soak.CI)
				v := soakOne(t, c)
				mu.Lock()
				tally.Add(v)
				mu.Unlock()
				if !v.OK() {
					t.Errorf("%s\n  broken: %q", c, v.Problems)
				}
			}
		}()
	}
	for i := 0; i < *soakRuns; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	t.Logf("soak: %s", &tally)
	if tally.Runs-tally.Refused < *soakRuns/2 {
		t.Errorf("only %d of %d runs got past the quota check; the soak tests too little", tally.Runs-tally.Refused, tally.Runs)
	}
}

// soakOne runs case c in-process and checks it.
func soakOne(t *testing.T, c *soak.Case) soak.Verdict {
	dir := t.TempDir()
	if err := c.Prepare(dir); err != nil {
		t.Fatal(err)
	}
	srv, err := c.StartAgent()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	stop, cancelStop := context.WithCancel(context.Background())
	abort, cancelAbort := context.WithCancel(context.Background())
	defer cancelStop()
	defer cancelAbort()
	if c.Interrupt > 0 {
		tm := time.AfterFunc(c.Interrupt, cancelStop)
		defer tm.Stop()
	}
	if c.SecondInterrupt > 0 {
		tm := time.AfterFunc(c.SecondInterrupt, func() { cancelStop(); cancelAbort() })
		defer tm.Stop()
	}
	env := map[string]string{soak.KeyEnv: c.Key, "HOME": dir, "XDG_STATE_HOME": dir + "/xdg-state", "XDG_CACHE_HOME": dir + "/xdg-cache"}
	var stdout, stderr bytes.Buffer
	a := &app{
		stdout: &syncWriter{w: &stdout},
		stderr: &syncWriter{w: &stderr},
		getenv: func(k string) string { return env[k] },
		stop:   stop,
		abort:  abort,
	}
	code := a.main(c.Args(srv.URL))
	return c.Check(srv, soak.Outcome{Exit: code, Stderr: stderr.String()})
}
