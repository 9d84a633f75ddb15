package scenarios

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Expectation is one check on a reply, written in a scenario as a list
// item with one kind (e.g. `icontains: growth`) and an optional `name:`.
type Expectation struct {
	Name string // the user's name for the check, if any
	Kind string // the kind as written, e.g. "icontains"
	Pos  Pos    // where the check is written

	check checker
	desc  string // check.String(), worked out once when loaded: every verdict carries it
}

// checker is the behaviour of one expectation kind. Logic kinds (any, all,
// not) wrap other checkers, so every kind implements the same two methods.
type checker interface {
	// check evaluates the reply; on failure the reason is one line that
	// says what was wanted and what the reply was.
	check(obs *Observation) (ok bool, reason string)
	// String describes the check as written, e.g. `icontains "growth"`.
	String() string
}

// ctxChecker is a checker that needs more than the reply: the judge, or
// the evaluation of nested expectations (which may use the judge).
type ctxChecker interface {
	checkCtx(ec *evalCtx, obs *Observation) (ok bool, reason string)
}

// parent is a checker that wraps other expectations (any, all, not).
type parent interface {
	children() []*Expectation
}

// evalCtx is what an evaluation carries besides the reply.
type evalCtx struct {
	ctx   context.Context
	judge Judge
	// undecided is set by a checker that could not decide (the judge
	// failed); evaluate moves it into the Verdict and clears it.
	undecided bool
}

// run evaluates c with the evaluation context when it needs one.
func (ec *evalCtx) run(c checker, obs *Observation) (bool, string) {
	if cc, ok := c.(ctxChecker); ok {
		return cc.checkCtx(ec, obs)
	}
	return c.check(obs)
}

// kindSpec describes an expectation kind: its documentation and how its
// value is decoded (its JSON Schema comes from schemaFor).
type kindSpec struct {
	doc   string
	parse func(d *decoder, v *yaml.Node) checker // nil on error (reported to d)
}

// kinds is the registry of expectation kinds, filled by the files that
// implement them.
var kinds = map[string]kindSpec{}

