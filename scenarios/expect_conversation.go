package scenarios

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Expectations over the whole conversation: a scenario's
// `expect_conversation:` list is checked once, after its last turn, against
// every reply of the conversation. Each item is one of
//
//	- tool: lead_capture        # any per-turn kind, with at: any:
//	  at: any                   # some reply passes it
//	- never: {icontains: sorry} # no reply passes it (a mapping or a list)
//	- every_turn:               # every reply passes each of these
//	    - max_latency: 5s
//	- turns: {min: 2, max: 6}   # how many turns were sent (or turns: N)
//	- goal_met: true            # the simulated user met its goal (simulate:)
//	- goal_met: {judge: RUBRIC, min_score: 0.7} # the judge grades the whole
//	                            # transcript against the rubric
//
// with an optional `name:`. Each yields one verdict per check (every_turn
// and never one per expectation they list), recorded as the
// conversation's verdicts.

// convKeys are the keys of an expect_conversation item besides the
// expectation kinds (which an `at:` item takes).
var convKeys = []string{"name", "at", "never", "every_turn", "turns", "goal_met"}

func init() {
	keyDocs["expect_conversation"] = "checks on the whole conversation after its last turn: an expectation with at: any, never:, every_turn:, turns: {min, max} or goal_met: (true/false, or {judge: RUBRIC, min_score})"
}

// ConversationExpectation is one item of a scenario's
// `expect_conversation:`: a check on the whole conversation.
type ConversationExpectation struct {
	Name string // the user's name for the check, if any
	// Kind is "at_any", "never", "every_turn", "turns" or "goal_met".
	Kind string
	Pos  Pos // where the item is written

	subs     []*Expectation // at_any: one; never and every_turn: one or more
	min, max int            // turns; 0: no bound
	goal     bool           // goal_met: the verdict wanted
	// goal_met: {judge: rubric, min_score: minScore}: the judge decides on
	// the whole transcript instead of the simulated user.
	rubric   string
	minScore float64
}

// judged reports whether the item asks the judge (goal_met: {judge:}).
func (c *ConversationExpectation) judged() bool { return c.rubric != "" }

// String describes the item as written, e.g. `tool "lead_capture" at any
// turn` or `turns at most 6`; never and every_turn items describe their
// expectations joined by "; ".
func (c *ConversationExpectation) String() string {
	switch c.Kind {
	case "turns":
		return turnsDesc(c.min, c.max)
	case "goal_met":
		if c.rubric != "" {
			return "goal_met by judge " + excerpt(c.rubric, 60) + " min_score " + strconv.FormatFloat(c.minScore, 'f', -1, 64)
		}
		return fmt.Sprintf("goal_met %v", c.goal)
	case "at_any":
		return c.subs[0].String() + " at any turn"
	}
	parts := make([]string, len(c.subs))
	for i, e := range c.subs {
		parts[i] = convDesc(c.Kind, e)
	}
	return strings.Join(parts, "; ")
}

// convDesc describes one expectation of a never or every_turn item.
func convDesc(kind string, e *Expectation) string {
	if kind == "never" {
		return "never " + e.String()
	}
	return "every turn " + e.String()
}

func turnsDesc(min, max int) string {
	switch {
	case min > 0 && max > 0 && min == max:
		return "turns exactly " + strconv.Itoa(min)
	case min > 0 && max > 0:
		return fmt.Sprintf("turns %d to %d", min, max)
	case max > 0:
		return "turns at most " + strconv.Itoa(max)
	}
	return "turns at least " + strconv.Itoa(min)
}

// NeedsRaw reports whether a check of the items reads the replies' JSON
// bodies (a `field:` expectation). The runner keeps every turn's body in
// its record (runner.TurnResult.Raw), so it no longer asks.
func NeedsRaw(items []*ConversationExpectation) bool {
	found := false
	for _, c := range items {
		for _, e := range c.subs {
			e.walk(func(x *Expectation) {
				if _, ok := x.check.(*fieldCheck); ok {
					found = true
				}
			})
		}
	}
	return found
}

