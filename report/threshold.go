package report

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Threshold is one gate on a result, written METRIC OP VALUE with optional
// scope prefixes, e.g. `p95<2s`, `pass_rate>=0.95`, `error_rate<1%`,
// `scenario:lead-capture p99<=5s`, `tag:smoke pass_rate>=95%`, `turn:2
// p95<3s`, `new_chat.p95<500ms`. ParseThreshold reads it; Evaluate measures
// it on a Result; ThresholdResult (result.go) records the outcome.
//
// Metrics:
//   - latency of the turn calls in scope: p50, p90, p95, p99, p99.9 (any pN
//     with 0 < N <= 100), min, max, mean; prefixed with "new_chat." for the
//     new-chat calls (only without scope or with target: scope). Values are
//     durations (800ms, 2s, 1.5m, 1m30s); a plain number is milliseconds.
//   - conversation rates in scope: pass_rate, fail_rate, error_rate,
//     throttle_rate: passed, failed, errored or throttled conversations over
//     all conversations in scope (not run ones included). Values are
//     fractions (0.95) or percentages (95%).
//   - counts: calls (the turn calls in scope, or new-chat calls with
//     new_chat.calls), conversations. Values are whole numbers.
//
// Operators: < <= > >= == !=. Scopes: scenario:NAME, tag:NAME (the
// scenarios having that tag, their histograms merged), turn:N (the Nth turn,
// counted from 1 as in the summary; latency and calls only), target:NAME
// (may be combined with one of the others). A NAME with spaces is written
// in double quotes: scenario:"lead capture".
type Threshold struct {
	// Expr is the expression as written.
	Expr string
	// Scope is what the metric is measured on; the zero Scope is the whole run.
	Scope Scope
	// Metric is the metric's canonical name, e.g. "p95", "new_chat.p99.9",
	// "pass_rate".
	Metric string
	// Op is one of < <= > >= == !=.
	Op string
	// Value is the bound in the metric's unit: microseconds for latency, a
	// fraction (0–1) for rates, a count for counts.
	Value float64

	m metric
}

// Scope kinds, the value of Scope.Kind.
const (
	ScopeScenario = "scenario"
	ScopeTag      = "tag"
	ScopeTurn     = "turn"
)

// Scope is the part of a result a threshold measures. Target, when set,
// names the target; Kind and Name select a scenario, a tag or a turn (Name
// is the 1-based turn number in decimal). The zero Scope is the whole run.
type Scope struct {
	Target string
	Kind   string
	Name   string
}

// String returns the scope as written in a threshold, e.g.
// `target:prod scenario:lead-capture`, or "" for the whole run.
func (s Scope) String() string {
	var parts []string
	if s.Target != "" {
		parts = append(parts, "target:"+quoteName(s.Target))
	}
	if s.Kind != "" {
		parts = append(parts, s.Kind+":"+quoteName(s.Name))
	}
	return strings.Join(parts, " ")
}

func quoteName(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\"") {
		return strconv.Quote(s)
	}
	return s
}

// ThresholdError is the error of a malformed threshold expression. Col is
// the 1-based column (in characters) of the mistake.
type ThresholdError struct {
	Expr string
	Col  int
	Msg  string
}

func (e *ThresholdError) Error() string {
	if e.Col > 0 {
		return fmt.Sprintf("threshold %q: col %d: %s", e.Expr, e.Col, e.Msg)
	}
	return fmt.Sprintf("threshold %q: %s", e.Expr, e.Msg)
}

// metric kinds
const (
	mLatency = iota + 1
	mRate
	mCount
	// mTPS is output tokens per second: the per-reply histogram's
	// percentiles (stat "p", "min", "max", "mean") or the run's rate
	// (stat "run"); values are tokens/s.
	mTPS
)

// metric is a parsed metric name.
type metric struct {
	kind int
	call string  // latency and calls: "turn" or "new_chat"
	stat string  // latency: "p", "min", "max", "mean"; rate: pass, fail, error, throttle; count: calls, conversations
	pct  float64 // latency "p": the percentile
	// stream is the streaming histogram kind (HistTTFT, HistITL, ...) a
	// latency metric reads instead of the calls', "" for calls.
	stream string
}

