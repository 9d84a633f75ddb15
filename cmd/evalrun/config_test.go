package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "evalrun.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigErrorsNamePlace(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"typo", "concurency: 4\n", []string{"evalrun.yaml:1:1:", `unknown setting "concurency"`, `did you mean "concurrency"`}},
		{"bad value", "plan: starter\nconcurrency: many\n", []string{"evalrun.yaml:2:1:", "concurrency: invalid value \"many\""}},
		{"list for one value", "concurrency: [1, 2]\n", []string{"evalrun.yaml:1:1:", "takes one value"}},
		{"target option typo", "targets:\n  - name: a\n    kind: openai\n    openai: {modle: x}\n  - {name: b}\n",
			[]string{"evalrun.yaml:4:14:", `target "a": unknown key "modle" in openai`, `did you mean "model"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeConfig(t, tc.body)
			var c cli
			code := c.run(t, "run", "--config", cfg, repoPath("examples"))
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s", code, exitUsage, c.stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(c.stderr.String(), w) {
					t.Errorf("error does not contain %q:\n%s", w, c.stderr.String())
				}
			}
		})
	}
}

func TestConfigSuiteAndFlagsOverride(t *testing.T) {
	dir := t.TempDir()
	abs, err := filepath.Abs(repoPath("testdata/quota"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "evalrun.yaml")
	// The suite needs 100 calls; the file's quota refuses it, the
	// command line's quota lets it run.
	body := "suite: [" + abs + "]\nquota: 50\nretry_allowance: 0\nquiet: true\nlimits: [1000/s]\nthresholds: [\"pass_rate>=1\"]\n"
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var refused cli
	if code := refused.run(t, "run", "--config", cfg); code != exitUsage || !strings.Contains(refused.stderr.String(), "needs up to 100") {
		t.Fatalf("exit %d: %s", code, refused.stderr.String())
	}
	var ok cli
	if code := ok.run(t, "run", "--config", cfg, "--quota", "1000"); code != exitOK {
		t.Fatalf("exit %d: %s", code, ok.stderr.String())
	}
	if !strings.Contains(ok.stdout.String(), "hundred-calls") {
		t.Errorf("the suite from the config did not run:\n%s", ok.stdout.String())
	}
}

func TestConfigMissingExplicitFile(t *testing.T) {
	var c cli
	code := c.run(t, "run", "--config", filepath.Join(t.TempDir(), "nope.yaml"), repoPath("examples"))
	if code != exitUsage || !strings.Contains(c.stderr.String(), "no such file") {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
}

// TestConfigRangeErrorsAllAtOnce: values the flag parses but that are out
// of range are reported at their file:line:col, every one of them at once.
func TestConfigRangeErrorsAllAtOnce(t *testing.T) {
	cfg := writeConfig(t, "concurrency: -5\ntimeout: -1s\ncycle-start: 40\nretry_allowance: 2\nmax-attempts: 0\nquota_used: 99999999999999999999\n")
	var c cli
	code := c.run(t, "run", "--config", cfg, repoPath("examples"))
	if code != exitUsage {
		t.Fatalf("exit %d, want %d\n%s", code, exitUsage, c.stderr.String())
	}
	for _, w := range []string{
		"evalrun.yaml:1:1: concurrency: -5 is out of range: must be at least 1",
		"evalrun.yaml:2:1: timeout: -1s is out of range: must be a positive duration",
		"evalrun.yaml:3:1: cycle-start: 40 is out of range: must be a day from 1 to 28",
		"evalrun.yaml:4:1: retry-allowance: 2 is out of range: must be between 0 and 1",
		"evalrun.yaml:5:1: max-attempts: 0 is out of range: must be at least 1",
		`evalrun.yaml:6:1: quota-used: invalid value "99999999999999999999": want a whole number from 0 to 1000000000000000`,
	} {
		if !strings.Contains(c.stderr.String(), w) {
			t.Errorf("errors do not contain %q:\n%s", w, c.stderr.String())
		}
	}
}

// TestRangeFlagsOnCommandLine: the same ranges on the command line, every
// flag out of range named; an overflowing --quota-used names the flag and
// the valid range instead of wrapping negative.
func TestRangeFlagsOnCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--concurrency", "-5", "--cycle-start", "40"}, []string{"--concurrency -5: must be at least 1", "--cycle-start 40: must be a day from 1 to 28"}},
		{[]string{"--quota-used", "9223372036854775807"}, []string{"-quota-used", "want a whole number from 0 to 1000000000000000"}},
		{[]string{"--quota-used", "99999999999999999999"}, []string{"-quota-used", "want a whole number from 0 to 1000000000000000"}},
		{[]string{"--quota", "-3"}, []string{"-quota", "want a whole number from 0 to"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var c cli
			code := c.run(t, append(append([]string{"run", "--dry-run"}, tc.args...), repoPath("examples"))...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s", code, exitUsage, c.stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(c.stderr.String(), w) {
					t.Errorf("error does not contain %q:\n%s", w, c.stderr.String())
				}
			}
			if strings.Contains(c.stdout.String()+c.stderr.String(), "-922") {
				t.Errorf("a negative count was printed:\n%s%s", c.stdout.String(), c.stderr.String())
			}
		})
	}
}
