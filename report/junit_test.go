package report

import (
	"bytes"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// The JUnit schema's structure (junit-ant.xsd), as a decoder sees it.
type jSuites struct {
	XMLName xml.Name   `xml:"testsuites"`
	Attrs   []xml.Attr `xml:",any,attr"`
	Suites  []jSuite   `xml:"testsuite"`
}

type jSuite struct {
	Name       string    `xml:"name,attr"`
	Package    string    `xml:"package,attr"`
	ID         *int      `xml:"id,attr"`
	Timestamp  string    `xml:"timestamp,attr"`
	Hostname   string    `xml:"hostname,attr"`
	Tests      int       `xml:"tests,attr"`
	Failures   int       `xml:"failures,attr"`
	Errors     int       `xml:"errors,attr"`
	Skipped    int       `xml:"skipped,attr"`
	Time       string    `xml:"time,attr"`
	Properties *jProps   `xml:"properties"`
	Cases      []jCase   `xml:"testcase"`
	SystemOut  *string   `xml:"system-out"`
	SystemErr  *string   `xml:"system-err"`
	Other      []anyElem `xml:",any"`
}

type anyElem struct{ XMLName xml.Name }

type jProps struct {
	Props []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	} `xml:"property"`
}

type jCase struct {
	Name      string    `xml:"name,attr"`
	Classname string    `xml:"classname,attr"`
	Time      string    `xml:"time,attr"`
	Failure   *jProblem `xml:"failure"`
	Error     *jProblem `xml:"error"`
	Skipped   *jProblem `xml:"skipped"`
	Other     []anyElem `xml:",any"`
}

type jProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func decodeJUnit(t *testing.T, data []byte) *jSuites {
	t.Helper()
	var s jSuites
	if err := xml.Unmarshal(data, &s); err != nil {
		t.Fatalf("JUnit output is not well-formed XML: %v", err)
	}
	return &s
}