// EvaluateConversation checks a scenario's conversation expectations
// against the replies of one conversation, oldest first (obs[i] is turn
// i's), and returns their verdicts in the order written. goal is the
// simulated user's verdict (nil when there is none) that goal_met reads;
// goal_met: {judge:} asks judge instead, once, with the whole transcript
// (GradeRequest.Transcript). Judged expectations ask judge under ctx; with
// a nil judge they are undecided.
func EvaluateConversation(ctx context.Context, items []*ConversationExpectation, obs []*Observation, goal *GoalVerdict, judge Judge) []Verdict {
	if ctx == nil {
		ctx = context.Background()
	}
	ec := &evalCtx{ctx: ctx, judge: judge}
	var out []Verdict
	for _, c := range items {
		switch c.Kind {
		case "turns":
			v := Verdict{Expectation: c.String(), Name: c.Name, Passed: true}
			n := len(obs)
			if (c.min > 0 && n < c.min) || (c.max > 0 && n > c.max) {
				v.Passed = false
				v.Reason = fmt.Sprintf("the conversation had %d turns", n)
			}
			out = append(out, v)
		case "goal_met":
			v := Verdict{Expectation: c.String(), Name: c.Name}
			if c.rubric != "" {
				v.Passed, v.Undecided, v.Reason = c.judgeGoal(ec, obs)
			} else {
				v.Passed, v.Reason = goalVerdict(c.goal, goal)
			}
			out = append(out, v)
		case "at_any":
			out = append(out, c.atAny(ec, obs))
		default:
			for _, e := range c.subs {
				out = append(out, c.each(ec, e, obs))
			}
		}
	}
	return out
}

// judgeGoal asks the judge to grade the whole conversation against the
// rubric of goal_met: {judge:}. A judge that fails (or none) leaves the
// verdict undecided.
func (c *ConversationExpectation) judgeGoal(ec *evalCtx, obs []*Observation) (passed, undecided bool, reason string) {
	if ec.judge == nil {
		return false, true, "no judge is configured to grade the conversation; add judge: {url, model, api_key_env} to evalrun.yaml"
	}
	q := GradeRequest{Rubric: c.rubric, Transcript: make([]SimTurn, len(obs))}
	for i, o := range obs {
		q.Transcript[i] = SimTurn{User: o.User, Agent: o.Text, Tools: o.Tools, Handoff: o.Handoff}
	}
	g, err := ec.judge.Grade(ec.ctx, q)
	if err != nil {
		return false, true, "judge failed: " + oneLine(err.Error())
	}
	if g.Score >= c.minScore {
		return true, false, ""
	}
	why := ""
	if r := strings.TrimSpace(g.Reason); r != "" {
		why = ": " + oneLine(r)
	}
	return false, false, fmt.Sprintf("judge scored the conversation %.2f, below %s%s", g.Score, strconv.FormatFloat(c.minScore, 'f', -1, 64), why)
}

// atAny passes when some reply passes the expectation. When none passed
// and some could not be decided, the verdict is undecided.
func (c *ConversationExpectation) atAny(ec *evalCtx, obs []*Observation) Verdict {
	e := c.subs[0]
	v := Verdict{Expectation: c.String(), Name: c.Name}
	undecided, last := "", ""
	for i, o := range obs {
		r := e.evaluate(ec, o)
		if r.Passed {
			v.Passed = true
			return v
		}
		last = r.Reason
		if r.Undecided && undecided == "" {
			undecided = fmt.Sprintf("turn %d: %s", i+1, r.Reason)
		}
	}
	switch {
	case undecided != "":
		v.Undecided = true
		v.Reason = "undecided: no turn passed and " + undecided
	case len(obs) == 0:
		v.Reason = "the conversation had no replies"
	default:
		v.Reason = fmt.Sprintf("none of the %d replies passed; the last: %s", len(obs), last)
	}
	return v
}

