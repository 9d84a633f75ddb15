package scenarios

import (
	"context"
	"fmt"
	"regexp"
)

// Capture saves the first group of Pattern's first match in the reply text
// as Name, for the templates of later turns ({{ Name }}). Load guarantees
// the pattern has at least one group.
type Capture struct {
	Name    string
	Pattern *regexp.Regexp
	Pos     Pos
}

// Apply matches the capture against the reply text. On a match whose first
// group took part it stores the group in captures (when captures is not
// nil) and returns a passed Verdict `capture NAME`; otherwise the Verdict
// fails with a reason such as `pattern '\$(\d+)' did not match "…"`.
func (c *Capture) Apply(text string, captures map[string]string) Verdict {
	v := Verdict{Expectation: "capture " + c.Name}
	if c.Pattern == nil {
		v.Reason = "capture was not loaded by Load or Parse"
		return v
	}
	m := c.Pattern.FindStringSubmatchIndex(text)
	switch {
	case m == nil:
		v.Reason = fmt.Sprintf("pattern '%s' did not match %s", patternText(c.Pattern), replyExcerpt(text))
	case len(m) < 4 || m[2] < 0:
		v.Reason = fmt.Sprintf("pattern '%s' matched %s but its first group took no part", patternText(c.Pattern), excerptAround(text, m[0], m[1], 80))
	default:
		v.Passed = true
		if captures != nil {
			captures[c.Name] = text[m[2]:m[3]]
		}
	}
	return v
}

// Evaluate checks every expectation of the turn against obs, then applies
// the turn's captures to the reply text, storing captured values in
// captures. It returns one Verdict per expectation, in order, followed by
// one per capture (`capture NAME`): the turn passed when all of them passed.
// Judged expectations fail (no judge is configured); use EvaluateContext
// to grade them.
func (t *Turn) Evaluate(obs *Observation, captures map[string]string) []Verdict {
	return t.EvaluateContext(context.Background(), obs, captures, nil)
}

// EvaluateContext is Evaluate with a context and a judge for the judged
// expectations (`judge`, also nested in any/all/not). The context bounds
// the judge's calls; with a nil judge, judged expectations fail with a
// reason saying that no judge is configured.
func (t *Turn) EvaluateContext(ctx context.Context, obs *Observation, captures map[string]string, judge Judge) []Verdict {
	if obs == nil {
		obs = &Observation{}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ec := &evalCtx{ctx: ctx, judge: judge}
	out := make([]Verdict, 0, len(t.Expect)+len(t.Captures))
	for _, e := range t.Expect {
		out = append(out, e.evaluate(ec, obs))
	}
	for i := range t.Captures {
		out = append(out, t.Captures[i].Apply(obs.Text, captures))
	}
	return out
}

// Passed reports whether every verdict passed.
func Passed(verdicts []Verdict) bool {
	for _, v := range verdicts {
		if !v.Passed {
			return false
		}
	}
	return true
}
