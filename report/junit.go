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

// JUnitWriter writes a run as JUnit XML, valid against the Apache Ant JUnit
// schema (the strictest one Jenkins, GitLab and GitHub test reporters
// read):
//
//   - one <testsuite> per target, named by the target;
//   - one <testcase> per conversation the result keeps, classname the
//     scenario file and name "scenario[iteration]" (iterations counted from
//     1), time its duration in seconds;
//   - a failed conversation carries a <failure type="expectation"> whose
//     message names the first turn, expectation and reason, and whose text
//     lists every failing expectation with a reply excerpt and then the
//     whole transcript; an errored or throttled one an <error> (type
//     "error" or "throttled"); a conversation not run is <skipped>;
//   - the testsuite's <system-out> holds the run summary and the
//     transcripts of the kept conversations; the schema allows no output
//     per testcase.
//
// Conversations counted but not kept (see TranscriptPolicy) are not
// testcases; system-out says how many there were per scenario. Text that
// XML cannot hold (control characters, invalid UTF-8) becomes U+FFFD.
type JUnitWriter struct {
	// Hostname is the testsuite's hostname attribute; empty means
	// "localhost".
	Hostname string
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

func (jw JUnitWriter) suite(x *xmlOut, r *Result, id int) {
	name := targetName(r)
	var tests, failures, errors, skipped int
	for i := range r.Scenarios {
		for j := range r.Scenarios[i].Conversations {
			tests++
			switch r.Scenarios[i].Conversations[j].Outcome {
			case runner.Passed:
			case runner.Failed:
				failures++
			case runner.NotRun:
				skipped++
			default:
				errors++
			}
		}
	}
	x.open("testsuite", "name", name, "package", name, "id", strconv.Itoa(id),
		"timestamp", r.Started.UTC().Format("2006-01-02T15:04:05"),
		"hostname", cmpOr(strings.TrimSpace(jw.Hostname), "localhost"),
		"tests", strconv.Itoa(tests), "failures", strconv.Itoa(failures), "errors", strconv.Itoa(errors),
		"skipped", strconv.Itoa(skipped), "time", seconds(r.DurationMS))
	x.raw("\n  <properties>\n")
	for _, p := range junitProperties(r) {
		x.raw("    ")
		x.empty("property", "name", p[0], "value", p[1])
		x.raw("\n")
	}
	x.raw("  </properties>\n")
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		for j := range s.Conversations {
			junitCase(x, s, &s.Conversations[j])
		}
	}
	x.raw("  <system-out>")
	x.text(junitSystemOut(r))
	x.raw("</system-out>\n  <system-err></system-err>\n</testsuite>\n")
}

// junitProperties are the run's metadata as name/value pairs.
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
	return props
}

func junitCase(x *xmlOut, s *ScenarioResult, c *ConversationResult) {
	x.raw("  ")
	x.open("testcase", "name", caseName(s, c), "classname", cmpOr(s.File, s.Name), "time", seconds(c.DurationMS))
	switch c.Outcome {
	case runner.Passed:
		x.raw("</testcase>\n")
		return
	case runner.NotRun:
		x.raw("\n    ")
		x.open("skipped", "message", cmpOr(c.Reason, "not run"))
		x.raw("</skipped>\n  </testcase>\n")
		return
	}
	probs := problems(c)
	elem, typ := "error", string(c.Outcome)
	if c.Outcome == runner.Failed {
		elem, typ = "failure", "expectation"
	}
	var body strings.Builder
	for _, p := range probs {
		body.WriteString(p.where() + "\n")
		if p.Expectation != "" {
			body.WriteString("  expectation: " + p.Expectation + "\n")
		}
		body.WriteString("  reason: " + p.Reason + "\n")
		if p.Reply != "" {
			body.WriteString("  reply: " + strconv.Quote(p.Reply) + "\n")
		}
	}
	body.WriteString("\n")
	transcriptText(&body, c)
	x.raw("\n    ")
	x.open(elem, "message", probs[0].summary(), "type", typ)
	x.text(body.String())
	x.raw("</" + elem + ">\n  </testcase>\n")
}

// junitSystemOut is the run summary followed by the kept transcripts.
func junitSystemOut(r *Result) string {
	var b strings.Builder
	word, why := statusText(r)
	fmt.Fprintf(&b, "\nevalrun %s: %s (%s)\n", cmpOr(r.RunID, "run"), word, why)
	for _, w := range r.Warnings {
		b.WriteString("warning: " + w + "\n")
	}
	t := r.Totals
	fmt.Fprintf(&b, "%s conversations: %s\n", fmtInt(int64(t.Conversations)),
		cmpOr(outcomeCounts{t.Passed, t.Failed, t.Error, t.Throttled, t.NotRun}.describe(), "none"))
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		fmt.Fprintf(&b, "scenario %s: %d of %d passed (%s, %s needed): %s\n", s.Name, s.Passed, s.Runs,
			fmtPercent(s.PassRate), fmtPercent(s.MinPassRate), s.Status)
		if nk := notKept(s); nk.total() > 0 {
			fmt.Fprintf(&b, "  %s runs counted but not kept in the result (%s); they are not testcases\n", fmtInt(int64(nk.total())), nk.describe())
		}
	}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		for j := range s.Conversations {
			c := &s.Conversations[j]
			fmt.Fprintf(&b, "\n=== %s (%s) ===\n", caseName(s, c), cmpOr(s.File, s.Name))
			transcriptText(&b, c)
		}
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