// each checks one expectation of a never or every_turn item against every
// reply: never passes when no reply passes it, every_turn when each does.
// The reason names the first turn that broke the rule.
func (c *ConversationExpectation) each(ec *evalCtx, e *Expectation, obs []*Observation) Verdict {
	v := Verdict{Expectation: convDesc(c.Kind, e), Name: cmpOrStr(e.Name, c.Name), Passed: true}
	undecided := ""
	for i, o := range obs {
		r := e.evaluate(ec, o)
		if r.Undecided {
			if undecided == "" {
				undecided = fmt.Sprintf("turn %d: %s", i+1, r.Reason)
			}
			continue
		}
		if c.Kind == "never" && r.Passed {
			v.Passed = false
			v.Reason = fmt.Sprintf("turn %d: it passed on reply %s", i+1, replyExcerpt(o.Text))
			if ex, ok := e.check.(explainer); ok {
				v.Reason = fmt.Sprintf("turn %d: %s", i+1, ex.explain(o))
			}
			return v
		}
		if c.Kind == "every_turn" && !r.Passed {
			v.Passed = false
			v.Reason = fmt.Sprintf("turn %d: %s", i+1, r.Reason)
			return v
		}
	}
	if undecided != "" {
		v.Passed, v.Undecided = false, true
		v.Reason = "undecided: " + undecided
	}
	return v
}

func cmpOrStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// conversationExpectations decodes a scenario's `expect_conversation:`.
func (d *decoder) conversationExpectations(n *yaml.Node) []*ConversationExpectation {
	items, ok := d.list(n, "expect_conversation")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.errorf(n, "expect_conversation: list must not be empty; remove the key or add a check such as `- turns: {max: 6}`")
		return nil
	}
	var out []*ConversationExpectation
	for _, it := range items {
		if c := d.conversationExpectation(it); c != nil {
			out = append(out, c)
		}
	}
	return out
}

// conversationItemHint lists what an expect_conversation item may be.
const conversationItemHint = "an expectation kind with `at: any`, `never:`, `every_turn:`, `turns:` or `goal_met:`"

// conversationExpectation decodes one item of `expect_conversation:`.
func (d *decoder) conversationExpectation(n *yaml.Node) *ConversationExpectation {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "expect_conversation item: expected a mapping such as `{tool: lead_capture, at: any}` or `{turns: {max: 6}}`, got %s", describe(n))
		return nil
	}
	before := len(d.errs)
	c := &ConversationExpectation{Pos: d.pos(n)}
	// The item is split into its own keys and the expectation (every other
	// key), which expectation() decodes with its own checks.
	exp := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	var atNode, atKey, formKey *yaml.Node
	var nameNode *yaml.Node
	form := ""
	seen := map[string]bool{}
	for k, v := range d.pairs(n) {
		name := k.Value
		if seen[name] {
			d.errorf(k, "duplicate key %q in expect_conversation item", name)
			continue
		}
		seen[name] = true
		switch name {
		case "name":
			nameNode = v
		case "at":
			atKey, atNode = k, v
		case "never", "every_turn", "turns", "goal_met":
			if formKey != nil {
				d.errorf(k, "expect_conversation item has both %s and %s: give each check its own list item", form, name)
				continue
			}
			form, formKey = name, k
			c.Kind, c.Pos = name, d.pos(k)
			c.decodeForm(d, name, v)
		default:
			if kinds[name].parse == nil {
				valid := append(append([]string{}, convKeys...), Kinds()...)
				d.errorf(k, "unknown key %q in expect_conversation item%s; it takes %s (valid keys: %s)", name, didYouMean(name, valid), conversationItemHint, strings.Join(convKeys, ", "))
				continue
			}
			exp.Content = append(exp.Content, k, v)
		}
	}
	if nameNode != nil {
		if s, ok := d.nonEmpty(nameNode, "name"); ok {
			c.Name = s
		}
	}
	hasKind := len(exp.Content) > 0
	switch {
	case formKey != nil && hasKind && (form == "turns" || form == "goal_met"):
		d.errorf(exp.Content[0], "expect_conversation item has both %s and %s: give each check its own list item", form, exp.Content[0].Value)
	case formKey != nil && hasKind:
		d.errorf(exp.Content[0], "expect_conversation item: %s cannot be combined with the expectation %s; put the expectation inside %s, e.g. %s: {%s: ...}", form, exp.Content[0].Value, form, form, exp.Content[0].Value)
	case formKey != nil && atKey != nil:
		d.errorf(atKey, "expect_conversation item: at: goes with an expectation kind such as `tool: lead_capture`, not with %s", form)
	case formKey != nil:
	case hasKind && atKey == nil:
		d.errorf(exp.Content[0], "expect_conversation item %s: add `at: any` (some reply passes it), or put it under `every_turn:` (every reply) or `never:` (no reply)", exp.Content[0].Value)
	case hasKind:
		if s, ok := d.text(atNode, "at"); ok && s != "any" {
			d.errorf(atNode, "at: expected any (some reply passes the expectation), got %s; for every reply use every_turn:, for none never:", excerpt(s, 40))
		}
		if e := d.conversationSub(exp, "expectation"); e != nil {
			c.Kind, c.Pos = "at_any", e.Pos
			c.subs = []*Expectation{e}
		}
	case atKey != nil:
		d.errorf(n, "expect_conversation item has at: but no expectation kind; e.g. `{tool: lead_capture, at: any}`")
	default:
		if len(d.errs) == before {
			d.errorf(n, "expect_conversation item has no check; it takes %s", conversationItemHint)
		}
	}
	if len(d.errs) > before || c.Kind == "" {
		return nil
	}
	return c
}

