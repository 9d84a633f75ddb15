package report_test

import (
	"context"
	"testing"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/report"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// runExamples runs the example suite against the simulated agent of
// agentFile on loopback, in-process, as `evalrun run --shard` would, and
// returns the result.
func runExamples(t *testing.T, agentFile string, shard runner.Shard) *report.Result {
	t.Helper()
	return runExamplesWith(t, agentFile, shard, nil)
}

// runExamplesWith is runExamples with the agent changed by mod first.
func runExamplesWith(t *testing.T, agentFile string, shard runner.Shard, mod func(*agentsim.Agent)) *report.Result {
	t.Helper()
	suite, err := scenarios.Load("../examples")
	if err != nil {
		t.Fatal(err)
	}
	ag, err := agentsim.LoadAgent(agentFile)
	if err != nil {
		t.Fatal(err)
	}
	ag.APIKeys = []string{"test-key"}
	if mod != nil {
		mod(ag)
	}
	srv, err := agentsim.Start(ag, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	conn, err := agent.NewOptimly(agent.Options{BaseURL: srv.URL, APIKey: "test-key", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	settings := map[string]any{"concurrency": 8}
	if !shard.Whole() {
		settings[report.SettingShard] = shard.String()
		settings[report.SettingSuite] = runner.SuiteDigest(suite)
	}
	agg := report.NewAggregator(report.Meta{RunID: "it", Version: "test", Started: time.Now(), Seed: 1,
		Target: report.Target{Name: "sim:" + ag.Name, Kind: "optimly", URL: srv.URL}, Settings: settings})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := runner.Run(ctx, suite, runner.Options{Conn: conn, Concurrency: 8, Seed: 1, RunID: "it", Observer: agg, Shard: shard, User: agentsim.NewSimUser()}); err != nil {
		t.Fatal(err)
	}
	return agg.Result(report.Finish{Ended: time.Now()})
}

func TestShardsMergeToTheWholeRun(t *testing.T) {
	whole := runExamples(t, "../examples/agents/baseline.agent.yaml", runner.Shard{})
	var shards []*report.Result
	for i := 1; i <= 3; i++ {
		s := runExamples(t, "../examples/agents/baseline.agent.yaml", runner.Shard{Index: i, Count: 3})
		if s.Totals.Conversations == 0 || s.Totals.Conversations >= whole.Totals.Conversations {
			t.Errorf("shard %d/3 ran %d of %d conversations", i, s.Totals.Conversations, whole.Totals.Conversations)
		}
		shards = append(shards, s)
	}
	merged, err := report.Merge(shards...)
	if err != nil {
		t.Fatal(err)
	}
	w, m := whole.Totals, merged.Totals
	if m.Conversations != w.Conversations || m.Passed != w.Passed || m.Failed != w.Failed || m.Calls != w.Calls || m.Turns != w.Turns {
		t.Errorf("merged totals %+v, whole %+v", m, w)
	}
	if len(merged.Scenarios) != len(whole.Scenarios) {
		t.Fatalf("%d scenarios, want %d", len(merged.Scenarios), len(whole.Scenarios))
	}
	for i, ws := range whole.Scenarios {
		ms := merged.Scenarios[i]
		if ms.Name != ws.Name || ms.Runs != ws.Runs || ms.Passed != ws.Passed || ms.Failed != ws.Failed {
			t.Errorf("scenario %s: merged %d/%d passed, whole %d/%d", ws.Name, ms.Passed, ms.Runs, ws.Passed, ws.Runs)
		}
		// Every conversation ran exactly once, with its run-wide number.
		ids := map[int]bool{}
		for _, c := range ms.Conversations {
			ids[c.ID] = true
		}
		for _, c := range ws.Conversations {
			if !ids[c.ID] {
				t.Errorf("scenario %s: conversation %d missing from the merge", ws.Name, c.ID)
			}
		}
	}
	for _, wh := range whole.Histograms {
		mh := merged.Histogram(wh.Kind, wh.Name)
		if mh == nil || mh.Count != wh.Count {
			t.Errorf("histogram %s/%s: merged %v, whole count %d", wh.Kind, wh.Name, mh, wh.Count)
		}
	}
}

func TestCompareBaselineAndCandidate(t *testing.T) {
	base := runExamples(t, "../examples/agents/baseline.agent.yaml", runner.Shard{})
	// The candidate file is slower (median 80ms against 30ms); a fixed 400ms
	// keeps the gap far above what a busy machine adds to both sides.
	cand := runExamplesWith(t, "../examples/agents/candidate.agent.yaml", runner.Shard{}, func(a *agentsim.Agent) {
		a.Latency = agentsim.LatencyModel{Fixed: 400 * time.Millisecond}
	})
	cmp, err := report.Compare(base, cand, report.CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The candidate is slower: the turn-call median regresses, significantly.
	var p50 *report.PercentileDiff
	for i := range cmp.Overall.Percentiles {
		if cmp.Overall.Percentiles[i].Percentile == 50 {
			p50 = &cmp.Overall.Percentiles[i]
		}
	}
	if p50 == nil || !p50.Significant || p50.Change <= 0.5 || !p50.Regression {
		t.Errorf("turn-call p50: %+v; want a significant regression", p50)
	}
	if !cmp.Regressed() {
		t.Error("no regression found between baseline and candidate")
	}
	// Compared with itself, the baseline has no flip.
	self, err := report.Compare(base, base, report.CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if self.Regressed() {
		t.Errorf("baseline against itself: %v", self.Regressions)
	}
}
