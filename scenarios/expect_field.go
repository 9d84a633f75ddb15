package scenarios

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/evalrun/evalrun/internal/jsonpath"
)

func init() {
	kinds["field"] = kindSpec{doc: "a field of the reply's JSON body: `field: {path: metadata.tokens_used, equals|gte|lte|exists: ...}`; paths are names joined by '.', with [N] (negative from the end), [*] for every item or [\"quoted key\"] (the dialect of reply_path)", parse: parseField}
}

// fieldPath is a parsed path into a JSON document, e.g.
// tools_executed[*].status: evalrun's one path dialect (internal/jsonpath,
// the same as the generic HTTP target's reply_path).
type fieldPath struct {
	jsonpath.Path
}

// parseFieldPath parses a path; a syntax error is a *jsonpath.Error.
func parseFieldPath(s string) (*fieldPath, error) {
	p, err := jsonpath.Parse(s)
	if err != nil {
		return nil, err
	}
	return &fieldPath{p}, nil
}

// lookup returns the values the path selects in root (several with [*]),
// each with its concrete path, or a reason why there are none.
func (p *fieldPath) lookup(root any) (vals []any, paths []string, miss string) {
	type at struct {
		v    any
		path string
	}
	cur := []at{{root, ""}}
	for _, st := range p.Steps() {
		var next []at
		for _, c := range cur {
			switch st.Kind {
			case jsonpath.Key:
				path := jsonpath.AppendKey(c.path, st.Key)
				m, ok := c.v.(map[string]any)
				if !ok {
					miss = firstMiss(miss, fmt.Sprintf("%s is %s, not an object", orRoot(c.path), showValue(c.v)))
					continue
				}
				v, ok := m[st.Key]
				if !ok {
					miss = firstMiss(miss, fmt.Sprintf("%s is missing (%s has keys: %s)", path, orRoot(c.path), keyList(m)))
					continue
				}
				next = append(next, at{v, path})
			case jsonpath.Index, jsonpath.All:
				l, ok := c.v.([]any)
				if !ok {
					miss = firstMiss(miss, fmt.Sprintf("%s is %s, not a list", orRoot(c.path), showValue(c.v)))
					continue
				}
				if st.Kind == jsonpath.All {
					if len(l) == 0 {
						miss = firstMiss(miss, fmt.Sprintf("%s is an empty list", orRoot(c.path)))
					}
					for i, v := range l {
						next = append(next, at{v, c.path + "[" + strconv.Itoa(i) + "]"})
					}
					continue
				}
				i, ok := jsonpath.Resolve(st.Index, len(l))
				if !ok {
					miss = firstMiss(miss, fmt.Sprintf("%s[%d] is missing (%s has %d items)", c.path, st.Index, orRoot(c.path), len(l)))
					continue
				}
				next = append(next, at{l[i], c.path + "[" + strconv.Itoa(i) + "]"})
			}
		}
		cur = next
	}
	for _, c := range cur {
		vals = append(vals, c.v)
		paths = append(paths, c.path)
	}
	return vals, paths, miss
}

func firstMiss(old, m string) string {
	if old != "" {
		return old
	}
	return m
}

func orRoot(path string) string {
	if path == "" {
		return "the reply"
	}
	return path
}

