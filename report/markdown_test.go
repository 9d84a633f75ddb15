package report

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/runner"
)

func TestMarkdownGolden(t *testing.T) {
	for _, tt := range []struct {
		name string
		res  *Result
	}{
		{"mixed", gatedResult()},
		{"passed", passedResult()},
		{"interrupted", interruptedResult()},
		{"empty", emptyResult()},
		{"hostile", hostileResult()},
		{"simulated", simulatedResult()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := render(t, MarkdownWriter{}, tt.res)
			golden(t, "md_"+tt.name+".md", out)
			checkMarkdown(t, string(out))
		})
	}
}

// codeSpan matches a code span (fences of 1 to 3 backticks).
var codeSpan = regexp.MustCompile("```.*?```|``.*?``|`[^`]*`")

// checkMarkdown checks what every summary must hold: tables whose rows
// have as many cells as their header, and no link, URL or raw HTML
// outside code spans.
func checkMarkdown(t *testing.T, md string) {
	t.Helper()
	cells := -1
	for i, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			cells = -1
			continue
		}
		n := len(regexp.MustCompile(`(^|[^\\])\|`).FindAllString(line, -1))
		if cells == -1 {
			cells = n
		} else if n != cells {
			t.Errorf("line %d has %d cell separators, its table %d: %q", i+1, n, cells, line)
		}
	}
	outside := codeSpan.ReplaceAllString(md, "")
	for _, bad := range []string{"http://", "https://", "www.", "](", "<script", "<img", "<a "} {
		if strings.Contains(strings.ToLower(outside), bad) {
			t.Errorf("%q outside code spans:\n%s", bad, outside)
		}
	}
}

func TestMarkdownContent(t *testing.T) {
	out := string(render(t, MarkdownWriter{}, gatedResult()))
	for _, want := range []string{
		"## ❌ evalrun FAILED: 3 of 4 scenarios failed; 2 of 3 thresholds breached; 1 error, 1 throttled, 1 not run\n",
		"| ✗ | `p95<2s` | run | 2.50s |",
		"| ✓ | `pass_rate>=0.5` | scenario:pricing | 60.0% |",
		"### Target sim",
		"| ✗ | pricing | 5 | 3 | 60.0% (23.1–88.2%) | 80.0% |",
		"| pricing | 2 | `contains \"yearly\"` | 1 | pricing\\[2\\] | `reply does not contain \"yearly\"` | `I'm sorry, I can only help",
		"| turn 2 | 5 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, out)
		}
	}
	if out := string(render(t, MarkdownWriter{}, passedResult())); !strings.HasPrefix(out, "## ✅ evalrun PASSED") || strings.Contains(out, "### Thresholds") || strings.Contains(out, "### Failures") {
		t.Errorf("passed run summary:\n%s", out)
	}
}

func TestMarkdownFailureCap(t *testing.T) {
	a := NewAggregator(Meta{Transcripts: Transcripts{Policy: TranscriptsFailed}})
	feedBulk(a, 30)
	res := a.Result(Finish{})
	// Per scenario: 3 failed on contains "x", 1 errored and 1 throttled
	// with the same error text.
	out := string(render(t, MarkdownWriter{}, res))
	for _, want := range []string{
		"| alpha | 1 | `contains \"x\"` | 3 | alpha\\[2\\] | `reply does not contain \"x\"` | `reply 2` |",
		"| beta | 1 | `contains \"x\"` | 3 | beta\\[2\\] |",
		"| alpha | 1 |  | 2 | alpha\\[3\\] | `send: server (HTTP 500)` |  |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n| alpha |") + strings.Count(out, "\n| beta |"); n != 4 {
		t.Errorf("%d failure rows, want 4 (2 kinds in each of 2 scenarios):\n%s", n, out)
	}
	if !strings.Contains(out, "_transcripts kept: 10 of 60 (policy failed)_") {
		t.Errorf("no note of the transcripts not kept:\n%s", out)
	}
	// Capped at 3 rows: each scenario keeps its most frequent kind first.
	out = string(render(t, MarkdownWriter{MaxFailures: 3}, res))
	if !strings.Contains(out, "| alpha | 1 | `contains \"x\"` | 3 |") || !strings.Contains(out, "| beta | 1 | `contains \"x\"` | 3 |") {
		t.Errorf("a scenario's most frequent failure is missing under the cap:\n%s", out)
	}
	if !strings.Contains(out, "…and 1 more kind of failure (2 failed runs) not listed") {
		t.Errorf("no count of the failures left out:\n%s", out)
	}
}