var (
	xsdTimestamp = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$`)
	xsdDecimal   = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
)

// checkJUnitStructure checks what junit-ant.xsd requires: testsuites
// without attributes; each testsuite with its required attributes,
// properties, testcases, system-out and system-err in that order; each
// testcase with name, classname, decimal time and at most one of
// skipped, error, failure (failure and error with a type).
func checkJUnitStructure(t *testing.T, data []byte) *jSuites {
	t.Helper()
	s := decodeJUnit(t, data)
	if len(s.Attrs) != 0 {
		t.Errorf("testsuites has attributes %v; the schema allows none", s.Attrs)
	}
	for _, su := range s.Suites {
		if su.Name == "" || su.Package == "" || su.ID == nil || su.Hostname == "" {
			t.Errorf("testsuite lacks name, package, id or hostname: %+v", su)
		}
		if !xsdTimestamp.MatchString(su.Timestamp) || !xsdDecimal.MatchString(su.Time) {
			t.Errorf("testsuite timestamp %q or time %q does not fit the schema", su.Timestamp, su.Time)
		}
		if su.Properties == nil || su.SystemOut == nil || su.SystemErr == nil {
			t.Error("testsuite lacks properties, system-out or system-err (all required)")
		}
		if len(su.Other) > 0 {
			t.Errorf("testsuite has elements the schema does not know: %v", su.Other)
		}
		var f, e, sk int
		for _, c := range su.Cases {
			if c.Name == "" || c.Classname == "" || !xsdDecimal.MatchString(c.Time) {
				t.Errorf("testcase %+v lacks name or classname, or its time is not a decimal", c)
			}
			n := 0
			if c.Failure != nil {
				n++
				f++
				if c.Failure.Type == "" {
					t.Errorf("%s: failure without type", c.Name)
				}
			}
			if c.Error != nil {
				n++
				e++
				if c.Error.Type == "" {
					t.Errorf("%s: error without type", c.Name)
				}
			}
			if c.Skipped != nil {
				n++
				sk++
			}
			if n > 1 || len(c.Other) > 0 {
				t.Errorf("%s: %d of skipped/error/failure and %v; the schema allows one of them only", c.Name, n, c.Other)
			}
		}
		if su.Tests != len(su.Cases) || su.Failures != f || su.Errors != e || su.Skipped != sk {
			t.Errorf("testsuite counts tests=%d failures=%d errors=%d skipped=%d, testcases say %d %d %d %d",
				su.Tests, su.Failures, su.Errors, su.Skipped, len(su.Cases), f, e, sk)
		}
	}
	// Element order inside a testsuite: properties, testcase*, system-out, system-err.
	dec := xml.NewDecoder(bytes.NewReader(data))
	depth := 0
	var order []string
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 3 {
				order = append(order, tk.Name.Local)
			}
		case xml.EndElement:
			depth--
		}
	}
	seq := regexp.MustCompile(`^((properties )(testcase )*(system-out )(system-err ))*$`)
	if got := strings.Join(order, " ") + " "; !seq.MatchString(got) {
		t.Errorf("testsuite children in order %q; the schema wants properties, testcase*, system-out, system-err", got)
	}
	return s
}

func TestJUnitGolden(t *testing.T) {
	for _, tt := range []struct {
		name string
		res  *Result
	}{
		{"mixed", gatedResult()},
		{"passed", passedResult()},
		{"interrupted", interruptedResult()},
		{"empty", emptyResult()},
		{"simulated", simulatedResult()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := render(t, JUnitWriter{Hostname: "ci-runner"}, tt.res)
			golden(t, "junit_"+tt.name+".xml", out)
			checkJUnitStructure(t, out)
			xmllint(t, out)
		})
	}
}

func TestJUnitContent(t *testing.T) {
	s := checkJUnitStructure(t, render(t, JUnitWriter{}, gatedResult()))
	if len(s.Suites) != 1 {
		t.Fatalf("%d testsuites, want 1 (one per target)", len(s.Suites))
	}
	su := s.Suites[0]
	if su.Name != "sim" || su.Hostname != "localhost" || su.Timestamp != "2025-03-01T12:00:00" || su.Time != "12.345" {
		t.Errorf("testsuite name %q hostname %q timestamp %q time %q", su.Name, su.Hostname, su.Timestamp, su.Time)
	}
	cases := map[string]jCase{}
	for _, c := range su.Cases {
		cases[c.Name] = c
	}
	// 4 scenarios and 3 thresholds; pricing failed its rate, two
	// thresholds breached, human-handoff errored, lead-capture did not run.
	if len(cases) != 7 || su.Failures != 3 || su.Errors != 2 || su.Skipped != 0 {
		t.Errorf("%d testcases, %d failures, %d errors, %d skipped; want 7, 3, 2, 0", len(cases), su.Failures, su.Errors, su.Skipped)
	}
	f := cases["pricing"]
	if f.Classname != "sim.examples/pricing_yaml" || f.Failure == nil || f.Failure.Type != "pass_rate" {
		t.Fatalf("pricing: %+v", f)
	}
	if want := "FAILED: 3 of 5 runs passed (60.0%, 95% CI 23.1–88.2%), 80.0% needed (4 of 5)"; f.Failure.Message != want {
		t.Errorf("failure message %q, want %q", f.Failure.Message, want)
	}
	for _, want := range []string{"pricing[2]: failed\n  turn 2\n    expectation: contains \"yearly\"",
		"    expectation: max_latency 200ms\n    reason: took 260ms",
		`reply: "I'm sorry, I can only help`, "=== pricing[2] ===", "  > Can I pay yearly?", "  ✗ contains \"yearly\": reply does not contain"} {
		if !strings.Contains(f.Failure.Text, want) {
			t.Errorf("failure text lacks %q:\n%s", want, f.Failure.Text)
		}
	}
	if c := cases["appointment"]; c.Failure != nil || c.Error != nil || c.Skipped != nil || c.Classname != "sim.examples/appointment_yaml" {
		t.Errorf("passed scenario: %+v", c)
	}
	if e := cases["human-handoff"].Error; e == nil || e.Type != "incomplete" || !strings.Contains(e.Text, "reason: send: server (HTTP 500)") {
		t.Errorf("errored scenario: %+v", e)
	}
	if e := cases["lead-capture"].Error; e == nil || e.Type != "not_run" {
		t.Errorf("not-run scenario: %+v", e)
	}
	if th := cases["p95<2s"]; th.Failure == nil || th.Classname != "sim.thresholds" || th.Failure.Message != "p95<2s breached: measured 2.50s" {
		t.Errorf("breached threshold: %+v", th)
	}
	if th := cases["scenario:pricing pass_rate>=0.5"]; th.Failure != nil {
		t.Errorf("held threshold failed: %+v", th)
	}
	// The transcripts are on the failing testcases, not in the suite's output.
	if strings.Contains(*su.SystemOut, "===") || strings.Contains(*su.SystemOut, "> Can I pay yearly?") {
		t.Errorf("system-out holds transcripts:\n%s", *su.SystemOut)
	}
	props := map[string]string{}
	for _, p := range su.Properties.Props {
		props[p.Name] = p.Value
	}
	if props["evalrun.run_id"] != "20250301-120000-ab12" || props["evalrun.threshold p95<2s"] != "FAILED (2.50s)" ||
		props["evalrun.target.url"] != "http://127.0.0.1:8787/?key=REDACTED" ||
		props["evalrun.scenario pricing"] != "failed: 3 of 5 runs passed (60.0%, 95% CI 23.1–88.2%), 80.0% needed (4 of 5)" {
		t.Errorf("properties: %v", props)
	}
}