// statOf returns m's statistic (min, max, mean or the percentile m.pct)
// of the non-empty histogram h, in h's unit.
func (m metric) statOf(h *hdrhistogram.Histogram) float64 {
	switch m.stat {
	case "min":
		return float64(h.Min())
	case "max":
		return float64(h.Max())
	case "mean":
		return h.Mean()
	default:
		return float64(valueAtPercentile(h, m.pct))
	}
}

// streamMetrics are the prefixes of the streaming latency metrics, e.g.
// ttft.p95 (also written "ttft p95"), and the histogram each reads.
// output_tps is not a latency: tokens per second, higher is better.
var streamMetrics = map[string]string{"ttft": HistTTFT, "itl": HistITL, "tpot": HistTPOT, "stall": HistStall, "chunk_gap": HistChunkGap,
	"output_tps": HistOutputTPS}

const validMetrics = "p50, p90, p95, p99, p99.9 (any pN), min, max, mean, new_chat.p95 …, ttft p95, itl p50, tpot p50, stall max, chunk_gap p99 …, output_tps p50, output_tps run, pass_rate, fail_rate, error_rate, throttle_rate, calls, conversations"

var validOps = []string{"<=", ">=", "==", "!=", "<", ">"}

// ParseThreshold parses a threshold expression (see Threshold). Errors are
// *ThresholdError and name the column of the mistake and what is valid
// there, e.g. `threshold "p95<<2s": col 5: unexpected "<"; want a value
// such as 2s`.
func ParseThreshold(s string) (Threshold, error) {
	p := &thresholdParser{expr: s}
	t, err := p.parse()
	if err != nil {
		return Threshold{}, err
	}
	return t, nil
}

// ParseThresholds parses every expression; the error joins the errors of
// all malformed ones.
func ParseThresholds(exprs []string) ([]Threshold, error) {
	var out []Threshold
	var errs []error
	for _, e := range exprs {
		t, err := ParseThreshold(e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, t)
	}
	return out, errors.Join(errs...)
}

type thresholdParser struct {
	expr string
	pos  int // byte offset
}

func (p *thresholdParser) col(off int) int { return utf8.RuneCountInString(p.expr[:off]) + 1 }

func (p *thresholdParser) errAt(off int, format string, args ...any) error {
	return &ThresholdError{Expr: p.expr, Col: p.col(off), Msg: fmt.Sprintf(format, args...)}
}

func (p *thresholdParser) skipSpace() {
	for p.pos < len(p.expr) && (p.expr[p.pos] == ' ' || p.expr[p.pos] == '\t') {
		p.pos++
	}
}

func (p *thresholdParser) rest() string { return p.expr[p.pos:] }

// unexpected names the character at off.
func (p *thresholdParser) unexpected(off int) string {
	if off >= len(p.expr) {
		return "end of expression"
	}
	r, _ := utf8.DecodeRuneInString(p.expr[off:])
	return strconv.Quote(string(r))
}

