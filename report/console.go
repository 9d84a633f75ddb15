package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/evalrun/evalrun/runner"
)

// ConsoleWriter writes the summary a person reads in a terminal after a
// run: a header (run, target, duration, whether it was interrupted), one
// row per scenario (runs, passed, pass rate against the required rate,
// status), the first failure of each failing scenario (turn, expectation,
// reason, reply excerpt), the outcome totals, latency percentiles per call
// kind and per turn, and the calls spent against the budget. Turns are
// numbered from 1 here, as a person counts them in a scenario file.
type ConsoleWriter struct {
	// Color adds ANSI colors (green passed, red failed, yellow incomplete).
	Color bool
	// Width is the terminal width in columns; 0 means 80, and less than 60
	// counts as 60. Long names and texts are cut or wrapped to fit.
	Width int
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiDim    = "\x1b[2m"
)

// Write writes the summary of r to w.
func (cw ConsoleWriter) Write(w io.Writer, r *Result) error {
	p := &printer{color: cw.Color, width: cw.Width}
	if p.width <= 0 {
		p.width = 80
	}
	p.width = max(p.width, 60)
	p.header(r)
	p.scenarios(r)
	p.failures(r)
	p.outcomes(r)
	p.latency(r)
	p.budget(r)
	p.judge(r)
	p.warnings(r)
	p.verdict(r)
	if _, err := io.WriteString(w, p.b.String()); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

type printer struct {
	b     strings.Builder
	color bool
	width int
}

func (p *printer) paint(code, s string) string {
	if !p.color || code == "" || s == "" {
		return s
	}
	return code + s + ansiReset
}

func (p *printer) line(s string) { p.b.WriteString(strings.TrimRight(s, " ") + "\n") }

func (p *printer) section(title string) {
	p.b.WriteString("\n")
	p.line(p.paint(ansiBold, title))
}

func (p *printer) header(r *Result) {
	head := "evalrun"
	if r.Version != "" {
		head += " " + r.Version
	}
	if r.RunID != "" {
		head += " · run " + r.RunID
	}
	p.line(p.paint(ansiBold, head))
	t := r.Target
	target := t.Name
	if t.Kind != "" && t.Kind != t.Name {
		target += " (" + t.Kind + ")"
	}
	if t.URL != "" {
		target += " " + t.URL
	}
	if target = strings.TrimSpace(target); target != "" {
		p.line("target    " + cut(target, p.width-10))
	}
	when := "duration  " + fmtDuration(r.Duration())
	if !r.Started.IsZero() {
		when += ", started " + r.Started.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	p.line(when)
	if r.Interrupted {
		msg := "INTERRUPTED"
		if r.StopReason != "" {
			msg += ": " + r.StopReason
		}
		p.line(p.paint(ansiYellow+ansiBold, cut(msg+" (partial results)", p.width)))
	} else if r.StopReason != "" {
		p.line("stopped   " + cut(r.StopReason, p.width-10))
	}
}

func (p *printer) mark(passed bool) string {
	if passed {
		return p.paint(ansiGreen, "✓")
	}
	return p.paint(ansiRed, "✗")
}

func (p *printer) scenarios(r *Result) {
	p.section("Scenarios")
	if len(r.Scenarios) == 0 {
		p.line("  (no conversations ran)")
		return
	}
	t := &table{header: []string{"scenario", "runs", "passed", "rate", "needed", "status", ""},
		right: []bool{false, true, true, true, true, false, false}, lastOptional: true}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		ok := s.Status == StatusPassed
		status, code := "passed", ansiGreen
		if !ok {
			status, code = "FAILED", ansiRed
		}
		t.rows = append(t.rows, []cell{
			{text: s.Name, prefix: p.mark(ok) + " "},
			{text: fmtInt(int64(s.Runs))},
			{text: fmtInt(int64(s.Passed))},
			{text: fmtPercent(s.PassRate)},
			{text: fmtPercent(s.MinPassRate)},
			{text: status, code: code},
			{text: incompleteText(s), code: ansiYellow},
		})
	}
	p.addRateIntervals(t, r.Scenarios, 2)
	t.write(p, 2)
}

// incompleteParts lists the non-zero error, throttled and not-run counts.
func incompleteParts(errored, throttled, notRun int) string {
	var parts []string
	if errored > 0 {
		parts = append(parts, fmtInt(int64(errored))+" error")
	}
	if throttled > 0 {
		parts = append(parts, fmtInt(int64(throttled))+" throttled")
	}
	if notRun > 0 {
		parts = append(parts, fmtInt(int64(notRun))+" not run")
	}
	return strings.Join(parts, ", ")
}

func (p *printer) failures(r *Result) {
	first := true
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		f := s.FirstFailure
		if s.Status == StatusPassed || f == nil {
			continue
		}
		if first {
			p.section("Failures")
			first = false
		}
		title := s.Name
		if s.File != "" {
			title += " (" + s.File + ")"
		}
		p.line(p.mark(false) + " " + cut(title, p.width-2))
		where := fmt.Sprintf("conversation %d (iteration %d)", f.Conversation, f.Iteration+1)
		switch {
		case f.Turn >= 0:
			where += fmt.Sprintf(", turn %d", f.Turn+1)
		case f.Turn == WholeConversation:
			where += ", the whole conversation"
		default:
			where += ", before the first turn"
		}
		where += ": " + string(f.Outcome)
		p.wrapped("  ", "  ", where)
		if f.Expectation != "" {
			p.wrapped("  expect  ", "          ", f.Expectation)
		}
		p.wrapped("  reason  ", "          ", f.Reason)
		if f.ReplyExcerpt != "" {
			p.line("  reply   " + cut(strconv.Quote(f.ReplyExcerpt), p.width-10))
		}
	}
}