// TestJUnitAgreesWithVerdict checks that a scenario's testcase fails
// exactly when evalrun fails the scenario: one that meets its
// min_pass_rate with some failed runs passes, and the run's exit verdict
// (Result.Passed) is green exactly when every testcase is.
func TestJUnitAgreesWithVerdict(t *testing.T) {
	tests := []struct {
		name    string
		passed  int // of 10 runs, the rest failed
		errored int // of the passed ones, turned to errors
		min     float64
		want    string // "" (passed), "failure" or "error"
	}{
		{"meets its rate", 9, 0, 0.9, ""},
		{"below its rate", 8, 0, 0.9, "failure"},
		{"all passed", 10, 0, 1, ""},
		{"meets its rate but errors", 9, 1, 0.5, "error"},
		{"below its rate with errors", 5, 2, 0.9, "failure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAggregator(Meta{RunID: "v"})
			sc := scen("flaky", 10, tt.min)
			for i := 0; i < 10; i++ {
				out := runner.Passed
				tr := turn(0, 100, runner.Passed, "hi", "hello", ok(`icontains "hello"`))
				switch {
				case i >= tt.passed:
					out = runner.Failed
					tr.Outcome, tr.Verdicts = runner.Failed, []scenarios.Verdict{bad(`contains "x"`, `reply does not contain "x"`)}
				case i < tt.errored:
					out = runner.Errored
					tr.Outcome, tr.Verdicts, tr.Error = runner.Errored, nil, "send: server (HTTP 500)"
				}
				feed(a, conv{id: i, scen: sc, iter: i, outcome: out, reason: string(out), turns: []runner.TurnResult{tr}})
			}
			res := a.Result(Finish{})
			out := render(t, JUnitWriter{}, res)
			su := checkJUnitStructure(t, out).Suites[0]
			if len(su.Cases) != 1 {
				t.Fatalf("%d testcases for one scenario", len(su.Cases))
			}
			c := su.Cases[0]
			got := ""
			switch {
			case c.Failure != nil:
				got = "failure"
			case c.Error != nil:
				got = "error"
			case c.Skipped != nil:
				got = "skipped"
			}
			if got != tt.want {
				t.Errorf("testcase %q, want %q (scenario status %s)", got, tt.want, res.Scenarios[0].Status)
			}
			if (got == "") != res.Passed() {
				t.Errorf("testcase green %v, run passed %v: JUnit disagrees with evalrun", got == "", res.Passed())
			}
			xmllint(t, out)
		})
	}
}