func isIdent(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

func (p *thresholdParser) parse() (Threshold, error) {
	t := Threshold{Expr: p.expr}
	if strings.TrimSpace(p.expr) == "" {
		return t, &ThresholdError{Expr: p.expr, Msg: "empty; want METRIC OP VALUE such as p95<2s or pass_rate>=0.95"}
	}
	// Scopes: WORD ':' NAME, before the metric.
	for {
		p.skipSpace()
		start := p.pos
		end := start
		for end < len(p.expr) && isIdent(p.expr[end]) && p.expr[end] != '.' {
			end++
		}
		if end == start || end >= len(p.expr) || p.expr[end] != ':' {
			break
		}
		word := strings.ToLower(p.expr[start:end])
		p.pos = end + 1
		name, err := p.scopeName(word, start)
		if err != nil {
			return t, err
		}
		switch word {
		case "target":
			if t.Scope.Target != "" {
				return t, p.errAt(start, "a second target: scope; give one")
			}
			t.Scope.Target = name
		case ScopeScenario, ScopeTag, ScopeTurn:
			if t.Scope.Kind != "" {
				return t, p.errAt(start, "%s: after %s:; a threshold takes one of scenario:, tag:, turn: (target: may be added)", word, t.Scope.Kind)
			}
			if word == ScopeTurn {
				n, err := strconv.Atoi(name)
				if err != nil || n < 1 {
					return t, p.errAt(end+1, "turn %q: want a turn number counted from 1, as in the summary (turn:1 is the first turn)", name)
				}
				name = strconv.Itoa(n)
			}
			t.Scope.Kind, t.Scope.Name = word, name
		default:
			return t, p.errAt(start, "unknown scope %q; valid: scenario:NAME, tag:NAME, target:NAME, turn:N", word+":")
		}
	}
	// Metric.
	p.skipSpace()
	mStart := p.pos
	for p.pos < len(p.expr) && isIdent(p.expr[p.pos]) {
		p.pos++
	}
	name := p.expr[mStart:p.pos]
	if _, ok := streamMetrics[strings.ToLower(name)]; ok {
		// "ttft p95" is ttft.p95.
		save := p.pos
		p.skipSpace()
		s := p.pos
		for p.pos < len(p.expr) && isIdent(p.expr[p.pos]) {
			p.pos++
		}
		if p.pos > s {
			name += "." + p.expr[s:p.pos]
		} else {
			p.pos = save
		}
	}
	if name == "" {
		return t, p.errAt(mStart, "unexpected %s; want a metric (%s)", p.unexpected(mStart), validMetrics)
	}
	m, canon, ok := parseMetric(name)
	if !ok {
		return t, p.errAt(mStart, "unknown metric %q; valid: %s", name, validMetrics)
	}
	switch {
	case m.stream != "" && t.Scope.Kind != "":
		return t, p.errAt(mStart, "%s is measured on the whole run (or a target:) only, over every streamed turn", canon)
	case m.call == "new_chat" && t.Scope.Kind != "":
		return t, p.errAt(mStart, "%s is measured on the whole run (or a target:) only; new chats belong to no %s", canon, t.Scope.Kind)
	case t.Scope.Kind == ScopeTurn && m.kind != mLatency && !(m.kind == mCount && m.stat == "calls"):
		return t, p.errAt(mStart, "%s cannot be scoped to a turn; turn: takes latency metrics (p95, max, …) and calls", canon)
	}
	t.Metric, t.m = canon, m
	// Operator.
	p.skipSpace()
	opStart := p.pos
	for _, op := range validOps {
		if strings.HasPrefix(p.rest(), op) {
			t.Op = op
			p.pos += len(op)
			break
		}
	}
	if t.Op == "" {
		if p.pos < len(p.expr) && p.expr[p.pos] == '=' {
			return t, p.errAt(opStart, "unexpected \"=\"; want an operator: <, <=, >, >=, ==, != (equality is ==)")
		}
		return t, p.errAt(opStart, "unexpected %s; want an operator after %s: <, <=, >, >=, ==, !=", p.unexpected(opStart), name)
	}
	// Value.
	p.skipSpace()
	vStart := p.pos
	vEnd := vStart
	for vEnd < len(p.expr) && p.expr[vEnd] != ' ' && p.expr[vEnd] != '\t' {
		vEnd++
	}
	raw := p.expr[vStart:vEnd]
	if raw == "" || strings.ContainsAny(raw[:1], "<>=!") {
		return t, p.errAt(vStart, "unexpected %s; want a value such as %s", p.unexpected(vStart), m.example())
	}
	v, err := m.parseValue(raw)
	if err != nil {
		return t, p.errAt(vStart, "%q: %v", raw, err)
	}
	t.Value = v
	p.pos = vEnd
	p.skipSpace()
	if p.pos < len(p.expr) {
		return t, p.errAt(p.pos, "unexpected %q after the value; one threshold per expression", p.rest())
	}
	return t, nil
}

// scopeName reads the NAME of a scope: a double-quoted string or the
// characters up to the next space.
func (p *thresholdParser) scopeName(word string, start int) (string, error) {
	if strings.HasPrefix(p.rest(), `"`) {
		q, err := strconv.QuotedPrefix(p.rest())
		if err != nil {
			return "", p.errAt(p.pos, "unterminated or malformed quoted name")
		}
		name, _ := strconv.Unquote(q)
		p.pos += len(q)
		if name == "" {
			return "", p.errAt(start, "scope %q needs a name, e.g. %s:lead-capture", word+":", word)
		}
		return name, nil
	}
	nStart := p.pos
	for p.pos < len(p.expr) && p.expr[p.pos] != ' ' && p.expr[p.pos] != '\t' {
		p.pos++
	}
	if p.pos == nStart {
		ex := word + ":lead-capture"
		if word == ScopeTurn {
			ex = "turn:1"
		}
		return "", p.errAt(start, "scope %q needs a name followed by a space and the metric, e.g. %s p95<2s", word+":", ex)
	}
	if p.pos >= len(p.expr) {
		return "", p.errAt(p.pos, "unexpected end of expression after scope %s:%s; want a metric such as p95<2s", word, p.expr[nStart:p.pos])
	}
	return p.expr[nStart:p.pos], nil
}

// parseMetric parses a metric name and returns it with its canonical name.
func parseMetric(name string) (metric, string, bool) {
	lower := strings.ToLower(name)
	call := "turn"
	prefix, stream := "", ""
	if rest, ok := strings.CutPrefix(lower, "new_chat."); ok {
		call, prefix, lower = "new_chat", "new_chat.", rest
	} else if word, rest, ok := strings.Cut(lower, "."); ok && streamMetrics[word] != "" {
		prefix, stream, lower = word+".", streamMetrics[word], rest
	}
	kind := mLatency
	if stream == HistOutputTPS {
		kind = mTPS
		if lower == "run" { // the run's output tokens over its wall time
			return metric{kind: mTPS, stat: "run", stream: stream}, prefix + lower, true
		}
	}
	switch lower {
	case "min", "max", "mean":
		return metric{kind: kind, call: call, stat: lower, stream: stream}, prefix + lower, true
	case "calls":
		if stream != "" {
			return metric{}, "", false
		}
		return metric{kind: mCount, call: call, stat: "calls"}, prefix + lower, true
	}
	if len(lower) > 1 && lower[0] == 'p' {
		pct, err := strconv.ParseFloat(lower[1:], 64)
		if err == nil && pct > 0 && pct <= 100 && !strings.ContainsAny(lower[1:], "eE+-_") {
			return metric{kind: kind, call: call, stat: "p", pct: pct, stream: stream}, prefix + "p" + strconv.FormatFloat(pct, 'f', -1, 64), true
		}
	}
	if prefix != "" {
		return metric{}, "", false
	}
	switch lower {
	case "pass_rate", "fail_rate", "error_rate", "throttle_rate":
		return metric{kind: mRate, stat: strings.TrimSuffix(lower, "_rate")}, lower, true
	case "conversations":
		return metric{kind: mCount, stat: "conversations"}, lower, true
	}
	return metric{}, "", false
}

func (m metric) example() string {
	switch m.kind {
	case mLatency:
		return "2s"
	case mRate:
		return "0.95 or 95%"
	case mTPS:
		return "20 (tokens/s)"
	}
	return "100"
}

// parseValue parses a bound in the metric's unit.
func (m metric) parseValue(s string) (float64, error) {
	switch m.kind {
	case mLatency:
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			if !(f >= 0) || math.IsInf(f, 0) {
				return 0, errors.New("want a duration of 0 or more, e.g. 800ms or 2s")
			}
			return f * 1000, nil // plain numbers are milliseconds
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, errors.New("not a duration; want e.g. 800ms, 2s, 1.5m (units: us, ms, s, m, h; a plain number is milliseconds)")
		}
		return float64(d) / float64(time.Microsecond), nil
	case mTPS:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || !(f >= 0) || math.IsInf(f, 0) {
			return 0, errors.New("want output tokens per second, a plain number of 0 or more, e.g. 20 (not a duration)")
		}
		return f, nil
	case mRate:
		num, pct := strings.CutSuffix(s, "%")
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || math.IsNaN(f) {
			return 0, errors.New("not a rate; want a fraction such as 0.95 or a percentage such as 95%")
		}
		if pct {
			f /= 100
		}
		if f < 0 || f > 1 {
			if !pct && f > 1 && f <= 100 {
				return 0, fmt.Errorf("a rate is a fraction between 0 and 1; for a percentage write %s%%", num)
			}
			return 0, errors.New("a rate is between 0 and 1 (or 0% and 100%)")
		}
		return f, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("want a whole number of 0 or more, e.g. 100")
	}
	return float64(n), nil
}

