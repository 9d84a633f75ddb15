package report

import (
	"cmp"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// Meta describes a run before it starts; it goes into the result as is,
// except that the target URL loses any user info and query values.
type Meta struct {
	RunID   string
	Version string // evalrun version
	Started time.Time
	Target  Target
	// Settings are recorded in the result file; they must hold no secret.
	Settings map[string]any
	Seed     int64
}

// Finish describes how a run ended; Result records it.
type Finish struct {
	Ended       time.Time
	Interrupted bool
	// StopReason says why the run stopped early (e.g. "interrupted",
	// "quota exhausted"); empty when it ran to the end.
	StopReason string
	Budget     BudgetInfo
}

// Snapshot is the live state of a run, for progress bars.
type Snapshot struct {
	// Conversations done, and how they ended.
	Conversations                              int64
	Passed, Failed, Errored, Throttled, NotRun int64
	// Calls done (each once, however many attempts).
	Calls int64
	// P95 is the 95th percentile latency of the turn calls so far (new
	// chats not included); 0 before the first.
	P95 time.Duration
}

// Aggregator collects the runner's results as they happen and builds the
// run's Result. It implements runner.Observer and is safe for concurrent
// use; Snapshot and Result may be called while the run goes on.
//
// On the hot path a call costs one short critical section on one of
// several stripes (chosen by conversation number) and an append. Latencies
// are recorded into the histograms in batches, so the histograms exist once
// (about 160 kB each) rather than once per stripe.
type Aggregator struct {
	meta    Meta
	stripes [numStripes]stripe
	bufs    sync.Pool // of *[]sample

	mu    sync.Mutex // guards hists
	hists histSet
}

// UnnamedScenario is the name results use for calls and conversations that
// carry no scenario name.
const UnnamedScenario = "(unnamed)"

const (
	numStripes = 16
	flushAt    = 256 // samples a stripe buffers before recording them
	excerptLen = 200 // runes of a reply kept in a Failure
)

// sample is one call's latency waiting to be recorded.
type sample struct {
	kind     runner.CallKind
	scenario string
	turn     int
	us       int64
}

type stripe struct {
	mu         sync.Mutex
	buf        *[]sample
	calls      int64
	attempts   int64
	callErrors map[string]int64
	outcomes   outcomeCounts
	scenarios  map[string]*scenarioAcc
	_          [64]byte // keep stripes on separate cache lines
}

type outcomeCounts struct {
	passed, failed, errored, throttled, notRun int
}

func (o *outcomeCounts) add(out runner.Outcome) {
	switch out {
	case runner.Passed:
		o.passed++
	case runner.Failed:
		o.failed++
	case runner.Throttled:
		o.throttled++
	case runner.NotRun:
		o.notRun++
	default:
		o.errored++
	}
}

func (o *outcomeCounts) merge(p outcomeCounts) {
	o.passed += p.passed
	o.failed += p.failed
	o.errored += p.errored
	o.throttled += p.throttled
	o.notRun += p.notRun
}

func (o outcomeCounts) total() int {
	return o.passed + o.failed + o.errored + o.throttled + o.notRun
}

// scenarioAcc accumulates one scenario's conversations on one stripe.
type scenarioAcc struct {
	file        string
	tags        []string
	minPassRate float64
	outcomes    outcomeCounts
	turns       int64
	convs       []ConversationResult
}

type histSet struct {
	all       *hdrhistogram.Histogram
	kinds     map[runner.CallKind]*hdrhistogram.Histogram
	scenarios map[string]*hdrhistogram.Histogram
	turns     map[int]*hdrhistogram.Histogram
}

// NewAggregator returns an Aggregator for the run meta describes.
func NewAggregator(meta Meta) *Aggregator {
	meta.Target.URL = redactURL(meta.Target.URL)
	a := &Aggregator{
		meta: meta,
		hists: histSet{
			all:       newLatencyHistogram(),
			kinds:     map[runner.CallKind]*hdrhistogram.Histogram{},
			scenarios: map[string]*hdrhistogram.Histogram{},
			turns:     map[int]*hdrhistogram.Histogram{},
		},
	}
	a.bufs.New = func() any { s := make([]sample, 0, flushAt); return &s }
	for i := range a.stripes {
		a.stripes[i].buf = a.bufs.Get().(*[]sample)
		a.stripes[i].scenarios = map[string]*scenarioAcc{}
	}
	return a
}

func (a *Aggregator) stripe(id int) *stripe {
	return &a.stripes[uint(id)%numStripes]
}

// CallDone records one agent call: its latency goes into the overall and
// call-kind histograms and, for a turn call, into its scenario's and turn
// index's. A nil call is ignored.
func (a *Aggregator) CallDone(c *runner.Call) {
	if c == nil {
		return
	}
	smp := sample{kind: c.Kind, scenario: cmp.Or(c.Scenario, UnnamedScenario), turn: c.Turn, us: latencyMicros(c.Latency)}
	s := a.stripe(c.Conversation)
	var full *[]sample
	s.mu.Lock()
	*s.buf = append(*s.buf, smp)
	s.calls++
	s.attempts += int64(c.Attempts)
	if c.Err != nil {
		if s.callErrors == nil {
			s.callErrors = map[string]int64{}
		}
		s.callErrors[c.Err.Kind.String()]++
	}
	if len(*s.buf) >= flushAt {
		full = s.buf
		s.buf = a.bufs.Get().(*[]sample)
	}
	s.mu.Unlock()
	if full != nil {
		a.record(full)
	}
}

// record adds a batch of samples to the histograms and recycles the batch.
func (a *Aggregator) record(batch *[]sample) {
	a.mu.Lock()
	h := &a.hists
	for _, smp := range *batch {
		// RecordValue only fails for a value out of range; latencyMicros
		// clamps every value into it.
		_ = h.all.RecordValue(smp.us)
		_ = histFor(h.kinds, smp.kind).RecordValue(smp.us)
		if smp.kind == runner.CallTurn {
			_ = histFor(h.scenarios, smp.scenario).RecordValue(smp.us)
			if smp.turn >= 0 {
				_ = histFor(h.turns, smp.turn).RecordValue(smp.us)
			}
		}
	}
	a.mu.Unlock()
	*batch = (*batch)[:0]
	a.bufs.Put(batch)
}

func histFor[K comparable](m map[K]*hdrhistogram.Histogram, k K) *hdrhistogram.Histogram {
	h := m[k]
	if h == nil {
		h = newLatencyHistogram()
		m[k] = h
	}
	return h
}

// flush records the samples every stripe holds.
func (a *Aggregator) flush() {
	for i := range a.stripes {
		s := &a.stripes[i]
		var full *[]sample
		s.mu.Lock()
		if len(*s.buf) > 0 {
			full = s.buf
			s.buf = a.bufs.Get().(*[]sample)
		}
		s.mu.Unlock()
		if full != nil {
			a.record(full)
		}
	}
}

// ConversationDone records how a conversation ended and keeps its
// transcript. A nil conversation is ignored; an outcome the runner does not
// define counts as an error.
func (a *Aggregator) ConversationDone(c *runner.Conversation) {
	if c == nil {
		return
	}
	rec := conversationRecord(c)
	name, file, tags, minPass := UnnamedScenario, "", []string(nil), 1.0
	if sc := c.Scenario; sc != nil {
		name, file, tags, minPass = cmp.Or(sc.Name, UnnamedScenario), sc.File, sc.Tags, sc.MinPassRate
	}
	s := a.stripe(c.ID)
	s.mu.Lock()
	acc := s.scenarios[name]
	if acc == nil {
		acc = &scenarioAcc{file: file, tags: tags, minPassRate: minPass}
		s.scenarios[name] = acc
	}
	acc.outcomes.add(rec.Outcome)
	acc.turns += int64(len(rec.Turns))
	acc.convs = append(acc.convs, rec)
	s.outcomes.add(rec.Outcome)
	s.mu.Unlock()
}

// conversationRecord converts a runner conversation into its stored form.
func conversationRecord(c *runner.Conversation) ConversationResult {
	rec := ConversationResult{
		ID:        c.ID,
		Iteration: c.Iteration,
		ChatID:    c.ChatID,
		ClientID:  c.ClientID,
		Outcome:   c.Outcome,
		Reason:    c.Reason,
		Start:     c.Start.UTC().Round(0),
		Turns:     make([]TurnRecord, len(c.Turns)),
	}
	if !knownOutcome(rec.Outcome) {
		rec.Reason = strings.TrimSpace("unknown outcome " + strconv.Quote(string(rec.Outcome)) + " " + rec.Reason)
		rec.Outcome = runner.Errored
	}
	if c.Start.IsZero() {
		rec.Start = time.Time{}
	}
	if !c.Start.IsZero() && c.End.After(c.Start) {
		rec.DurationMS = millis(c.End.Sub(c.Start))
	}
	for i, t := range c.Turns {
		rec.Turns[i] = TurnRecord{
			Index:     t.Index,
			Sent:      t.Sent,
			Reply:     t.Reply,
			Tools:     t.Tools,
			Handoff:   t.Handoff,
			Tokens:    t.Tokens,
			LatencyMS: millis(t.Latency),
			Attempts:  t.Attempts,
			Outcome:   t.Outcome,
			Error:     t.Error,
			Verdicts:  t.Verdicts,
		}
		if t.Outcome != "" && !knownOutcome(t.Outcome) {
			rec.Turns[i].Outcome = runner.Errored
		}
	}
	return rec
}

// millis converts d to milliseconds with microsecond precision.
func millis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

// Snapshot returns the run's state so far. It is cheap enough to call
// several times a second while the run goes on.
func (a *Aggregator) Snapshot() Snapshot {
	a.flush()
	var snap Snapshot
	var oc outcomeCounts
	for i := range a.stripes {
		s := &a.stripes[i]
		s.mu.Lock()
		snap.Calls += s.calls
		oc.merge(s.outcomes)
		s.mu.Unlock()
	}
	snap.Conversations = int64(oc.total())
	snap.Passed, snap.Failed, snap.Errored = int64(oc.passed), int64(oc.failed), int64(oc.errored)
	snap.Throttled, snap.NotRun = int64(oc.throttled), int64(oc.notRun)
	a.mu.Lock()
	if h := a.hists.kinds[runner.CallTurn]; h != nil {
		snap.P95 = time.Duration(h.ValueAtQuantile(95)) * time.Microsecond
	}
	a.mu.Unlock()
	return snap
}

// Result builds the run's result from everything recorded so far (every
// call and conversation whose CallDone or ConversationDone returned before
// Result was called) and how the run ended. It may be called more than
// once; each call returns a new Result.
func (a *Aggregator) Result(end Finish) *Result {
	a.flush()
	res := &Result{
		SchemaVersion: SchemaVersion,
		RunID:         a.meta.RunID,
		Version:       a.meta.Version,
		Started:       a.meta.Started.UTC().Round(0),
		Ended:         end.Ended.UTC().Round(0),
		Seed:          a.meta.Seed,
		Target:        a.meta.Target,
		Settings:      maps.Clone(a.meta.Settings),
		Budget:        end.Budget,
		Interrupted:   end.Interrupted,
		StopReason:    end.StopReason,
		Scenarios:     []ScenarioResult{},
	}
	if a.meta.Started.IsZero() {
		res.Started = time.Time{}
	}
	if end.Ended.IsZero() {
		res.Ended = time.Time{}
	}
	if !res.Started.IsZero() && res.Ended.After(res.Started) {
		res.DurationMS = millis(res.Ended.Sub(res.Started))
	}

	merged := map[string]*scenarioAcc{}
	for i := range a.stripes {
		s := &a.stripes[i]
		s.mu.Lock()
		res.Totals.Calls += s.calls
		res.Totals.Attempts += s.attempts
		for k, n := range s.callErrors {
			if res.Totals.CallErrors == nil {
				res.Totals.CallErrors = map[string]int64{}
			}
			res.Totals.CallErrors[k] += n
		}
		for name, acc := range s.scenarios {
			m := merged[name]
			if m == nil {
				m = &scenarioAcc{file: acc.file, tags: acc.tags, minPassRate: acc.minPassRate}
				merged[name] = m
			}
			m.outcomes.merge(acc.outcomes)
			m.turns += acc.turns
			m.convs = append(m.convs, acc.convs...)
		}
		s.mu.Unlock()
	}
	for name, acc := range merged {
		sr := scenarioResult(name, acc)
		res.Scenarios = append(res.Scenarios, sr)
		t := &res.Totals
		t.Conversations += sr.Runs
		t.Passed += sr.Passed
		t.Failed += sr.Failed
		t.Error += sr.Error
		t.Throttled += sr.Throttled
		t.NotRun += sr.NotRun
		t.Turns += acc.turns
	}
	slices.SortFunc(res.Scenarios, func(x, y ScenarioResult) int { return strings.Compare(x.Name, y.Name) })
	res.Histograms = a.histograms()
	return res
}

// scenarioResult builds one scenario's result from its accumulated runs.
func scenarioResult(name string, acc *scenarioAcc) ScenarioResult {
	o := acc.outcomes
	sr := ScenarioResult{
		Name:          name,
		File:          acc.file,
		Tags:          acc.tags,
		Runs:          o.total(),
		Passed:        o.passed,
		Failed:        o.failed,
		Error:         o.errored,
		Throttled:     o.throttled,
		NotRun:        o.notRun,
		MinPassRate:   min(max(acc.minPassRate, 0), 1),
		Conversations: acc.convs,
	}
	if sr.Runs > 0 {
		sr.PassRate = float64(sr.Passed) / float64(sr.Runs)
	}
	// Required passes: the smallest whole number ≥ rate×runs, computed with
	// a little slack so 0.8×5 is 4, not 5 through rounding.
	req := sr.MinPassRate*float64(sr.Runs) - 1e-9
	sr.Required = max(0, int(req))
	if float64(sr.Required) < req {
		sr.Required++
	}
	sr.Status = StatusFailed
	if sr.Runs > 0 && sr.Passed >= sr.Required {
		sr.Status = StatusPassed
	}
	slices.SortFunc(sr.Conversations, func(x, y ConversationResult) int {
		return cmp.Or(cmp.Compare(x.Iteration, y.Iteration), cmp.Compare(x.ID, y.ID))
	})
	if sr.Conversations == nil {
		sr.Conversations = []ConversationResult{}
	}
	sr.FirstFailure = firstFailure(sr.Conversations)
	return sr
}

// firstFailure finds the first failure in conversations sorted by iteration.
func firstFailure(convs []ConversationResult) *Failure {
	for i := range convs {
		c := &convs[i]
		if c.Outcome == runner.Passed || c.Outcome == runner.NotRun {
			continue
		}
		f := &Failure{Conversation: c.ID, Iteration: c.Iteration, Outcome: c.Outcome, Turn: -1, Reason: c.Reason}
		for j := range c.Turns {
			t := &c.Turns[j]
			if t.Outcome == runner.Passed {
				continue
			}
			v := firstFailedVerdict(t)
			if t.Outcome == "" && v == nil && t.Error == "" {
				continue // a turn without outcome that shows no failure
			}
			f.Turn = t.Index
			f.ReplyExcerpt = excerpt(t.Reply, excerptLen)
			switch {
			case v != nil:
				f.Expectation = v.Expectation
				if v.Name != "" {
					f.Expectation = v.Name + ": " + v.Expectation
				}
				f.Reason = cmp.Or(v.Reason, c.Reason)
			case t.Error != "":
				f.Reason = t.Error
			}
			break
		}
		if f.Reason == "" {
			f.Reason = string(c.Outcome)
		}
		return f
	}
	return nil
}

func firstFailedVerdict(t *TurnRecord) *scenarios.Verdict {
	for i := range t.Verdicts {
		if !t.Verdicts[i].Passed {
			return &t.Verdicts[i]
		}
	}
	return nil
}

// excerpt returns s on one line, whitespace and control characters
// collapsed to single spaces, cut to n runes with an ellipsis.
func excerpt(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n]
	return strings.TrimRightFunc(string(r), unicode.IsSpace) + "…"
}

// histograms summarizes every histogram in the documented order.
func (a *Aggregator) histograms() []HistogramResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := &a.hists
	out := []HistogramResult{summarize(HistOverall, "all", h.all)}
	// The known kinds always appear, so a reader finds them even at 0.
	for _, k := range []runner.CallKind{runner.CallNewChat, runner.CallTurn} {
		histFor(h.kinds, k)
	}
	for _, k := range slices.Sorted(maps.Keys(h.kinds)) {
		out = append(out, summarize(HistCallKind, string(k), h.kinds[k]))
	}
	for _, name := range slices.Sorted(maps.Keys(h.scenarios)) {
		out = append(out, summarize(HistScenario, name, h.scenarios[name]))
	}
	for _, i := range slices.Sorted(maps.Keys(h.turns)) {
		out = append(out, summarize(HistTurn, strconv.Itoa(i), h.turns[i]))
	}
	return out
}

// redactURL removes user info and query values from a URL so no
// credential reaches a result. An unparsable URL is replaced by a marker.
func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		u.RawQuery = q.Encode()
	}
	u.Fragment = ""
	return u.String()
}
