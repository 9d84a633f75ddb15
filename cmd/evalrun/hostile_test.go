package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// A matrix of 100 rows with repeat: 1000000 (a 3 KB file, 100,000,000
// conversations) is planned and refused by arithmetic: validate, a dry run
// and run --quota 20 answer with next to no memory (they built every
// conversation first: gigabytes, then "out of memory").
func TestHugeMatrixPlannedByArithmetic(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: boom\nrepeat: 1000000\nmatrix:\n")
	for i := range 100 {
		fmt.Fprintf(&b, "  - {plan: p%d}\n", i)
	}
	b.WriteString("turns:\n  - user: hello {{ plan }}\n")
	file := filepath.Join(t.TempDir(), "boom.yaml")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"validate", file}, 0, "100000000 conversations"},
		{[]string{"run", "--quiet", "--quota", "20", "--dry-run", file}, 0, "the run would be refused"},
		{[]string{"run", "--quiet", "--quota", "20", file}, exitUsage, "the run needs up to 220000000 calls (100000000 conversations) but only 20 are left"},
		{[]string{"run", "--quiet", "--quota", "20", "--partial", file}, 0, "calls: 18 of 20 budget"},
	}
	for _, tt := range tests {
		var c cli
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		code := c.run(t, tt.args...)
		runtime.ReadMemStats(&after)
		if code != tt.code || !strings.Contains(c.stdout.String()+c.stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, want %d with %q\nstdout %s\nstderr %s", tt.args, code, tt.code, tt.want, c.stdout.String(), c.stderr.String())
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
			t.Errorf("%v allocated %d MB; the plan must not be built", tt.args, alloc>>20)
		}
	}
}

// An interrupt during loading stops the command: exit 3, nothing sent.
func TestInterruptDuringLoading(t *testing.T) {
	stop, cancel := context.WithCancel(context.Background())
	cancel()
	c := cli{stop: stop}
	if code := c.run(t, "validate", repoPath("examples")); code != exitUnfinished || !strings.Contains(c.stderr.String(), "interrupted while loading the scenarios") {
		t.Errorf("exit %d, stderr %s", code, c.stderr.String())
	}
}
