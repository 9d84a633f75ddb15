package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestProfiles(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		env    map[string]string
		files  []string // written, not empty
		stderr string   // substring of stderr; empty: nothing
	}{
		{name: "none", env: map[string]string{}},
		{name: "both", env: map[string]string{"EVALRUN_CPUPROFILE": filepath.Join(dir, "cpu.prof"), "EVALRUN_MEMPROFILE": filepath.Join(dir, "mem.prof")},
			files: []string{"cpu.prof", "mem.prof"}},
		{name: "unwritable", env: map[string]string{"EVALRUN_CPUPROFILE": filepath.Join(dir, "no", "cpu.prof"), "EVALRUN_MEMPROFILE": filepath.Join(dir, "no", "mem.prof")},
			stderr: "EVALRUN_CPUPROFILE=" + filepath.Join(dir, "no", "cpu.prof") + ": open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			stop := startProfiles(func(k string) string { return tt.env[k] }, &stderr)
			stop()
			for _, f := range tt.files {
				fi, err := os.Stat(filepath.Join(dir, f))
				if err != nil || fi.Size() == 0 {
					t.Errorf("%s: %v (size %v)", f, err, fi)
				}
			}
			if tt.stderr == "" && stderr.Len() > 0 || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q, want %q", stderr.String(), tt.stderr)
			}
			if tt.stderr != "" && !strings.Contains(stderr.String(), "EVALRUN_MEMPROFILE") {
				t.Errorf("stderr %q does not name EVALRUN_MEMPROFILE", stderr.String())
			}
		})
	}
}

func TestTuneGC(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	tests := []struct {
		gogc     string
		inFlight int
		want     int
	}{
		{"", 50, gcPercent},
		{"", gcInFlight, gcPercent},
		{"", gcInFlight + 1, 100},
		{"", 10000, 100},
		{"50", 50, 100}, // GOGC set: left alone
		{"off", 50, 100},
	}
	for _, tt := range tests {
		debug.SetGCPercent(100)
		tuneGC(func(k string) string {
			if k == "GOGC" {
				return tt.gogc
			}
			return ""
		}, tt.inFlight)
		if got := debug.SetGCPercent(100); got != tt.want {
			t.Errorf("GOGC %q, %d in flight: GC percent %d, want %d", tt.gogc, tt.inFlight, got, tt.want)
		}
	}
}