// decodeForm decodes the value of a never, every_turn or turns key.
func (c *ConversationExpectation) decodeForm(d *decoder, form string, v *yaml.Node) {
	switch form {
	case "turns":
		c.min, c.max = d.turnBounds(v)
	case "goal_met":
		switch {
		case v.Kind == yaml.MappingNode:
			c.goalJudge(d, v)
		case v.Kind == yaml.ScalarNode && v.ShortTag() == "!!bool":
			c.goal, _ = d.bool(v, "goal_met")
		default:
			d.errorf(v, "goal_met: expected true, false (the simulated user's verdict) or {judge: RUBRIC, min_score: 0.7} (the judge grades the whole conversation), got %s", describe(v))
		}
	case "never", "every_turn":
		var items []*yaml.Node
		switch v.Kind {
		case yaml.MappingNode:
			items = []*yaml.Node{v}
		case yaml.SequenceNode:
			items, _ = d.list(v, form)
			if len(items) == 0 {
				d.errorf(v, "%s: list must not be empty", form)
			}
		default:
			d.errorf(v, "%s: expected an expectation such as {icontains: sorry} or a list of them, got %s", form, describe(v))
		}
		for _, it := range items {
			if e := d.conversationSub(it, form); e != nil {
				c.subs = append(c.subs, e)
			}
		}
	}
}

// goalJudge decodes `goal_met: {judge: RUBRIC, min_score: 0.7}`.
func (c *ConversationExpectation) goalJudge(d *decoder, v *yaml.Node) {
	before := len(d.errs)
	fs, _ := d.fields(v, "goal_met", []string{"judge", "min_score"})
	c.goal, c.minScore = true, DefaultMinScore
	for _, f := range fs {
		switch f.name {
		case "judge":
			if f.val.Kind == yaml.MappingNode {
				d.errorf(f.val, "goal_met.judge: expected the rubric as text, e.g. goal_met: {judge: 'The visitor booked a \"demo\" and gave an \"email\"', min_score: 0.8}, got a mapping")
				continue
			}
			if s, ok := d.nonEmpty(f.val, "goal_met.judge"); ok && literal(d, f.val, "goal_met.judge", s) {
				c.rubric = s
			}
		case "min_score":
			if m, ok := d.fraction(f.val, "goal_met.min_score"); ok {
				c.minScore = m
			}
		}
	}
	if len(d.errs) > before {
		return
	}
	if c.rubric == "" {
		d.errorf(v, "goal_met: missing judge: the rubric the judge grades the whole conversation against, e.g. {judge: 'The visitor booked a \"demo\"'}")
		return
	}
	if d.opts != nil && !d.opts.JudgeConfigured {
		d.errorf(v, "goal_met: {judge: ...} needs a judge; add judge: {url, model, api_key_env} to evalrun.yaml, or use goal_met: true with simulate:")
	}
}

// conversationSub decodes an expectation inside an expect_conversation
// item. `history` is refused: the server's history is read after one turn,
// not kept for the whole conversation.
func (d *decoder) conversationSub(n *yaml.Node, where string) *Expectation {
	e := d.expectation(n)
	if e == nil {
		return nil
	}
	if needsHistory(e.check) {
		d.errorf(n, "%s: history cannot be checked over the whole conversation; put it in the expect: of the turn after which to read the history", where)
		return nil
	}
	return e
}