// Evaluate measures the threshold on r and says whether it held, with the
// value measured as people read it ("1.842s", "96.0% (48 of 50)"). A
// threshold that cannot be measured (no such scenario, tag or turn, no
// calls, another target) does not hold; its Value is "n/a (why)".
func (t Threshold) Evaluate(r *Result) (out ThresholdResult) {
	out = ThresholdResult{Expr: t.Expr, Scope: t.Scope.String()}
	why := ""
	defer func() {
		if why != "" {
			out.Value, out.Passed = "n/a ("+why+")", false
		}
	}()
	if t.m.kind == 0 { // not made by ParseThreshold
		m, _, ok := parseMetric(t.Metric)
		if !ok {
			why = fmt.Sprintf("unknown metric %q", t.Metric)
			return out
		}
		t.m = m
	}
	if r == nil {
		why = "no result"
		return out
	}
	if t.Scope.Target != "" && t.Scope.Target != r.Target.Name {
		why = fmt.Sprintf("the result has no target %q (its target is %q)", t.Scope.Target, r.Target.Name)
		return out
	}
	var got float64
	switch t.m.kind {
	case mLatency, mCount:
		if t.m.kind == mCount && t.m.stat == "conversations" {
			c, _, err := t.counts(r)
			if err != nil {
				why = err.Error()
				return out
			}
			got = float64(c.runs)
			out.Value = strconv.Itoa(c.runs)
			break
		}
		h, err := t.histogram(r)
		if err != nil {
			why = err.Error()
			return out
		}
		if t.m.kind == mCount {
			got = float64(h.TotalCount())
			out.Value = strconv.FormatInt(h.TotalCount(), 10)
			break
		}
		if h.TotalCount() == 0 {
			why = "no calls in scope"
			return out
		}
		got = t.m.statOf(h)
		// Compared as printed (4 significant digits), so that a gate
		// written from the value shown agrees with it: 67903 µs prints
		// "67.90ms" and meets p95<=67.9ms.
		got = PrintedMicros(got)
		out.Value = FormatMicros(got)
	case mTPS:
		if t.m.stat == "run" {
			st := r.Stream
			switch {
			case st == nil:
				why = fmt.Sprintf("no streamed turn in the result (%s is measured on streamed replies: --stream)", t.Metric)
				return out
			case r.DurationMS <= 0:
				why = "the run has no duration"
				return out
			}
			got = PrintedTPS(st.OutputTokensPerS)
			out.Value = FormatTPS(st.OutputTokensPerS) + fmt.Sprintf(" (%s tokens in %s)", fmtInt(st.OutputTokens), fmtDuration(r.Duration()))
			break
		}
		h, err := t.histogram(r)
		if err != nil {
			why = err.Error()
			return out
		}
		if h.TotalCount() == 0 {
			why = "no streamed reply in scope"
			return out
		}
		milli := t.m.statOf(h)
		// Compared as printed, as latencies are.
		got = PrintedTPS(milli / 1000)
		out.Value = FormatTPS(milli / 1000)
	case mRate:
		c, n, err := t.counts(r)
		if err != nil {
			why = err.Error()
			return out
		}
		if c.runs == 0 {
			why = "no conversations in scope"
			return out
		}
		got = float64(n) / float64(c.runs)
		out.Value = fmt.Sprintf("%s (%d of %d)", formatPercent(got), n, c.runs)
	}
	out.Passed = compare(got, t.Op, t.Value)
	return out
}

