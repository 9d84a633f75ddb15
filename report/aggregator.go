package report

import (
	"cmp"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	// Load is the run's load model (see LoadInfo).
	Load LoadInfo
	// Transcripts decides which conversations the result keeps in full and
	// where every conversation is streamed; the zero value keeps failures
	// and a sample (see Transcripts).
	Transcripts Transcripts
	// CutBy, when set, says what cut the run short of its plan before it
	// started, e.g. "the quota (--partial)"; Planned then holds the
	// conversations each scenario (by name) was to run without the cut.
	// The result records both (Result.Cut, ScenarioResult.Planned).
	CutBy   string
	Planned map[string]int
}

// Load models of LoadInfo.Model.
const (
	LoadClosed = "closed" // N conversations in flight
	LoadOpen   = "open"   // conversations start on an arrival schedule
)

// LoadInfo describes a run's load model. When Model is set, the result has
// the service-time and schedule-lag histograms (HistService,
// HistScheduleLag) and warns when the run fell behind its schedule.
type LoadInfo struct {
	// Model is LoadClosed or LoadOpen; empty says nothing about the load.
	Model string
	// PeakRate is the open model's highest arrival rate, in conversations
	// per second; its inter-arrival gap is what schedule lag is judged by.
	PeakRate float64
}

// Finish describes how a run ended; Result records it.
type Finish struct {
	Ended       time.Time
	Interrupted bool
	// StopReason says why the run stopped early (e.g. "interrupted",
	// "quota exhausted"); empty when it ran to the end.
	StopReason string
	// Schedule is what the runner's schedule reported (runner.Summary's
	// Schedule): the result warns when its cap held arrivals back.
	Schedule runner.ScheduleStats
	// Warnings are added to the result's warnings, before those the
	// Aggregator finds itself.
	Warnings []string
	Budget   BudgetInfo
}

// Snapshot is the live state of a run, for progress bars.
type Snapshot struct {
	// Conversations done, and how they ended.
	Conversations int64
	Counts
	// Calls done (each once, however many attempts).
	Calls int64
	// P95 is the 95th percentile latency of the turn calls so far (new
	// chats not included); 0 before the first.
	P95 time.Duration
	// InFlight is the conversations started and not yet done (waiting
	// for a reply or in a think time); 0 unless the runner reports starts
	// (runner.StartObserver).
	InFlight int64
}

// ConversationStarted implements runner.StartObserver: it counts the
// conversation in Snapshot.InFlight until its ConversationDone.
func (a *Aggregator) ConversationStarted(*runner.Conversation) { a.started.Add(1) }

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

	policy TranscriptPolicy
	sample int
	stream *transcriptStream // nil unless streaming every conversation
	turns  turnCounter       // turns sent and passed per turn index (turncount.go)

	// Conversations started and started ones done, for Snapshot.InFlight.
	started, startedDone atomic.Int64
}

// UnnamedScenario is the name results use for calls and conversations that
// carry no scenario name.
const UnnamedScenario = "(unnamed)"

const (
	numStripes = 16
	flushAt    = 256 // samples a stripe buffers before recording them
	excerptLen = 200 // runes of a reply kept in a Failure
)

// sample is one call's latency waiting to be recorded, a conversation's
// schedule lag (kind sampleLag, in us) or a streamed turn's measurement
// (sampleTTFT, sampleGap, sampleStall, in us).
type sample struct {
	kind     runner.CallKind
	scenario string
	turn     int
	us       int64
	service  int64 // the last attempt's service time in µs
	bucket   int64 // sendBucket of the intended send time; -1 when unknown
}

// Sample kinds that are not calls: a conversation's schedule lag, and a
// streamed turn's time to first token, one gap between its chunks, or its
// longest gap.
const (
	sampleLag   runner.CallKind = "\x00schedule_lag"
	sampleTTFT  runner.CallKind = "\x00ttft"
	sampleGap   runner.CallKind = "\x00chunk_gap"
	sampleStall runner.CallKind = "\x00stall"
	sampleITL   runner.CallKind = "\x00itl"
	sampleTPOT  runner.CallKind = "\x00tpot"
	sampleTPS   runner.CallKind = "\x00output_tps"
	// sampleTokens carries a streamed reply's output tokens in us, and in
	// turn 1 when the server reported them (usage), 0 when they are its
	// content chunks; it feeds StreamTotals, no histogram.
	sampleTokens runner.CallKind = "\x00output_tokens"
)

