package report

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/evalrun/evalrun/runner"
)

// This file holds what the file writers (JUnit, Markdown, HTML) share:
// how a conversation is named, what of it failed, and its transcript as
// text. Turns and iterations are counted from 1 here, as in the console
// summary and the scenario files.

// caseName names one conversation of a scenario: "pricing[2]" for its
// second iteration.
func caseName(s *ScenarioResult, c *ConversationResult) string {
	return s.Name + "[" + strconv.Itoa(c.Iteration+1) + "]"
}

// problem is one thing that went wrong in a conversation: a failing
// expectation of a turn, a turn's error, or the conversation's own reason
// when no turn shows it.
type problem struct {
	Turn        int // 0-based; -1 for the conversation as a whole; WholeConversation for its expect_conversation
	Expectation string
	Reason      string
	Reply       string // excerpt of the turn's reply
}

// where says where a problem happened, for people: "turn 2" or "before the
// first turn".
func (p problem) where() string {
	if p.Turn == WholeConversation {
		return "conversation"
	}
	if p.Turn < 0 {
		return "before the first turn"
	}
	return "turn " + strconv.Itoa(p.Turn+1)
}

// summary is the problem on one line: `turn 2: contains "yearly": reply
// does not contain "yearly"`.
func (p problem) summary() string {
	s := p.where() + ": "
	if p.Expectation != "" {
		s += p.Expectation + ": "
	}
	return s + p.Reason
}

// problems lists everything that went wrong in c, in turn order; empty
// for a passed or not-run conversation.
func problems(c *ConversationResult) []problem {
	if c.Outcome == runner.Passed || c.Outcome == runner.NotRun {
		return nil
	}
	var out []problem
	for i := range c.Turns {
		t := &c.Turns[i]
		reply := excerpt(t.Reply, excerptLen)
		for _, v := range t.Verdicts {
			if !v.Passed {
				out = append(out, problem{Turn: t.Index, Expectation: verdictLabel(v.Name, v.Expectation), Reason: v.Reason, Reply: reply})
			}
		}
		if t.Error != "" {
			out = append(out, problem{Turn: t.Index, Reason: t.Error, Reply: reply})
		}
	}
	for _, v := range c.Verdicts {
		if !v.Passed {
			out = append(out, problem{Turn: WholeConversation, Expectation: verdictLabel(v.Name, v.Expectation), Reason: v.Reason})
		}
	}
	if len(out) == 0 {
		out = append(out, problem{Turn: -1, Reason: cmpOr(c.Reason, string(c.Outcome))})
	}
	return out
}

func verdictLabel(name, expect string) string {
	if name != "" {
		return name + ": " + expect
	}
	return expect
}

func cmpOr(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// outcomeWord is how a conversation outcome reads in reports.
func outcomeWord(o runner.Outcome) string {
	if o == runner.NotRun {
		return "not run"
	}
	return string(o)
}

// transcriptText writes c as plain text: each turn with its latency and
// outcome, what was sent (">"), the reply ("<"), tools, and each verdict
// (✓ or ✗ with the reason).
func transcriptText(b *strings.Builder, c *ConversationResult) {
	fmt.Fprintf(b, "conversation %d, iteration %d: %s", c.ID, c.Iteration+1, outcomeWord(c.Outcome))
	if c.Reason != "" && c.Outcome != runner.Passed {
		b.WriteString(" (" + c.Reason + ")")
	}
	b.WriteString("\n")
	if c.ChatID != "" {
		b.WriteString("chat " + c.ChatID + "\n")
	}
	for i := range c.Turns {
		t := &c.Turns[i]
		fmt.Fprintf(b, "turn %d · %s · %s", t.Index+1, fmtMillis(t.LatencyMS), outcomeWord(cmpOutcome(t.Outcome)))
		if t.Attempts > 1 {
			fmt.Fprintf(b, " · %d attempts", t.Attempts)
		}
		b.WriteString("\n")
		if t.By != "" {
			indented(b, "  "+byLabel(t.By)+" > ", t.Sent)
		} else {
			indented(b, "  > ", t.Sent)
		}
		if t.Reply != "" {
			indented(b, "  < ", t.Reply)
		}
		for _, tool := range t.Tools {
			b.WriteString("  tool " + tool.Tool)
			if tool.Status != "" {
				b.WriteString(" (" + tool.Status + ")")
			}
			b.WriteString("\n")
		}
		if t.Handoff {
			b.WriteString("  handoff to a human\n")
		}
		if t.Error != "" {
			b.WriteString("  error: " + t.Error + "\n")
		}
		for _, v := range t.Verdicts {
			if v.Passed {
				b.WriteString("  ✓ " + verdictLabel(v.Name, v.Expectation) + "\n")
			} else {
				b.WriteString("  ✗ " + verdictLabel(v.Name, v.Expectation) + ": " + v.Reason + "\n")
			}
		}
	}
	if s := c.Simulation; s != nil {
		b.WriteString("simulated user: " + endedText(s) + "\n")
	}
	if len(c.Verdicts) > 0 {
		b.WriteString("conversation\n")
		for _, v := range c.Verdicts {
			if v.Passed {
				b.WriteString("  ✓ " + verdictLabel(v.Name, v.Expectation) + "\n")
			} else {
				b.WriteString("  ✗ " + verdictLabel(v.Name, v.Expectation) + ": " + v.Reason + "\n")
			}
		}
	}
}

// cmpOutcome is a turn's outcome, "passed" when a turn has none recorded.
func cmpOutcome(o runner.Outcome) runner.Outcome {
	if o == "" {
		return runner.Passed
	}
	return o
}

// indented writes text after lead, its further lines indented as deep.
func indented(b *strings.Builder, lead, text string) {
	pad := strings.Repeat(" ", len([]rune(lead)))
	for i, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if i == 0 {
			b.WriteString(lead)
		} else {
			b.WriteString(pad)
		}
		b.WriteString(strings.TrimRight(line, " \r\t") + "\n")
	}
}

