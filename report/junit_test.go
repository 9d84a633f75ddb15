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
	seq := regexp.MustCompile(`^(properties )(testcase )*(system-out )(system-err )$`)
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
	if len(cases) != 9 || su.Failures != 2 || su.Errors != 2 || su.Skipped != 1 {
		t.Errorf("%d testcases, %d failures, %d errors, %d skipped; want 9, 2, 2, 1", len(cases), su.Failures, su.Errors, su.Skipped)
	}
	f := cases["pricing[2]"]
	if f.Classname != "examples/pricing.yaml" || f.Failure == nil || f.Time != "0.423" {
		t.Fatalf("pricing[2]: %+v", f)
	}
	if want := `turn 2: contains "yearly": reply does not contain "yearly"`; f.Failure.Message != want {
		t.Errorf("failure message %q, want %q", f.Failure.Message, want)
	}
	for _, want := range []string{"turn 2\n  expectation: max_latency 200ms\n  reason: took 260ms",
		`reply: "I'm sorry, I can only help`, "  > Can I pay yearly?", "  ✗ contains \"yearly\": reply does not contain"} {
		if !strings.Contains(f.Failure.Text, want) {
			t.Errorf("failure text lacks %q:\n%s", want, f.Failure.Text)
		}
	}
	if e := cases["human-handoff[1]"].Error; e == nil || e.Type != "error" || !strings.Contains(e.Message, "turn 1: send: server (HTTP 500)") {
		t.Errorf("errored conversation: %+v", e)
	}
	if e := cases["human-handoff[2]"].Error; e == nil || e.Type != "throttled" {
		t.Errorf("throttled conversation: %+v", e)
	}
	if sk := cases["lead-capture[1]"].Skipped; sk == nil || sk.Message != "budget exhausted" {
		t.Errorf("not-run conversation: %+v", sk)
	}
	if !strings.Contains(*su.SystemOut, "=== appointment[1] (examples/appointment.yaml) ===") {
		t.Errorf("system-out lacks the transcripts:\n%s", *su.SystemOut)
	}
	props := map[string]string{}
	for _, p := range su.Properties.Props {
		props[p.Name] = p.Value
	}
	if props["evalrun.run_id"] != "20250301-120000-ab12" || props["evalrun.threshold p95<2s"] != "FAILED (2.50s)" ||
		props["evalrun.target.url"] != "http://127.0.0.1:8787/?key=REDACTED" {
		t.Errorf("properties: %v", props)
	}
}

func TestJUnitNotKept(t *testing.T) {
	a := NewAggregator(Meta{RunID: "big", Transcripts: Transcripts{Policy: TranscriptsFailed}})
	feedBulk(a, 30)
	out := render(t, JUnitWriter{}, a.Result(Finish{}))
	s := checkJUnitStructure(t, out)
	su := s.Suites[0]
	if su.Tests != 10 || su.Failures != 6 || su.Errors != 4 {
		t.Errorf("tests %d failures %d errors %d; want the 10 kept failures only", su.Tests, su.Failures, su.Errors)
	}
	if want := "25 runs counted but not kept in the result (25 passed)"; !strings.Contains(*su.SystemOut, want) {
		t.Errorf("system-out lacks %q:\n%s", want, *su.SystemOut)
	}
	xmllint(t, out)
}

func TestJUnitEscaping(t *testing.T) {
	out := render(t, JUnitWriter{Hostname: "h<>"}, hostileResult())
	s := checkJUnitStructure(t, out)
	c := s.Suites[0].Cases[0]
	if c.Name != `x<script>alert("n")</script>[1]` || c.Classname != "a&b/<c>.yaml" {
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
		t.Log("xmllint not installed; schema validation skipped (scripts/check-junit.sh runs it)")
		return
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