// sendBucket is the width of the buckets that count calls by intended send
// time, from which the closed model's stalls are found.
const sendBucket = 100 * time.Millisecond

// maxSendBuckets bounds those buckets (about 11 days of run).
const maxSendBuckets = 10_000_000

type stripe struct {
	mu         sync.Mutex
	buf        *[]sample
	calls      int64
	attempts   int64
	callErrors map[string]int64
	outcomes   Counts
	scenarios  map[string]*scenarioAcc
	_          [64]byte // keep stripes on separate cache lines
}

// scenarioAcc accumulates one scenario's conversations on one stripe.
type scenarioAcc struct {
	file        string
	tags        []string
	minPassRate float64
	outcomes    Counts
	turns       int64
	convs       []ConversationResult
	sim         *SimulationStats // simulated conversations; nil: none
	// first is the failure of the failing conversation with the lowest
	// (iteration, id), kept or not.
	first *Failure
}

// earlier reports whether failure f comes before g (nil is last).
func earlier(f, g *Failure) bool {
	if f == nil {
		return false
	}
	if g == nil {
		return true
	}
	return cmp.Or(cmp.Compare(f.Iteration, g.Iteration), cmp.Compare(f.Conversation, g.Conversation)) < 0
}

type histSet struct {
	// service is the service time (send to reply of the last attempt) by
	// call kind; lag the conversations' schedule lag; sends counts calls by
	// intended send time in sendBucket steps from Meta.Started.
	service map[runner.CallKind]*hdrhistogram.Histogram
	lag     *hdrhistogram.Histogram
	sends   []int64
	// stream holds the streaming histograms by sample kind (sampleTTFT,
	// sampleGap, sampleStall), made on the first streamed turn.
	stream map[runner.CallKind]*hdrhistogram.Histogram
	// tokens counts the streamed replies and their output tokens.
	tokens StreamTotals

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
			service:   map[runner.CallKind]*hdrhistogram.Histogram{},
			lag:       newLatencyHistogram(),
			all:       newLatencyHistogram(),
			kinds:     map[runner.CallKind]*hdrhistogram.Histogram{},
			scenarios: map[string]*hdrhistogram.Histogram{},
			turns:     map[int]*hdrhistogram.Histogram{},
		},
	}
	a.policy, a.sample = meta.Transcripts.policy()
	if a.policy == TranscriptsAll && meta.Transcripts.Stream != nil {
		a.stream = newTranscriptStream(meta.Transcripts.Stream)
	}
	a.meta.Transcripts.Stream = nil // the Aggregator writes only through a.stream
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
	smp := sample{kind: c.Kind, scenario: cmp.Or(c.Scenario, UnnamedScenario), turn: c.Turn, us: latencyMicros(c.Latency),
		service: latencyMicros(c.Service), bucket: -1}
	if start := a.meta.Started; !start.IsZero() && !c.Intended.Before(start) {
		smp.bucket = int64(c.Intended.Sub(start) / sendBucket)
	}
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
		switch smp.kind {
		case sampleLag:
			_ = h.lag.RecordValue(smp.us)
			continue
		case sampleTokens:
			h.tokens.Replies++
			h.tokens.OutputTokens += smp.us
			if smp.turn == 1 {
				h.tokens.UsageReplies++
			}
			continue
		case sampleTTFT, sampleGap, sampleStall, sampleITL, sampleTPOT, sampleTPS:
			if h.stream == nil {
				h.stream = map[runner.CallKind]*hdrhistogram.Histogram{}
			}
			_ = histFor(h.stream, smp.kind).RecordValue(smp.us)
			continue
		}
		_ = histFor(h.service, smp.kind).RecordValue(smp.service)
		if b := smp.bucket; b >= 0 && b < maxSendBuckets {
			for int64(len(h.sends)) <= b {
				h.sends = append(h.sends, 0)
			}
			h.sends[b]++
		}
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

