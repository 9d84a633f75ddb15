package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/evalrun/evalrun/internal/netaddr"
	"github.com/evalrun/evalrun/runner"
)

// Settings keys with a meaning for Merge. The CLI records them in
// Result.Settings.
const (
	// SettingShard is the shard a result ran, "i/n" (see runner.Shard);
	// absent for an unsharded run.
	SettingShard = "shard"
	// SettingShards is the number of shards a merged result joined.
	SettingShards = "shards"
	// SettingSuite is the digest of the suite the run planned
	// (runner.SuiteDigest); results of different suites are not merged.
	SettingSuite = "suite"
)

// MergeError is the error Merge returns for results it will not merge:
// Field names what differs (e.g. "seed", "settings.rate",
// "scenarios[pricing].min_pass_rate") and Msg the values.
type MergeError struct {
	Field string
	Msg   string
}

func (e *MergeError) Error() string {
	if e.Field == "" {
		return "merge: " + e.Msg
	}
	return "merge: " + e.Field + ": " + e.Msg
}

// sameJSON reports whether a and b encode to the same JSON.
func sameJSON(a, b any) bool { return jsonText(a) == jsonText(b) }

// jsonText is v as JSON, for a message.
func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func mergeErr(field, format string, args ...any) error {
	return &MergeError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Merge joins results of one run split into shards (--shard i/n) into the
// result of the whole run, exactly: counts add, histograms add bucket by
// bucket (so every percentile is that of the whole run), scenarios and
// their transcripts are joined, the run starts at the earliest start and
// ends at the latest end, and it is interrupted if any shard was.
//
// It refuses, with a *MergeError naming the field, results that do not
// belong together: different evalrun versions, seeds, targets, suites
// (settings.suite), settings, budget limits or transcript policies; a mix of
// sharded and unsharded results; shards of different counts, the same shard
// twice, or a missing shard. Unsharded results with equal settings (e.g.
// repeats of one run) merge too, but not the same result twice (same run
// id, start and end).
//
// The merged result has no thresholds (evaluate them on it again) and its
// Settings lose "shard" and gain "shards": n. Its budget spent is the sum
// of the shards', and used before the run the least any shard saw (shards
// started at different times may see different usage). The inputs are not
// modified.
func Merge(results ...*Result) (*Result, error) {
	if len(results) == 0 {
		return nil, mergeErr("", "no results to merge")
	}
	for i, r := range results {
		if r == nil {
			return nil, mergeErr("", "result %d is nil", i+1)
		}
	}
	ordered, shards, err := orderShards(results)
	if err != nil {
		return nil, err
	}
	first := ordered[0]
	for _, r := range ordered[1:] {
		if err := compatible(first, r); err != nil {
			return nil, err
		}
	}

	out := &Result{
		SchemaVersion: SchemaVersion,
		RunID:         first.RunID,
		Version:       first.Version,
		Seed:          first.Seed,
		Target:        first.Target,
		Settings:      maps.Clone(first.Settings),
		Budget:        first.Budget,
		Scenarios:     []ScenarioResult{},
	}
	if shards > 0 {
		own := shardOf(first)
		for k, v := range out.Settings {
			if s, ok := v.(string); ok {
				out.Settings[k] = anonymizeShard(s, own)
			}
		}
		delete(out.Settings, SettingShard)
		out.Settings[SettingShards] = shards
	}
	out.Budget.Spent = 0
	var stops []string
	for _, r := range ordered {
		if !r.Started.IsZero() && (out.Started.IsZero() || r.Started.Before(out.Started)) {
			out.Started = r.Started
		}
		if r.Ended.After(out.Ended) {
			out.Ended = r.Ended
		}
		out.Interrupted = out.Interrupted || r.Interrupted
		if r.StopReason != "" && !slices.Contains(stops, r.StopReason) {
			stops = append(stops, r.StopReason)
		}
		out.Budget.Spent += r.Budget.Spent
		out.Budget.UsedBefore = min(out.Budget.UsedBefore, r.Budget.UsedBefore)
		t := &out.Totals
		t.Calls += r.Totals.Calls
		t.Attempts += r.Totals.Attempts
		t.Turns += r.Totals.Turns
		for k, n := range r.Totals.CallErrors {
			if t.CallErrors == nil {
				t.CallErrors = map[string]int64{}
			}
			t.CallErrors[k] += n
		}
		if st := r.Stream; st != nil {
			if out.Stream == nil {
				out.Stream = &StreamTotals{}
			}
			out.Stream.Replies += st.Replies
			out.Stream.UsageReplies += st.UsageReplies
			out.Stream.OutputTokens += st.OutputTokens
		}
		if j := r.Judge; j != nil { // each shard graded with its own judge
			if out.Judge == nil {
				out.Judge = &JudgeInfo{Model: j.Model, Limit: j.Limit}
			}
			out.Judge.Grades += j.Grades
			out.Judge.Calls += j.Calls
			out.Judge.CacheHits += j.CacheHits
			out.Judge.Failures += j.Failures
		}
	}
	out.StopReason = strings.Join(stops, "; ")
	if !out.Started.IsZero() && out.Ended.After(out.Started) {
		out.DurationMS = millis(out.Ended.Sub(out.Started))
	}
	if out.Stream != nil { // the merged run's rate: all tokens over its wall time
		out.Stream.setRate(out.DurationMS)
	}

	out.Turns = mergeTurnCounts(ordered)
	if out.Scenarios, err = mergeScenarios(ordered); err != nil {
		return nil, err
	}
	for i := range out.Scenarios {
		s := &out.Scenarios[i]
		t := &out.Totals
		t.Conversations += s.Runs
		t.Counts.Merge(s.Counts)
	}
	if out.Histograms, err = mergeHistograms(ordered); err != nil {
		return nil, err
	}
	out.Transcripts = mergeTranscriptInfo(ordered, out)
	return out, nil
}

// orderShards checks the shard settings of the results and returns them in
// shard order with the shard count (0 when unsharded).
func orderShards(results []*Result) ([]*Result, int, error) {
	type item struct {
		r     *Result
		shard runner.Shard
	}
	items := make([]item, len(results))
	sharded := 0
	for i, r := range results {
		v, ok := r.Settings[SettingShard]
		if !ok {
			items[i] = item{r: r}
			continue
		}
		sh, err := runner.ParseShard(fmt.Sprint(v))
		if err != nil {
			return nil, 0, mergeErr("settings.shard", "result %d (run %s): %v", i+1, r.RunID, err)
		}
		items[i] = item{r: r, shard: sh}
		sharded++
	}
	if sharded == 0 {
		// Repeats of a run merge; the same result twice would double
		// every count.
		type id struct {
			run          string
			start, ended int64
		}
		seen := make(map[id]int, len(results))
		for i, r := range results {
			k := id{r.RunID, r.Started.UnixNano(), r.Ended.UnixNano()}
			if j, dup := seen[k]; dup {
				return nil, 0, mergeErr("run_id", "results %d and %d are the same result (run %s, started %s); each result must be merged once, or its counts would be doubled",
					j+1, i+1, r.RunID, r.Started.UTC().Format(time.RFC3339))
			}
			seen[k] = i
		}
		return results, 0, nil
	}
	if sharded != len(results) {
		return nil, 0, mergeErr("settings.shard", "%d of the %d results are shards and the others are not; merge the shards of one run", sharded, len(results))
	}
	n := items[0].shard.Count
	seen := make(map[int]string, n)
	for _, it := range items {
		if it.shard.Count != n {
			return nil, 0, mergeErr("settings.shard", "shard %s and shard %s split the run differently", items[0].shard, it.shard)
		}
		if run, dup := seen[it.shard.Index]; dup {
			return nil, 0, mergeErr("settings.shard", "shard %s appears twice (runs %s and %s); each shard must be merged once", it.shard, run, it.r.RunID)
		}
		seen[it.shard.Index] = it.r.RunID
	}
	var missing []string
	for i := 1; i <= n; i++ {
		if _, ok := seen[i]; !ok {
			missing = append(missing, fmt.Sprintf("%d/%d", i, n))
		}
	}
	if len(missing) > 0 {
		return nil, 0, mergeErr("settings.shard", "shard %s missing; merge every shard of the run", strings.Join(missing, ", "))
	}
	slices.SortFunc(items, func(a, b item) int { return cmp.Compare(a.shard.Index, b.shard.Index) })
	out := make([]*Result, len(items))
	for i, it := range items {
		out[i] = it.r
	}
	return out, n, nil
}

// compatible checks that r can be merged into a result like base.
func compatible(base, r *Result) error {
	differ := func(field string, a, b any) error {
		return mergeErr(field, "%v in run %s, %v in run %s; results of different runs or settings are not merged", a, base.RunID, b, r.RunID)
	}
	switch {
	case r.SchemaVersion != base.SchemaVersion:
		return differ("schema_version", base.SchemaVersion, r.SchemaVersion)
	case r.Version != base.Version:
		return differ("evalrun_version", strconv.Quote(base.Version), strconv.Quote(r.Version))
	case r.Seed != base.Seed:
		return differ("seed", base.Seed, r.Seed)
	case r.Target.Name != base.Target.Name:
		return differ("target.name", strconv.Quote(base.Target.Name), strconv.Quote(r.Target.Name))
	case r.Target.Kind != base.Target.Kind:
		return differ("target.kind", strconv.Quote(base.Target.Kind), strconv.Quote(r.Target.Kind))
	case r.Target.URL != base.Target.URL && !(netaddr.IsLoopbackURL(r.Target.URL) && netaddr.IsLoopbackURL(base.Target.URL)):
		// Each shard may start its own simulated agent on a loopback port.
		return differ("target.url", strconv.Quote(base.Target.URL), strconv.Quote(r.Target.URL))
	case !sameJSON(r.Target.OpenAI, base.Target.OpenAI):
		return differ("target.openai", jsonText(base.Target.OpenAI), jsonText(r.Target.OpenAI))
	case r.Budget.Unit != base.Budget.Unit:
		return differ("budget.unit", strconv.Quote(base.Budget.Unit), strconv.Quote(r.Budget.Unit))
	case r.Budget.Plan != base.Budget.Plan:
		return differ("budget.plan", strconv.Quote(base.Budget.Plan), strconv.Quote(r.Budget.Plan))
	case r.Budget.Limit != base.Budget.Limit:
		return differ("budget.limit", base.Budget.Limit, r.Budget.Limit)
	}
	keys := slices.Sorted(maps.Keys(base.Settings))
	for k := range r.Settings {
		if _, ok := base.Settings[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if k == SettingShard {
			continue
		}
		a, b := settingJSON(base.Settings, k, shardOf(base)), settingJSON(r.Settings, k, shardOf(r))
		if a != b {
			return differ("settings."+k, a, b)
		}
	}
	bt, rt := base.Transcripts, r.Transcripts
	if (bt == nil) != (rt == nil) {
		return mergeErr("transcripts", "recorded in one of runs %s and %s but not the other; results of different evalrun versions are not merged", base.RunID, r.RunID)
	}
	if bt != nil {
		if bt.Policy != rt.Policy {
			return differ("transcripts.policy", bt.Policy, rt.Policy)
		}
		if bt.Sample != rt.Sample {
			return differ("transcripts.sample", bt.Sample, rt.Sample)
		}
	}
	return nil
}

// settingJSON returns a setting as JSON, so 4 read from a file (float64)
// equals 4 recorded in memory (int); "(absent)" when missing. A mention of
// the result's own shard ("shard 2/3", as in a limit shared out) reads
// "shard i/3", so that shards of one run compare equal.
func settingJSON(m map[string]any, k, shard string) string {
	v, ok := m[k]
	if !ok {
		return "(absent)"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return anonymizeShard(string(b), shard)
}

// shardOf returns the shard setting of r, "" when unsharded.
func shardOf(r *Result) string {
	if v, ok := r.Settings[SettingShard]; ok {
		return fmt.Sprint(v)
	}
	return ""
}

func anonymizeShard(s, shard string) string {
	if shard == "" {
		return s
	}
	_, n, _ := strings.Cut(shard, "/")
	return strings.ReplaceAll(s, "shard "+shard, "shard i/"+n)
}

// mergeScenarios joins the scenarios of every result by name.
func mergeScenarios(results []*Result) ([]ScenarioResult, error) {
	accs := map[string]*scenarioAcc{}
	firsts := map[string]*Failure{}
	for _, r := range results {
		for i := range r.Scenarios {
			s := &r.Scenarios[i]
			acc := accs[s.Name]
			if acc == nil {
				acc = &scenarioAcc{file: s.File, tags: s.Tags, minPassRate: s.MinPassRate}
				accs[s.Name] = acc
			} else {
				f := "scenarios[" + s.Name + "]"
				switch {
				case acc.file != s.File:
					return nil, mergeErr(f+".file", "%q and %q: the shards ran different suites", acc.file, s.File)
				case !slices.Equal(acc.tags, s.Tags):
					return nil, mergeErr(f+".tags", "%q and %q: the shards ran different suites", acc.tags, s.Tags)
				case acc.minPassRate != s.MinPassRate:
					return nil, mergeErr(f+".min_pass_rate", "%v and %v: the shards ran different suites", acc.minPassRate, s.MinPassRate)
				}
			}
			acc.outcomes.Merge(s.Counts)
			acc.convs = append(acc.convs, s.Conversations...)
			acc.sim = acc.sim.merge(s.Simulation)
			if ff := s.FirstFailure; ff != nil {
				if cur := firsts[s.Name]; cur == nil || cmp.Or(cmp.Compare(ff.Iteration, cur.Iteration), cmp.Compare(ff.Conversation, cur.Conversation)) < 0 {
					firsts[s.Name] = ff
				}
			}
		}
	}
	out := make([]ScenarioResult, 0, len(accs))
	for _, name := range slices.Sorted(maps.Keys(accs)) {
		acc := accs[name]
		acc.convs = slices.Clone(acc.convs)
		sr := scenarioResult(name, acc)
		sr.FirstFailure = firsts[name]
		out = append(out, sr)
	}
	return out, nil
}

// mergeHistograms adds the histograms of the same kind and name. Kinds keep
// the order in which they first appear; names within a kind are sorted
// (numerically when they are numbers, as turn indexes are).
func mergeHistograms(results []*Result) ([]HistogramResult, error) {
	type key struct{ kind, name string }
	var kinds []string
	names := map[string][]string{}
	hists := map[key]*hdrhistogram.Histogram{}
	for _, r := range results {
		for i := range r.Histograms {
			hr := &r.Histograms[i]
			h, err := hr.Decode()
			if err != nil {
				return nil, mergeErr(fmt.Sprintf("histograms[%d]", i), "run %s: %v", r.RunID, err)
			}
			k := key{hr.Kind, hr.Name}
			acc := hists[k]
			if acc == nil {
				if _, ok := names[hr.Kind]; !ok {
					kinds = append(kinds, hr.Kind)
				}
				names[hr.Kind] = append(names[hr.Kind], hr.Name)
				acc = newLatencyHistogram()
				hists[k] = acc
			}
			// Same geometry (Decode checks it): nothing is dropped.
			acc.Merge(h)
		}
	}
	var out []HistogramResult
	for _, kind := range kinds {
		ns := names[kind]
		slices.SortFunc(ns, compareNames)
		for _, n := range ns {
			out = append(out, summarize(kind, n, hists[key{kind, n}]))
		}
	}
	return out, nil
}

// compareNames orders numbers numerically and before other names.
func compareNames(a, b string) int {
	x, errA := strconv.Atoi(a)
	y, errB := strconv.Atoi(b)
	switch {
	case errA == nil && errB == nil:
		return cmp.Compare(x, y)
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// mergeTranscriptInfo adds up what the shards kept and streamed. Each
// shard streamed to its own file; the merged result names the file only
// when they all used the same name.
func mergeTranscriptInfo(results []*Result, merged *Result) *TranscriptInfo {
	if results[0].Transcripts == nil {
		return nil
	}
	ti := &TranscriptInfo{Policy: results[0].Transcripts.Policy, Sample: results[0].Transcripts.Sample, File: results[0].Transcripts.File}
	var errs []string
	for _, r := range results {
		t := r.Transcripts
		ti.Streamed += t.Streamed
		if t.File != ti.File {
			ti.File = ""
		}
		if t.StreamError != "" {
			errs = append(errs, t.StreamError)
		}
	}
	for i := range merged.Scenarios {
		ti.Kept += len(merged.Scenarios[i].Conversations)
	}
	ti.StreamError = strings.Join(errs, "; ")
	return ti
}