// wrapped writes text word-wrapped to the width, the first line after
// lead and the others after indent.
func (p *printer) wrapped(lead, indent, text string) {
	avail := p.width - utf8.RuneCountInString(lead)
	for i, l := range wrap(text, max(avail, 20)) {
		if i == 0 {
			p.line(lead + l)
		} else {
			p.line(indent + l)
		}
	}
}

// part is a piece of text flow lays out whole, colored with code.
type part struct {
	text string
	code string
}

// flow writes parts joined by sep, breaking lines between parts so each
// line fits the width; the first line starts with lead, the others with
// indent. A part too long for a line of its own is cut.
func (p *printer) flow(lead, indent, sep string, parts []part) {
	var b strings.Builder
	b.WriteString(lead)
	col := visibleLen(lead)
	fresh := lead == "" || strings.HasSuffix(lead, " ")
	for i, pt := range parts {
		text := pt.text
		if i < len(parts)-1 {
			text += strings.TrimRight(sep, " ")
		}
		n := utf8.RuneCountInString(text)
		if !fresh && col+1+n > p.width {
			p.line(b.String())
			b.Reset()
			b.WriteString(indent)
			col = utf8.RuneCountInString(indent)
			fresh = true
		}
		if !fresh {
			b.WriteString(" ")
			col++
		}
		if col+n > p.width {
			text = cut(text, p.width-col)
			n = utf8.RuneCountInString(text)
		}
		if pt.code != "" && i < len(parts)-1 {
			body := strings.TrimSuffix(text, strings.TrimRight(sep, " "))
			b.WriteString(p.paint(pt.code, body) + text[len(body):])
		} else {
			b.WriteString(p.paint(pt.code, text))
		}
		col += n
		fresh = false
	}
	p.line(b.String())
}