// ConversationDone records how a conversation ended, keeps its transcript
// if the transcript policy says so, and streams it when the policy is
// TranscriptsAll. A nil conversation is ignored; an outcome the runner does
// not define counts as an error.
func (a *Aggregator) ConversationDone(c *runner.Conversation) {
	if c == nil {
		return
	}
	if !c.Start.IsZero() {
		a.startedDone.Add(1)
	}
	// The stored record is built only when something keeps it: the
	// stream, the transcripts, or a failure (most conversations of a load
	// test pass and need only be counted).
	outcome := c.Outcome
	if !knownOutcome(outcome) {
		outcome = runner.Errored
	}
	bad := outcome == runner.Failed || outcome == runner.Errored || outcome == runner.Throttled
	keep := keepTranscript(a.policy, a.sample, a.stream != nil, &ConversationResult{Outcome: outcome, Iteration: c.Iteration})
	var rec ConversationResult
	if a.stream != nil || keep || bad {
		rec = conversationRecord(c)
	}
	name, file, tags, minPass := UnnamedScenario, "", []string(nil), 1.0
	if sc := c.Scenario; sc != nil {
		name, file, tags, minPass = cmp.Or(sc.Name, UnnamedScenario), sc.File, sc.Tags, sc.MinPassRate
	}
	if a.stream != nil {
		a.stream.write(&TranscriptLine{Target: a.meta.Target.Name, Scenario: name, File: file, ConversationResult: rec})
	}
	rec = boundRecord(rec) // what the result keeps is bounded; the stream has it whole
	a.turns.add(c)
	var fail *Failure
	if bad {
		fail = firstFailure([]ConversationResult{rec})
	}
	s := a.stripe(c.ID)
	s.mu.Lock()
	acc := s.scenarios[name]
	if acc == nil {
		acc = &scenarioAcc{file: file, tags: tags, minPassRate: minPass}
		s.scenarios[name] = acc
	}
	acc.outcomes.Add(outcome)
	acc.turns += int64(len(c.Turns))
	if c.Simulation != nil {
		if acc.sim == nil {
			acc.sim = &SimulationStats{}
		}
		acc.sim.add(c.Simulation, len(c.Turns))
	}
	if keep {
		acc.convs = append(acc.convs, rec)
	}
	if earlier(fail, acc.first) {
		acc.first = fail
	}
	s.outcomes.Add(outcome)
	var full *[]sample
	// The schedule lag: to the start, or for an arrival that was due but
	// never started (runner.MissedArrival), to when the run gave up on it.
	if began := cmp.Or(c.Start, c.End); !began.IsZero() && !c.Scheduled.IsZero() {
		*s.buf = append(*s.buf, sample{kind: sampleLag, us: latencyMicros(began.Sub(c.Scheduled)), bucket: -1})
	}
	for i := range c.Turns {
		if t := &c.Turns[i]; t.Chunks > 0 {
			*s.buf = append(*s.buf, sample{kind: sampleTTFT, us: latencyMicros(t.TTFT), bucket: -1},
				sample{kind: sampleStall, us: latencyMicros(t.MaxGap), bucket: -1})
			var gen time.Duration // first to last content chunk
			for _, g := range t.Gaps {
				*s.buf = append(*s.buf, sample{kind: sampleGap, us: latencyMicros(g), bucket: -1})
				gen += g
			}
			n := t.OutputTokens
			if n <= 0 {
				n = t.Chunks // no usage: a content chunk stands for a token
			}
			usage := 0
			if t.OutputTokens > 0 {
				usage = 1
			}
			*s.buf = append(*s.buf, sample{kind: sampleTPOT, us: latencyMicros((t.TTFT + gen) / time.Duration(n)), bucket: -1},
				sample{kind: sampleTPS, us: tpsMilli(n, t.TTFT+gen), bucket: -1},
				sample{kind: sampleTokens, us: int64(n), turn: usage, bucket: -1})
			if n >= 2 {
				*s.buf = append(*s.buf, sample{kind: sampleITL, us: latencyMicros(gen / time.Duration(n-1)), bucket: -1})
			}
		}
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
		Verdicts:  c.Verdicts,
	}
	if c.Simulation != nil {
		sim := *c.Simulation
		rec.Simulation = &sim
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
			By:        t.By,
			Reply:     t.Reply,
			Tools:     t.Tools,
			Handoff:   t.Handoff,
			Tokens:    t.Tokens,
			LatencyMS: millis(max(t.Latency, 0)),
			ServiceMS: millis(max(t.Service, 0)),
			Attempts:  t.Attempts,
			Outcome:   t.Outcome,
			Error:     t.Error,
			Verdicts:  t.Verdicts,
			Raw:       string(t.Raw),
		}
		if t.Chunks > 0 {
			r := &rec.Turns[i]
			r.TTFTMS, r.Chunks, r.MaxGapMS = millis(max(t.TTFT, 0)), t.Chunks, millis(max(t.MaxGap, 0))
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
	var oc Counts
	for i := range a.stripes {
		s := &a.stripes[i]
		s.mu.Lock()
		snap.Calls += s.calls
		oc.Merge(s.outcomes)
		s.mu.Unlock()
	}
	// Done first, then started: every conversation done by the first
	// load had started by the second, so the difference is not negative.
	done := a.startedDone.Load()
	snap.InFlight = max(a.started.Load()-done, 0)
	snap.Conversations = int64(oc.Total())
	snap.Counts = oc
	a.mu.Lock()
	if h := a.hists.kinds[runner.CallTurn]; h != nil {
		snap.P95 = time.Duration(valueAtPercentile(h, 95)) * time.Microsecond
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
			m.outcomes.Merge(acc.outcomes)
			m.turns += acc.turns
			m.sim = m.sim.merge(acc.sim)
			m.convs = append(m.convs, acc.convs...)
			if earlier(acc.first, m.first) {
				m.first = acc.first
			}
		}
		s.mu.Unlock()
	}
	for name, acc := range merged {
		sr := scenarioResult(name, acc)
		res.Scenarios = append(res.Scenarios, sr)
		t := &res.Totals
		t.Conversations += sr.Runs
		t.Counts.Merge(sr.Counts)
		t.Turns += acc.turns
	}
	slices.SortFunc(res.Scenarios, func(x, y ScenarioResult) int { return strings.Compare(x.Name, y.Name) })
	res.Histograms = a.histograms()
	res.Stream = a.streamTotals(res)
	res.Warnings = a.warnings(end, res)
	a.cut(res)
	res.Transcripts = a.transcriptInfo(res)
	res.Turns = a.turns.result()
	return res
}