// fmtMillis formats a latency in milliseconds as fmtMicros does.
func fmtMillis(ms float64) string {
	return fmtMicros(int64(ms*1000 + 0.5))
}

// statusText is the one-word verdict on a run: PASSED, FAILED or
// INTERRUPTED, and why in a few words.
func statusText(r *Result) (word, why string) {
	failed := 0
	for i := range r.Scenarios {
		if r.Scenarios[i].Status != StatusPassed {
			failed++
		}
	}
	var reasons []string
	if failed > 0 {
		reasons = append(reasons, fmt.Sprintf("%d of %d scenarios failed", failed, len(r.Scenarios)))
	}
	th := 0
	for _, t := range r.Thresholds {
		if !t.Passed {
			th++
		}
	}
	if th > 0 {
		reasons = append(reasons, fmt.Sprintf("%d of %d thresholds breached", th, len(r.Thresholds)))
	}
	t := r.Totals
	if t.Conversations == 0 {
		reasons = append(reasons, "no conversations ran")
	}
	if s := incompleteParts(t.Errored, t.Throttled, t.NotRun); s != "" {
		reasons = append(reasons, s)
	}
	if j := r.Judge; j != nil && j.Failures > 0 {
		reasons = append(reasons, "the judge failed "+plural(j.Failures, "grading"))
	}
	if c := cutText(r); c != "" {
		defer func() { why += "; " + c }()
	}
	switch {
	case r.Interrupted:
		word = "INTERRUPTED"
		if r.StopReason != "" {
			reasons = append([]string{r.StopReason}, reasons...)
		}
	case r.Passed():
		word = "PASSED"
		reasons = []string{fmt.Sprintf("%d of %d scenarios", len(r.Scenarios), len(r.Scenarios))}
	default:
		word = "FAILED"
	}
	return word, strings.Join(reasons, "; ")
}

// plannedText says how many of a scenario's planned runs a cut run made:
// "1/10 planned"; empty when it made them all (or the run was not cut).
func plannedText(s *ScenarioResult) string {
	if s.Planned <= s.Runs {
		return ""
	}
	return fmt.Sprintf("%s/%s planned", fmtInt(int64(s.Runs)), fmtInt(int64(s.Planned)))
}

// incompleteText is incompleteParts of s, then plannedText.
func incompleteText(s *ScenarioResult) string {
	parts := []string{incompleteParts(s.Errored, s.Throttled, s.NotRun), plannedText(s)}
	if parts[0] == "" {
		return parts[1]
	}
	if parts[1] == "" {
		return parts[0]
	}
	return parts[0] + ", " + parts[1]
}

// cutText says what cut the run short of its plan: "cut by the quota
// (--partial): 6 of 15 planned conversations ran"; empty when nothing did.
func cutText(r *Result) string {
	c := r.Cut
	if c == nil {
		return ""
	}
	return fmt.Sprintf("cut by %s: %s of %s planned conversations ran", c.By, fmtInt(int64(c.Ran)), fmtInt(int64(c.Planned)))
}

// judgeText describes the judge's work on one line: "judge grader: 12
// gradings, 4 calls, 8 cache hits, 0 failures (limit 2/s)"; empty when
// the run had no judge.
func judgeText(r *Result) string {
	j := r.Judge
	if j == nil {
		return ""
	}
	s := "judge"
	if j.Model != "" {
		s += " " + j.Model
	}
	s += fmt.Sprintf(": %s, %s, %s, %s", plural(j.Grades, "grading"), plural(j.Calls, "call"),
		plural(j.CacheHits, "cache hit"), plural(j.Failures, "failure"))
	if j.Limit != "" {
		s += " (limit " + j.Limit + ")"
	}
	return s
}

// targetName is the name reports use for the run's target.
func targetName(r *Result) string {
	return cmpOr(strings.TrimSpace(r.Target.Name), strings.TrimSpace(r.Target.Kind), "target")
}

// notKept counts, per outcome, a scenario's runs whose transcript the
// result does not hold.
func notKept(s *ScenarioResult) Counts {
	o := s.Counts
	for i := range s.Conversations {
		o.Remove(s.Conversations[i].Outcome)
	}
	return o
}

// plural formats a count with its noun: "1 call", "1,024 calls".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmtInt(n) + " " + noun + "s"
}

// byLabel names who wrote a turn's message in a simulated conversation.
func byLabel(by string) string {
	switch by {
	case runner.BySimulatedUser:
		return "simulated user"
	case runner.ByScript:
		return "script"
	}
	return by
}

// endedText says how a simulated conversation ended, e.g. `goal met (the
// agent covered "Enterprise")` or `gave up after max_turns: …`.
func endedText(s *runner.Simulation) string {
	var w string
	switch s.Ended {
	case runner.EndGoalMet:
		w = "goal met"
	case runner.EndGaveUp:
		w = "gave up, goal not met"
	case runner.EndMaxTurns:
		w = "max_turns reached, goal not met"
	default:
		w = "stopped before judging its goal"
	}
	if s.Reason != "" {
		w += " (" + s.Reason + ")"
	}
	return w
}