// TestMarkdownFlakyScenarioDoesNotHideAnother: a scenario failing the same
// way in 60 of 120 runs is one row with its count, and another scenario's one
// failure still shows, even with more kinds of failure than rows.
func TestMarkdownFlakyScenarioDoesNotHideAnother(t *testing.T) {
	a := NewAggregator(Meta{Transcripts: Transcripts{Policy: TranscriptsFailed}})
	flaky, other := scen("flaky", 120, 0.5), scen("zz-other", 1, 1)
	for i := 0; i < 120; i++ {
		v := bad(fmt.Sprintf(`contains "w%d"`, i), "missing")
		if i%2 == 0 {
			v = bad(`contains "price"`, "missing")
		}
		feed(a, conv{id: i, scen: flaky, iter: i, outcome: runner.Failed, reason: "x",
			turns: []runner.TurnResult{turn(0, 100, runner.Failed, "hi", fmt.Sprintf("reply %d", i), v)}})
	}
	feed(a, conv{id: 100, scen: other, iter: 0, outcome: runner.Failed, reason: "x",
		turns: []runner.TurnResult{turn(1, 100, runner.Failed, "hi", "nope", bad(`icontains "refund"`, "missing"))}})
	out := string(render(t, MarkdownWriter{}, a.Result(Finish{})))
	if !strings.Contains(out, "| flaky | 1 | `contains \"price\"` | 60 | flaky\\[1\\] |") {
		t.Errorf("the frequent failure is not one row with its count:\n%s", out)
	}
	if !strings.Contains(out, "| zz-other | 2 | `icontains \"refund\"` | 1 | zz-other\\[1\\] | `missing` | `nope` |") {
		t.Errorf("the other scenario's failure is hidden:\n%s", out)
	}
	if n := strings.Count(out, "\n| flaky |") + strings.Count(out, "\n| zz-other |"); n != 50 {
		t.Errorf("%d failure rows, want the cap of 50", n)
	}
}

func TestMarkdownFirstFailureNotKept(t *testing.T) {
	a := NewAggregator(Meta{Transcripts: Transcripts{Policy: TranscriptsNone}})
	feedBulk(a, 12)
	out := string(render(t, MarkdownWriter{}, a.Result(Finish{})))
	if !strings.Contains(out, "| alpha | 1 | `contains \"x\"` | 1 | alpha\\[2\\] | `reply does not contain \"x\"` | `reply 2` |") {
		t.Errorf("the first failure of a scenario without kept transcripts is missing:\n%s", out)
	}
}

func TestMarkdownEscape(t *testing.T) {
	tests := []struct{ in, text, code string }{
		{"a*b_c", `a\*b\_c`, "`a*b_c`"},
		{"<b>&", "&lt;b&gt;&amp;", "`<b>&`"},
		{"see https://x.io", "`see https://x.io`", "`see https://x.io`"},
		{"a`b", "a\\`b", "``a`b``"},
		{"`x`", "\\`x\\`", "`` `x` ``"},
		{"line\nbreak", "line break", "`line break`"},
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := mdText(tt.in); got != tt.text {
			t.Errorf("mdText(%q) = %q, want %q", tt.in, got, tt.text)
		}
		if got := mdCode(tt.in); got != tt.code {
			t.Errorf("mdCode(%q) = %q, want %q", tt.in, got, tt.code)
		}
	}
	if got := mdCell(mdCode("a|b")); got != "`a\\|b`" {
		t.Errorf("mdCell: %q", got)
	}
}
