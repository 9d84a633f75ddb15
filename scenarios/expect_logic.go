package scenarios

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The logic kinds combine other expectations: `any` passes when at least
// one of its list passes, `all` when every one does, `not` when its one
// expectation fails. An undecided child (the judge failed) is neither:
// `not` of it is undecided, `any` is undecided unless another child
// passed, `all` unless another child failed. They nest, and each nested item may carry a `name:`.

// maxLogicDepth bounds how deeply any/all/not may nest.
const maxLogicDepth = 16

func init() {
	kinds["any"] = kindSpec{doc: "at least one of these expectations passes (a list; they are tried in order and the first pass wins)", parse: parseLogicList("any")}
	kinds["all"] = kindSpec{doc: "every one of these expectations passes (a list; evaluation stops at the first failure)", parse: parseLogicList("all")}
	kinds["not"] = kindSpec{doc: "this one expectation fails (a mapping such as {icontains: sorry})", parse: parseNot}
}

// nested decodes an expectation inside a logic kind, bounding the depth.
func (d *decoder) nested(n *yaml.Node, key string) *Expectation {
	if d.depth >= maxLogicDepth {
		d.errorf(n, "%s: expectations nest more than %d levels deep", key, maxLogicDepth)
		return nil
	}
	d.depth++
	defer func() { d.depth-- }()
	return d.expectation(n)
}

func parseLogicList(key string) func(*decoder, *yaml.Node) checker {
	return func(d *decoder, v *yaml.Node) checker {
		if v.Kind == yaml.MappingNode {
			d.errorf(v, "%s: expected a list of expectations, e.g. %s: [{icontains: yes}, {icontains: sure}], got a mapping", key, key)
			return nil
		}
		items, ok := d.list(v, key)
		if !ok {
			return nil
		}
		if len(items) == 0 {
			d.errorf(v, "%s: list must not be empty", key)
			return nil
		}
		var subs []*Expectation
		for _, it := range items {
			e := d.nested(it, key)
			if e == nil {
				ok = false
				continue
			}
			subs = append(subs, e)
		}
		if !ok {
			return nil
		}
		if key == "any" {
			return anyCheck{subs}
		}
		return allCheck{subs}
	}
}

func parseNot(d *decoder, v *yaml.Node) checker {
	if v.Kind == yaml.SequenceNode {
		d.errorf(v, "not: expected one expectation such as {icontains: sorry}, got a list; to negate several, write not: {any: [...]} or not: {all: [...]}")
		return nil
	}
	e := d.nested(v, "not")
	if e == nil {
		return nil
	}
	return notCheck{e}
}

func labels(es []*Expectation) string {
	l := make([]string, len(es))
	for i, e := range es {
		l[i] = e.label()
	}
	return strings.Join(l, ", ")
}

type anyCheck struct{ subs []*Expectation }

func (c anyCheck) String() string           { return "any(" + labels(c.subs) + ")" }
func (c anyCheck) children() []*Expectation { return c.subs }
func (c anyCheck) check(obs *Observation) (bool, string) {
	return c.checkCtx(&evalCtx{}, obs)
}

func (c anyCheck) checkCtx(ec *evalCtx, obs *Observation) (bool, string) {
	reasons := make([]string, 0, len(c.subs))
	var undecided []string
	for _, e := range c.subs {
		v := e.evaluate(ec, obs)
		if v.Passed {
			return true, ""
		}
		reasons = append(reasons, e.label()+": "+v.Reason)
		if v.Undecided {
			undecided = append(undecided, e.label()+": "+v.Reason)
		}
	}
	if len(undecided) > 0 {
		// No child passed and some could not be decided: neither is known.
		ec.undecided = true
		return false, fmt.Sprintf("undecided: none of %d passed and %d could not be decided: %s", len(c.subs), len(undecided), strings.Join(undecided, "; "))
	}
	return false, fmt.Sprintf("none of %d passed: %s", len(c.subs), strings.Join(reasons, "; "))
}

type allCheck struct{ subs []*Expectation }

func (c allCheck) String() string           { return "all(" + labels(c.subs) + ")" }
func (c allCheck) children() []*Expectation { return c.subs }
func (c allCheck) check(obs *Observation) (bool, string) {
	return c.checkCtx(&evalCtx{}, obs)
}

func (c allCheck) checkCtx(ec *evalCtx, obs *Observation) (bool, string) {
	undecided := ""
	for i, e := range c.subs {
		v := e.evaluate(ec, obs)
		switch {
		case v.Undecided:
			if undecided == "" {
				undecided = fmt.Sprintf("undecided: %d of %d could not be decided: %s: %s", i+1, len(c.subs), e.label(), v.Reason)
			}
		case !v.Passed:
			return false, fmt.Sprintf("%d of %d failed: %s: %s", i+1, len(c.subs), e.label(), v.Reason)
		}
	}
	if undecided != "" {
		// None failed, but not every one could be decided.
		ec.undecided = true
		return false, undecided
	}
	return true, ""
}

type notCheck struct{ sub *Expectation }

func (c notCheck) String() string           { return "not(" + c.sub.label() + ")" }
func (c notCheck) children() []*Expectation { return []*Expectation{c.sub} }
func (c notCheck) check(obs *Observation) (bool, string) {
	return c.checkCtx(&evalCtx{}, obs)
}

func (c notCheck) checkCtx(ec *evalCtx, obs *Observation) (bool, string) {
	v := c.sub.evaluate(ec, obs)
	if v.Undecided {
		// What could not be decided stays undecided when negated.
		ec.undecided = true
		return false, "undecided: " + c.sub.label() + ": " + v.Reason
	}
	if !v.Passed {
		return true, ""
	}
	if ex, ok := c.sub.check.(explainer); ok {
		return false, ex.explain(obs)
	}
	return false, fmt.Sprintf("%s passed on reply %s", c.sub.label(), replyExcerpt(obs.Text))
}

// explainer is a checker that can say why it passed, so that `not` can
// give a precise reason (e.g. `found "Sorry" in "Sorry, we…"`).
type explainer interface {
	explain(obs *Observation) string
}

// explain says where the text was found (or that it was not).
func (c containsCheck) explain(obs *Observation) string {
	_, r := containsCheck{want: c.want, fold: c.fold, negate: !c.negate}.check(obs)
	return r
}

// explain says what the pattern matched (or that it did not).
func (c regexCheck) explain(obs *Observation) string {
	_, r := regexCheck{re: c.re, negate: !c.negate}.check(obs)
	return r
}