// EvaluateThresholds evaluates every threshold on r and reports whether all
// held.
func EvaluateThresholds(r *Result, ts []Threshold) ([]ThresholdResult, bool) {
	out := make([]ThresholdResult, 0, len(ts))
	ok := true
	for _, t := range ts {
		tr := t.Evaluate(r)
		ok = ok && tr.Passed
		out = append(out, tr)
	}
	return out, ok
}

// breached counts the thresholds that did not hold.
func breached(trs []ThresholdResult) int {
	n := 0
	for _, t := range trs {
		if !t.Passed {
			n++
		}
	}
	return n
}

func compare(got float64, op string, want float64) bool {
	const eps = 1e-9
	switch op {
	case "<":
		return got < want-eps
	case "<=":
		return got <= want+eps
	case ">":
		return got > want+eps
	case ">=":
		return got >= want-eps
	case "==":
		return math.Abs(got-want) <= eps
	case "!=":
		return math.Abs(got-want) > eps
	}
	return false
}

// scopeCounts are the conversations in a threshold's scope: how many ran
// and how they ended.
type scopeCounts struct {
	runs int
	Counts
}

// counts returns the conversation counts in scope and the count the rate
// metric takes.
func (t Threshold) counts(r *Result) (scopeCounts, int, error) {
	var c scopeCounts
	add := func(s *ScenarioResult) {
		c.runs += s.Runs
		c.Merge(s.Counts)
	}
	switch t.Scope.Kind {
	case "":
		tt := r.Totals
		c = scopeCounts{tt.Conversations, tt.Counts}
	case ScopeScenario:
		s := r.Scenario(t.Scope.Name)
		if s == nil {
			return c, 0, fmt.Errorf("no scenario %q in the result", t.Scope.Name)
		}
		add(s)
	case ScopeTag:
		found := false
		for i := range r.Scenarios {
			if slices.Contains(r.Scenarios[i].Tags, t.Scope.Name) {
				add(&r.Scenarios[i])
				found = true
			}
		}
		if !found {
			return c, 0, fmt.Errorf("no scenario with tag %q in the result", t.Scope.Name)
		}
	default:
		return c, 0, fmt.Errorf("%s cannot be measured per %s", t.Metric, t.Scope.Kind)
	}
	n := map[string]int{"pass": c.Passed, "fail": c.Failed, "error": c.Errored, "throttle": c.Throttled}[t.m.stat]
	return c, n, nil
}