func (p *printer) outcomes(r *Result) {
	t := r.Totals
	p.section("Totals")
	const lead, indent = "conversations  ", "               "
	p.flow(lead+fmtInt(int64(t.Conversations))+":", indent, " · ", []part{
		p.count(t.Passed, "passed", ansiGreen), p.count(t.Failed, "failed", ansiRed),
		p.count(t.Errored, "error", ansiYellow), p.count(t.Throttled, "throttled", ansiYellow),
		p.count(t.NotRun, "not run", ansiYellow)})
	calls := []part{{text: fmtInt(t.Calls)}}
	var kinds []string
	for _, h := range r.Histograms {
		if h.Kind == HistCallKind && h.Count > 0 {
			kinds = append(kinds, fmtInt(h.Count)+" "+h.Name)
		}
	}
	if len(kinds) > 0 {
		calls[0].text += " (" + strings.Join(kinds, ", ") + ")"
	}
	calls = append(calls, part{text: fmtInt(t.Turns) + " turns"}, part{text: fmtInt(t.Attempts) + " attempts"})
	p.flow("calls          ", indent, " · ", calls)
	if len(t.CallErrors) > 0 {
		var errs []part
		for _, k := range slices.Sorted(maps.Keys(t.CallErrors)) {
			errs = append(errs, part{text: fmtInt(t.CallErrors[k]) + " " + k})
		}
		p.flow("failed calls   ", indent, " · ", errs)
	}
}

// count formats "n label", colored with code when n is not zero.
func (p *printer) count(n int, label, code string) part {
	pt := part{text: fmtInt(int64(n)) + " " + label}
	if n > 0 {
		pt.code = code
	}
	return pt
}

func (p *printer) latency(r *Result) {
	var rows []HistogramResult
	for _, h := range r.Histograms {
		switch h.Kind {
		case HistOverall, HistCallKind, HistTurn, HistService, HistScheduleLag, HistTTFT, HistChunkGap, HistStall, HistITL, HistTPOT:
			if h.Count > 0 || h.Kind == HistOverall {
				rows = append(rows, h)
			}
		}
	}
	if len(rows) == 0 {
		return
	}
	p.section("Latency")
	t := &table{header: []string{"", "calls", "p50", "p90", "p95", "p99", "max"},
		right: []bool{false, true, true, true, true, true, true}}
	for _, h := range rows {
		name := h.Name
		switch h.Kind {
		case HistTurn:
			if n, err := strconv.Atoi(h.Name); err == nil {
				name = "turn " + strconv.Itoa(n+1)
			}
		case HistCallKind:
			name = "all " + h.Name
			if h.Name == string(runner.CallNewChat) {
				name = "new chat"
			} else if h.Name == string(runner.CallTurn) {
				name = "all turns"
			}
		case HistOverall:
			name = "all calls"
		case HistService:
			name = "service " + strings.ReplaceAll(h.Name, "_", " ")
		case HistScheduleLag:
			name = "schedule lag"
		case HistTTFT:
			name = "first token"
		case HistChunkGap:
			name = "chunk gap"
		case HistStall:
			name = "longest stall"
		case HistITL:
			name = "inter-token"
		case HistTPOT:
			name = "per output token"
		}
		row := []cell{{text: name}, {text: fmtInt(h.Count)}}
		for _, v := range []int64{h.P50US, h.P90US, h.P95US, h.P99US, h.MaxUS} {
			s := "-"
			if h.Count > 0 {
				s = fmtMicros(v)
			}
			row = append(row, cell{text: s})
		}
		t.rows = append(t.rows, row)
	}
	t.write(p, 2)
	// Output tokens/s is a rate, not a latency: a line of its own.
	for _, row := range streamRows(r) {
		if row.Unit != "" {
			p.line(fmt.Sprintf("  output tokens/s per reply: min %s · p50 %s · p90 %s · max %s", row.Min, row.P50, row.P90, row.Max))
		}
	}
	if s := streamSummary(r); s != "" {
		p.line("  output: " + s)
	}
}

func (p *printer) budget(r *Result) {
	b := r.Budget
	p.b.WriteString("\n")
	if b.Unit == "" {
		p.line(fmt.Sprintf("calls: %s (no budget kept)", fmtInt(r.Totals.Calls)))
		return
	}
	if b.Unlimited() {
		s := fmt.Sprintf("%s: %s spent, no budget limit", b.Unit, fmtInt(b.Spent))
		if b.Plan != "" {
			s += " (plan " + b.Plan + ")"
		}
		p.wrapped("", "  ", s)
		return
	}
	var notes []string
	if b.Plan != "" {
		notes = append(notes, "plan "+b.Plan)
	}
	if b.UsedBefore > 0 {
		notes = append(notes, fmtInt(b.UsedBefore)+" used before")
	}
	s := fmt.Sprintf("%s: %s of %s budget", b.Unit, fmtInt(b.Spent), fmtInt(b.Limit))
	if len(notes) > 0 {
		s += " (" + strings.Join(notes, ", ") + ")"
	}
	left := part{text: fmtInt(b.Left()) + " left"}
	if b.Left() == 0 {
		left.code = ansiYellow
	}
	p.flow("", "  ", ", ", []part{{text: s}, left})
}

