package report

import (
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/evalrun/evalrun/runner"
)

// HTMLWriter writes a run as one self-contained HTML page: no script, no
// external style, font or image; inline CSS and inline SVG only, so the
// page can be archived as a CI artifact and opened anywhere offline. It
// shows the status, the thresholds, a pass/fail matrix of scenario ×
// target, a latency percentile plot on HdrHistogram's "nines" axis (one
// line for all turns of each target and one per turn index), latency
// tables per turn and per scenario, and the transcripts of the failed,
// errored and throttled conversations the result keeps, each failing
// expectation highlighted. Everything from scenarios and replies is
// HTML-escaped.
type HTMLWriter struct {
	// MaxTranscripts caps the failure transcripts shown; 0 means 100. The
	// rest are counted.
	MaxTranscripts int
}

// Write writes the page for r to w.
func (hw HTMLWriter) Write(w io.Writer, r *Result) error {
	page, err := newHTMLPage(r, cmpInt(hw.MaxTranscripts, 100))
	if err != nil {
		return err
	}
	return writeHTMLPage(w, page)
}

func cmpInt(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

type htmlPage struct {
	Title       string
	Status, Why string
	Class       string // pass, fail or warn
	Meta        [][2]string
	Thresholds  []ThresholdResult
	Targets     []string
	Matrix      []htmlMatrixRow
	Plot        *plotData
	Latency     []htmlLatRow
	ScenLatency []htmlLatRow
	// Stream and StreamNotes are the token-level metrics of the streamed
	// replies and the run's output tokens/s (one note per target); empty
	// when none streamed.
	Stream      []streamRow
	StreamNotes []string
	Failures    []htmlConv
	MoreFails   int
	NotKept     []string // first failures of scenarios whose failing runs were not kept
	// Side holds, in a run of several targets, each scenario's turns with
	// the targets' replies side by side.
	Side []htmlSideScenario
	// SideChecks, SideSims and SideUserModels are, in a run of several
	// targets, the conversation checks and the simulated users of every
	// target side by side (sideChecks, sideSims, sideUserModels).
	SideChecks     []htmlSideCheck
	SideSims       []sideSim
	SideUserModels []string
	Notes          []string
	Warnings       []string
}

// htmlSideCheck is a sideCheck as the page shows it: a cell per target.
type htmlSideCheck struct {
	Scenario, Check string
	Cells           []htmlCell
}

type htmlMatrixRow struct {
	Scenario, File string
	Tags           string
	Cells          []htmlCell
}

type htmlCell struct {
	Class, Mark, Text, Note string
	Anchor                  string
}

type htmlLatRow struct {
	Label                               string
	Count                               string
	P50, P90, P95, P99, P999, Max, Mean string
}

type htmlConv struct {
	Anchor, Title, File, Outcome, Reason, Meta string
	Turns                                      []htmlTurn
	// Verdicts are the conversation's own (expect_conversation).
	Verdicts []htmlVerdict
	// Ended says how a simulated conversation ended; "" for a scripted one.
	Ended string
}

type htmlTurn struct {
	N                  int
	Latency, Outcome   string
	Attempts           int
	Sent, Reply, Error string
	Tools              []string
	Handoff, Failed    bool
	Who                string // who wrote Sent: "user", or in a simulated conversation "simulated user", "script", "opening"
	Verdicts           []htmlVerdict
}

type htmlVerdict struct {
	Text, Reason string
	Passed       bool
	First        bool // the conversation's first failing expectation
}

func newHTMLPage(r *Result, maxConvs int) (*htmlPage, error) {
	word, why := statusText(r)
	p := &htmlPage{Status: word, Why: why, Class: "fail", Thresholds: r.Thresholds, Warnings: r.Warnings}
	switch word {
	case "PASSED":
		p.Class = "pass"
	case "INTERRUPTED":
		p.Class = "warn"
	}
	p.Title = "evalrun " + word
	if r.RunID != "" {
		p.Title += " · " + r.RunID
	}
	tgt := targetName(r)
	if r.Target.Kind != "" && r.Target.Kind != tgt {
		tgt += " (" + r.Target.Kind + ")"
	}
	p.Meta = append(p.Meta, [2]string{"run", cmpOr(r.RunID, "–")}, [2]string{"target", tgt})
	if r.Target.URL != "" {
		p.Meta = append(p.Meta, [2]string{"url", r.Target.URL})
	}
	if !r.Started.IsZero() {
		p.Meta = append(p.Meta, [2]string{"started", r.Started.UTC().Format("2006-01-02 15:04:05 UTC")})
	}
	t := r.Totals
	p.Meta = append(p.Meta,
		[2]string{"duration", fmtDuration(r.Duration())},
		[2]string{"conversations", fmtInt(int64(t.Conversations)) + ": " + cmpOr(t.Counts.describe(), "none")},
		[2]string{"calls", fmtInt(t.Calls) + " (" + fmtInt(t.Attempts) + " attempts)"},
	)
	if b := r.Budget; b.Unit != "" {
		s := fmtInt(b.Spent) + " spent"
		if !b.Unlimited() {
			s += " of " + fmtInt(b.Limit) + ", " + fmtInt(b.Left()) + " left"
		}
		if b.Plan != "" {
			s += " (plan " + b.Plan + ")"
		}
		p.Meta = append(p.Meta, [2]string{"budget (" + b.Unit + ")", s})
	}
	for _, k := range slices.Sorted(maps.Keys(r.Settings)) {
		p.Meta = append(p.Meta, [2]string{k, fmt.Sprint(r.Settings[k])})
	}
	if j := judgeText(r); j != "" {
		p.Meta = append(p.Meta, [2]string{"judge", strings.TrimPrefix(j, "judge ")})
	}
	for _, s := range simulationLines(r) {
		p.Meta = append(p.Meta, [2]string{"simulated", s})
	}
	if r.Seed != 0 {
		p.Meta = append(p.Meta, [2]string{"seed", strconv.FormatInt(r.Seed, 10)})
	}
	if r.Version != "" {
		p.Meta = append(p.Meta, [2]string{"evalrun", r.Version})
	}

	// The matrix: one column per target (one for now).
	p.Targets = []string{targetName(r)}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		cell := htmlCell{Class: "pass", Mark: "✓", Text: fmt.Sprintf("%d/%d · %s", s.Passed, s.Runs, fmtPercent(s.PassRate))}
		if s.Status != StatusPassed {
			cell.Class, cell.Mark = "fail", "✗"
		}
		cell.Note = "needs " + fmtPercent(s.MinPassRate)
		if s.PassRateCI != nil {
			cell.Note += " · 95% interval " + s.PassRateCI.String()
		}
		if inc := incompleteText(s); inc != "" {
			cell.Note += " · " + inc
		}
		if s.FirstFailure != nil {
			cell.Anchor = convAnchor(s.Name, s.FirstFailure.Conversation)
		}
		p.Matrix = append(p.Matrix, htmlMatrixRow{Scenario: s.Name, File: s.File, Tags: strings.Join(s.Tags, ", "), Cells: []htmlCell{cell}})
	}

	plot, err := latencyPlot(r)
	if err != nil {
		return nil, err
	}
	p.Plot = plot
	for _, h := range r.Histograms {
		switch {
		case h.Count == 0:
		case h.Kind == HistOverall || h.Kind == HistCallKind || h.Kind == HistTurn:
			p.Latency = append(p.Latency, latRow(histLabel(&h), &h))
		case h.Kind == HistScenario:
			p.ScenLatency = append(p.ScenLatency, latRow(h.Name, &h))
		}
	}

	p.Stream = streamRows(r)
	if s := streamSummary(r); s != "" {
		p.StreamNotes = []string{s}
	}

	// Failure transcripts, in scenario then iteration order.
	shown := 0
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		kept := false
		for j := range s.Conversations {
			c := &s.Conversations[j]
			if c.Outcome == runner.Passed || c.Outcome == runner.NotRun {
				continue
			}
			kept = true
			if shown == maxConvs {
				p.MoreFails++
				continue
			}
			shown++
			p.Failures = append(p.Failures, htmlConversation(s, c))
		}
		if f := s.FirstFailure; f != nil && !kept {
			msg := fmt.Sprintf("%s[%d]: %s", s.Name, f.Iteration+1, problem{Turn: f.Turn, Expectation: f.Expectation, Reason: f.Reason}.summary())
			if f.ReplyExcerpt != "" {
				msg += " — reply: " + strconv.Quote(f.ReplyExcerpt)
			}
			p.NotKept = append(p.NotKept, msg)
		}
	}
	if ti := r.Transcripts; ti != nil && ti.Kept < t.Conversations {
		p.Notes = append(p.Notes, fmt.Sprintf("Transcripts kept: %s of %s conversations (policy %s); all of them count in the numbers above.",
			fmtInt(int64(ti.Kept)), fmtInt(int64(t.Conversations)), ti.Policy))
	}
	if ti := r.Transcripts; ti != nil && ti.File != "" {
		p.Notes = append(p.Notes, fmt.Sprintf("Every conversation was streamed to %s (%s lines).", ti.File, fmtInt(ti.Streamed)))
	}
	return p, nil
}