// histogram returns the latency histogram in scope.
func (t Threshold) histogram(r *Result) (*hdrhistogram.Histogram, error) {
	decode := func(kind, name, what string) (*hdrhistogram.Histogram, error) {
		hr := r.Histogram(kind, name)
		if hr == nil {
			return nil, fmt.Errorf("no %s in the result", what)
		}
		return hr.Decode()
	}
	if t.m.stream != "" {
		if r.Histogram(t.m.stream, StreamName) == nil {
			return nil, fmt.Errorf("no streamed turn in the result (%s is measured on streamed replies: --stream)", t.Metric)
		}
		return decode(t.m.stream, StreamName, "")
	}
	switch t.Scope.Kind {
	case "":
		h, err := decode(HistCallKind, t.m.call, t.m.call+" latency histogram")
		if err != nil && t.m.call == "turn" && r.Histogram(HistCallKind, t.m.call) == nil {
			return newLatencyHistogram(), nil // a run without turn calls
		}
		return h, err
	case ScopeScenario:
		if r.Scenario(t.Scope.Name) == nil {
			return nil, fmt.Errorf("no scenario %q in the result", t.Scope.Name)
		}
		if r.Histogram(HistScenario, t.Scope.Name) == nil {
			return newLatencyHistogram(), nil // the scenario made no turn call
		}
		return decode(HistScenario, t.Scope.Name, "")
	case ScopeTurn:
		n, _ := strconv.Atoi(t.Scope.Name)
		if r.Histogram(HistTurn, strconv.Itoa(n-1)) == nil {
			return nil, fmt.Errorf("no calls at turn %d in the result", n)
		}
		return decode(HistTurn, strconv.Itoa(n-1), "")
	case ScopeTag:
		merged := newLatencyHistogram()
		found := false
		for i := range r.Scenarios {
			s := &r.Scenarios[i]
			if !slices.Contains(s.Tags, t.Scope.Name) {
				continue
			}
			found = true
			hr := r.Histogram(HistScenario, s.Name)
			if hr == nil {
				continue
			}
			h, err := hr.Decode()
			if err != nil {
				return nil, err
			}
			merged.Merge(h)
		}
		if !found {
			return nil, fmt.Errorf("no scenario with tag %q in the result", t.Scope.Name)
		}
		return merged, nil
	}
	return nil, fmt.Errorf("unknown scope %q", t.Scope.Kind)
}

