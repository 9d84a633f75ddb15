package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/evalrun/evalrun/runner"
)

// JUnit testcase granularities, the value of JUnitWriter.Cases.
const (
	// JUnitScenarioCases: one testcase per scenario and target, failed
	// exactly when evalrun fails the scenario (the default).
	JUnitScenarioCases = "scenario"
	// JUnitConversationCases: one testcase per kept conversation.
	JUnitConversationCases = "conversation"
)

// ParseJUnitCases checks a --junit-cases value; "" is the default,
// JUnitScenarioCases.
func ParseJUnitCases(s string) (string, error) {
	switch s {
	case "", JUnitScenarioCases:
		return JUnitScenarioCases, nil
	case JUnitConversationCases:
		return s, nil
	}
	return "", fmt.Errorf("%q: want %s (one testcase per scenario and target) or %s (one per kept conversation)", s, JUnitScenarioCases, JUnitConversationCases)
}

// JUnitWriter writes a run as JUnit XML, valid against the Apache Ant JUnit
// schema (the strictest one Jenkins, GitLab and GitHub test reporters
// read):
//
//   - one <testsuite> per target, named by the target;
//   - by default one <testcase> per scenario, failed exactly when evalrun
//     fails it: a <failure type="pass_rate"> when it missed its
//     min_pass_rate, an <error> (type "incomplete") when conversations
//     errored, were throttled or did not run, type "not_run" when none ran.
//     The message says runs, passes, pass rate with its 95% interval and
//     the rate needed; the text lists each failing conversation (turn,
//     expectation, reason, reply excerpt; the first 20) and then their
//     transcripts (the first 5). The schema allows a testcase no output of
//     its own, so a failing testcase's transcripts are in its failure
//     text;
//   - one testcase per threshold (classname TARGET.thresholds), failed
//     when breached, so that CI fails exactly when thresholds fail the run;
//   - with Cases JUnitConversationCases, one testcase per kept
//     conversation instead ("scenario[iteration]", iterations counted from
//     1), failed, errored or skipped as it ended;
//   - classnames are "TARGET.FILE" with every '.' inside the target and the
//     file replaced by '_', so Jenkins (which splits a classname at its
//     last dot into package and class) shows the target as the package
//     and the scenario file as the class;
//   - the testsuite's properties hold the run's metadata and every
//     scenario's numbers (runs of planned, passes, rate, interval, rate
//     needed, status); its <system-out> holds the run summary.
//
// Text that XML cannot hold (control characters, invalid UTF-8) becomes
// U+FFFD.
type JUnitWriter struct {
	// Hostname is the testsuite's hostname attribute; empty means
	// "localhost".
	Hostname string
	// Cases is JUnitScenarioCases (also "") or JUnitConversationCases.
	Cases string
}

// Write writes r as JUnit XML to w.
func (jw JUnitWriter) Write(w io.Writer, r *Result) error {
	x := &xmlOut{}
	x.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	x.raw("<testsuites>\n")
	jw.suite(x, r, 0)
	x.raw("</testsuites>\n")
	if _, err := io.WriteString(w, x.b.String()); err != nil {
		return fmt.Errorf("write JUnit XML: %w", err)
	}
	return nil
}

// junitTestcase is one testcase before it is written.
type junitTestcase struct {
	name, classname string
	seconds         float64
	elem, typ, msg  string // elem "" (passed), "failure", "error" or "skipped"
	text            string
}