func latRow(label string, h *HistogramResult) htmlLatRow {
	return htmlLatRow{Label: label, Count: fmtInt(h.Count), P50: fmtMicros(h.P50US), P90: fmtMicros(h.P90US),
		P95: fmtMicros(h.P95US), P99: fmtMicros(h.P99US), P999: fmtMicros(h.P999US), Max: fmtMicros(h.MaxUS),
		Mean: fmtMicros(int64(h.MeanUS + 0.5))}
}

// convAnchor is the id of a conversation's transcript in the page.
func convAnchor(scenario string, id int) string {
	return "c" + strconv.Itoa(id) + "-" + safeName(scenario)
}

func htmlConversation(s *ScenarioResult, c *ConversationResult) htmlConv {
	hc := htmlConv{
		Anchor:  convAnchor(s.Name, c.ID),
		Title:   caseName(s, c),
		File:    s.File,
		Outcome: outcomeWord(c.Outcome),
		Reason:  c.Reason,
	}
	meta := []string{"conversation " + strconv.Itoa(c.ID)}
	if c.ChatID != "" {
		meta = append(meta, "chat "+c.ChatID)
	}
	if c.DurationMS > 0 {
		meta = append(meta, fmtMillis(c.DurationMS))
	}
	hc.Meta = strings.Join(meta, " · ")
	first := true
	for i := range c.Turns {
		t := &c.Turns[i]
		ht := htmlTurn{N: t.Index + 1, Latency: fmtMillis(t.LatencyMS), Outcome: outcomeWord(cmpOutcome(t.Outcome)),
			Attempts: t.Attempts, Sent: t.Sent, Reply: t.Reply, Error: t.Error, Handoff: t.Handoff, Who: cmpOr(byLabel(t.By), "user"),
			Failed: cmpOutcome(t.Outcome) != runner.Passed}
		for _, tool := range t.Tools {
			s := tool.Tool
			if tool.Status != "" {
				s += " (" + tool.Status + ")"
			}
			ht.Tools = append(ht.Tools, s)
		}
		for _, v := range t.Verdicts {
			hv := htmlVerdict{Text: verdictLabel(v.Name, v.Expectation), Reason: v.Reason, Passed: v.Passed}
			if !v.Passed && first {
				hv.First, first = true, false
			}
			ht.Verdicts = append(ht.Verdicts, hv)
		}
		hc.Turns = append(hc.Turns, ht)
	}
	if c.Simulation != nil {
		hc.Ended = "simulated user: " + endedText(c.Simulation)
	}
	for _, v := range c.Verdicts {
		hv := htmlVerdict{Text: verdictLabel(v.Name, v.Expectation), Reason: v.Reason, Passed: v.Passed}
		if !v.Passed && first {
			hv.First, first = true, false
		}
		hc.Verdicts = append(hc.Verdicts, hv)
	}
	return hc
}

