package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/evalrun/evalrun/runner"
)

// WriteRun writes the page for run. For several targets it is the page of
// one run with a column per target in the pass/fail matrix, one line per
// target (its turn calls) in the percentile plot, the latency rows and the
// failure transcripts of every target, each labelled with its target.
func (hw HTMLWriter) WriteRun(w io.Writer, run *Run) error {
	if run.Single() {
		return hw.Write(w, run.Targets[0])
	}
	page, err := newRunHTMLPage(run, cmpInt(hw.MaxTranscripts, 100))
	if err != nil {
		return err
	}
	return writeHTMLPage(w, page)
}

// writeHTMLPage executes the page template and writes the cleaned page.
func writeHTMLPage(w io.Writer, page *htmlPage) error {
	var b strings.Builder
	if err := htmlTemplate.Execute(&b, page); err != nil {
		return fmt.Errorf("write HTML: %w", err)
	}
	// Characters a page must not hold (control characters, invalid UTF-8)
	// can only come from replies and names: they become U+FFFD.
	clean := strings.Map(func(r rune) rune {
		if !xmlChar(r) || r == '\r' {
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(b.String(), "\uFFFD"))
	if _, err := io.WriteString(w, clean); err != nil {
		return fmt.Errorf("write HTML: %w", err)
	}
	return nil
}

func newRunHTMLPage(run *Run, maxConvs int) (*htmlPage, error) {
	word, why := runStatus(run)
	p := &htmlPage{Status: word, Why: why, Class: "fail", Thresholds: append([]ThresholdResult(nil), run.Thresholds...)}
	switch word {
	case "PASSED":
		p.Class = "pass"
	case "INTERRUPTED":
		p.Class = "warn"
	}
	p.Title = "evalrun " + word
	if run.RunID != "" {
		p.Title += " · " + run.RunID
	}
	p.Meta = append(p.Meta, [2]string{"run", cmpOr(run.RunID, "–")})
	if !run.Started.IsZero() {
		p.Meta = append(p.Meta, [2]string{"started", run.Started.UTC().Format("2006-01-02 15:04:05 UTC")})
	}
	p.Meta = append(p.Meta, [2]string{"duration", fmtDuration(run.Duration())})

	pages := make([]*htmlPage, len(run.Targets))
	left := maxConvs
	for i, r := range run.Targets {
		// Each target shows its share of the transcripts, the first ones
		// first.
		tp, err := newHTMLPage(r, max(left, 1))
		if err != nil {
			return nil, err
		}
		pages[i] = tp
		left = max(left-len(tp.Failures), 0)
		name := targetName(r)
		p.Targets = append(p.Targets, name)
		t := r.Totals
		desc := fmtInt(int64(t.Conversations)) + " conversations: " + cmpOr(t.Counts.describe(), "none") +
			" · " + fmtInt(t.Calls) + " calls"
		if r.Target.Kind != "" && r.Target.Kind != name {
			desc = r.Target.Kind + " · " + desc
		}
		if r.Target.URL != "" {
			desc = r.Target.URL + " · " + desc
		}
		if b := r.Budget; b.Unit != "" && !b.Unlimited() {
			desc += fmt.Sprintf(" · %s of %s %s spent", fmtInt(b.Spent), fmtInt(b.Limit), b.Unit)
		}
		if w, y := statusText(r); w != "PASSED" {
			desc += " · " + w + ": " + y
		}
		p.Meta = append(p.Meta, [2]string{"target " + name, desc})
		for _, th := range r.Thresholds {
			th.Scope = strings.TrimSpace("target:" + quoteName(name) + " " + strings.TrimPrefix(th.Scope, "target:"+quoteName(name)))
			p.Thresholds = append(p.Thresholds, th)
		}
		for _, wn := range r.Warnings {
			p.Warnings = append(p.Warnings, name+": "+wn)
		}
	}
	first := run.Targets[0]
	if first.Seed != 0 {
		p.Meta = append(p.Meta, [2]string{"seed", fmt.Sprint(first.Seed)})
	}
	if run.Version != "" {
		p.Meta = append(p.Meta, [2]string{"evalrun", run.Version})
	}

	// The matrix: a row per scenario, a column per target.
	for _, s := range sideScenarios(run) {
		row := htmlMatrixRow{Scenario: s.Name}
		for i, sr := range s.By {
			if sr == nil {
				row.Cells = append(row.Cells, htmlCell{Mark: "–", Note: "not run on this target"})
				continue
			}
			row.File, row.Tags = cmpOr(row.File, sr.File), cmpOr(row.Tags, strings.Join(sr.Tags, ", "))
			for _, mr := range pages[i].Matrix {
				if mr.Scenario == s.Name {
					c := mr.Cells[0]
					if c.Anchor != "" {
						c.Anchor = targetAnchor(i, c.Anchor)
					}
					c.Note += " · p95 " + p95Of(run.Targets[i].Histogram(HistScenario, s.Name))
					row.Cells = append(row.Cells, c)
				}
			}
		}
		p.Matrix = append(p.Matrix, row)
	}

	plot, err := runPlot(run)
	if err != nil {
		return nil, err
	}
	p.Plot = plot
	// Latency: each target's totals, then turn by turn with the targets
	// next to each other, each turn with its pass rate.
	for i, r := range run.Targets {
		for _, h := range r.Histograms {
			if h.Count > 0 && (h.Kind == HistOverall || h.Kind == HistCallKind) {
				p.Latency = append(p.Latency, latRow(p.Targets[i]+" · "+histLabel(&h), &h))
			}
		}
	}
	for _, ti := range sideTurns(run) {
		for i, r := range run.Targets {
			if h := r.Histogram(HistTurn, strconv.Itoa(ti)); h != nil && h.Count > 0 {
				label := fmt.Sprintf("turn %d · %s", ti+1, p.Targets[i])
				if rate := turnRate(r, ti); rate != "–" {
					label += " · passed " + rate
				}
				p.Latency = append(p.Latency, latRow(label, h))
			}
		}
	}
	p.Side = sideReplies(run)
	for _, c := range sideChecks(run) {
		row := htmlSideCheck{Scenario: c.Scenario, Check: c.Check}
		for _, n := range c.By {
			cl := "pass"
			switch {
			case n.Checked() == 0:
				cl = ""
			case n.Failed+n.Undecided > 0:
				cl = "fail"
			}
			row.Cells = append(row.Cells, htmlCell{Class: cl, Text: n.text()})
		}
		p.SideChecks = append(p.SideChecks, row)
	}
	p.SideSims, p.SideUserModels = sideSims(run), sideUserModels(run)
	for i, tp := range pages {
		name := p.Targets[i]
		for _, l := range tp.ScenLatency {
			l.Label = name + " · " + l.Label
			p.ScenLatency = append(p.ScenLatency, l)
		}
		for _, row := range tp.Stream {
			row.Label = name + " · " + row.Label
			p.Stream = append(p.Stream, row)
		}
		for _, s := range tp.StreamNotes {
			p.StreamNotes = append(p.StreamNotes, name+": "+s)
		}
		for _, c := range tp.Failures {
			c.Anchor = targetAnchor(i, c.Anchor)
			c.Title = name + " · " + c.Title
			p.Failures = append(p.Failures, c)
		}
		p.MoreFails += tp.MoreFails
		for _, s := range tp.NotKept {
			p.NotKept = append(p.NotKept, name+": "+s)
		}
		for _, s := range tp.Notes {
			p.Notes = append(p.Notes, name+": "+s)
		}
	}
	return p, nil
}

// targetAnchor makes a transcript's anchor unique across targets.
func targetAnchor(i int, anchor string) string {
	return fmt.Sprintf("t%d-%s", i+1, anchor)
}

// runPlot draws one line per target: the latency of its turn calls by
// percentile.
func runPlot(run *Run) (*plotData, error) {
	var series []plotSeries
	var maxCount int64
	for i, r := range run.Targets {
		h := r.Histogram(HistCallKind, string(runner.CallTurn))
		if h == nil || h.Count == 0 {
			continue
		}
		hist, err := h.Decode()
		if err != nil {
			return nil, fmt.Errorf("write HTML: %w", err)
		}
		label := targetName(r) + " · all turns"
		ps := plotSeries{Label: label, Legend: cut(label, plotLegendMax) + " · " + plural(h.Count, "call"), Count: h.Count,
			Color: plotPalette[i%len(plotPalette)], Width: 2.5}
		if i >= len(plotPalette) {
			ps.Dash = "6 3"
		}
		for _, br := range hist.CumulativeDistributionWithTicks(HgrmTicksPerHalfDistance) {
			ps.pts = append(ps.pts, [2]float64{br.Quantile, float64(br.ValueAt)})
		}
		maxCount = max(maxCount, h.Count)
		series = append(series, ps)
	}
	if len(series) == 0 {
		return nil, nil
	}
	return newPlot(series, maxCount), nil
}

// htmlSideScenario is one scenario's turns with every target's reply.
type htmlSideScenario struct {
	Scenario, Note string
	Turns          []htmlSideTurn
	// Whole is, per target, how the conversation ended (a simulated one)
	// and its expect_conversation verdicts; nil when no conversation shown
	// has either.
	Whole []htmlSideReply
}

type htmlSideTurn struct {
	N       int
	Sent    string
	Replies []htmlSideReply // one per target, in target order
}

type htmlSideReply struct {
	Text, Class, Mark, Note string
	// Sent is the message this target's conversation sent when it is not
	// the row's (a simulated user writes to each target its own).
	Sent    string
	Missing bool
	Failed  []htmlVerdict
}

// sideReplies lays out, for each scenario two or more targets kept a
// conversation of, its turns with the targets' replies side by side: the
// conversations of the lowest iteration every such target kept, else each
// target's first kept one (the note says which).
func sideReplies(run *Run) []htmlSideScenario {
	var out []htmlSideScenario
	for _, s := range sideScenarios(run) {
		convs := make([]*ConversationResult, len(s.By))
		// The lowest iteration kept by every target that has one.
		common := -1
		iters := make([]map[int]*ConversationResult, len(s.By))
		have := 0
		for i, sr := range s.By {
			if sr == nil || len(sr.Conversations) == 0 {
				continue
			}
			have++
			iters[i] = map[int]*ConversationResult{}
			for j := range sr.Conversations {
				c := &sr.Conversations[j]
				if _, ok := iters[i][c.Iteration]; !ok && c.Outcome != runner.NotRun {
					iters[i][c.Iteration] = c
				}
			}
		}
		if have < 2 {
			continue
		}
		for i := range s.By {
			if iters[i] == nil {
				continue
			}
			for it := range iters[i] {
				all := true
				for k := range s.By {
					if iters[k] != nil && iters[k][it] == nil {
						all = false
						break
					}
				}
				if all && (common < 0 || it < common) {
					common = it
				}
			}
		}
		note := ""
		for i := range s.By {
			if iters[i] == nil {
				continue
			}
			if common >= 0 {
				convs[i] = iters[i][common]
				continue
			}
			for it, c := range iters[i] {
				if convs[i] == nil || it < convs[i].Iteration {
					convs[i] = c
				}
			}
		}
		if common >= 0 {
			note = fmt.Sprintf("iteration %d on every target", common+1)
		} else {
			note = "each target's first kept iteration"
		}
		sc := htmlSideScenario{Scenario: s.Name, Note: note}
		turns := 0
		for _, c := range convs {
			if c != nil {
				turns = max(turns, len(c.Turns))
			}
		}
		for ti := 0; ti < turns; ti++ {
			st := htmlSideTurn{N: ti + 1}
			for _, c := range convs {
				if c == nil {
					st.Replies = append(st.Replies, htmlSideReply{Missing: true, Note: "no kept conversation"})
					continue
				}
				if ti >= len(c.Turns) {
					st.Replies = append(st.Replies, htmlSideReply{Missing: true, Note: "not reached (" + outcomeWord(c.Outcome) + " earlier)"})
					continue
				}
				t := &c.Turns[ti]
				if st.Sent == "" {
					st.Sent = t.Sent
				}
				rp := htmlSideReply{Text: t.Reply, Class: "pass", Mark: "✓"}
				if t.Sent != st.Sent {
					rp.Sent = t.Sent
				}
				out := cmpOutcome(t.Outcome)
				if out != runner.Passed {
					rp.Class, rp.Mark = "fail", "✗"
				}
				rp.Note = outcomeWord(out) + " · " + fmtMillis(t.LatencyMS)
				if common < 0 {
					rp.Note += fmt.Sprintf(" · iteration %d", c.Iteration+1)
				}
				if t.Error != "" {
					rp.Failed = append(rp.Failed, htmlVerdict{Text: "error", Reason: t.Error})
				}
				for _, v := range t.Verdicts {
					if !v.Passed {
						rp.Failed = append(rp.Failed, htmlVerdict{Text: verdictLabel(v.Name, v.Expectation), Reason: v.Reason})
					}
				}
				if t.Reply == "" && len(rp.Failed) == 0 {
					rp.Missing, rp.Note = true, "no reply · "+rp.Note
				}
				st.Replies = append(st.Replies, rp)
			}
			sc.Turns = append(sc.Turns, st)
		}
		sc.Whole = sideWhole(convs)
		out = append(out, sc)
	}
	return out
}

// sideWhole is the row of the whole conversation under the side-by-side
// replies: per target, how a simulated conversation ended and the checks
// of expect_conversation (the failed ones with their reason); nil when no
// conversation of convs has either.
func sideWhole(convs []*ConversationResult) []htmlSideReply {
	found := false
	out := make([]htmlSideReply, len(convs))
	for i, c := range convs {
		if c == nil || (c.Simulation == nil && len(c.Verdicts) == 0) {
			out[i] = htmlSideReply{Missing: true, Note: "–"}
			continue
		}
		found = true
		rp := htmlSideReply{Class: "pass", Mark: "✓"}
		var notes []string
		if c.Simulation != nil {
			notes = append(notes, "simulated user: "+endedText(c.Simulation)+" · "+plural(int64(len(c.Turns)), "turn"))
		}
		passed := 0
		for _, v := range c.Verdicts {
			if v.Passed {
				passed++
				continue
			}
			rp.Failed = append(rp.Failed, htmlVerdict{Text: verdictLabel(v.Name, v.Expectation), Reason: v.Reason})
		}
		if len(c.Verdicts) > 0 {
			notes = append(notes, fmt.Sprintf("%d of %d conversation checks passed", passed, len(c.Verdicts)))
		}
		if len(rp.Failed) > 0 || (c.Simulation != nil && !c.Simulation.GoalMet) {
			rp.Class, rp.Mark = "fail", "✗"
		}
		rp.Note = strings.Join(notes, " · ")
		out[i] = rp
	}
	if !found {
		return nil
	}
	return out
}