func (jw JUnitWriter) suite(x *xmlOut, r *Result, id int) {
	name := targetName(r)
	var cases []junitTestcase
	if jw.Cases == JUnitConversationCases {
		for i := range r.Scenarios {
			s := &r.Scenarios[i]
			for j := range s.Conversations {
				cases = append(cases, conversationCase(r, s, &s.Conversations[j]))
			}
		}
	} else {
		for i := range r.Scenarios {
			cases = append(cases, scenarioCase(r, &r.Scenarios[i]))
		}
	}
	cases = append(cases, thresholdCases(r)...)
	var failures, errors, skipped int
	for _, c := range cases {
		switch c.elem {
		case "failure":
			failures++
		case "error":
			errors++
		case "skipped":
			skipped++
		}
	}
	x.open("testsuite", "name", name, "package", name, "id", strconv.Itoa(id),
		"timestamp", r.Started.UTC().Format("2006-01-02T15:04:05"),
		"hostname", cmpOr(strings.TrimSpace(jw.Hostname), "localhost"),
		"tests", strconv.Itoa(len(cases)), "failures", strconv.Itoa(failures), "errors", strconv.Itoa(errors),
		"skipped", strconv.Itoa(skipped), "time", seconds(r.DurationMS))
	x.raw("\n  <properties>\n")
	for _, p := range junitProperties(r) {
		x.raw("    ")
		x.empty("property", "name", p[0], "value", p[1])
		x.raw("\n")
	}
	x.raw("  </properties>\n")
	for _, c := range cases {
		x.raw("  ")
		x.open("testcase", "name", c.name, "classname", c.classname, "time", seconds(c.seconds))
		if c.elem == "" {
			x.raw("</testcase>\n")
			continue
		}
		x.raw("\n    ")
		if c.typ != "" {
			x.open(c.elem, "message", c.msg, "type", c.typ)
		} else {
			x.open(c.elem, "message", c.msg)
		}
		x.text(c.text)
		x.raw("</" + c.elem + ">\n  </testcase>\n")
	}
	x.raw("  <system-out>")
	x.text(junitSystemOut(r))
	x.raw("</system-out>\n  <system-err></system-err>\n</testsuite>\n")
}

// classPart makes a classname part that Jenkins does not split: every '.'
// becomes '_'.
func classPart(s string) string { return strings.ReplaceAll(s, ".", "_") }

// junitClass is a testcase's classname: "TARGET.FILE" (see JUnitWriter).
func junitClass(r *Result, s *ScenarioResult) string {
	return classPart(targetName(r)) + "." + classPart(cmpOr(s.File, s.Name))
}

// scenarioLine is a scenario's numbers on one line: "3 of 5 passed (60.0%,
// 95% CI 23.1–88.2%), 80.0% needed (4 of 5); 10 planned".
func scenarioLine(s *ScenarioResult) string {
	line := fmt.Sprintf("%s of %s passed (%s", fmtInt(int64(s.Passed)), plural(int64(s.Runs), "run"), fmtPercent(s.PassRate))
	if s.PassRateCI != nil {
		line += ", 95% CI " + s.PassRateCI.String()
	}
	line += fmt.Sprintf("), %s needed (%d of %d)", fmtPercent(s.MinPassRate), s.Required, s.Runs)
	if inc := incompleteText(s); inc != "" {
		line += "; " + inc
	}
	return line
}

// scenarioCase is the testcase of one scenario: failed exactly when
// evalrun fails it (see JUnitWriter).
func scenarioCase(r *Result, s *ScenarioResult) junitTestcase {
	c := junitTestcase{name: s.Name, classname: junitClass(r, s)}
	for i := range s.Conversations {
		c.seconds += s.Conversations[i].DurationMS
	}
	if h := r.Histogram(HistScenario, s.Name); h != nil && h.Count > 0 {
		c.seconds = h.MeanUS * float64(h.Count) / 1000 // every call, kept or not
	}
	line := scenarioLine(s)
	incomplete := s.Incomplete()
	switch {
	case s.Runs == 0 || s.NotRun == s.Runs:
		// Not a verdict on the agent, but the run fails for it.
		c.elem, c.typ, c.msg = "error", "not_run", "NOT RUN: "+line
	case s.Status != StatusPassed && s.Failed > 0:
		c.elem, c.typ, c.msg = "failure", "pass_rate", "FAILED: "+line
	case s.Status != StatusPassed || incomplete > 0:
		c.elem, c.typ, c.msg = "error", "incomplete", "INCOMPLETE: "+line
	default:
		return c
	}
	var b strings.Builder
	b.WriteString(s.Name + ": " + line + "\n")
	var bad []*ConversationResult
	for i := range s.Conversations {
		if cv := &s.Conversations[i]; len(problems(cv)) > 0 {
			bad = append(bad, cv)
		}
	}
	for i, cv := range bad {
		if i == junitMaxListed {
			fmt.Fprintf(&b, "\n…and %s more failing conversations in the result file\n", fmtInt(int64(len(bad)-i)))
			break
		}
		fmt.Fprintf(&b, "\n%s: %s\n", caseName(s, cv), outcomeWord(cv.Outcome))
		writeProblems(&b, problems(cv))
	}
	if len(bad) == 0 && s.FirstFailure != nil {
		f := s.FirstFailure
		p := problem{Turn: f.Turn, Expectation: f.Expectation, Reason: f.Reason, Reply: f.ReplyExcerpt}
		fmt.Fprintf(&b, "\n%s[%d]: %s\n", s.Name, f.Iteration+1, outcomeWord(f.Outcome))
		writeProblems(&b, []problem{p})
	}
	if nk := notKept(s); nk.Total() > 0 {
		fmt.Fprintf(&b, "\n%s runs counted but not kept in the result (%s)\n", fmtInt(int64(nk.Total())), nk.describe())
	}
	for i, cv := range bad {
		if i == junitMaxTranscripts {
			fmt.Fprintf(&b, "\n(transcripts of the first %d failing conversations shown; the others are in the result file)\n", i)
			break
		}
		fmt.Fprintf(&b, "\n=== %s ===\n", caseName(s, cv))
		transcriptText(&b, cv)
	}
	c.text = b.String()
	return c
}

