package report

import (
	"bytes"
	"encoding/xml"
	"html"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestHTMLGolden(t *testing.T) {
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
			out := render(t, HTMLWriter{}, tt.res)
			golden(t, "report_"+tt.name+".html", out)
			checkSelfContained(t, out)
			checkWellFormed(t, out)
		})
	}
}

// checkSelfContained fails on anything that would make the page load
// something: scripts, external style sheets, fonts, images, frames,
// objects, CSS url() and @import, or src/href pointing anywhere but
// inside the page.
func checkSelfContained(t *testing.T, page []byte) {
	t.Helper()
	low := strings.ToLower(string(page))
	for _, bad := range []string{"<script", "<link", "<img", "<iframe", "<object", "<embed", "<image", "<use", "<style ", "url(", "@import", "xlink:"} {
		if strings.Contains(low, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if m := regexp.MustCompile(`<[^>]*\s(src|srcset|action|data|background|poster)\s*=`).FindString(low); m != "" {
		t.Errorf("page has an element loading a resource: %s", m)
	}
	for _, m := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(low, -1) {
		if !strings.HasPrefix(m[1], "#") {
			t.Errorf("page links outside itself: %s", m[0])
		}
	}
	for _, m := range regexp.MustCompile(`(?:src|href|action|data)\s*=\s*["']?https?:`).FindAllString(low, -1) {
		t.Errorf("page references a URL as a resource: %s", m)
	}
}

// checkWellFormed parses the page as XML (it is written to be well-formed
// XHTML-compatible apart from the doctype) so unbalanced tags show up.
func checkWellFormed(t *testing.T, page []byte) {
	t.Helper()
	body := bytes.TrimPrefix(page, []byte("<!DOCTYPE html>\n"))
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = true
	dec.Entity = xml.HTMLEntity
	for {
		_, err := dec.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Errorf("page is not well-formed: %v", err)
			return
		}
	}
}

func TestHTMLEscaping(t *testing.T) {
	out := string(render(t, HTMLWriter{}, hostileResult()))
	for _, raw := range []string{"<script>alert", "<img src", "<b>\"sim\"", `onerror=alert(1)>`} {
		if strings.Contains(out, raw) {
			t.Errorf("page contains unescaped %q", raw)
		}
	}
	for _, esc := range []string{"&lt;script&gt;alert(&#39;r&#39;)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;",
		"x&lt;script&gt;alert(&#34;n&#34;)&lt;/script&gt;", "a&amp;b/&lt;c&gt;.yaml", "&lt;hello&gt; &amp; &#34;bye&#34;"} {
		if !strings.Contains(out, esc) {
			t.Errorf("page lacks the escaped %q", esc)
		}
	}
}

func TestHTMLContent(t *testing.T) {
	out := string(render(t, HTMLWriter{}, gatedResult()))
	for _, want := range []string{
		`<div class="status fail"><span class="word">FAILED</span> — 3 of 4 scenarios failed; 2 of 3 thresholds breached`,
		`<td class="fail">✗</td><td><code>p95&lt;2s</code></td><td>run</td><td class="num">2.50s</td>`,
		`<td class="fail"><a href="#c3-pricing">✗ 3/5 · 60.0%</a>`, // the matrix links to the first failure
		`<section class="conv" id="c5-pricing">`,
		`<li class="bad first">✗ <code>icontains &#34;growth&#34;</code>`,
		`<li class="bad">✗ <code>max_latency 200ms</code> <span class="reason">— took 260ms</span>`,
		`<li class="ok">✓ <code>not_icontains &#34;error&#34;</code>`,
		`sim · all turns · 13 calls`, `turn 1 · 8 calls`, `turn 2 · 5 calls`,
		`>0%</text>`, `>90%</text>`, `>99%</text>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Count(out, `<section class="conv"`) != 4 {
		t.Errorf("%d failure transcripts, want 4 (2 failed, 1 error, 1 throttled)", strings.Count(out, `<section class="conv"`))
	}
	if n := strings.Count(out, "<polyline"); n != 3 {
		t.Errorf("%d plot lines, want 3 (all turns, turn 1, turn 2)", n)
	}
}

func TestHTMLFirstFailureNotKept(t *testing.T) {
	a := NewAggregator(Meta{Transcripts: Transcripts{Policy: TranscriptsNone}})
	feedBulk(a, 12)
	out := string(render(t, HTMLWriter{}, a.Result(Finish{})))
	if !strings.Contains(out, `alpha[2]: turn 1: contains &#34;x&#34;: reply does not contain &#34;x&#34; — reply: &#34;reply 2&#34;`) {
		t.Error("page lacks the first failure of a scenario whose transcripts were not kept")
	}
	if !strings.Contains(out, "Transcripts kept: 0 of 24 conversations (policy none)") {
		t.Error("page lacks the note on transcripts not kept")
	}
}

func TestNinesAxis(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want string
	}{{0, "0%"}, {1, "90%"}, {2, "99%"}, {3, "99.9%"}, {5, "99.999%"}} {
		if got := ninesLabel(tt.n); got != tt.want {
			t.Errorf("ninesLabel(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	for _, tt := range []struct{ p, want float64 }{{0, 0}, {90, 1}, {99, 2}, {99.9, 3}, {100, 4}, {99.999, 4}} {
		if got := nines(tt.p, 4); got < tt.want-1e-9 || got > tt.want+1e-9 {
			t.Errorf("nines(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	for _, tt := range []struct{ v, step, top float64 }{{0, 1000, 5000}, {2500000, 500000, 2500000}, {280063, 100000, 300000}, {7, 2, 8}} {
		if s, top := niceScale(tt.v, 5); s != tt.step || top != tt.top {
			t.Errorf("niceScale(%v) = %v, %v; want %v, %v", tt.v, s, top, tt.step, tt.top)
		}
	}
}

// TestHTMLPlotLegendAndUnit: the legend of the default target name (the
// simulated agent's, "sim:Brightdesk Support") is not cut and fits inside
// the drawing, and the latency axis says its unit.
func TestHTMLPlotLegendAndUnit(t *testing.T) {
	r := gatedResult()
	r.Target.Name = "sim:Brightdesk Support"
	out := string(render(t, HTMLWriter{}, r))
	want := "sim:Brightdesk Support · all turns · 13 calls"
	m := regexp.MustCompile(`<text x="([0-9.]+)" y="[0-9.]+" dy="4">` + regexp.QuoteMeta(want) + `</text>`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("legend entry %q missing or cut:\n%s", want, out)
	}
	vb := regexp.MustCompile(`viewBox="0 0 ([0-9.]+) ([0-9.]+)"`).FindStringSubmatch(out)
	x, _ := strconv.ParseFloat(m[1], 64)
	w, _ := strconv.ParseFloat(vb[1], 64)
	// 12px text: no glyph is wider than 0.7em in system sans-serif fonts.
	if end := x + 0.7*12*float64(utf8.RuneCountInString(want)); end > w {
		t.Errorf("legend text from x=%v may reach %v, past the drawing's width %v", x, end, w)
	}
	for _, want := range []string{`>latency (ms)</text>`, `text-anchor="end">3000</text>`} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, tt := range []struct {
		top  float64
		unit string
	}{{500, "µs"}, {999, "µs"}, {1000, "ms"}, {2_500_000, "ms"}, {10_000_000, "s"}} {
		if u, _ := plotUnit(tt.top); u != tt.unit {
			t.Errorf("plotUnit(%v) = %s, want %s", tt.top, u, tt.unit)
		}
	}
}

// TestHTMLSideBySideReplies: in a run of several targets, each scenario's
// turns show the user's message and every target's reply in one row.
func TestHTMLSideBySideReplies(t *testing.T) {
	run := twoTargets("")
	var page bytes.Buffer
	if err := (HTMLWriter{}).WriteRun(&page, run); err != nil {
		t.Fatal(err)
	}
	out := page.String()
	checkWellFormed(t, page.Bytes())
	if !strings.Contains(out, "<h2>Replies side by side</h2>") {
		t.Fatalf("no side-by-side section:\n%s", out)
	}
	base, cand := run.Targets[0].Scenario("pricing"), run.Targets[1].Scenario("pricing")
	bt, ct := base.Conversations[0].Turns[0], cand.Conversations[0].Turns[0]
	row := regexp.MustCompile(`(?s)<tr><td class="num">1</td><td><div class="msg user">(.*?)</div></td><td class="(pass|fail)"><div class="msg agent">(.*?)</div>.*?<td class="(pass|fail)"><div class="msg agent">(.*?)</div>`)
	m := row.FindStringSubmatch(out[strings.Index(out, "Replies side by side"):])
	if m == nil {
		t.Fatalf("no turn row with both targets' replies:\n%s", out)
	}
	if m[1] != html.EscapeString(bt.Sent) || m[3] != html.EscapeString(bt.Reply) || m[5] != html.EscapeString(ct.Reply) {
		t.Errorf("row %q / %q / %q, want %q / %q / %q", m[1], m[3], m[5], bt.Sent, bt.Reply, ct.Reply)
	}
	if strings.Count(out, `<table class="side">`) != 2 {
		t.Errorf("%d side-by-side tables, want one per scenario (2)", strings.Count(out, `<table class="side">`))
	}
	// A single target has nothing to compare.
	if single := string(render(t, HTMLWriter{}, gatedResult())); strings.Contains(single, "Replies side by side") {
		t.Error("a single-target page has a side-by-side section")
	}
}
