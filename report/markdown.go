package report

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// MarkdownWriter writes a compact GitHub-flavoured Markdown summary of a
// run, made to be a CI job summary ($GITHUB_STEP_SUMMARY, a GitLab or
// Jenkins description): a status line, the thresholds with ✓/✗ (when the
// run had any), one table per target (scenarios with pass rates and
// latency percentiles, then latency per turn), the failures grouped by
// scenario, turn and expectation (how many runs, one example run, its
// reason and reply excerpt), and notes on the budget, the transcripts kept
// and the judge's work.
//
// Nothing in it links anywhere: text from scenarios and replies is
// escaped, and anything that could become a link (URLs, replies,
// expectations, reasons) is put in code spans, which Markdown renderers do
// not link.
type MarkdownWriter struct {
	// MaxFailures caps the failure rows; 0 means 50. The rest are counted.
	MaxFailures int
}

// Write writes the Markdown summary of r to w.
func (mw MarkdownWriter) Write(w io.Writer, r *Result) error {
	var b strings.Builder
	maxFail := mw.MaxFailures
	if maxFail <= 0 {
		maxFail = 50
	}
	mdStatus(&b, r)
	mdThresholds(&b, r)
	mdTarget(&b, r)
	mdFailures(&b, r, maxFail)
	mdFooter(&b, r)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write Markdown: %w", err)
	}
	return nil
}

func mdStatus(b *strings.Builder, r *Result) {
	word, why := statusText(r)
	icon := "❌"
	switch word {
	case "PASSED":
		icon = "✅"
	case "INTERRUPTED":
		icon = "⚠️"
	}
	fmt.Fprintf(b, "## %s evalrun %s: %s\n\n", icon, word, mdText(why))
	var parts []string
	if r.RunID != "" {
		parts = append(parts, "run "+mdCode(r.RunID))
	}
	t := r.Target
	tgt := "target **" + mdText(targetName(r)) + "**"
	if t.Kind != "" && t.Kind != t.Name {
		tgt += " (" + mdText(t.Kind) + ")"
	}
	if t.URL != "" {
		tgt += " " + mdCode(t.URL)
	}
	parts = append(parts, tgt)
	parts = append(parts, plural(int64(r.Totals.Conversations), "conversation"), plural(r.Totals.Calls, "call"),
		fmtDuration(r.Duration()))
	if !r.Started.IsZero() {
		parts = append(parts, "started "+r.Started.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if r.Version != "" {
		parts = append(parts, "evalrun "+mdText(r.Version))
	}
	b.WriteString(strings.Join(parts, " · ") + "\n")
	for _, w := range r.Warnings {
		b.WriteString("\n> ⚠️ " + mdText(w) + "\n")
	}
}

func mdThresholds(b *strings.Builder, r *Result) {
	if len(r.Thresholds) == 0 {
		return
	}
	b.WriteString("\n### Thresholds\n\n| | threshold | scope | measured |\n|---|---|---|--:|\n")
	for _, t := range r.Thresholds {
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", mdMark(t.Passed), mdCell(mdCode(t.Expr)),
			mdCell(mdText(cmpOr(t.Scope, "run"))), mdCell(mdText(t.Value)))
	}
}

func mdMark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

func mdTarget(b *strings.Builder, r *Result) {
	fmt.Fprintf(b, "\n### Target %s\n\n", mdText(targetName(r)))
	if len(r.Scenarios) == 0 {
		b.WriteString("No conversations ran.\n")
		return
	}
	b.WriteString("| | scenario | runs | passed | pass rate | needed | p50 | p95 | p99 | incomplete |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		p50, p95, p99 := "–", "–", "–"
		if h := r.Histogram(HistScenario, s.Name); h != nil && h.Count > 0 {
			p50, p95, p99 = fmtMicros(h.P50US), fmtMicros(h.P95US), fmtMicros(h.P99US)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", mdMark(s.Status == StatusPassed),
			mdCell(mdText(s.Name)), fmtInt(int64(s.Runs)), fmtInt(int64(s.Passed)), fmtRateCI(s),
			fmtPercent(s.MinPassRate), p50, p95, p99, incompleteText(s))
	}
	var rows []HistogramResult
	for _, h := range r.Histograms {
		if (h.Kind == HistTurn || h.Kind == HistCallKind) && h.Count > 0 {
			rows = append(rows, h)
		}
	}
	if len(rows) > 0 {
		b.WriteString("\n| latency | calls | p50 | p90 | p95 | p99 | p99.9 | max |\n|---|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, h := range rows {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", histLabel(&h), fmtInt(h.Count),
				fmtMicros(h.P50US), fmtMicros(h.P90US), fmtMicros(h.P95US), fmtMicros(h.P99US), fmtMicros(h.P999US), fmtMicros(h.MaxUS))
		}
	}
	mdStream(b, r)
}