// latencyPlot builds the percentile plot: for each target the turn calls
// overall (bold), then one line per turn index.
func latencyPlot(r *Result) (*plotData, error) {
	type src struct {
		h     *HistogramResult
		label string
		bold  bool
	}
	var srcs []src
	if h := r.Histogram(HistCallKind, string(runner.CallTurn)); h != nil && h.Count > 0 {
		srcs = append(srcs, src{h, targetName(r) + " · all turns", true})
	}
	for i := range r.Histograms {
		if h := &r.Histograms[i]; h.Kind == HistTurn && h.Count > 0 {
			srcs = append(srcs, src{h, histLabel(h), false})
		}
	}
	if len(srcs) == 0 {
		return nil, nil
	}
	var series []plotSeries
	var maxCount int64
	for i, s := range srcs {
		hist, err := s.h.Decode()
		if err != nil {
			return nil, fmt.Errorf("write HTML: %w", err)
		}
		ps := plotSeries{Label: s.label, Legend: cut(s.label, plotLegendMax) + " · " + plural(s.h.Count, "call"), Count: s.h.Count, Color: plotPalette[i%len(plotPalette)], Width: 1.5}
		if s.bold {
			ps.Width = 3
		}
		if i >= len(plotPalette) {
			ps.Dash = "6 3"
		}
		for _, br := range hist.CumulativeDistributionWithTicks(HgrmTicksPerHalfDistance) {
			ps.pts = append(ps.pts, [2]float64{br.Quantile, float64(br.ValueAt)})
		}
		maxCount = max(maxCount, s.h.Count)
		series = append(series, ps)
	}
	return newPlot(series, maxCount), nil
}