// FormatMicros formats a latency in microseconds for people, to 4
// significant digits with trailing zeros kept: "850µs", "67.90ms",
// "191.1ms", "1.401s", "300.0s". Below a millisecond it prints whole
// microseconds (exact for recorded latencies). Every latency evalrun
// prints goes through it, and thresholds compare the value as printed
// (PrintedMicros), so a gate written from a report agrees with it.
func FormatMicros(us float64) string {
	r, e := roundMicros(us)
	switch {
	case e < 3:
		return strconv.FormatFloat(r, 'f', 0, 64) + "µs"
	case e < 6:
		return strconv.FormatFloat(r/1e3, 'f', 6-e, 64) + "ms"
	case e < 9:
		return strconv.FormatFloat(r/1e6, 'f', 9-e, 64) + "s"
	}
	return (time.Duration(r) * time.Microsecond).String()
}

// PrintedMicros returns the latency FormatMicros prints for us, in
// microseconds: us rounded to 4 significant digits (to whole microseconds
// below a millisecond, to whole seconds from 1000 s).
func PrintedMicros(us float64) float64 {
	r, _ := roundMicros(us)
	return r
}

// roundMicros rounds us as FormatMicros prints it and returns the rounded
// value and its decimal exponent (the power of ten of its leading digit,
// after rounding; below 3 when it is printed in whole microseconds).
func roundMicros(us float64) (float64, int) {
	if math.IsNaN(us) || us < 999.5 {
		if math.IsNaN(us) {
			return 0, 0
		}
		return math.Round(us), 0
	}
	e := 3
	for e < 18 && us >= math.Pow10(e+1) {
		e++
	}
	if e >= 9 {
		return math.Round(us/1e6) * 1e6, 9
	}
	unit := math.Pow10(e - 3)
	r := math.Round(us/unit) * unit
	if r >= math.Pow10(e+1) {
		e++
	}
	return r, e
}

// FormatTPS formats output tokens per second for people, to 4
// significant digits and at most 3 decimals (the resolution of the
// histogram), whole numbers from 1000: "0.250 tok/s", "23.45 tok/s",
// "191.2 tok/s", "1234 tok/s". Thresholds on output_tps compare the value
// as printed (PrintedTPS).
func FormatTPS(tps float64) string {
	r, dec := roundTPS(tps)
	return strconv.FormatFloat(r, 'f', dec, 64) + " tok/s"
}

// PrintedTPS returns the tokens per second FormatTPS prints for tps.
func PrintedTPS(tps float64) float64 {
	r, _ := roundTPS(tps)
	return r
}

// roundTPS rounds tps as FormatTPS prints it and returns the decimals.
func roundTPS(tps float64) (float64, int) {
	if math.IsNaN(tps) || tps < 0 {
		return 0, 3
	}
	dec := 3
	for lim := 10.0; dec > 0 && tps >= lim-0.5*math.Pow10(-dec); lim *= 10 {
		dec--
	}
	unit := math.Pow10(-dec)
	return math.Round(tps/unit) * unit, dec
}

func formatPercent(f float64) string {
	return strconv.FormatFloat(math.Round(f*1000)/10, 'f', 1, 64) + "%"
}
