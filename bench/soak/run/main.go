// Command run is the driver of bench/soak.sh: it runs randomized evalrun
// runs (see package soak) with the built evalrun binary against a simulated
// agent on loopback, sends real SIGINTs at random moments, checks every
// promise after each run and prints the counts.
//
//	go run ./bench/soak/run -bin ./evalrun -runs 1000 -seed 1 -par 4
//
// It exits 1 when a promise was broken in some run, printing each such run
// with its case (to reproduce it: -seed S -only N).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/evalrun/evalrun/bench/soak"
)

func main() {
	bin := flag.String("bin", "./evalrun", "the evalrun binary")
	runs := flag.Int("runs", 1000, "randomized runs")
	seed := flag.Uint64("seed", 1, "seed of the cases")
	par := flag.Int("par", 4, "runs at once")
	only := flag.Int("only", -1, "run only case N (to reproduce a failure)")
	keep := flag.Bool("keep", false, "keep the temporary directory of failed runs")
	deadline := flag.Duration("run-timeout", 3*time.Minute, "kill a run that takes longer (counted as a bad exit)")
	verbose := flag.Bool("v", false, "print every run")
	flag.Parse()

	var (
		mu    sync.Mutex
		tally soak.Tally
		wg    sync.WaitGroup
	)
	jobs := make(chan int)
	start := time.Now()
	for w := 0; w < *par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				c := soak.NewCase(*seed, i, soak.Full)
				v, dir, err := runOne(*bin, c, *deadline)
				mu.Lock()
				if err != nil {
					fmt.Fprintf(os.Stderr, "case %d: setup: %v\n", i, err)
					v.BadExit = true
				}
				tally.Add(v)
				if !v.OK() || *verbose {
					fmt.Printf("%s\n  -> ok=%v calls=%d ledger=%d interrupted=%v refused=%v problems=%q\n", c, v.OK(), v.ServerCalls, v.LedgerDelta, v.Interrupted, v.Refused, v.Problems)
					if !v.OK() && *keep {
						fmt.Printf("  kept %s\n", dir)
						dir = ""
					}
				}
				if tally.Runs%100 == 0 {
					fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Since(start).Round(time.Second), &tally)
				}
				mu.Unlock()
				if dir != "" {
					os.RemoveAll(dir)
				}
			}
		}()
	}
	if *only >= 0 {
		jobs <- *only
	} else {
		for i := 0; i < *runs; i++ {
			jobs <- i
		}
	}
	close(jobs)
	wg.Wait()
	fmt.Printf("soak: seed %d, %s, in %s\n", *seed, &tally, time.Since(start).Round(time.Second))
	if tally.Failed() {
		os.Exit(1)
	}
}

// runOne runs case c with the binary and checks it; it returns the
// temporary directory of the run (to remove).
func runOne(bin string, c *soak.Case, deadline time.Duration) (soak.Verdict, string, error) {
	dir, err := os.MkdirTemp("", "evalrun-soak-")
	if err != nil {
		return soak.Verdict{}, "", err
	}
	if err := c.Prepare(dir); err != nil {
		return soak.Verdict{}, dir, err
	}
	srv, err := c.StartAgent()
	if err != nil {
		return soak.Verdict{}, dir, err
	}
	defer srv.Close()

	cmd := exec.Command(bin, c.Args(srv.URL)...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"XDG_STATE_HOME=" + dir + "/xdg-state",
		"XDG_CACHE_HOME=" + dir + "/xdg-cache",
		soak.KeyEnv + "=" + c.Key,
	}
	var stderr bytes.Buffer
	cmd.Stdout = nil
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return soak.Verdict{}, dir, err
	}
	var timers []*time.Timer
	signal := func(d time.Duration) {
		timers = append(timers, time.AfterFunc(d, func() { _ = cmd.Process.Signal(syscall.SIGINT) }))
	}
	if c.Interrupt > 0 {
		signal(c.Interrupt)
	}
	if c.SecondInterrupt > 0 {
		signal(c.SecondInterrupt)
	}
	hung := false
	kill := time.AfterFunc(deadline, func() { hung = true; _ = cmd.Process.Kill() })
	werr := cmd.Wait()
	kill.Stop()
	for _, t := range timers {
		t.Stop()
	}
	o := soak.Outcome{Stderr: stderr.String(), Hung: hung}
	var ee *exec.ExitError
	switch {
	case werr == nil:
	case errors.As(werr, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			o.Signaled = true
		} else {
			o.Exit = ee.ExitCode()
		}
	default:
		return soak.Verdict{}, dir, werr
	}
	// The agent's counters are final once the client is gone; give calls
	// abandoned at the very end a moment to be counted.
	time.Sleep(20 * time.Millisecond)
	return c.Check(srv, o), dir, nil
}
