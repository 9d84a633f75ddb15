package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunKinds runs the pricing example against the simulated agent through
// the Optimly (v1 and query auth) and OpenAI (streamed) transports, with the
// debug dump on.
func TestRunKinds(t *testing.T) {
	for _, args := range [][]string{
		{"--kind", "openai", "--stream", "--system-prompt", "Be brief."},
		{"--kind", "openai"},
		{"--auth", "query"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			dbg := filepath.Join(t.TempDir(), "debug.log")
			c := &cli{}
			all := append([]string{"run", "--quiet", "--debug", dbg}, args...)
			all = append(all, repoPath("examples/pricing.yaml"))
			if code := c.run(t, all...); code != 0 {
				t.Fatalf("exit %d\nstdout %s\nstderr %s", code, c.stdout.String(), c.stderr.String())
			}
			data, err := os.ReadFile(dbg)
			if err != nil || !strings.Contains(string(data), "> POST ") {
				t.Fatalf("debug dump: %v\n%s", err, data)
			}
			if strings.Contains(string(data), "sim-") && !strings.Contains(string(data), "[REDACTED]") {
				t.Errorf("debug dump shows the key")
			}
		})
	}
}

func TestRunKindErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--kind", "grpc"}, "valid kinds are optimly, openai, http"},
		{[]string{"--kind", "http"}, "targets: entry of evalrun.yaml"},
		{[]string{"--ca-cert", "/nonexistent.pem"}, "CACertFile"},
	} {
		c := &cli{}
		code := c.run(t, append(append([]string{"run", "--quiet"}, tt.args...), repoPath("examples/pricing.yaml"))...)
		if code != 2 || !strings.Contains(c.stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %s", tt.args, code, c.stderr.String())
		}
	}
}
