package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// This file renders a Run of several targets side by side: the console
// summary, Markdown and JUnit (the HTML page is in sidebyside_html.go). A
// Run of one target renders exactly as its Result does.

// RunWriter renders a Run (one or several targets) in one format. Every
// writer of this package is one.
type RunWriter interface {
	WriteRun(w io.Writer, run *Run) error
}

// sideScenario is one scenario across the targets: By[i] is target i's
// result of it, nil when that target did not run it.
type sideScenario struct {
	Name string
	By   []*ScenarioResult
}

// sideScenarios lines the targets' scenarios up by name, sorted.
func sideScenarios(run *Run) []sideScenario {
	names := map[string]bool{}
	for _, r := range run.Targets {
		for i := range r.Scenarios {
			names[r.Scenarios[i].Name] = true
		}
	}
	var out []sideScenario
	for _, n := range slices.Sorted(maps.Keys(names)) {
		s := sideScenario{Name: n, By: make([]*ScenarioResult, len(run.Targets))}
		for i, r := range run.Targets {
			s.By[i] = r.Scenario(n)
		}
		out = append(out, s)
	}
	return out
}

// sideTurns returns the turn indexes any target sent, ascending.
func sideTurns(run *Run) []int {
	idx := map[int]bool{}
	for _, r := range run.Targets {
		for _, t := range r.Turns {
			if t.Sent > 0 {
				idx[t.Index] = true
			}
		}
		for i := range r.Histograms {
			if h := &r.Histograms[i]; h.Kind == HistTurn && h.Count > 0 {
				if n, err := strconv.Atoi(h.Name); err == nil {
					idx[n] = true
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(idx))
}

// sideSim is one simulated scenario on one target: the goal met, the
// turns used and how the conversations ended (simParts), over every
// conversation of it.
type sideSim struct {
	Scenario, Target      string
	GoalMet, Turns, Ended string
}

// sideSims lists the simulated scenarios of the run, each target under
// its scenario in target order; empty when no target had one.
func sideSims(run *Run) []sideSim {
	var out []sideSim
	for _, s := range sideScenarios(run) {
		for i, sr := range s.By {
			if sr == nil || sr.Simulation == nil || sr.Simulation.Conversations == 0 {
				continue
			}
			g, t, e := simParts(sr.Simulation)
			out = append(out, sideSim{Scenario: s.Name, Target: targetName(run.Targets[i]), GoalMet: g, Turns: t, Ended: e})
		}
	}
	return out
}

// sideUserModels says, per target that had one, who played its simulated
// user and what it cost: "cand: simulated user gpt-4o-mini: …".
func sideUserModels(run *Run) []string {
	var out []string
	for _, r := range run.Targets {
		if l := userModelLine(r); l != "" {
			out = append(out, targetName(r)+": "+l)
		}
	}
	return out
}

// checkCount counts one conversation check's verdicts on one target.
type checkCount struct{ Passed, Failed, Undecided int }

// Checked is how many conversations carried the check.
func (c checkCount) Checked() int { return c.Passed + c.Failed + c.Undecided }

// text is "✓ 2/2", "✗ 1/2" or "✗ 1/2 · 1 undecided"; "–" when no kept
// conversation of the target carried the check.
func (c checkCount) text() string {
	if c.Checked() == 0 {
		return "–"
	}
	t := fmt.Sprintf("%s %d/%d", mdMark(c.Failed+c.Undecided == 0), c.Passed, c.Checked())
	if c.Undecided > 0 {
		t += fmt.Sprintf(" · %d undecided", c.Undecided)
	}
	return t
}

// sideCheck is one check of a scenario's expect_conversation (its label,
// as the failures name it) across the targets.
type sideCheck struct {
	Scenario, Check string
	By              []checkCount
}

// sideChecks counts, per scenario and check of expect_conversation, the
// verdicts of each target's kept conversations (Conversations[].Verdicts):
// a result keeps every failed conversation but may keep only some passed
// ones, so the counts are of the conversations kept. Checks come in the
// order first seen.
func sideChecks(run *Run) []sideCheck {
	var out []sideCheck
	for _, s := range sideScenarios(run) {
		at := map[string]int{}
		for i, sr := range s.By {
			if sr == nil {
				continue
			}
			for j := range sr.Conversations {
				for _, v := range sr.Conversations[j].Verdicts {
					label := verdictLabel(v.Name, v.Expectation)
					k, ok := at[label]
					if !ok {
						k = len(out)
						at[label] = k
						out = append(out, sideCheck{Scenario: s.Name, Check: label, By: make([]checkCount, len(run.Targets))})
					}
					c := &out[k].By[i]
					switch {
					case v.Undecided:
						c.Undecided++
					case v.Passed:
						c.Passed++
					default:
						c.Failed++
					}
				}
			}
		}
	}
	return out
}

// p95Of formats the p95 of a histogram, "–" when it has no value.
func p95Of(h *HistogramResult) string {
	if h == nil || h.Count == 0 {
		return "–"
	}
	return fmtMicros(h.P95US)
}

// turnRate formats the pass rate of turn index i of r: "96.0% (48/50)",
// "–" when the turn was not sent or the result has no turn counts.
func turnRate(r *Result, i int) string {
	t, ok := r.TurnCount(i)
	if !ok || t.Sent == 0 {
		return "–"
	}
	return fmt.Sprintf("%s (%d/%d)", fmtPercent(t.PassRate()), t.Passed, t.Sent)
}

// runStatus is the run's verdict, worst over its targets: INTERRUPTED when
// any target was, PASSED when every one passed, FAILED otherwise; why names
// each target that did not pass.
func runStatus(run *Run) (word, why string) {
	var reasons []string
	interrupted := false
	for _, r := range run.Targets {
		w, y := statusText(r)
		if w == "PASSED" {
			continue
		}
		interrupted = interrupted || w == "INTERRUPTED"
		reasons = append(reasons, "target "+targetName(r)+": "+cmpOr(y, strings.ToLower(w)))
	}
	if n := breached(run.Thresholds); n > 0 {
		reasons = append(reasons, plural(int64(n), "threshold")+" naming no target")
	}
	switch {
	case interrupted:
		return "INTERRUPTED", strings.Join(reasons, "; ")
	case run.Passed():
		return "PASSED", fmt.Sprintf("all %d targets (%s)", len(run.Targets), strings.Join(run.Names(), ", "))
	}
	return "FAILED", strings.Join(reasons, "; ")
}

// WriteRun writes the summary of run: for several targets, each target's
// summary (as Write) under a banner, then the scenarios and the turns side
// by side (pass rate and p95 per target) and the verdict, the worst over
// the targets.
func (cw ConsoleWriter) WriteRun(w io.Writer, run *Run) error {
	if run.Single() {
		return cw.Write(w, run.Targets[0])
	}
	p := &printer{color: cw.Color, width: cw.Width}
	if p.width <= 0 {
		p.width = 80
	}
	p.width = max(p.width, 60)
	for i, r := range run.Targets {
		if i > 0 {
			p.b.WriteString("\n")
		}
		title := fmt.Sprintf("━━ target %d of %d: %s ", i+1, len(run.Targets), targetName(r))
		p.line(p.paint(ansiBold, title+strings.Repeat("━", max(0, p.width-visibleLen(title)))))
		var b strings.Builder
		if err := cw.Write(&b, r); err != nil {
			return err
		}
		p.b.WriteString(b.String())
	}
	p.b.WriteString("\n")
	title := fmt.Sprintf("━━ side by side: %s ", strings.Join(run.Names(), " · "))
	p.line(p.paint(ansiBold, title+strings.Repeat("━", max(0, p.width-visibleLen(title)))))
	if !run.Started.IsZero() {
		p.line(fmt.Sprintf("run %s · duration %s, started %s", cmpOr(run.RunID, "–"), fmtDuration(run.Duration()),
			run.Started.UTC().Format("2006-01-02 15:04:05 UTC")))
	}

	head := []string{"scenario"}
	right := []bool{false}
	for _, n := range run.Names() {
		head = append(head, n, "p95")
		right = append(right, true, true)
	}
	p.section("Scenarios (pass rate, p95 of the turn calls)")
	st := &table{header: head, right: right}
	for _, s := range sideScenarios(run) {
		row := []cell{{text: s.Name}}
		for i, sr := range s.By {
			if sr == nil {
				row = append(row, cell{text: "–"}, cell{text: "–"})
				continue
			}
			ok := sr.Status == StatusPassed
			code := ansiGreen
			if !ok {
				code = ansiRed
			}
			row = append(row, cell{text: mdMark(ok) + " " + fmtPercent(sr.PassRate), code: code},
				cell{text: p95Of(run.Targets[i].Histogram(HistScenario, s.Name))})
		}
		st.rows = append(st.rows, row)
	}
	if len(st.rows) == 0 {
		p.line("  (no conversations ran)")
	} else {
		st.write(p, 2)
	}
	if turns := sideTurns(run); len(turns) > 0 {
		head[0] = "turn"
		p.section("Turns (turns passed of sent, p95)")
		tt := &table{header: head, right: right}
		for _, ti := range turns {
			row := []cell{{text: "turn " + strconv.Itoa(ti+1)}}
			for _, r := range run.Targets {
				row = append(row, cell{text: turnRate(r, ti)}, cell{text: p95Of(r.Histogram(HistTurn, strconv.Itoa(ti)))})
			}
			tt.rows = append(tt.rows, row)
		}
		tt.write(p, 2)
	}
	consoleSideConversations(p, run)
	for _, t := range run.Thresholds {
		p.b.WriteString("\n")
		p.wrapped(p.mark(t.Passed)+" ", "  ", strings.TrimSpace(t.Scope+" "+t.Expr)+"  "+t.Value)
	}
	p.b.WriteString("\n")
	word, why := runStatus(run)
	switch word {
	case "PASSED":
		p.wrapped(p.paint(ansiGreen+ansiBold, "✓ PASSED:")+" ", "  ", why)
	case "INTERRUPTED":
		p.wrapped(p.paint(ansiYellow+ansiBold, "⚠ INTERRUPTED:")+" ", "  ", why)
	default:
		p.wrapped(p.paint(ansiRed+ansiBold, "✗ FAILED:")+" ", "  ", why)
	}
	if _, err := io.WriteString(w, p.b.String()); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

// consoleSideConversations prints the conversation checks and the
// simulated users of every target side by side; nothing when the run has
// neither.
func consoleSideConversations(p *printer, run *Run) {
	if checks := sideChecks(run); len(checks) > 0 {
		head := []string{"scenario · check"}
		right := []bool{false}
		for _, n := range run.Names() {
			head = append(head, n)
			right = append(right, true)
		}
		p.section("Conversation checks (passed of checked, in the conversations each result keeps)")
		t := &table{header: head, right: right}
		for _, c := range checks {
			row := []cell{{text: c.Scenario + " · " + c.Check}}
			for _, n := range c.By {
				code := ansiGreen
				if n.Failed+n.Undecided > 0 {
					code = ansiRed
				}
				row = append(row, cell{text: n.text(), code: code})
			}
			t.rows = append(t.rows, row)
		}
		t.write(p, 2)
	}
	sims := sideSims(run)
	if len(sims) == 0 {
		return
	}
	p.section("Simulated users (goal met, turns used × conversations, how they ended)")
	t := &table{header: []string{"scenario", "target", "goal met", "turns used", "ended"}, right: []bool{false, false, true, false, false}, lastOptional: true}
	for _, s := range sims {
		t.rows = append(t.rows, []cell{{text: s.Scenario}, {text: s.Target}, {text: s.GoalMet}, {text: s.Turns}, {text: s.Ended}})
	}
	t.write(p, 2)
	for _, l := range sideUserModels(run) {
		p.line("  " + l)
	}
}

// WriteRun writes run as JUnit XML: one testsuite per target, named after
// it, each as Write writes a single target's.
func (jw JUnitWriter) WriteRun(w io.Writer, run *Run) error {
	if run.Single() {
		return jw.Write(w, run.Targets[0])
	}
	x := &xmlOut{}
	x.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	x.raw("<testsuites>\n")
	for i, r := range run.Targets {
		jw.suite(x, r, i)
	}
	x.raw("</testsuites>\n")
	if _, err := io.WriteString(w, x.b.String()); err != nil {
		return fmt.Errorf("write JUnit XML: %w", err)
	}
	return nil
}

// WriteRun writes the Markdown summary of run: for several targets a
// status line for the run (the worst over the targets), every threshold
// with its target, the scenarios and turns side by side, then a table and
// the failures per target.
func (mw MarkdownWriter) WriteRun(w io.Writer, run *Run) error {
	if run.Single() {
		return mw.Write(w, run.Targets[0])
	}
	maxFail := mw.MaxFailures
	if maxFail <= 0 {
		maxFail = 50
	}
	var b strings.Builder
	word, why := runStatus(run)
	icon := map[string]string{"PASSED": "✅", "INTERRUPTED": "⚠️"}[word]
	fmt.Fprintf(&b, "## %s evalrun %s: %s\n\n", cmpOr(icon, "❌"), word, mdText(why))
	var parts []string
	if run.RunID != "" {
		parts = append(parts, "run "+mdCode(run.RunID))
	}
	var names []string
	for _, r := range run.Targets {
		names = append(names, "**"+mdText(targetName(r))+"**")
	}
	parts = append(parts, "targets "+strings.Join(names, ", "), fmtDuration(run.Duration()))
	if !run.Started.IsZero() {
		parts = append(parts, "started "+run.Started.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if run.Version != "" {
		parts = append(parts, "evalrun "+mdText(run.Version))
	}
	b.WriteString(strings.Join(parts, " · ") + "\n")
	for _, r := range run.Targets {
		for _, wn := range r.Warnings {
			b.WriteString("\n> ⚠️ " + mdText(targetName(r)) + ": " + mdText(wn) + "\n")
		}
	}

	var ths [][2]any
	for _, t := range run.Thresholds {
		ths = append(ths, [2]any{"–", t})
	}
	for _, r := range run.Targets {
		for _, t := range r.Thresholds {
			ths = append(ths, [2]any{targetName(r), t})
		}
	}
	if len(ths) > 0 {
		b.WriteString("\n### Thresholds\n\n| | target | threshold | scope | measured |\n|---|---|---|---|--:|\n")
		for _, x := range ths {
			t := x[1].(ThresholdResult)
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdMark(t.Passed), mdCell(mdText(x[0].(string))), mdCell(mdCode(t.Expr)),
				mdCell(mdText(cmpOr(t.Scope, "run"))), mdCell(mdText(t.Value)))
		}
	}

	head, rule := "", ""
	for _, r := range run.Targets {
		n := mdCell(mdText(targetName(r)))
		head += " " + n + " | " + n + " p95 |"
		rule += "--:|--:|"
	}
	b.WriteString("\n### Side by side\n\n| scenario |" + head + "\n|---|" + rule + "\n")
	for _, s := range sideScenarios(run) {
		b.WriteString("| " + mdCell(mdText(s.Name)) + " |")
		for i, sr := range s.By {
			if sr == nil {
				b.WriteString(" – | – |")
				continue
			}
			fmt.Fprintf(&b, " %s %s | %s |", mdMark(sr.Status == StatusPassed), fmtPercent(sr.PassRate),
				p95Of(run.Targets[i].Histogram(HistScenario, s.Name)))
		}
		b.WriteString("\n")
	}
	if turns := sideTurns(run); len(turns) > 0 {
		b.WriteString("\n| turn |" + head + "\n|---|" + rule + "\n")
		for _, ti := range turns {
			fmt.Fprintf(&b, "| turn %d |", ti+1)
			for _, r := range run.Targets {
				fmt.Fprintf(&b, " %s | %s |", turnRate(r, ti), p95Of(r.Histogram(HistTurn, strconv.Itoa(ti))))
			}
			b.WriteString("\n")
		}
	}
	mdSideConversations(&b, run)
	for _, r := range run.Targets {
		mdTarget(&b, r)
		var fb strings.Builder
		mdFailures(&fb, r, maxFail)
		b.WriteString(strings.Replace(fb.String(), "\n### Failures\n", "\n#### Failures on "+mdText(targetName(r))+"\n", 1))
		mdFooter(&b, r)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write Markdown: %w", err)
	}
	return nil
}

// mdSideConversations writes the conversation checks and the simulated
// users of every target side by side; nothing when the run has neither.
func mdSideConversations(b *strings.Builder, run *Run) {
	if checks := sideChecks(run); len(checks) > 0 {
		b.WriteString("\n#### Conversation checks\n\nPassed of checked, in the conversations each result keeps.\n\n| scenario | check |")
		for _, n := range run.Names() {
			b.WriteString(" " + mdCell(mdText(n)) + " |")
		}
		b.WriteString("\n|---|---|" + strings.Repeat("--:|", len(run.Targets)) + "\n")
		for _, c := range checks {
			fmt.Fprintf(b, "| %s | %s |", mdCell(mdText(c.Scenario)), mdCell(mdCode(c.Check)))
			for _, n := range c.By {
				b.WriteString(" " + n.text() + " |")
			}
			b.WriteString("\n")
		}
	}
	sims := sideSims(run)
	if len(sims) == 0 {
		return
	}
	b.WriteString("\n#### Simulated users\n\n| scenario | target | goal met | turns used × conversations | ended |\n|---|---|--:|---|---|\n")
	for _, s := range sims {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", mdCell(mdText(s.Scenario)), mdCell(mdText(s.Target)), mdText(s.GoalMet), mdText(s.Turns), mdCell(mdText(s.Ended)))
	}
	if ms := sideUserModels(run); len(ms) > 0 {
		b.WriteString("\n")
		for _, l := range ms {
			b.WriteString("- " + mdText(l) + "\n")
		}
	}
}