// mdStream writes the token-level metrics of the streamed replies, when
// some turn streamed: a table (latencies, then output tokens/s per reply,
// whose min is its slow tail) and the run's output tokens/s.
func mdStream(b *strings.Builder, r *Result) {
	rows := streamRows(r)
	if len(rows) == 0 {
		return
	}
	b.WriteString("\n| streamed replies | replies | min | p50 | p90 | p95 | p99 | max | mean |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, row := range rows {
		fmt.Fprintf(b, "| %s (`%s`) | %s | %s | %s | %s | %s | %s | %s | %s |\n", row.Label, row.Metric, row.Count,
			row.Min, row.P50, row.P90, row.P95, row.P99, row.Max, row.Mean)
	}
	if s := streamSummary(r); s != "" {
		b.WriteString("\nOutput: " + mdText(s) + ".\n")
	}
}

// histLabel names a histogram for people: "turn 2", "new chat", "all turns".
func histLabel(h *HistogramResult) string {
	switch h.Kind {
	case HistTurn:
		if n, err := strconv.Atoi(h.Name); err == nil {
			return "turn " + strconv.Itoa(n+1)
		}
	case HistCallKind:
		switch h.Name {
		case "new_chat":
			return "new chat"
		case "turn":
			return "all turns"
		}
	case HistOverall:
		return "all calls"
	}
	return h.Kind + " " + h.Name
}

// failureGroup is one row of the Markdown failures table: the kept
// conversations of a scenario that failed the same expectation at the same
// turn (or met the same error there), with the first as the example.
type failureGroup struct {
	scenario    string
	turn        int
	expectation string
	count       int
	example     string // the first run, e.g. "pricing[2]"
	reason      string
	reply       string
}

// failureGroups groups the problems of r's kept conversations by
// scenario, turn and expectation (an error by its reason), in scenario
// order, then turn, then most frequent first. A failing scenario none of
// whose failing runs was kept has a group for its first failure.
func failureGroups(r *Result) []failureGroup {
	var out []failureGroup
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		var gs []failureGroup
		at := map[[3]string]int{}
		add := func(run string, p problem) {
			key := [3]string{strconv.Itoa(p.Turn), p.Expectation, ""}
			if p.Expectation == "" {
				key[2] = p.Reason
			}
			if k, ok := at[key]; ok {
				gs[k].count++
				return
			}
			at[key] = len(gs)
			gs = append(gs, failureGroup{scenario: s.Name, turn: p.Turn, expectation: p.Expectation, count: 1,
				example: run, reason: p.Reason, reply: p.Reply})
		}
		for j := range s.Conversations {
			c := &s.Conversations[j]
			seen := map[problem]bool{} // a run counts once per group
			for _, p := range problems(c) {
				q := p
				q.Reason, q.Reply = "", ""
				if p.Expectation == "" {
					q.Reason = p.Reason
				}
				if !seen[q] {
					seen[q] = true
					add(caseName(s, c), p)
				}
			}
		}
		if f := s.FirstFailure; f != nil && len(gs) == 0 {
			add(s.Name+"["+strconv.Itoa(f.Iteration+1)+"]", problem{Turn: f.Turn, Expectation: f.Expectation, Reason: f.Reason, Reply: f.ReplyExcerpt})
		}
		slices.SortStableFunc(gs, func(x, y failureGroup) int {
			return cmp.Or(cmp.Compare(x.turn, y.turn), cmp.Compare(y.count, x.count))
		})
		out = append(out, gs...)
	}
	return out
}