func TestJUnitConversationCases(t *testing.T) {
	s := checkJUnitStructure(t, render(t, JUnitWriter{Cases: JUnitConversationCases}, gatedResult()))
	su := s.Suites[0]
	cases := map[string]jCase{}
	for _, c := range su.Cases {
		cases[c.Name] = c
	}
	// 9 kept conversations and 3 thresholds.
	if len(cases) != 12 || su.Failures != 4 || su.Errors != 2 || su.Skipped != 1 {
		t.Errorf("%d testcases, %d failures, %d errors, %d skipped; want 12, 4, 2, 1", len(cases), su.Failures, su.Errors, su.Skipped)
	}
	f := cases["pricing[2]"]
	if f.Classname != "sim.examples/pricing_yaml" || f.Failure == nil || f.Time != "0.423" {
		t.Fatalf("pricing[2]: %+v", f)
	}
	if want := `turn 2: contains "yearly": reply does not contain "yearly"`; f.Failure.Message != want {
		t.Errorf("failure message %q, want %q", f.Failure.Message, want)
	}
	if !strings.Contains(f.Failure.Text, "  > Can I pay yearly?") {
		t.Errorf("failure text lacks the transcript:\n%s", f.Failure.Text)
	}
	if e := cases["human-handoff[2]"].Error; e == nil || e.Type != "throttled" {
		t.Errorf("throttled conversation: %+v", e)
	}
	if sk := cases["lead-capture[1]"].Skipped; sk == nil || sk.Message != "budget exhausted" {
		t.Errorf("not-run conversation: %+v", sk)
	}
	if _, err := ParseJUnitCases("turn"); err == nil || !strings.Contains(err.Error(), "scenario") {
		t.Errorf("ParseJUnitCases(turn) = %v", err)
	}
}

// TestJUnitTwoTargets checks that two targets' testcases differ: each
// target is a testsuite of its own, and the target is the classname's
// package.
func TestJUnitTwoTargets(t *testing.T) {
	a, b := passedResult(), passedResult()
	a.Target.Name, b.Target.Name = "prod.v1", "staging"
	var buf bytes.Buffer
	if err := (JUnitWriter{}).WriteRun(&buf, NewRun(a, b)); err != nil {
		t.Fatal(err)
	}
	s := checkJUnitStructure(t, buf.Bytes())
	if len(s.Suites) != 2 || s.Suites[0].Name != "prod.v1" || s.Suites[1].Name != "staging" {
		t.Fatalf("suites %+v", s.Suites)
	}
	if c0, c1 := s.Suites[0].Cases[0].Classname, s.Suites[1].Cases[0].Classname; c0 != "prod_v1.examples/knowledge_yaml" || c1 != "staging.examples/knowledge_yaml" {
		t.Errorf("classnames %q and %q", c0, c1)
	}
	xmllint(t, buf.Bytes())
}

func TestJUnitNotKept(t *testing.T) {
	a := NewAggregator(Meta{RunID: "big", Transcripts: Transcripts{Policy: TranscriptsFailed}})
	feedBulk(a, 30)
	out := render(t, JUnitWriter{}, a.Result(Finish{}))
	s := checkJUnitStructure(t, out)
	su := s.Suites[0]
	// Both scenarios meet their 50% but have errors and throttles: errors.
	if su.Tests != 2 || su.Failures != 0 || su.Errors != 2 {
		t.Errorf("tests %d failures %d errors %d; want 2 0 2", su.Tests, su.Failures, su.Errors)
	}
	if want := "25 runs counted but not kept in the result (25 passed)"; !strings.Contains(su.Cases[0].Error.Text, want) {
		t.Errorf("error text lacks %q:\n%s", want, su.Cases[0].Error.Text)
	}
	xmllint(t, out)
}