// cut records what Meta.CutBy left out of the run: planned against run per
// scenario and for the whole run, with a warning that says so.
func (a *Aggregator) cut(res *Result) {
	if a.meta.CutBy == "" || len(a.meta.Planned) == 0 {
		return
	}
	c := &CutInfo{By: a.meta.CutBy, Ran: res.Totals.Conversations}
	var short []string
	ran := map[string]bool{}
	for i := range res.Scenarios {
		s := &res.Scenarios[i]
		ran[s.Name] = true
		s.Planned = max(a.meta.Planned[s.Name], s.Runs)
		if s.Planned > s.Runs {
			short = append(short, fmt.Sprintf("%s ran %d of %d", s.Name, s.Runs, s.Planned))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(a.meta.Planned)) {
		n := a.meta.Planned[name]
		c.Planned += n
		if !ran[name] && n > 0 {
			c.NotRun = append(c.NotRun, name)
			short = append(short, fmt.Sprintf("%s ran 0 of %d", name, n))
		}
	}
	c.Planned = max(c.Planned, c.Ran)
	if c.Planned == c.Ran {
		return // nothing was cut after all
	}
	res.Cut = c
	res.Warnings = append(res.Warnings, fmt.Sprintf("the run was cut by %s: %d of %d planned conversations ran; %s",
		c.By, c.Ran, c.Planned, strings.Join(short, ", ")))
}

// transcriptInfo records the transcript policy and what it kept.
func (a *Aggregator) transcriptInfo(res *Result) *TranscriptInfo {
	ti := &TranscriptInfo{Policy: a.policy}
	if a.policy == TranscriptsSample || a.policy == TranscriptsAll {
		ti.Sample = a.sample
	}
	for i := range res.Scenarios {
		ti.Kept += len(res.Scenarios[i].Conversations)
	}
	if a.stream != nil {
		ti.File = a.meta.Transcripts.StreamName
		n, err := a.stream.flush()
		ti.Streamed = n
		if err != nil {
			ti.StreamError = err.Error()
		}
	}
	return ti
}

// FlushTranscripts writes out what the transcript stream buffers and
// returns the first error writing it met, if any; nil when there is no
// stream. Call it after the last ConversationDone and before closing the
// stream's file. Result flushes too, and records the error.
func (a *Aggregator) FlushTranscripts() error {
	if a.stream == nil {
		return nil
	}
	_, err := a.stream.flush()
	return err
}

// scenarioResult builds one scenario's result from its accumulated runs.
func scenarioResult(name string, acc *scenarioAcc) ScenarioResult {
	o := acc.outcomes
	sr := ScenarioResult{
		Name:          name,
		File:          acc.file,
		Tags:          acc.tags,
		Runs:          o.Total(),
		Counts:        o,
		MinPassRate:   min(max(acc.minPassRate, 0), 1),
		Conversations: acc.convs,
		Simulation:    acc.sim,
	}
	if sr.Runs > 0 {
		sr.PassRate = float64(sr.Passed) / float64(sr.Runs)
	}
	if sr.Runs > 1 {
		iv := WilsonInterval(sr.Passed, sr.Runs)
		sr.PassRateCI = &iv
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
	sr.FirstFailure = acc.first
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
		if f.Turn == -1 && f.Expectation == "" {
			if v := firstFailedOf(c.Verdicts); v != nil {
				f.Turn = WholeConversation
				f.Expectation = verdictLabel(v.Name, v.Expectation)
				f.Reason = cmp.Or(v.Reason, c.Reason)
			}
		}
		if f.Reason == "" {
			f.Reason = string(c.Outcome)
		}
		return f
	}
	return nil
}

func firstFailedVerdict(t *TurnRecord) *scenarios.Verdict {
	return firstFailedOf(t.Verdicts)
}

// firstFailedOf returns the first verdict of vs that did not pass, or nil.
func firstFailedOf(vs []scenarios.Verdict) *scenarios.Verdict {
	for i := range vs {
		if !vs[i].Passed {
			return &vs[i]
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
	if a.meta.Load.Model != "" {
		for _, k := range []runner.CallKind{runner.CallNewChat, runner.CallTurn} {
			histFor(h.service, k)
		}
		for _, k := range slices.Sorted(maps.Keys(h.service)) {
			out = append(out, summarize(HistService, string(k), h.service[k]))
		}
		out = append(out, summarize(HistScheduleLag, ScheduleLagName, h.lag))
	}
	// The streaming histograms appear only when some turn streamed.
	if h.stream != nil {
		for _, k := range []struct {
			kind   string
			sample runner.CallKind
		}{{HistTTFT, sampleTTFT}, {HistChunkGap, sampleGap}, {HistStall, sampleStall}, {HistITL, sampleITL}, {HistTPOT, sampleTPOT}, {HistOutputTPS, sampleTPS}} {
			out = append(out, summarize(k.kind, StreamName, histFor(h.stream, k.sample)))
		}
	}
	return out
}

// streamTotals returns the run's streamed replies and output tokens, with
// the run's output tokens per second over its wall time; nil when no turn
// streamed.
func (a *Aggregator) streamTotals(res *Result) *StreamTotals {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.hists.stream == nil {
		return nil
	}
	st := a.hists.tokens
	st.setRate(res.DurationMS)
	return &st
}

// warnings says how the run fell behind its schedule, so that nobody reads
// its latencies without knowing: extra first, then the cap on conversations
// in flight, then the schedule lag (open model) or the stalls (closed model).
func (a *Aggregator) warnings(end Finish, res *Result) []string {
	out := append([]string(nil), end.Warnings...)
	if st := end.Schedule; st.CapHits > 0 {
		out = append(out, fmt.Sprintf("the cap of %d conversations in flight (--max-in-flight) held back %d arrivals, the first at +%s; they started late, and their latencies include the wait",
			st.MaxInFlight, st.CapHits, fmtWarnDuration(st.FirstCapHit)))
	}
	if st := end.Schedule; st.Missed > 0 {
		why := "the run stopped first"
		if st.MissedCapped == st.Missed {
			why = "the cap of conversations in flight (--max-in-flight) held them back until the run stopped"
		} else if st.MissedCapped > 0 {
			why = fmt.Sprintf("the run stopped first (%d of them held back by the cap of conversations in flight, --max-in-flight)", st.MissedCapped)
		}
		out = append(out, fmt.Sprintf("%d arrivals due before the end of the run never started: %s; they are reported not_run and their wait counts in the schedule lag",
			st.Missed, why))
	}
	switch a.meta.Load.Model {
	case LoadOpen:
		lag := res.Histogram(HistScheduleLag, ScheduleLagName)
		if lag == nil || lag.Count == 0 || a.meta.Load.PeakRate <= 0 {
			break
		}
		p99 := time.Duration(lag.P99US) * time.Microsecond
		gap := time.Duration(float64(time.Second) / a.meta.Load.PeakRate)
		if p99 > max(gap/10, MinLagWarning) {
			out = append(out, fmt.Sprintf("the run fell behind schedule: p99 schedule lag %s (conversations start every %s at the peak rate); latencies include the queueing",
				fmtWarnDuration(p99), fmtWarnDuration(gap)))
		}
	case LoadClosed:
		a.mu.Lock()
		stalled, median := closedStalls(a.hists.sends, a.heldBack(end.Schedule))
		a.mu.Unlock()
		if stalled > 0 {
			out = append(out, fmt.Sprintf("the run fell behind schedule: the closed model sent almost no calls for %s in all (%d calls/s otherwise) while calls were slow; the calls it would have sent meanwhile are missing from its latencies (coordinated omission); --arrival-rate measures them from their intended send times",
				fmtWarnDuration(stalled), median*int64(time.Second/sendBucket)))
		}
	}
	return out
}

// heldBack returns whether the closed schedule held a conversation back
// for at least half of a send bucket, from its stats; nil when the stats
// do not say (a Schedule without them).
func (a *Aggregator) heldBack(st runner.ScheduleStats) func(int) bool {
	if !st.Closed || a.meta.Started.IsZero() {
		return nil
	}
	start := a.meta.Started
	return func(b int) bool {
		from := start.Add(time.Duration(b) * sendBucket)
		return st.WaitedDuring(from, from.Add(sendBucket)) >= sendBucket/2
	}
}

// MinLagWarning is the schedule lag p99 below which an open-model run is
// never said to have fallen behind, however short its inter-arrival gap: a
// few milliseconds of lag are timer and scheduler noise on a busy machine,
// and small beside any agent's latency.
const MinLagWarning = 5 * time.Millisecond

// closedStalls finds the stalls of a closed-model run in its calls counted
// per sendBucket: runs of at least three buckets (300 ms) with fewer than a
// quarter of the median count, between the first and the last bucket that
// reach it (a run's ramp-up and tail are not stalls). A closed model sends
// its next call only when a reply arrives, so while the agent stalls it
// sends nothing, and those calls never appear in its latencies. It returns
// the stalled time and the median count per bucket; 0 when the median is
// below 10 calls per bucket (too few to tell a stall from the pace of think
// times) or the run is shorter than 2 s.
//
// heldBack, when not nil, says whether the closed model held a conversation
// back during a bucket (it waited for a free slot): only then can a bucket
// with few calls be a stall. A closed burst whose conversations all started
// at once holds none back — it has nothing more to start — so the calls it
// sends when the replies come are not missing from anything, however long
// the agent takes.
func closedStalls(sends []int64, heldBack func(bucket int) bool) (time.Duration, int64) {
	if len(sends) < 20 {
		return 0, 0
	}
	sorted := slices.Clone(sends)
	slices.Sort(sorted)
	median := sorted[len(sorted)/2]
	if median < 10 {
		return 0, median
	}
	low := func(n int64) bool { return n*4 < median }
	first, last := 0, len(sends)-1
	for first <= last && low(sends[first]) {
		first++
	}
	for last >= first && low(sends[last]) {
		last--
	}
	stalled, run := 0, 0
	for i := first; i <= last+1; i++ {
		if i <= last && low(sends[i]) && (heldBack == nil || heldBack(i)) {
			run++
			continue
		}
		if run >= 3 {
			stalled += run
		}
		run = 0
	}
	return time.Duration(stalled) * sendBucket, median
}

// fmtWarnDuration formats a duration for a warning with about three
// significant digits: 850µs, 12.3ms, 1.2s, 2m30s.
func fmtWarnDuration(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d >= 10*time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 0, 64) + "ms"
	case d >= time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
	}
	return strconv.FormatInt(d.Microseconds(), 10) + "µs"
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