// judge prints what the LLM judge did: gradings, calls, cache hits and
// failures; nothing when the run had no judge.
func (p *printer) judge(r *Result) {
	if s := judgeText(r); s != "" {
		p.wrapped("", "  ", s)
	}
	for _, s := range simulationLines(r) {
		p.wrapped("", "  ", s)
	}
}

// warnings prints the result's warnings (e.g. that the run fell behind its
// schedule), each wrapped under a "warning:" lead.
func (p *printer) warnings(r *Result) {
	for _, w := range r.Warnings {
		p.b.WriteString("\n")
		p.wrapped("warning: ", "  ", w)
	}
}

func (p *printer) verdict(r *Result) {
	failed := 0
	for i := range r.Scenarios {
		if r.Scenarios[i].Status != StatusPassed {
			failed++
		}
	}
	p.b.WriteString("\n")
	if r.Passed() {
		msg := fmt.Sprintf("✓ PASSED: %d of %d scenarios", len(r.Scenarios), len(r.Scenarios))
		if c := cutText(r); c != "" {
			// What passed is what ran: say what the cut left out.
			p.flow(p.paint(ansiGreen+ansiBold, msg+";"), "  ", "", []part{{text: c, code: ansiYellow}})
			return
		}
		p.line(p.paint(ansiGreen+ansiBold, msg))
		return
	}
	var why []part
	if failed > 0 {
		why = append(why, part{text: fmt.Sprintf("%d of %d scenarios failed", failed, len(r.Scenarios))})
	}
	if th := breached(r.Thresholds); th > 0 {
		why = append(why, part{text: fmt.Sprintf("%d of %d thresholds breached", th, len(r.Thresholds))})
	}
	t := r.Totals
	if t.Conversations == 0 {
		why = append(why, part{text: "no conversations ran"})
	}
	if s := incompleteParts(t.Errored, t.Throttled, t.NotRun); s != "" {
		why = append(why, part{text: s})
	}
	if r.Interrupted {
		why = append(why, part{text: "interrupted"})
	}
	if j := r.Judge; j != nil && j.Failures > 0 {
		why = append(why, part{text: "the judge failed " + plural(j.Failures, "grading")})
	}
	if c := cutText(r); c != "" {
		why = append(why, part{text: c})
	}
	for i := range why {
		why[i].code = ansiRed + ansiBold
	}
	p.flow(p.paint(ansiRed+ansiBold, "✗ FAILED:"), "  ", "; ", why)
}

// cell is one table cell: prefix (already colored, counted as 2 columns
// when not empty) and text colored with code after padding.
type cell struct {
	prefix string
	text   string
	code   string
}

type table struct {
	header []string
	right  []bool
	rows   [][]cell
	// lastOptional lets the last column (a note) be cut or dropped
	// before the first column is cut.
	lastOptional bool
}

// measure returns the width of each column, that of the first column's
// prefix (a mark and a space, when a row has one), and the width of the
// whole table indented by indent with no column cut.
func (t *table) measure(indent int) (widths []int, prefix, total int) {
	widths = make([]int, len(t.header))
	for i, h := range t.header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, row := range t.rows {
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(c.text))
			if i == 0 && c.prefix != "" {
				prefix = 2
			}
		}
	}
	total = indent + prefix + 2*(len(widths)-1)
	for _, w := range widths {
		total += w
	}
	return widths, prefix, total
}

