package scenarios

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Judge grades a reply against a rubric written in a scenario's `judge:`
// expectation, typically by asking a language model (see agent.Judge).
// Implementations are safe for concurrent use.
type Judge interface {
	// Grade scores q.Reply against q.Rubric, given the user's message
	// q.User it answers, from 0 (fails the rubric entirely) to 1 (meets it
	// fully) and says why in one line. An error means no grade was
	// obtained; the expectation is then undecided (Verdict.Undecided) with
	// the error as reason, and its turn ends in an error, not a failure.
	Grade(ctx context.Context, q GradeRequest) (Grade, error)
}

// GradeRequest is what a Judge grades: the rubric, the user's message and
// the agent's reply to it; or, when Transcript is not empty, the whole
// conversation.
type GradeRequest struct {
	Rubric string
	User   string
	Reply  string
	// Transcript, when not empty, asks for a grade of the whole
	// conversation (expect_conversation's goal_met: {judge: RUBRIC}): every
	// user message and agent reply, oldest first, with the tools the agent
	// ran and its handoffs. User and Reply are then empty.
	Transcript []SimTurn
}

// Grade is a judge's verdict on one reply.
type Grade struct {
	Score  float64 // 0 to 1
	Reason string  // one line
}

// DefaultMinScore is the threshold of `judge:` when `min_score:` is not
// given.
const DefaultMinScore = 0.7

func init() {
	kinds["judge"] = kindSpec{doc: "a language model grades the reply against a rubric: `judge: {rubric: TEXT, min_score: 0.7}` (needs `judge:` in evalrun.yaml)", parse: parseJudge}
}

func parseJudge(d *decoder, v *yaml.Node) checker {
	if v.Kind != yaml.MappingNode {
		d.errorf(v, "judge: expected a mapping {rubric: TEXT, min_score: 0.7}, got %s", describe(v))
		return nil
	}
	before := len(d.errs)
	fs, _ := d.fields(v, "judge", []string{"rubric", "min_score"})
	c := &judgeCheck{min: DefaultMinScore}
	for _, f := range fs {
		switch f.name {
		case "rubric":
			if s, ok := d.nonEmpty(f.val, "judge.rubric"); ok && literal(d, f.val, "judge.rubric", s) {
				c.rubric = s
			}
		case "min_score":
			if m, ok := d.fraction(f.val, "judge.min_score"); ok {
				c.min = m
			}
		}
	}
	if len(d.errs) > before {
		return nil
	}
	if c.rubric == "" {
		d.errorf(v, "judge: missing rubric: what a good reply does, e.g. \"mentions the Growth plan price\"")
		return nil
	}
	if d.opts != nil && !d.opts.JudgeConfigured {
		d.errorf(v, "judge: no judge is configured; add judge: {url, model, api_key_env} to evalrun.yaml, or remove this expectation")
		return nil
	}
	return c
}

// judgeCheck asks the evaluation's Judge for a grade.
type judgeCheck struct {
	rubric string
	min    float64
}

func (c *judgeCheck) String() string {
	return "judge " + excerpt(c.rubric, 60) + " min_score " + strconv.FormatFloat(c.min, 'f', -1, 64)
}

func (c *judgeCheck) check(obs *Observation) (bool, string) {
	return c.checkCtx(&evalCtx{}, obs)
}

func (c *judgeCheck) checkCtx(ec *evalCtx, obs *Observation) (bool, string) {
	if ec.judge == nil {
		ec.undecided = true
		return false, "no judge is configured to grade this reply; add judge: {url, model, api_key_env} to evalrun.yaml"
	}
	ctx := ec.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	g, err := ec.judge.Grade(ctx, GradeRequest{Rubric: c.rubric, User: obs.User, Reply: obs.Text})
	if err != nil {
		ec.undecided = true
		return false, "judge failed: " + oneLine(err.Error())
	}
	if g.Score >= c.min {
		return true, ""
	}
	why := ""
	if r := strings.TrimSpace(g.Reason); r != "" {
		why = ": " + oneLine(r)
	}
	return false, fmt.Sprintf("judge scored %.2f, below %s%s", g.Score, strconv.FormatFloat(c.min, 'f', -1, 64), why)
}

// oneLine collapses white space and cuts s to 200 runes.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:199]) + "…"
	}
	return s
}

// JudgeCalls returns how many judge calls one pass over the suite makes at
// most: every `judge` expectation (nested ones included) of every turn,
// simulated turns up to max_turns included, those of
// expect_conversation once per turn and its goal_met: {judge:} once per
// conversation, times its scenario's Repeat. Cached grades make real runs
// cheaper.
func (s *Suite) JudgeCalls() int {
	n := 0
	for _, sc := range s.Scenarios {
		for _, t := range sc.Turns {
			n += sc.Repeat * judgeCount(t.Expect)
		}
		n += sc.Repeat * sc.UserTurns() * conversationJudges(sc.ExpectConversation)
		n += sc.Repeat * conversationGoalJudges(sc.ExpectConversation)
		if s := sc.Simulate; s != nil {
			n += sc.Repeat * (s.MaxTurns - len(sc.Turns)) * judgeCount(s.Turn.Expect)
		}
	}
	return n
}

func judgeCount(es []*Expectation) int {
	n := 0
	for _, e := range es {
		e.walk(func(x *Expectation) {
			if _, ok := x.check.(*judgeCheck); ok {
				n++
			}
		})
	}
	return n
}
