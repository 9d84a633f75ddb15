//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNamedPipesRefused: every file evalrun reads (agent files, results,
// transcripts, evalrun.yaml, scenarios) is refused at once when it is a
// named pipe, instead of blocking the command until something writes to it.
func TestNamedPipesRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := func(name string) string {
		p := filepath.Join(dir, name)
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		return p
	}
	agentFile, result, config := fifo("x.agent.yaml"), fifo("result.json"), fifo("evalrun.yaml")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"agent file", []string{"run", "--quiet", "--agent", agentFile, "--out", filepath.Join(dir, "out.json"), repoPath("examples")}},
		{"result of report", []string{"report", result}},
		{"results of compare", []string{"compare", result, result}},
		{"evalrun.yaml", []string{"validate", "--config", config, repoPath("examples")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan int, 1)
			var c cli
			go func() { done <- c.run(t, tc.args...) }()
			select {
			case code := <-done:
				if code == exitOK || !strings.Contains(c.stderr.String(), "a named pipe (FIFO), not a regular file") {
					t.Errorf("exit %d, stderr:\n%s", code, c.stderr.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the command blocked on a named pipe")
			}
		})
	}
}