// mdFailures writes the failures table: one row per scenario, turn and
// expectation with how many runs failed it and one example. When there
// are more groups than maxRows, every failing scenario keeps its most
// frequent group first, so one flaky scenario cannot hide another.
func mdFailures(b *strings.Builder, r *Result, maxRows int) {
	gs := failureGroups(r)
	if len(gs) == 0 {
		return
	}
	keep := make([]bool, len(gs))
	n := 0
	for i := range gs { // each scenario's first (most frequent at its first turn) group
		if n < maxRows && (i == 0 || gs[i].scenario != gs[i-1].scenario) {
			keep[i] = true
			n++
		}
	}
	for i := range gs {
		if n < maxRows && !keep[i] {
			keep[i] = true
			n++
		}
	}
	b.WriteString("\n### Failures\n\n| scenario | turn | expectation | runs | example | reason | reply |\n|---|--:|---|--:|---|---|---|\n")
	more, moreRuns := 0, 0
	for i, g := range gs {
		if !keep[i] {
			more++
			moreRuns += g.count
			continue
		}
		t := "–"
		switch {
		case g.turn >= 0:
			t = strconv.Itoa(g.turn + 1)
		case g.turn == WholeConversation:
			t = "all"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", mdCell(mdText(g.scenario)), t, mdCell(mdCode(g.expectation)),
			fmtInt(int64(g.count)), mdCell(mdText(g.example)), mdCell(mdCode(g.reason)), mdCell(mdCode(g.reply)))
	}
	if more > 0 {
		fmt.Fprintf(b, "\n…and %s of failure (%s) not listed (see the result file).\n", plural(int64(more), "more kind"), plural(int64(moreRuns), "failed run"))
	}
}

func mdFooter(b *strings.Builder, r *Result) {
	var notes []string
	if u := r.Budget.Unit; u != "" {
		s := fmt.Sprintf("%s spent: %s", u, fmtInt(r.Budget.Spent))
		if !r.Budget.Unlimited() {
			s += fmt.Sprintf(" of %s budget, %s left", fmtInt(r.Budget.Limit), fmtInt(r.Budget.Left()))
		}
		notes = append(notes, s)
	}
	if ti := r.Transcripts; ti != nil && ti.Kept < r.Totals.Conversations {
		notes = append(notes, fmt.Sprintf("transcripts kept: %s of %s (policy %s)", fmtInt(int64(ti.Kept)),
			fmtInt(int64(r.Totals.Conversations)), mdText(string(ti.Policy))))
	}
	if j := judgeText(r); j != "" {
		notes = append(notes, mdText(j))
	}
	for _, s := range simulationLines(r) {
		notes = append(notes, mdText(s))
	}
	if len(notes) > 0 {
		b.WriteString("\n_" + strings.Join(notes, " · ") + "_\n")
	}
}

// mdText escapes s for Markdown text: ASCII punctuation that could start
// markup is backslash-escaped, '<' '>' '&' become entities, line breaks
// become spaces. Text that a renderer could turn into a link (a URL, a
// www. address) is put in a code span instead.
func mdText(s string) string {
	s = excerpt(s, 1<<20)
	if l := strings.ToLower(s); strings.Contains(l, "://") || strings.Contains(l, "www.") || strings.Contains(l, "@") {
		return mdCode(s)
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\\', '`', '*', '_', '[', ']', '(', ')', '#', '!', '~', '{', '}', '+', '=':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdCode puts s on one line in a code span, with a fence of backticks
// longer than any run of backticks inside it; empty for an empty s.
func mdCode(s string) string {
	s = excerpt(s, 1<<20)
	if s == "" {
		return ""
	}
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdCell makes a value from mdText or mdCode safe in a table cell: every
// pipe is escaped, as GFM requires even inside code spans.
func mdCell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}