// write prints the table indented, cutting the first column so a row fits
// the printer's width.
func (t *table) write(p *printer, indent int) {
	widths, prefixW, total := t.measure(indent)
	// Too wide: cut the last column (a note) first, then the names.
	last := len(widths) - 1
	cols := len(widths)
	if over := total - p.width; over > 0 {
		if t.lastOptional {
			cutBy := min(over, widths[last])
			widths[last] -= cutBy
			over -= cutBy
			if widths[last] < 4 { // too narrow to say anything: drop it
				over -= widths[last] + 2
				cols--
			}
		}
		if over > 0 {
			widths[0] = max(widths[0]-over, 8)
		}
	}
	// Still too wide (the latency table's 4-digit values on a 60-column
	// terminal): one space between columns.
	gap := "  "
	used := indent + prefixW + 2*(cols-1)
	for _, w := range widths[:cols] {
		used += w
	}
	if used > p.width {
		gap = " "
	}
	pad := func(s string, w int, right bool) string {
		s = cut(s, w)
		gap := strings.Repeat(" ", max(0, w-utf8.RuneCountInString(s)))
		if right {
			return gap + s
		}
		return s + gap
	}
	var hb strings.Builder
	hb.WriteString(strings.Repeat(" ", indent+prefixW))
	for i, h := range t.header[:cols] {
		if i > 0 {
			hb.WriteString(gap)
		}
		hb.WriteString(pad(h, widths[i], t.right[i]))
	}
	p.line(p.paint(ansiDim, strings.TrimRight(hb.String(), " ")))
	for _, row := range t.rows {
		var b strings.Builder
		b.WriteString(strings.Repeat(" ", indent))
		for i, c := range row[:cols] {
			if i > 0 {
				b.WriteString(gap)
			}
			if i == 0 && prefixW > 0 {
				if c.prefix == "" {
					b.WriteString("  ")
				}
				b.WriteString(c.prefix)
			}
			padded := pad(c.text, widths[i], t.right[i])
			if c.code != "" {
				trimmed := strings.TrimRight(padded, " ")
				padded = p.paint(c.code, trimmed) + padded[len(trimmed):]
			}
			b.WriteString(padded)
		}
		p.line(b.String())
	}
}

// visibleLen is the width of s in runes, ANSI escapes not counted.
func visibleLen(s string) int {
	n, esc := 0, false
	for _, r := range s {
		switch {
		case esc:
			esc = r != 'm'
		case r == 0x1b:
			esc = true
		default:
			n++
		}
	}
	return n
}

// cut shortens s to at most n runes, ending in "…" when cut.
func cut(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// wrap splits text into lines of at most width runes at spaces; a word
// longer than width is cut.
func wrap(text string, width int) []string {
	var lines []string
	var cur []rune
	for _, word := range strings.Fields(text) {
		wr := []rune(word)
		if len(wr) > width {
			wr = []rune(cut(word, width))
		}
		switch {
		case len(cur) == 0:
			cur = wr
		case len(cur)+1+len(wr) <= width:
			cur = append(append(cur, ' '), wr...)
		default:
			lines = append(lines, string(cur))
			cur = wr
		}
	}
	if len(cur) > 0 || len(lines) == 0 {
		lines = append(lines, string(cur))
	}
	return lines
}

// fmtInt formats n with thousands separators: 1,234,567.
func fmtInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtPercent formats a rate 0–1 as a percentage with one decimal.
func fmtPercent(rate float64) string {
	return strconv.FormatFloat(rate*100, 'f', 1, 64) + "%"
}

// fmtMicros formats a latency in microseconds as FormatMicros does (4
// significant digits), the one format of every latency evalrun prints.
func fmtMicros(us int64) string { return FormatMicros(float64(us)) }

// fmtTick formats a plot axis tick (a round number of microseconds) to 3
// significant digits: "50.0ms", "100ms", "1.50s".
func fmtTick(us int64) string {
	switch {
	case us < 1000:
		return strconv.FormatInt(us, 10) + "µs"
	case us < 1_000_000:
		return sig3(float64(us)/1e3) + "ms"
	default:
		return sig3(float64(us)/1e6) + "s"
	}
}

func sig3(v float64) string {
	switch {
	case v >= 99.95:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 9.995:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// fmtDuration formats a run's duration: 850ms, 12.3s, 4m05s, 1h02m.
func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return fmtTick(d.Microseconds())
	case d < time.Minute:
		return sig3(d.Seconds()) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}
