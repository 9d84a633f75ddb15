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
