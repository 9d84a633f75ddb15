package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/report"
)

// TestFourShardsMergeEqualsWhole is issue 6's proof of merge: a run split
// into 4 shards (--shard-index 0/4 … 3/4, as a Kubernetes Indexed Job runs
// them) and merged equals the unsharded run in conversations, verdict
// counts and histogram counts per scenario. Latencies differ; counts must
// not.
func TestFourShardsMergeEqualsWhole(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	run := func(args ...string) {
		t.Helper()
		var c cli
		if code := c.run(t, args...); code != exitOK {
			t.Fatalf("evalrun %s: exit %d\n%s%s", strings.Join(args, " "), code, c.stdout.String(), c.stderr.String())
		}
	}
	// Every shard of one run shares its run ID (as the Job's pods do),
	// hence the client IDs and fake data of the unsharded run.
	common := []string{"--quiet", "--seed", "11", "--run-id", "k8s-job-1", "--plan", "starter", "--transcripts", "all", repoPath("examples")}
	run(append([]string{"run", "--out", p("whole.json")}, common...)...)
	shards := []string{"merge", "-o", p("merged.json")}
	for i := range 4 {
		out := p(fmt.Sprintf("shard-%d.json", i))
		run(append([]string{"run", "--shard-index", fmt.Sprintf("%d/4", i), "--out", out}, common...)...)
		shards = append(shards, out)
	}
	run(shards...)
	whole, merged := readResult(t, p("whole.json")), readResult(t, p("merged.json"))
	if merged.Settings[report.SettingShards] != float64(4) {
		t.Errorf("merged settings %v: want shards 4", merged.Settings)
	}

	// Conversations: the same numbers, iterations and client IDs.
	convs := func(r *report.Result) []string {
		var out []string
		for _, s := range r.Scenarios {
			for _, c := range s.Conversations {
				out = append(out, fmt.Sprintf("%s #%d [%d] %s", s.Name, c.ID, c.Iteration, c.ClientID))
			}
		}
		slices.Sort(out)
		return out
	}
	if w, m := convs(whole), convs(merged); len(w) != whole.Totals.Conversations || !slices.Equal(w, m) {
		t.Errorf("conversations differ:\nwhole  %v\nmerged %v", w, m)
	}
	if whole.Totals.Conversations != merged.Totals.Conversations || whole.Totals.Calls != merged.Totals.Calls ||
		whole.Totals.Turns != merged.Totals.Turns || whole.Totals.Passed != merged.Totals.Passed {
		t.Errorf("totals: whole %+v, merged %+v", whole.Totals, merged.Totals)
	}

	// Per scenario: outcomes, verdict counts, histogram counts.
	verdicts := func(s *report.ScenarioResult) string {
		pass, fail := 0, 0
		for _, c := range s.Conversations {
			vs := c.Verdicts // the conversation's own (expect_conversation)
			for _, tr := range c.Turns {
				vs = append(vs[:len(vs):len(vs)], tr.Verdicts...)
			}
			for _, v := range vs {
				if v.Passed {
					pass++
				} else {
					fail++
				}
			}
		}
		return fmt.Sprintf("%d passed, %d failed", pass, fail)
	}
	if len(whole.Scenarios) != len(merged.Scenarios) {
		t.Fatalf("%d scenarios, merged %d", len(whole.Scenarios), len(merged.Scenarios))
	}
	for i := range whole.Scenarios {
		w, m := &whole.Scenarios[i], &merged.Scenarios[i]
		if w.Name != m.Name || w.Runs != m.Runs || w.Counts != m.Counts ||
			w.Status != m.Status {
			t.Errorf("scenario %s: whole %d/%d %s, merged %s %d/%d %s", w.Name, w.Passed, w.Runs, w.Status, m.Name, m.Passed, m.Runs, m.Status)
		}
		if sw, sm := fmt.Sprint(w.Simulation), fmt.Sprint(m.Simulation); sw != sm {
			t.Errorf("scenario %s simulation: whole %s, merged %s", w.Name, sw, sm)
		}
		if vw, vm := verdicts(w), verdicts(m); vw != vm || vw == "0 passed, 0 failed" {
			t.Errorf("scenario %s verdicts: whole %s, merged %s", w.Name, vw, vm)
		}
		hw, hm := whole.Histogram(report.HistScenario, w.Name), merged.Histogram(report.HistScenario, w.Name)
		if hw == nil || hm == nil || hw.Count != hm.Count || hw.Count == 0 {
			t.Errorf("scenario %s histogram: whole %v, merged %v", w.Name, hw, hm)
		}
	}
	for _, h := range whole.Histograms {
		if h.Kind != report.HistTurn && h.Kind != report.HistCallKind && h.Kind != report.HistOverall {
			continue
		}
		if m := merged.Histogram(h.Kind, h.Name); m == nil || m.Count != h.Count {
			t.Errorf("histogram %s %s: whole %d calls, merged %v", h.Kind, h.Name, h.Count, m)
		}
	}
	for _, tc := range whole.Turns {
		if m, ok := merged.TurnCount(tc.Index); !ok || m != tc {
			t.Errorf("turn %s: whole %+v, merged %+v", strconv.Itoa(tc.Index+1), tc, m)
		}
	}
}

func TestShardIndexFlag(t *testing.T) {
	for _, tt := range []struct{ args, want string }{
		{"--shard-index 4/4", "want I/N with 0 <= I < N"},
		{"--shard-index x", "want I/N"},
		{"--shard-index 0/2 --shard 1/2", "--shard and --shard-index both given"},
		{"--run-id a/b", `--run-id "a/b": use up to 64 letters`},
	} {
		var c cli
		args := append(append([]string{"run", "--quiet"}, strings.Fields(tt.args)...), repoPath("examples"))
		if code := c.run(t, args...); code != exitUsage || !strings.Contains(c.stderr.String(), tt.want) {
			t.Errorf("%s: exit %d, want 2 and %q:\n%s", tt.args, code, tt.want, c.stderr.String())
		}
	}
}