func parseField(d *decoder, v *yaml.Node) checker {
	if v.Kind != yaml.MappingNode {
		d.errorf(v, "field: expected a mapping such as {path: metadata.tokens_used, lte: 500}, got %s", describe(v))
		return nil
	}
	before := len(d.errs)
	fs, _ := d.fields(v, "field", []string{"path", "equals", "gte", "lte", "exists"})
	c := &fieldCheck{}
	has := map[string]*yaml.Node{}
	for _, f := range fs {
		has[f.name] = f.key
		switch f.name {
		case "path":
			s, ok := d.nonEmpty(f.val, "field.path")
			if !ok {
				continue
			}
			p, err := parseFieldPath(s)
			if err != nil {
				d.errorf(f.val, "field.path: invalid path %s %v; e.g. metadata.tokens_used or tools_executed[0].tool", excerpt(s, 40), err)
				continue
			}
			c.path = p
		case "equals":
			if val, ok := d.value(f.val, "field.equals"); ok {
				c.equals, c.hasEquals = val, true
			}
		case "gte", "lte":
			n, ok := d.float(f.val, "field."+f.name)
			if !ok {
				continue
			}
			if f.name == "gte" {
				c.gte = &n
			} else {
				c.lte = &n
			}
		case "exists":
			if b, ok := d.bool(f.val, "field.exists"); ok {
				c.exists = &b
			}
		}
	}
	if len(d.errs) > before {
		return nil
	}
	switch {
	case has["path"] == nil:
		d.errorf(v, "field: missing path, e.g. {path: metadata.tokens_used, lte: 500}")
	case !c.hasEquals && c.gte == nil && c.lte == nil && c.exists == nil:
		d.errorf(v, "field: add what to check: equals, gte, lte or exists")
	case c.exists != nil && (c.hasEquals || c.gte != nil || c.lte != nil):
		d.errorf(has["exists"], "field: exists cannot be combined with equals, gte or lte (they imply exists: true)")
	case c.hasEquals && (c.gte != nil || c.lte != nil):
		d.errorf(has["equals"], "field: equals cannot be combined with gte or lte")
	case c.gte != nil && c.lte != nil && *c.gte > *c.lte:
		d.errorf(has["lte"], "field: lte %s is below gte %s; no value can pass", fnum(*c.lte), fnum(*c.gte))
	default:
		return c
	}
	return nil
}

// fieldCheck checks a field of the reply's JSON body. With a [*] step the
// check passes when at least one selected value passes.
type fieldCheck struct {
	path      *fieldPath
	equals    any
	hasEquals bool
	gte, lte  *float64
	exists    *bool
}

func fnum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func (c *fieldCheck) String() string {
	s := "field " + c.path.String()
	switch {
	case c.exists != nil && *c.exists:
		return s + " exists"
	case c.exists != nil:
		return s + " does not exist"
	case c.hasEquals:
		return s + " == " + showValue(c.equals)
	}
	if c.gte != nil {
		s += " >= " + fnum(*c.gte)
	}
	if c.lte != nil {
		s += " <= " + fnum(*c.lte)
	}
	return s
}

// want describes the wanted value for reasons: `"x"`, `>= 1`, `<= 5`.
func (c *fieldCheck) want() string {
	if c.hasEquals {
		return showValue(c.equals)
	}
	var parts []string
	if c.gte != nil {
		parts = append(parts, ">= "+fnum(*c.gte))
	}
	if c.lte != nil {
		parts = append(parts, "<= "+fnum(*c.lte))
	}
	return strings.Join(parts, " and ")
}

func (c *fieldCheck) check(obs *Observation) (bool, string) {
	if len(obs.Raw) == 0 {
		return false, fmt.Sprintf("reply has no JSON body to check field %s in", c.path)
	}
	var root any
	if err := json.Unmarshal(obs.Raw, &root); err != nil {
		return false, fmt.Sprintf("reply body is not valid JSON (%v), so field %s cannot be checked", err, c.path)
	}
	vals, paths, miss := c.path.lookup(root)
	if c.exists != nil {
		switch {
		case *c.exists && len(vals) == 0:
			return false, "field " + miss
		case !*c.exists && len(vals) > 0:
			return false, fmt.Sprintf("field %s exists: %s", paths[0], showValue(vals[0]))
		}
		return true, ""
	}
	if len(vals) == 0 {
		return false, "field " + miss
	}
	var shown []string
	for i, v := range vals {
		ok, why := c.match(v)
		if ok {
			return true, ""
		}
		if len(vals) == 1 {
			return false, fmt.Sprintf("field %s %s", paths[i], why)
		}
		if len(shown) < 5 {
			shown = append(shown, showValue(v))
		} else if len(shown) == 5 {
			shown = append(shown, "…")
		}
	}
	return false, fmt.Sprintf("field %s: no item is %s (values: %s)", c.path, c.want(), strings.Join(shown, ", "))
}

// match checks one selected value; why says what it is instead.
func (c *fieldCheck) match(v any) (bool, string) {
	if c.hasEquals {
		if equalValues(c.equals, v) {
			return true, ""
		}
		return false, "is " + showValue(v) + ", want " + showValue(c.equals)
	}
	n, ok := number(v)
	if !ok {
		return false, "is " + showValue(v) + ", not a number"
	}
	if (c.gte != nil && n < *c.gte) || (c.lte != nil && n > *c.lte) {
		return false, "is " + fnum(n) + ", want " + c.want()
	}
	return true, ""
}