// Kinds returns the names of the expectation kinds, sorted.
func Kinds() []string {
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// KindDoc returns a one-line description of an expectation kind, or "" for
// an unknown kind; `evalrun schema` and the docs use it.
func KindDoc(kind string) string { return kinds[kind].doc }

// String describes the expectation as written, e.g. `icontains "growth"`,
// `regex '\$\s?\d+'` or `max_latency 3s`.
func (e *Expectation) String() string {
	if e == nil || e.check == nil {
		if e == nil {
			return ""
		}
		return e.Kind
	}
	if e.desc != "" {
		return e.desc
	}
	return e.check.String()
}

// Evaluate checks the expectation against one observation without a
// judge: a `judge` expectation fails with a reason saying none is
// configured. A nil observation is treated as an empty reply.
func (e *Expectation) Evaluate(obs *Observation) Verdict {
	return e.EvaluateContext(context.Background(), obs, nil)
}

// EvaluateContext checks the expectation against one observation. Judged
// expectations (`judge`, also inside any/all/not) ask judge for a grade,
// under ctx; with a nil judge they fail with a reason saying so. A nil
// observation is treated as an empty reply.
func (e *Expectation) EvaluateContext(ctx context.Context, obs *Observation, judge Judge) Verdict {
	if ctx == nil {
		ctx = context.Background()
	}
	return e.evaluate(&evalCtx{ctx: ctx, judge: judge}, obs)
}

func (e *Expectation) evaluate(ec *evalCtx, obs *Observation) Verdict {
	v := Verdict{Expectation: e.String(), Name: e.Name}
	if e.check == nil {
		v.Reason = "expectation was not loaded by Load or Parse"
		return v
	}
	if obs == nil {
		obs = &Observation{}
	}
	ec.undecided = false
	v.Passed, v.Reason = ec.run(e.check, obs)
	v.Undecided, ec.undecided = ec.undecided, false
	if v.Undecided {
		v.Passed = false
	}
	if v.Passed {
		v.Reason = ""
	}
	return v
}

// label names the expectation inside a logic kind's description and
// reasons: its name when it has one, else the check as written.
func (e *Expectation) label() string {
	if e.Name != "" {
		return strconv.Quote(e.Name)
	}
	return e.String()
}

// walk calls f for e and every expectation nested in it, depth first.
func (e *Expectation) walk(f func(*Expectation)) {
	f(e)
	if p, ok := e.check.(parent); ok {
		for _, c := range p.children() {
			c.walk(f)
		}
	}
}

// expectations decodes a list of expectations (the value of key); the
// ones with errors are reported and left out.
func (d *decoder) expectations(n *yaml.Node, key string) []*Expectation {
	items, ok := d.list(n, key)
	if !ok {
		return nil
	}
	var out []*Expectation
	for _, it := range items {
		if e := d.expectation(it); e != nil {
			out = append(out, e)
		}
	}
	return out
}

// expectation decodes one list item of a turn's `expect:`.
func (d *decoder) expectation(n *yaml.Node) *Expectation {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "expectation: expected a mapping such as `icontains: growth`, got %s", describe(n))
		return nil
	}
	e := &Expectation{Pos: d.pos(n)}
	var kindKey, kindVal *yaml.Node
	bad := false
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := d.resolve(n.Content[i]), d.resolve(n.Content[i+1])
		name, ok := d.key(k)
		if !ok {
			bad = true
			continue
		}
		if seen[name] {
			d.errorf(k, "duplicate key %q in expectation", name)
			bad = true
			continue
		}
		seen[name] = true
		switch {
		case name == "name":
			if s, ok := d.nonEmpty(v, "name"); ok {
				e.Name = s
			} else {
				bad = true
			}
		case kinds[name].parse != nil:
			if kindKey != nil {
				d.errorf(k, "expectation has two kinds, %s and %s: give each check its own list item", kindKey.Value, name)
				bad = true
				continue
			}
			kindKey, kindVal = k, v
		default:
			valid := Kinds() // only on the error path: it sorts
			d.errorf(k, "unknown expectation kind %q%s; valid kinds: %s", name, didYouMean(name, valid), strings.Join(valid, ", "))
			bad = true
		}
	}
	if kindKey == nil {
		if !bad {
			d.errorf(n, "expectation has no kind; valid kinds: %s", strings.Join(Kinds(), ", "))
		}
		return nil
	}
	e.Kind = kindKey.Value
	e.Pos = d.pos(kindKey)
	e.check = kinds[e.Kind].parse(d, kindVal)
	if e.check == nil || bad {
		return nil
	}
	e.desc = e.check.String()
	return e
}

// excerpt quotes s for a one-line message: runs of white space become one
// space and text beyond max runes is cut with "…".
func excerpt(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max-1]) + "…"
	}
	return strconv.Quote(s)
}

// excerptAround quotes up to max runes of s around the byte range
// [start,end), with "…" where text was cut, for showing where a match is.
func excerptAround(s string, start, end, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return excerpt(s, max)
	}
	before := []rune(s[:start])
	match := []rune(s[start:end])
	after := []rune(s[end:])
	room := max - len(match)
	if room < 2 {
		return excerpt(string(match), max)
	}
	var nb, na int
	switch {
	case len(before) <= (room-1)/2: // only the text after is cut
		nb, na = len(before), room-len(before)-1
	case len(after) <= (room-1)/2: // only the text before is cut
		na, nb = len(after), room-len(after)-1
	default:
		nb = (room - 2) / 2
		na = room - 2 - nb
	}
	var b strings.Builder
	if nb < len(before) {
		b.WriteString("…")
	}
	b.WriteString(string(before[len(before)-nb:]))
	b.WriteString(string(match))
	b.WriteString(string(after[:na]))
	if na < len(after) {
		b.WriteString("…")
	}
	return excerpt(b.String(), max)
}

// replyExcerpt is the standard quoted excerpt of a reply in reasons.
func replyExcerpt(s string) string { return excerpt(s, 80) }