// A scenario testcase lists at most junitMaxListed failing conversations
// and the transcripts of junitMaxTranscripts of them, so a large run's
// JUnit file stays readable; the rest are counted.
const (
	junitMaxListed      = 20
	junitMaxTranscripts = 5
)

// writeProblems lists problems: where, expectation, reason, reply.
func writeProblems(b *strings.Builder, probs []problem) {
	for _, p := range probs {
		b.WriteString("  " + p.where() + "\n")
		if p.Expectation != "" {
			b.WriteString("    expectation: " + p.Expectation + "\n")
		}
		b.WriteString("    reason: " + p.Reason + "\n")
		if p.Reply != "" {
			b.WriteString("    reply: " + strconv.Quote(p.Reply) + "\n")
		}
	}
}

// conversationCase is the testcase of one kept conversation.
func conversationCase(r *Result, s *ScenarioResult, cv *ConversationResult) junitTestcase {
	c := junitTestcase{name: caseName(s, cv), classname: junitClass(r, s), seconds: cv.DurationMS}
	switch cv.Outcome {
	case runner.Passed:
		return c
	case runner.NotRun:
		c.elem, c.msg = "skipped", cmpOr(cv.Reason, "not run")
		return c
	}
	probs := problems(cv)
	c.elem, c.typ = "error", string(cv.Outcome)
	if cv.Outcome == runner.Failed {
		c.elem, c.typ = "failure", "expectation"
	}
	var body strings.Builder
	writeProblems(&body, probs)
	body.WriteString("\n")
	transcriptText(&body, cv)
	c.msg, c.text = probs[0].summary(), body.String()
	return c
}

// thresholdCases are one testcase per threshold, failed when it was
// breached.
func thresholdCases(r *Result) []junitTestcase {
	var out []junitTestcase
	for _, t := range r.Thresholds {
		c := junitTestcase{name: strings.TrimSpace(t.Scope + " " + t.Expr), classname: classPart(targetName(r)) + ".thresholds"}
		if !t.Passed {
			c.elem, c.typ = "failure", "threshold"
			c.msg = fmt.Sprintf("%s breached: measured %s", c.name, t.Value)
			c.text = c.msg + "\n"
		}
		out = append(out, c)
	}
	return out
}