func TestJUnitEscaping(t *testing.T) {
	out := render(t, JUnitWriter{Hostname: "h<>"}, hostileResult())
	s := checkJUnitStructure(t, out)
	c := s.Suites[0].Cases[0]
	if c.Name != `x<script>alert("n")</script>` || c.Classname != `<b>"sim"</b>.a&b/<c>_yaml` {
		t.Errorf("names did not survive escaping: %q %q", c.Name, c.Classname)
	}
	if !strings.Contains(c.Failure.Text, "<script>alert('r')</script> & <img") || !strings.Contains(c.Failure.Text, "]]>") {
		t.Errorf("reply did not survive escaping:\n%s", c.Failure.Text)
	}
	if strings.Contains(string(out), "<script>") || strings.ContainsAny(string(out), "\x01\x1b") {
		t.Error("raw markup or control characters in the XML")
	}
	xmllint(t, out)
}

func FuzzJUnitEscape(f *testing.F) {
	f.Add("plain", true)
	f.Add("<a href=\"x\">&amp;</a>\n\t\r\x00\xff\U0010FFFF\uFFFE", false)
	f.Fuzz(func(t *testing.T, s string, attr bool) {
		var b strings.Builder
		b.WriteString(`<r a="`)
		xmlEscape(&b, s, true)
		b.WriteString(`">`)
		xmlEscape(&b, s, attr)
		b.WriteString(`</r>`)
		var v struct {
			A    string `xml:"a,attr"`
			Text string `xml:",chardata"`
		}
		if err := xml.Unmarshal([]byte(b.String()), &v); err != nil {
			t.Fatalf("escaped %q is not well-formed: %v\n%s", s, err, b.String())
		}
	})
}

// xmllint validates data against the JUnit schema when xmllint is
// installed (scripts/check-junit.sh installs it); otherwise it skips.
func xmllint(t *testing.T, data []byte) {
	t.Helper()
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not installed (apt-get install libxml2-utils); schema validation skipped")
	}
	path := filepath.Join(t.TempDir(), "junit.xml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--noout", "--schema", filepath.Join(goldenDir, "junit-ant.xsd"), path).CombinedOutput()
	if err != nil {
		t.Errorf("xmllint rejects the JUnit XML: %v\n%s", err, out)
	}
}

// TestJUnitFailureTextCapped: a scenario with many failing runs lists the
// first 20 and shows 5 transcripts; the rest are counted.
func TestJUnitFailureTextCapped(t *testing.T) {
	a := NewAggregator(Meta{RunID: "cap", Transcripts: Transcripts{Policy: TranscriptsFailed}})
	sc := scen("flaky", 30, 0.9)
	for i := 0; i < 30; i++ {
		tr := turn(0, 100, runner.Failed, "hi", "nope", bad(`contains "x"`, "missing"))
		feed(a, conv{id: i, scen: sc, iter: i, outcome: runner.Failed, reason: "x", turns: []runner.TurnResult{tr}})
	}
	out := render(t, JUnitWriter{}, a.Result(Finish{}))
	f := checkJUnitStructure(t, out).Suites[0].Cases[0].Failure
	if f == nil {
		t.Fatal("no failure")
	}
	if n := strings.Count(f.Text, "]: failed\n"); n != 20 {
		t.Errorf("%d conversations listed, want 20", n)
	}
	if n := strings.Count(f.Text, "\n=== flaky["); n != 5 {
		t.Errorf("%d transcripts, want 5", n)
	}
	if !strings.Contains(f.Text, "…and 10 more failing conversations in the result file") {
		t.Errorf("the rest are not counted:\n%s", f.Text)
	}
	xmllint(t, out)
}
