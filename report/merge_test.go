package report

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func shardResult(shard string, convs []gconv) *Result {
	s := map[string]any{"concurrency": 4, "rate": "none"}
	if shard != "" {
		s[SettingShard] = shard
		s[SettingSuite] = "abc"
	}
	return gresult(Meta{RunID: "run-" + shard, Version: "1", Target: Target{Name: "sim", Kind: "optimly", URL: "http://127.0.0.1:1234"}, Seed: 7, Settings: s}, convs)
}

func TestMergeEqualsWhole(t *testing.T) {
	a, b := gscen("alpha"), gscen("beta", "smoke")
	var all []gconv
	all = append(all, uniform(a, 1, 9, 2, 50*time.Millisecond, 7*time.Millisecond, map[int]bool{2: true, 5: true})...)
	all = append(all, uniform(b, 10, 5, 3, 300*time.Millisecond, 11*time.Millisecond, map[int]bool{4: true})...)
	whole := shardResult("", all)
	var parts [3][]gconv
	for _, c := range all {
		parts[(c.id-1)%3] = append(parts[(c.id-1)%3], c)
	}
	// Out of order on purpose: Merge orders shards itself.
	merged, err := Merge(shardResult("3/3", parts[2]), shardResult("1/3", parts[0]), shardResult("2/3", parts[1]))
	if err != nil {
		t.Fatal(err)
	}
	if merged.Totals.Conversations != whole.Totals.Conversations || merged.Totals.Passed != whole.Totals.Passed ||
		merged.Totals.Failed != whole.Totals.Failed || merged.Totals.Calls != whole.Totals.Calls || merged.Totals.Turns != whole.Totals.Turns {
		t.Errorf("totals: merged %+v, whole %+v", merged.Totals, whole.Totals)
	}
	if len(merged.Histograms) != len(whole.Histograms) {
		t.Fatalf("%d histograms, want %d", len(merged.Histograms), len(whole.Histograms))
	}
	for i, h := range whole.Histograms {
		m := merged.Histograms[i]
		// The same values recorded: identical histograms, percentiles included.
		if m.Kind != h.Kind || m.Name != h.Name || m.Count != h.Count || m.P95US != h.P95US || m.MaxUS != h.MaxUS || m.Encoded != h.Encoded {
			t.Errorf("histogram %d: merged %s/%s n=%d p95=%d, whole %s/%s n=%d p95=%d", i, m.Kind, m.Name, m.Count, m.P95US, h.Kind, h.Name, h.Count, h.P95US)
		}
	}
	for i, s := range whole.Scenarios {
		m := merged.Scenarios[i]
		if m.Name != s.Name || m.Runs != s.Runs || m.Passed != s.Passed || m.Status != s.Status || len(m.Conversations) != len(s.Conversations) {
			t.Errorf("scenario %s: merged %+v", s.Name, m)
		}
		if (m.FirstFailure == nil) != (s.FirstFailure == nil) || (m.FirstFailure != nil && m.FirstFailure.Conversation != s.FirstFailure.Conversation) {
			t.Errorf("scenario %s: first failure %+v, want %+v", s.Name, m.FirstFailure, s.FirstFailure)
		}
	}
	if _, ok := merged.Settings[SettingShard]; ok || merged.Settings[SettingShards] != 3 {
		t.Errorf("settings %v: want no shard and shards 3", merged.Settings)
	}
	if merged.Transcripts == nil || merged.Transcripts.Kept != whole.Transcripts.Kept {
		t.Errorf("transcripts %+v, want kept %d", merged.Transcripts, whole.Transcripts.Kept)
	}
	// The merged result is a valid result file.
	if err := merged.validate(); err != nil {
		t.Errorf("merged result does not validate: %v", err)
	}
}

