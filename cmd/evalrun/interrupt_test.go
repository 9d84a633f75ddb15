package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestInterruptWritesReportsMarkedInterrupted(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.json")
	stop, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := cli{stop: stop}
	go func() {
		time.Sleep(400 * time.Millisecond)
		cancel()
	}()
	code := c.run(t, "run", "--quiet", "--concurrency", "2", "--out", out, repoPath("testdata/slow"))
	if code != exitUnfinished {
		t.Fatalf("exit %d, want %d\n%s", code, exitUnfinished, c.stderr.String())
	}
	res := readResult(t, out)
	if !res.Interrupted {
		t.Errorf("result not marked interrupted")
	}
	if res.Totals.Conversations != 20 {
		t.Errorf("%d conversations accounted for, want all 20", res.Totals.Conversations)
	}
	if res.Totals.NotRun == 0 {
		t.Errorf("no conversation is not_run after an interrupt at 400ms of a ~12s run")
	}
	sum := res.Totals.Total()
	if sum != res.Totals.Conversations {
		t.Errorf("outcomes add up to %d, conversations %d", sum, res.Totals.Conversations)
	}
}
