package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/report"
)

// TestPartialSaysWhatItCut runs the examples with --quota 20 --partial:
// refund-policy-repeated (repeat: 10, min_pass_rate: 0.9) runs once, and
// the console, JSON, Markdown, HTML and JUnit all say it ran 1 of 10
// planned and that the run was cut by the quota.
func TestPartialSaysWhatItCut(t *testing.T) {
	dir := t.TempDir()
	out, md, page, junit := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.md"), filepath.Join(dir, "r.html"), filepath.Join(dir, "r.xml")
	c := cli{}
	code := c.run(t, "run", "--quiet", "--quota", "20", "--partial", "--out", out, "--md", md, "--html", page, "--junit", junit, repoPath("examples"))
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, c.stdout.String(), c.stderr.String())
	}
	res, err := report.ReadResultFile(out)
	if err != nil {
		t.Fatal(err)
	}
	s := res.Scenario("refund-policy-repeated")
	if s == nil || s.Runs != 1 || s.Planned != 10 {
		t.Fatalf("refund-policy-repeated: %+v, want 1 run of 10 planned", s)
	}
	if res.Cut == nil || res.Cut.Ran != res.Totals.Conversations || res.Cut.Planned != 16 || !strings.Contains(res.Cut.By, "quota") {
		t.Errorf("cut %+v (ran %d)", res.Cut, res.Totals.Conversations)
	}
	if len(res.Warnings) == 0 || !strings.Contains(strings.Join(res.Warnings, "\n"), "refund-policy-repeated ran 1 of 10") {
		t.Errorf("warnings %q lack the cut scenario", res.Warnings)
	}
	console := c.stdout.String()
	for _, want := range []string{"1/10 planned", "cut by the quota (--partial): 6 of 16 planned conversations ran"} {
		if !strings.Contains(strings.Join(strings.Fields(console), " "), want) {
			t.Errorf("console lacks %q:\n%s", want, console)
		}
	}
	mdText, _ := os.ReadFile(md)
	for _, want := range []string{`PASSED: 6 of 6 scenarios; cut by the quota \(--partial\): 6 of 16 planned conversations ran`, "| 1/10 planned |"} {
		if !strings.Contains(string(mdText), want) {
			t.Errorf("Markdown lacks %q:\n%s", want, mdText)
		}
	}
	html, _ := os.ReadFile(page)
	for _, want := range []string{"needs 90.0% · 1/10 planned", "cut by the quota (--partial): 6 of 16 planned conversations ran"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	data, _ := os.ReadFile(junit)
	var ju struct {
		Suites []struct {
			Props []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
			Out string `xml:"system-out"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &ju); err != nil || len(ju.Suites) != 1 {
		t.Fatalf("JUnit: %v", err)
	}
	props := map[string]string{}
	for _, p := range ju.Suites[0].Props {
		props[p.Name] = p.Value
	}
	if v := props["evalrun.scenario refund-policy-repeated"]; !strings.Contains(v, "1/10 planned") {
		t.Errorf("JUnit property of the cut scenario: %q", v)
	}
	if v := props["evalrun.cut"]; !strings.Contains(v, "6 of 16 planned") {
		t.Errorf("JUnit evalrun.cut property: %q", v)
	}
	if !strings.Contains(ju.Suites[0].Out, "refund-policy-repeated ran 1 of 10") {
		t.Errorf("JUnit system-out lacks the cut:\n%s", ju.Suites[0].Out)
	}

	// Without --partial nothing is cut and nothing says so.
	full := filepath.Join(dir, "full.json")
	var f cli
	if code := f.run(t, "run", "--quiet", "--out", full, repoPath("examples")); code != exitOK {
		t.Fatalf("full run: exit %d\n%s", code, f.stderr.String())
	}
	fr, err := report.ReadResultFile(full)
	if err != nil {
		t.Fatal(err)
	}
	if fr.Cut != nil || fr.Scenario("refund-policy-repeated").Planned != 0 || strings.Contains(f.stdout.String(), "planned") {
		t.Errorf("an uncut run reports a cut: %+v", fr.Cut)
	}
}