// junitProperties are the run's metadata as name/value pairs, then each
// scenario's numbers.
func junitProperties(r *Result) [][2]string {
	props := [][2]string{
		{"evalrun.run_id", r.RunID},
		{"evalrun.version", r.Version},
		{"evalrun.target.name", r.Target.Name},
		{"evalrun.target.kind", r.Target.Kind},
		{"evalrun.target.url", r.Target.URL},
		{"evalrun.seed", strconv.FormatInt(r.Seed, 10)},
		{"evalrun.status", func() string { w, _ := statusText(r); return w }()},
	}
	if c := r.Cut; c != nil {
		props = append(props, [2]string{"evalrun.cut", cutText(r)})
	}
	if s := judgeText(r); s != "" {
		props = append(props, [2]string{"evalrun.judge", s})
	}
	for i, s := range simulationLines(r) {
		props = append(props, [2]string{"evalrun.simulated." + strconv.Itoa(i+1), s})
	}
	if ti := r.Transcripts; ti != nil {
		props = append(props, [2]string{"evalrun.transcripts", string(ti.Policy)})
	}
	for _, k := range slices.Sorted(maps.Keys(r.Settings)) {
		props = append(props, [2]string{"evalrun.settings." + k, fmt.Sprint(r.Settings[k])})
	}
	for _, t := range r.Thresholds {
		v := "passed"
		if !t.Passed {
			v = "FAILED"
		}
		props = append(props, [2]string{"evalrun.threshold " + strings.TrimSpace(t.Scope+" "+t.Expr), v + " (" + t.Value + ")"})
	}
	// Streamed replies only: the token-level metrics and the run's rate.
	for _, row := range streamRows(r) {
		props = append(props, [2]string{"evalrun.stream." + row.Metric, row.propertyValue()})
	}
	if st := r.Stream; st != nil {
		props = append(props, [2]string{"evalrun.stream.output_tokens", strconv.FormatInt(st.OutputTokens, 10)},
			[2]string{"evalrun.stream.output_tokens_per_s", strconv.FormatFloat(st.OutputTokensPerS, 'f', -1, 64)})
	}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		props = append(props, [2]string{"evalrun.scenario " + s.Name, s.Status + ": " + scenarioLine(s)})
	}
	return props
}

// junitSystemOut is the run summary: status, warnings, counts and each
// scenario's numbers. Transcripts are on the failing testcases.
func junitSystemOut(r *Result) string {
	var b strings.Builder
	word, why := statusText(r)
	fmt.Fprintf(&b, "\nevalrun %s: %s (%s)\n", cmpOr(r.RunID, "run"), word, why)
	for _, w := range r.Warnings {
		b.WriteString("warning: " + w + "\n")
	}
	t := r.Totals
	fmt.Fprintf(&b, "%s conversations: %s\n", fmtInt(int64(t.Conversations)),
		cmpOr(t.Counts.describe(), "none"))
	if s := judgeText(r); s != "" {
		b.WriteString(s + "\n")
	}
	for _, s := range simulationLines(r) {
		b.WriteString(s + "\n")
	}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		fmt.Fprintf(&b, "scenario %s: %s: %s\n", s.Name, s.Status, scenarioLine(s))
	}
	return b.String()
}

// seconds formats milliseconds as seconds with millisecond precision.
func seconds(ms float64) string {
	if !(ms > 0) {
		return "0.000"
	}
	return strconv.FormatFloat(ms/1000, 'f', 3, 64)
}

// xmlOut builds an XML document; every text and attribute value goes
// through escaping.
type xmlOut struct{ b strings.Builder }

func (x *xmlOut) raw(s string) { x.b.WriteString(s) }

// open writes a start tag with attributes given as name, value pairs.
func (x *xmlOut) open(name string, attrs ...string) {
	x.b.WriteString("<" + name)
	x.attrs(attrs)
	x.b.WriteString(">")
}

// empty writes an empty-element tag.
func (x *xmlOut) empty(name string, attrs ...string) {
	x.b.WriteString("<" + name)
	x.attrs(attrs)
	x.b.WriteString("/>")
}

func (x *xmlOut) attrs(attrs []string) {
	for i := 0; i+1 < len(attrs); i += 2 {
		x.b.WriteString(" " + attrs[i] + `="`)
		xmlEscape(&x.b, attrs[i+1], true)
		x.b.WriteString(`"`)
	}
}

func (x *xmlOut) text(s string) { xmlEscape(&x.b, s, false) }

// xmlEscape writes s escaped for XML character data, or for a
// double-quoted attribute value (where tabs and line breaks are kept as
// character references). Characters XML 1.0 cannot hold become U+FFFD.
func xmlEscape(b *strings.Builder, s string, attr bool) {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"' && attr:
			b.WriteString("&quot;")
		case r == '\r':
			b.WriteString("&#xD;")
		case (r == '\n' || r == '\t') && attr:
			fmt.Fprintf(b, "&#x%X;", r)
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == utf8.RuneError && n == 1, !xmlChar(r):
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
	}
}

// xmlChar reports whether r may appear in an XML 1.0 document.
func xmlChar(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD ||
		(r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}