var htmlTemplate = template.Must(template.New("page").Parse(htmlSource))

const htmlSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>{{.Title}}</title>
<style>
:root { --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #cf222e; --fail-bg: #ffebe9; --warn: #9a6700; --warn-bg: #fff8c5;
  --line: #d0d7de; --muted: #57606a; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1f2328;
  margin: 0 auto; max-width: 1100px; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.status { border-radius: 8px; padding: 14px 18px; margin-bottom: 16px; border: 1px solid; }
.status.pass { background: var(--pass-bg); border-color: var(--pass); }
.status.fail { background: var(--fail-bg); border-color: var(--fail); }
.status.warn { background: var(--warn-bg); border-color: var(--warn); }
.status .word { font-weight: 700; }
.pass .word, td.pass, .mark.pass { color: var(--pass); }
.fail .word, td.fail, .mark.fail { color: var(--fail); }
.warn .word { color: var(--warn); }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: var(--bg); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.pass { background: var(--pass-bg); font-weight: 600; }
td.fail { background: var(--fail-bg); font-weight: 600; }
td a { color: inherit; }
td .note { display: block; font-weight: 400; color: var(--muted); font-size: 12px; }
.file { color: var(--muted); font-size: 12px; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
.plot { border: 1px solid var(--line); border-radius: 6px; background: #fff; width: 100%; height: auto; }
.plot text { font: 12px system-ui, sans-serif; fill: #1f2328; }
.plot .axis { stroke: #1f2328; stroke-width: 1; }
.plot .grid { stroke: #e6e8eb; stroke-width: 1; }
.conv { border: 1px solid var(--line); border-radius: 8px; margin: 14px 0; overflow: hidden; }
.conv > header { background: var(--fail-bg); padding: 8px 12px; border-bottom: 1px solid var(--line); }
.conv > header .title { font-weight: 700; }
.conv > header .sub { color: var(--muted); font-size: 12px; }
.turn { padding: 8px 12px; border-top: 1px solid #eaeef2; }
.turn:first-of-type { border-top: 0; }
.turn.failed { background: #fffafa; }
.turn .head { color: var(--muted); font-size: 12px; margin-bottom: 4px; }
.turn.failed .head { color: var(--fail); font-weight: 600; }
.msg { white-space: pre-wrap; overflow-wrap: anywhere; border-radius: 6px; padding: 6px 10px; margin: 4px 0; max-width: 90%; }
.msg.user { background: #ddf4ff; margin-left: auto; width: fit-content; }
.msg.agent { background: var(--bg); width: fit-content; }
.msg .who { display: block; font-size: 11px; color: var(--muted); }
.tools, .err { font-size: 12px; margin: 2px 0; }
.err { color: var(--fail); font-weight: 600; }
ul.verdicts { list-style: none; margin: 6px 0 0; padding: 0; }
ul.verdicts li { padding: 2px 8px; margin: 2px 0; border-radius: 4px; }
ul.verdicts li.ok { color: var(--pass); }
ul.verdicts li.bad { background: var(--fail-bg); color: var(--fail); border-left: 4px solid var(--fail); font-weight: 600; }
ul.verdicts li.first { outline: 2px solid var(--fail); }
ul.verdicts li .reason { font-weight: 400; color: #1f2328; }
.notes { color: var(--muted); font-size: 12px; }
h3.side { font-size: 15px; margin: 18px 0 4px; }
table.side { width: 100%; table-layout: fixed; }
table.side th:first-child, table.side td:first-child { width: 48px; }
table.side td { font-weight: 400; }
table.side .msg { max-width: 100%; margin: 0; color: #1f2328; }
table.side td.pass, table.side td.fail { font-weight: 400; }
table.side .note.bad { color: var(--fail); }
</style>
</head>
<body>
<h1>evalrun report</h1>
<div class="status {{.Class}}"><span class="word">{{.Status}}</span>{{if .Why}} — {{.Why}}{{end}}</div>
{{- range .Warnings}}
<div class="status warn">⚠ {{.}}</div>
{{- end}}
<dl class="meta">{{range .Meta}}<dt>{{index . 0}}</dt><dd>{{index . 1}}</dd>{{end}}</dl>
{{- if .Thresholds}}
<h2>Thresholds</h2>
<table>
<tr><th></th><th>threshold</th><th>scope</th><th class="num">measured</th></tr>
{{- range .Thresholds}}
<tr><td class="{{if .Passed}}pass{{else}}fail{{end}}">{{if .Passed}}✓{{else}}✗{{end}}</td><td><code>{{.Expr}}</code></td><td>{{if .Scope}}{{.Scope}}{{else}}run{{end}}</td><td class="num">{{.Value}}</td></tr>
{{- end}}
</table>
{{- end}}
<h2>Scenarios × targets</h2>
{{- if .Matrix}}
<table>
<tr><th>scenario</th>{{range .Targets}}<th>{{.}}</th>{{end}}</tr>
{{- range .Matrix}}
<tr><td>{{.Scenario}}{{if .File}}<span class="file"> · {{.File}}</span>{{end}}{{if .Tags}}<span class="file"> · {{.Tags}}</span>{{end}}</td>
{{- range .Cells}}<td class="{{.Class}}">{{if .Anchor}}<a href="#{{.Anchor}}">{{.Mark}} {{.Text}}</a>{{else}}{{.Mark}} {{.Text}}{{end}}<span class="note">{{.Note}}</span></td>{{end}}</tr>
{{- end}}
</table>
{{- else}}
<p>No conversations ran.</p>
{{- end}}
{{- if .SideChecks}}
<h2>Conversation checks</h2>
<p class="notes">Passed of checked, in the conversations each result keeps.</p>
<table>
<tr><th>scenario</th><th>check</th>{{range .Targets}}<th>{{.}}</th>{{end}}</tr>
{{- range .SideChecks}}
<tr><td>{{.Scenario}}</td><td><code>{{.Check}}</code></td>{{range .Cells}}<td class="{{.Class}}">{{.Text}}</td>{{end}}</tr>
{{- end}}
</table>
{{- end}}
{{- if .SideSims}}
<h2>Simulated users</h2>
<table>
<tr><th>scenario</th><th>target</th><th class="num">goal met</th><th>turns used × conversations</th><th>ended</th></tr>
{{- range .SideSims}}
<tr><td>{{.Scenario}}</td><td>{{.Target}}</td><td class="num">{{.GoalMet}}</td><td>{{.Turns}}</td><td>{{.Ended}}</td></tr>
{{- end}}
</table>
{{- range .SideUserModels}}
<p class="notes">{{.}}</p>
{{- end}}
{{- end}}
{{- with .Plot}}
<h2>Latency by percentile</h2>
<svg class="plot" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="latency percentile plot">
{{- range .YTicks}}
<line class="grid" x1="{{$.Plot.Left}}" x2="{{$.Plot.Right}}" y1="{{.Pos}}" y2="{{.Pos}}"/>
<text x="{{$.Plot.Left}}" dx="-6" y="{{.Pos}}" dy="4" text-anchor="end">{{.Label}}</text>
{{- end}}
{{- range .XTicks}}
<line class="grid" x1="{{.Pos}}" x2="{{.Pos}}" y1="{{$.Plot.Top}}" y2="{{$.Plot.Bot}}"/>
<text x="{{.Pos}}" y="{{$.Plot.Bot}}" dy="18" text-anchor="middle">{{.Label}}</text>
{{- end}}
<line class="axis" x1="{{.Left}}" x2="{{.Right}}" y1="{{.Bot}}" y2="{{.Bot}}"/>
<line class="axis" x1="{{.Left}}" x2="{{.Left}}" y1="{{.Top}}" y2="{{.Bot}}"/>
<text x="{{.MidX}}" y="{{.XLabelY}}" text-anchor="middle">percentile (log scale of nines)</text>
<text x="{{.YLabelX}}" y="{{.MidY}}" text-anchor="middle" transform="rotate(-90 {{.YLabelX}} {{.MidY}})">latency ({{.YUnit}})</text>
{{- range .Series}}
<polyline fill="none" stroke="{{.Color}}" stroke-width="{{.Width}}"{{if .Dash}} stroke-dasharray="{{.Dash}}"{{end}} stroke-linejoin="round" points="{{.Points}}"><title>{{.Label}}</title></polyline>
{{- end}}
{{- range .Series}}
<line x1="{{$.Plot.LegendX1}}" x2="{{$.Plot.LegendX2}}" y1="{{.LegendY}}" y2="{{.LegendY}}" stroke="{{.Color}}" stroke-width="{{.Width}}"{{if .Dash}} stroke-dasharray="{{.Dash}}"{{end}}/>
<text x="{{$.Plot.LegendTextX}}" y="{{.LegendY}}" dy="4">{{.Legend}}</text>
{{- end}}
</svg>
{{- end}}
{{- if .Latency}}
<h2>Latency per turn</h2>
<table>
<tr><th></th><th class="num">calls</th><th class="num">p50</th><th class="num">p90</th><th class="num">p95</th><th class="num">p99</th><th class="num">p99.9</th><th class="num">max</th><th class="num">mean</th></tr>
{{- range .Latency}}
<tr><td>{{.Label}}</td><td class="num">{{.Count}}</td><td class="num">{{.P50}}</td><td class="num">{{.P90}}</td><td class="num">{{.P95}}</td><td class="num">{{.P99}}</td><td class="num">{{.P999}}</td><td class="num">{{.Max}}</td><td class="num">{{.Mean}}</td></tr>
{{- end}}
</table>
{{- end}}
{{- if .ScenLatency}}
<h2>Latency per scenario (turn calls)</h2>
<table>
<tr><th>scenario</th><th class="num">calls</th><th class="num">p50</th><th class="num">p90</th><th class="num">p95</th><th class="num">p99</th><th class="num">p99.9</th><th class="num">max</th><th class="num">mean</th></tr>
{{- range .ScenLatency}}
<tr><td>{{.Label}}</td><td class="num">{{.Count}}</td><td class="num">{{.P50}}</td><td class="num">{{.P90}}</td><td class="num">{{.P95}}</td><td class="num">{{.P99}}</td><td class="num">{{.P999}}</td><td class="num">{{.Max}}</td><td class="num">{{.Mean}}</td></tr>
{{- end}}
</table>
{{- end}}
{{- if .Stream}}
<h2>Streamed replies</h2>
<table>
<tr><th></th><th class="num">replies</th><th class="num">min</th><th class="num">p50</th><th class="num">p90</th><th class="num">p95</th><th class="num">p99</th><th class="num">max</th><th class="num">mean</th></tr>
{{- range .Stream}}
<tr><td>{{.Label}} <code>{{.Metric}}</code></td><td class="num">{{.Count}}</td><td class="num">{{.Min}}</td><td class="num">{{.P50}}</td><td class="num">{{.P90}}</td><td class="num">{{.P95}}</td><td class="num">{{.P99}}</td><td class="num">{{.Max}}</td><td class="num">{{.Mean}}</td></tr>
{{- end}}
</table>
{{- range .StreamNotes}}
<p>Output: {{.}}.</p>
{{- end}}
{{- end}}
{{- if .Side}}
<h2>Replies side by side</h2>
{{- range .Side}}
<h3 class="side">{{.Scenario}} <span class="file">{{.Note}}</span></h3>
<table class="side">
<tr><th>turn</th><th>user</th>{{range $.Targets}}<th>{{.}}</th>{{end}}</tr>
{{- range .Turns}}
<tr><td class="num">{{.N}}</td><td><div class="msg user">{{.Sent}}</div></td>
{{- range .Replies}}<td class="{{.Class}}">{{if .Missing}}<span class="note">{{.Note}}</span>{{else}}{{if .Sent}}<div class="msg user">{{.Sent}}</div>{{end}}<div class="msg agent">{{.Text}}</div><span class="note">{{.Mark}} {{.Note}}</span>{{range .Failed}}<span class="note bad">✗ <code>{{.Text}}</code> — {{.Reason}}</span>{{end}}{{end}}</td>{{end}}</tr>
{{- end}}
{{- if .Whole}}
<tr><td class="num">all</td><td><span class="note">the whole conversation</span></td>
{{- range .Whole}}<td class="{{.Class}}">{{if .Missing}}<span class="note">{{.Note}}</span>{{else}}<span class="note">{{.Mark}} {{.Note}}</span>{{range .Failed}}<span class="note bad">✗ <code>{{.Text}}</code> — {{.Reason}}</span>{{end}}{{end}}</td>{{end}}</tr>
{{- end}}
</table>
{{- end}}
{{- end}}
{{- if or .Failures .NotKept}}
<h2>Failures</h2>
{{- range .NotKept}}
<p class="err">{{.}}</p>
{{- end}}
{{- range .Failures}}
<section class="conv" id="{{.Anchor}}">
<header><span class="title">{{.Title}}</span> — {{.Outcome}}{{if .Reason}}: {{.Reason}}{{end}}
<div class="sub">{{if .File}}{{.File}} · {{end}}{{.Meta}}</div></header>
{{- range .Turns}}
<div class="turn{{if .Failed}} failed{{end}}">
<div class="head">turn {{.N}} · {{.Latency}} · {{.Outcome}}{{if gt .Attempts 1}} · {{.Attempts}} attempts{{end}}</div>
<div class="msg user"><span class="who">{{.Who}}</span>{{.Sent}}</div>
{{- if .Reply}}
<div class="msg agent"><span class="who">agent</span>{{.Reply}}</div>
{{- end}}
{{- if .Tools}}
<div class="tools">tools: {{range $i, $t := .Tools}}{{if $i}}, {{end}}<code>{{$t}}</code>{{end}}</div>
{{- end}}
{{- if .Handoff}}
<div class="tools">handed off to a human</div>
{{- end}}
{{- if .Error}}
<div class="err">error: {{.Error}}</div>
{{- end}}
{{- if .Verdicts}}
<ul class="verdicts">
{{- range .Verdicts}}
<li class="{{if .Passed}}ok{{else}}bad{{if .First}} first{{end}}{{end}}">{{if .Passed}}✓{{else}}✗{{end}} <code>{{.Text}}</code>{{if .Reason}} <span class="reason">— {{.Reason}}</span>{{end}}{{if .First}} <span class="reason">(first failure)</span>{{end}}</li>
{{- end}}
</ul>
{{- end}}
</div>
{{- end}}
{{- if .Ended}}
<div class="turn"><div class="head">{{.Ended}}</div></div>
{{- end}}
{{- if .Verdicts}}
<div class="turn">
<div class="head">the whole conversation</div>
<ul class="verdicts">
{{- range .Verdicts}}
<li class="{{if .Passed}}ok{{else}}bad{{if .First}} first{{end}}{{end}}">{{if .Passed}}✓{{else}}✗{{end}} <code>{{.Text}}</code>{{if .Reason}} <span class="reason">— {{.Reason}}</span>{{end}}{{if .First}} <span class="reason">(first failure)</span>{{end}}</li>
{{- end}}
</ul>
</div>
{{- end}}
</section>
{{- end}}
{{- if .MoreFails}}
<p class="notes">…and {{.MoreFails}} more failed conversations (see the result file).</p>
{{- end}}
{{- end}}
{{- range .Notes}}
<p class="notes">{{.}}</p>
{{- end}}
</body>
</html>
`