func TestMergeRefuses(t *testing.T) {
	a := gscen("alpha")
	base := func(shard string) *Result { return shardResult(shard, uniform(a, 1, 2, 1, time.Millisecond, 0, nil)) }
	tests := []struct {
		name  string
		edit  func(r *Result)
		other string
		field string
	}{
		{"seed", func(r *Result) { r.Seed = 8 }, "2/2", "seed"},
		{"version", func(r *Result) { r.Version = "2" }, "2/2", "evalrun_version"},
		{"target", func(r *Result) { r.Target.Name = "prod" }, "2/2", "target.name"},
		{"url", func(r *Result) { r.Target.URL = "https://api.example.com" }, "2/2", "target.url"},
		{"setting", func(r *Result) { r.Settings["rate"] = "10/s" }, "2/2", "settings.rate"},
		{"suite", func(r *Result) { r.Settings[SettingSuite] = "def" }, "2/2", "settings.suite"},
		{"budget", func(r *Result) { r.Budget.Limit = 5 }, "2/2", "budget.limit"},
		{"limit label", func(r *Result) { r.Settings["limits"] = "calls 10/s (shard 2/2)" }, "2/2", "settings.limits"},
		{"duplicate shard", func(r *Result) {}, "1/2", "settings.shard"},
		{"missing shard", func(r *Result) {}, "2/3", "settings.shard"},
		{"mixed", func(r *Result) {}, "", "settings.shard"},
		{"min pass rate", func(r *Result) { r.Scenarios[0].MinPassRate = 0.5 }, "2/2", "scenarios[alpha].min_pass_rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := base("1/2")
			if tt.name == "missing shard" {
				first = base("1/3")
			}
			other := base(tt.other)
			tt.edit(other)
			_, err := Merge(first, other)
			var me *MergeError
			if !errors.As(err, &me) || me.Field != tt.field {
				t.Fatalf("got %v, want a MergeError on %s", err, tt.field)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
		})
	}
	if _, err := Merge(); err == nil {
		t.Error("Merge() of nothing succeeded")
	}
	// Loopback URLs of per-shard simulated agents may differ, and so may a
	// setting that names the shard itself.
	x, y := base("1/2"), base("2/2")
	y.Target.URL = "http://127.0.0.1:9999"
	x.Settings["limits"], y.Settings["limits"] = "calls 10/s (shard 1/2)", "calls 10/s (shard 2/2)"
	m, err := Merge(x, y)
	if err != nil {
		t.Fatalf("loopback URLs, shard-named settings: %v", err)
	}
	if m.Settings["limits"] != "calls 10/s (shard i/2)" {
		t.Errorf("merged limits setting %q", m.Settings["limits"])
	}
}

func TestMergeInterruptedAndTimes(t *testing.T) {
	a := gscen("alpha")
	x := shardResult("1/2", uniform(a, 1, 1, 1, time.Millisecond, 0, nil))
	y := shardResult("2/2", uniform(a, 2, 1, 1, time.Millisecond, 0, nil))
	x.Started, y.Started = gt0.Add(time.Second), gt0
	y.Ended = gt0.Add(time.Hour)
	y.Interrupted, y.StopReason = true, "interrupted"
	m, err := Merge(x, y)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Started.Equal(gt0) || !m.Ended.Equal(gt0.Add(time.Hour)) || !m.Interrupted || m.StopReason != "interrupted" || m.DurationMS != 3.6e6 {
		t.Errorf("got started %v ended %v interrupted %v %q duration %v", m.Started, m.Ended, m.Interrupted, m.StopReason, m.DurationMS)
	}
}

// TestMergeJudge: the shards' judge work adds up.
func TestMergeJudge(t *testing.T) {
	a := gscen("alpha")
	x := shardResult("1/2", uniform(a, 1, 1, 1, time.Millisecond, 0, nil))
	y := shardResult("2/2", uniform(a, 2, 1, 1, time.Millisecond, 0, nil))
	x.Judge = &JudgeInfo{Model: "g", Grades: 3, Calls: 2, CacheHits: 1, Limit: "2/s"}
	y.Judge = &JudgeInfo{Model: "g", Grades: 4, Calls: 5, Failures: 1, Limit: "2/s"}
	m, err := Merge(x, y)
	if err != nil {
		t.Fatal(err)
	}
	if want := (JudgeInfo{Model: "g", Grades: 7, Calls: 7, CacheHits: 1, Failures: 1, Limit: "2/s"}); m.Judge == nil || *m.Judge != want {
		t.Errorf("merged judge %+v, want %+v", m.Judge, want)
	}
}

// TestMergeRefusesTheSameResultTwice: two repeats of an unsharded run
// merge, but one result given twice would double every count.
func TestMergeRefusesTheSameResultTwice(t *testing.T) {
	a := gscen("alpha")
	one := shardResult("", uniform(a, 1, 3, 1, time.Millisecond, 0, nil))
	_, err := Merge(one, one)
	var me *MergeError
	if !errors.As(err, &me) || me.Field != "run_id" || !strings.Contains(err.Error(), "results 1 and 2 are the same result") {
		t.Fatalf("got %v, want a MergeError on run_id naming results 1 and 2", err)
	}
	// A copy read back from the file is the same result too.
	copyOf := *one
	if _, err := Merge(one, &copyOf); err == nil {
		t.Error("a copy of the same result merged")
	}
	// A repeat (another run, another start) merges, and counts add.
	again := shardResult("", uniform(a, 1, 3, 1, time.Millisecond, 0, nil))
	again.RunID, again.Started, again.Ended = "run-again", one.Started.Add(time.Hour), one.Ended.Add(time.Hour)
	m, err := Merge(one, again)
	if err != nil {
		t.Fatalf("two repeats: %v", err)
	}
	if m.Totals.Conversations != 2*one.Totals.Conversations {
		t.Errorf("merged %d conversations, want %d", m.Totals.Conversations, 2*one.Totals.Conversations)
	}
}