// turnBounds decodes `turns: N` (exactly N) or `turns: {min: N, max: M}`.
func (d *decoder) turnBounds(v *yaml.Node) (min, max int) {
	if v.Kind == yaml.ScalarNode {
		n, ok := d.int(v, "turns")
		if !ok {
			return 0, 0
		}
		if n < 1 {
			d.errorf(v, "turns: must be at least 1, got %d", n)
			return 0, 0
		}
		return n, n
	}
	fs, ok := d.fields(v, "turns", []string{"min", "max"})
	if !ok {
		return 0, 0
	}
	for _, f := range fs {
		n, ok := d.int(f.val, "turns."+f.name)
		if !ok {
			continue
		}
		if n < 1 {
			d.errorf(f.val, "turns.%s: must be at least 1, got %d", f.name, n)
			continue
		}
		if f.name == "min" {
			min = n
		} else {
			max = n
		}
	}
	switch {
	case len(fs) == 0 && len(v.Content) == 0:
		d.errorf(v, "turns: give min, max or both, e.g. {max: 6}")
	case min > 0 && max > 0 && min > max:
		d.errorf(v, "turns: min %d is more than max %d", min, max)
	}
	return min, max
}

// conversationSchema is the JSON Schema of an expect_conversation item:
// the expectation kinds (expProps, with name) beside at, never,
// every_turn and turns. The loader is stricter: it wants exactly one of
// them (a kind only with at: any).
func conversationSchema(expProps map[string]any) map[string]any {
	props := maps.Clone(expProps)
	oneOrMore := map[string]any{"anyOf": []any{ref("expectation"), map[string]any{"type": "array", "minItems": 1, "items": ref("expectation")}}}
	props["at"] = map[string]any{"enum": []any{"any"}, "description": "with an expectation kind: some reply of the conversation passes it"}
	never := maps.Clone(oneOrMore)
	never["description"] = "no reply of the conversation passes this expectation (or any of this list)"
	props["never"] = never
	every := maps.Clone(oneOrMore)
	every["description"] = "every reply of the conversation passes each of these expectations"
	props["every_turn"] = every
	props["goal_met"] = map[string]any{
		"description": "true or false: the simulated user (simulate:) judged its goal met or not; {judge: RUBRIC, min_score}: the judge (judge: in evalrun.yaml) grades the whole transcript against the rubric, scripted scenarios too",
		"anyOf": []any{
			map[string]any{"type": "boolean"},
			map[string]any{"type": "object", "additionalProperties": false, "required": []any{"judge"}, "properties": map[string]any{
				"judge":     map[string]any{"type": "string", "minLength": 1, "description": "the rubric: what the whole conversation must achieve"},
				"min_score": map[string]any{"type": "number", "minimum": 0, "maximum": 1, "description": "the lowest passing score (default 0.7)"},
			}},
		},
	}
	props["turns"] = map[string]any{
		"description": "how many turns the conversation had: N exactly, or {min: N, max: M}",
		"anyOf": []any{
			map[string]any{"type": "integer", "minimum": 1},
			map[string]any{"type": "object", "additionalProperties": false, "minProperties": 1, "properties": map[string]any{
				"min": map[string]any{"type": "integer", "minimum": 1},
				"max": map[string]any{"type": "integer", "minimum": 1},
			}},
		},
	}
	return map[string]any{
		"type":                 "object",
		"description":          "one check on the whole conversation, made after its last turn",
		"properties":           props,
		"additionalProperties": false,
		"minProperties":        1,
	}
}

// conversationJudges counts the judge expectations of the items; each is
// asked at most once per turn.
func conversationJudges(items []*ConversationExpectation) int {
	n := 0
	for _, c := range items {
		n += judgeCount(c.subs)
	}
	return n
}

// conversationGoalJudges counts the items of goal_met: {judge:}; each is
// asked once per conversation.
func conversationGoalJudges(items []*ConversationExpectation) int {
	n := 0
	for _, c := range items {
		if c.rubric != "" {
			n++
		}
	}
	return n
}
