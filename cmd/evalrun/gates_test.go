package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestThresholdFlag(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"malformed", []string{"--threshold", "p95<<2s"}, exitUsage, nil,
			[]string{`threshold "p95<<2s": col 5: unexpected "<"; want a value such as 2s`}},
		{"bad shard", []string{"--shard", "4/3"}, exitUsage, nil, []string{"--shard", "1 <= i <= n"}},
		{"held", []string{"--threshold", "pass_rate>=0.9", "--threshold", "tag:smoke p99<1m"}, exitOK,
			[]string{"Thresholds", "✓ pass_rate>=0.9", "✓ tag:smoke p99<1m"}, nil},
		{"breached", []string{"--threshold", "pass_rate>=0.9", "--threshold", "p50<1us", "--out", filepath.Join(dir, "r.json")}, exitFailed,
			[]string{"✓ pass_rate>=0.9", "✗ p50<1us"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c cli
			args := append([]string{"run", "--quiet"}, tt.args...)
			code := c.run(t, append(args, repoPath("examples"))...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, c.stdout.String(), c.stderr.String())
			}
			for _, s := range tt.stdout {
				if !strings.Contains(c.stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, c.stdout.String())
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(c.stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, c.stderr.String())
				}
			}
		})
	}
	// The breached thresholds are recorded in the result file.
	res := readResult(t, filepath.Join(dir, "r.json"))
	if len(res.Thresholds) != 2 || !res.Thresholds[0].Passed || res.Thresholds[1].Passed {
		t.Errorf("result thresholds %+v", res.Thresholds)
	}
}

func TestShardMergeCompareRegrade(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	run := func(want int, args ...string) *cli {
		t.Helper()
		var c cli
		if code := c.run(t, args...); code != want {
			t.Fatalf("evalrun %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, c.stdout.String(), c.stderr.String())
		}
		return &c
	}
	ex := repoPath("examples")
	run(exitOK, "run", "--quiet", "--out", p("whole.json"), ex)
	for _, s := range []string{"1", "2", "3"} {
		run(exitOK, "run", "--quiet", "--plan", "starter", "--shard", s+"/3", "--out", p("shard"+s+".json"), ex)
	}
	shard := readResult(t, p("shard2.json"))
	if shard.Settings["shard"] != "2/3" || shard.Settings["suite"] == nil {
		t.Errorf("shard settings %v", shard.Settings)
	}
	run(exitOK, "merge", p("shard1.json"), p("shard2.json"), p("shard3.json"), "-o", p("merged.json"), "--threshold", "pass_rate==1")
	whole, merged := readResult(t, p("whole.json")), readResult(t, p("merged.json"))
	if merged.Totals.Conversations != whole.Totals.Conversations || merged.Totals.Passed != whole.Totals.Passed || merged.Totals.Calls != whole.Totals.Calls {
		t.Errorf("merged totals %+v, whole %+v", merged.Totals, whole.Totals)
	}
	if len(merged.Thresholds) != 1 || !merged.Thresholds[0].Passed {
		t.Errorf("merge --threshold: %+v", merged.Thresholds)
	}
	c := run(exitUsage, "merge", p("shard1.json"), p("shard2.json"), "-o", p("bad.json"))
	if !strings.Contains(c.stderr.String(), "settings.shard: shard 3/3 missing") {
		t.Errorf("missing shard error:\n%s", c.stderr.String())
	}
	run(exitUsage, "merge", p("shard1.json"))

	// compare: the candidate agent is slower and knows less.
	run(exitFailed, "run", "--quiet", "--agent", repoPath("examples/agents/candidate.agent.yaml"), "--out", p("cand.json"), ex)
	c = run(exitFailed, "compare", "--fail-on-regression", "--md", p("cmp.md"), p("whole.json"), p("cand.json"))
	if !strings.Contains(c.stdout.String(), "REGRESSED") || !strings.Contains(c.stdout.String(), "newly failing") {
		t.Errorf("compare output:\n%s", c.stdout.String())
	}
	if md, err := os.ReadFile(p("cmp.md")); err != nil || !strings.Contains(string(md), "## evalrun compare: ❌") {
		t.Errorf("compare --md: %v\n%s", err, md)
	}
	run(exitOK, "compare", p("whole.json"), p("cand.json"))
	run(exitOK, "compare", "--fail-on-regression", p("whole.json"), p("merged.json"))
	run(exitUsage, "compare", p("whole.json"))
	run(exitUsage, "compare", p("whole.json"), p("nope.json"))

	// regrade: the same scenarios give the same verdicts; stricter ones fail.
	c = run(exitOK, "regrade", p("whole.json"), ex, "--out", p("regraded.json"))
	if !strings.Contains(c.stdout.String(), "No verdict changed") || !strings.Contains(c.stdout.String(), "Regraded") {
		t.Errorf("regrade output:\n%s", c.stdout.String())
	}
	strict := p("strict")
	if err := os.MkdirAll(strict, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(repoPath("examples/pricing.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(strict, "pricing.yaml"), []byte(strings.Replace(string(data), "icontains: starter", "icontains: platinum", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	c = run(exitFailed, "regrade", p("whole.json"), strict)
	if !strings.Contains(c.stdout.String(), `icontains "platinum" newly failing`) || !strings.Contains(c.stdout.String(), "is not in the given scenario files") {
		t.Errorf("strict regrade output:\n%s", c.stdout.String())
	}
}
