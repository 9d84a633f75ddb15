package report

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/runner"
)

// simulatedRun is a run of two targets of one simulated scenario with
// conversation checks: base (simulatedResult: goal met 1 of 2, a failed
// check) and cand, whose simulated user gave up twice after 2 turns,
// wrote its own second message and whose judge left a check undecided.
func simulatedRun() *Run {
	base := simulatedResult()
	base.Target.Name = "base"
	cand := convVerdictResult()
	cand.Target.Name = "cand"
	s := &cand.Scenarios[0]
	s.Simulation = &SimulationStats{Conversations: 2, GoalMet: 0, Ended: map[string]int{runner.EndGaveUp: 2}, Turns: map[int]int{2: 2}}
	for j := range s.Conversations {
		c := &s.Conversations[j]
		c.Simulation = &runner.Simulation{Ended: runner.EndGaveUp, Reason: "no call back offered", UserCalls: 3}
		c.Turns[1].Sent = "can someone call me?"
		c.Verdicts[0].Passed, c.Verdicts[0].Undecided, c.Verdicts[0].Reason = false, true, "judge failed: HTTP 500"
	}
	return NewRun(base, cand)
}

// TestSideBySideConversations: the side-by-side part of a run of several
// targets shows, per target, the conversation checks (passed of checked)
// and the simulated users (goal met, turns used, how they ended), in the
// console, Markdown and HTML; JUnit keeps them in each target's suite.
func TestSideBySideConversations(t *testing.T) {
	run := simulatedRun()
	render := func(w RunWriter) string {
		var b bytes.Buffer
		if err := w.WriteRun(&b, run); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	con := render(ConsoleWriter{Width: 120})
	side := con[strings.Index(con, "side by side: base · cand"):]
	for _, want := range []string{
		"Conversation checks (passed of checked, in the conversations each result keeps)",
		"lead · lead saved: tool lead_capture at any turn  ✗ 1/2  ✗ 0/2 · 2 undecided",
		"lead · turns at most 4                            ✓ 2/2                ✓ 2/2",
		"Simulated users (goal met, turns used × conversations, how they ended)",
		"lead      base    1 of 2 (50.0%)  2×2         goal_met 1, max_turns 1",
		"lead      cand     0 of 2 (0.0%)  2×2         gave_up 2",
		"base: simulated user gpt-test: 6 answers, 7 calls, 0 failures (limit 2/s)",
	} {
		if !strings.Contains(side, want) {
			t.Errorf("console side by side lacks %q:\n%s", want, side)
		}
	}

	md := render(MarkdownWriter{})
	for _, want := range []string{
		"#### Conversation checks",
		"| scenario | check | base | cand |",
		"| lead | `lead saved: tool lead_capture at any turn` | ✗ 1/2 | ✗ 0/2 · 2 undecided |",
		"| lead | `turns at most 4` | ✓ 2/2 | ✓ 2/2 |",
		"#### Simulated users",
		"| lead | base | 1 of 2 \\(50.0%\\) | 2×2 | goal\\_met 1, max\\_turns 1 |",
		"| lead | cand | 0 of 2 \\(0.0%\\) | 2×2 | gave\\_up 2 |",
		"- base: simulated user gpt-test: 6 answers, 7 calls, 0 failures \\(limit 2/s\\)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Index(md, "#### Simulated users") > strings.Index(md, "### Target base") {
		t.Error("Markdown: the simulated users are not in the side-by-side part")
	}

	page := render(HTMLWriter{})
	checkSelfContained(t, []byte(page))
	checkWellFormed(t, []byte(page))
	for _, want := range []string{
		"<h2>Conversation checks</h2>",
		`<tr><td>lead</td><td><code>lead saved: tool lead_capture at any turn</code></td><td class="fail">✗ 1/2</td><td class="fail">✗ 0/2 · 2 undecided</td></tr>`,
		`<tr><td>lead</td><td><code>turns at most 4</code></td><td class="pass">✓ 2/2</td><td class="pass">✓ 2/2</td></tr>`,
		"<h2>Simulated users</h2>",
		`<tr><td>lead</td><td>cand</td><td class="num">0 of 2 (0.0%)</td><td>2×2</td><td>gave_up 2</td></tr>`,
		`<p class="notes">base: simulated user gpt-test: 6 answers, 7 calls, 0 failures (limit 2/s)</p>`,
		// The side-by-side replies: cand's own message, and how each
		// conversation ended with its checks.
		`<td class="pass"><div class="msg user">can someone call me?</div><div class="msg agent">Saved.</div>`,
		`<td class="pass"><span class="note">✓ simulated user: goal met (the agent covered &#34;Enterprise&#34;) · 2 turns · 2 of 2 conversation checks passed</span></td>`,
		`<td class="fail"><span class="note">✗ simulated user: gave up, goal not met (no call back offered) · 2 turns · 1 of 2 conversation checks passed</span><span class="note bad">✗ <code>lead saved: tool lead_capture at any turn</code> — judge failed: HTTP 500</span></td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}

	var suites struct {
		Suites []struct {
			Name  string `xml:"name,attr"`
			Props []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
		} `xml:"testsuite"`
	}
	ju := render(JUnitWriter{Hostname: "h"})
	if err := xml.Unmarshal([]byte(ju), &suites); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"base": "lead: goal met 1 of 2 (50.0%) · turns used 2×2 · ended goal_met 1, max_turns 1",
		"cand": "lead: goal met 0 of 2 (0.0%) · turns used 2×2 · ended gave_up 2"}
	for _, s := range suites.Suites {
		found := false
		for _, p := range s.Props {
			found = found || (p.Name == "evalrun.simulated.1" && p.Value == want[s.Name])
		}
		if !found {
			t.Errorf("JUnit suite %s lacks its simulated users %q: %+v", s.Name, want[s.Name], s.Props)
		}
	}
	xmllint(t, []byte(ju))

	// A run with neither conversation checks nor simulated users has no
	// such sections.
	plain := twoTargets("")
	for _, w := range []RunWriter{ConsoleWriter{}, MarkdownWriter{}, HTMLWriter{}} {
		var b bytes.Buffer
		if err := w.WriteRun(&b, plain); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(b.String(), "Conversation checks") || strings.Contains(b.String(), "Simulated users") || strings.Contains(b.String(), "the whole conversation") {
			t.Errorf("%T: sections of conversations in a run without them", w)
		}
	}
}
