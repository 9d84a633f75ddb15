package scenarios

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Values written in a scenario for comparison with JSON (`field: equals`,
// `tool: data`) are converted to the shapes encoding/json decodes into:
// map[string]any, []any, string, float64, bool and nil. Numbers compare
// numerically (5, 5.0 and 5e0 are equal), as float64.

// maxValueNodes bounds the size of one written value.
const maxValueNodes = 10_000

// value converts a YAML node into a JSON-like value.
func (d *decoder) value(n *yaml.Node, key string) (any, bool) {
	budget := maxValueNodes
	return d.valueRec(n, key, &budget, map[*yaml.Node]bool{})
}

// shortKey cuts a long path of keys (a deep value) for messages.
func shortKey(key string) string {
	r := []rune(key)
	if len(r) <= 80 {
		return key
	}
	return string(r[:40]) + "…" + string(r[len(r)-30:])
}

// valueRec converts n; open holds the collections being converted, so
// that an alias to one of them (a value containing itself) is an error,
// not a value expanded until the budget is spent.
func (d *decoder) valueRec(n *yaml.Node, key string, budget *int, open map[*yaml.Node]bool) (any, bool) {
	alias := n
	n = d.resolve(n)
	if open[n] {
		d.errorf(alias, "%s: *%s refers to a value that contains it; a value must not contain itself", shortKey(key), alias.Value)
		return nil, false
	}
	if *budget--; *budget < 0 {
		d.errorf(n, "%s: value has more than %d parts", shortKey(key), maxValueNodes)
		return nil, false
	}
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		open[n] = true
		defer delete(open, n)
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		ok := true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := d.resolve(n.Content[i])
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!null" {
				d.errorf(k, "%s: keys must be text, got %s", key, describe(k))
				ok = false
				continue
			}
			if _, dup := m[k.Value]; dup {
				d.errorf(k, "%s: duplicate key %q", key, k.Value)
				ok = false
				continue
			}
			v, vok := d.valueRec(n.Content[i+1], key+"."+k.Value, budget, open)
			ok = ok && vok
			m[k.Value] = v
		}
		return m, ok
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		ok := true
		for i, c := range n.Content {
			v, vok := d.valueRec(c, key+"["+strconv.Itoa(i)+"]", budget, open)
			ok = ok && vok
			l = append(l, v)
		}
		return l, ok
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, true
		case "!!bool":
			return d.bool(n, key)
		case "!!int", "!!float":
			f, ok := d.float(n, key)
			if ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
				d.errorf(n, "%s: %s is not a JSON number", key, n.Value)
				return nil, false
			}
			return f, ok
		default:
			return n.Value, true
		}
	}
	d.errorf(n, "%s: expected a value, got %s", key, describe(n))
	return nil, false
}

// number returns v as a float64 when it is a number of any Go type.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// equalValues reports whether two JSON-like values are equal, comparing
// numbers numerically and maps and lists in full.
func equalValues(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equalValues(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValues(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return false
}

// subset reports whether got contains want: every key of a wanted mapping
// is present with a value containing the wanted one, every item of a
// wanted list is contained in some item of the got list (in any order),
// and scalars are equal (numbers numerically). A wanted null matches a
// null or a missing key. On a mismatch it returns the path below path
// where they differ and what was found there.
func subset(want, got any, path string) (ok bool, where, found string) {
	switch w := want.(type) {
	case map[string]any:
		g, isMap := got.(map[string]any)
		if !isMap {
			return false, path, "is " + showValue(got) + ", not an object"
		}
		for _, k := range sortedKeys(w) {
			gv, present := g[k]
			if !present {
				if w[k] == nil {
					continue
				}
				return false, path + "." + k, "is missing (keys: " + keyList(g) + ")"
			}
			if ok, where, found := subset(w[k], gv, path+"."+k); !ok {
				return false, where, found
			}
		}
		return true, "", ""
	case []any:
		g, isList := got.([]any)
		if !isList {
			return false, path, "is " + showValue(got) + ", not a list"
		}
		for _, wi := range w {
			if !slices.ContainsFunc(g, func(gi any) bool { ok, _, _ := subset(wi, gi, ""); return ok }) {
				return false, path, fmt.Sprintf("has no item matching %s (%d items)", showValue(wi), len(g))
			}
		}
		return true, "", ""
	}
	if equalValues(want, got) {
		return true, "", ""
	}
	return false, path, "is " + showValue(got) + ", want " + showValue(want)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// keyList lists an object's keys for reasons, "none" when empty.
func keyList(m map[string]any) string {
	if len(m) == 0 {
		return "none"
	}
	keys := sortedKeys(m)
	if len(keys) > 8 {
		keys = append(keys[:8], "…")
	}
	return strings.Join(keys, ", ")
}

// showValue renders a value as compact JSON for reasons, cut to 60 runes.
func showValue(v any) string {
	if f, ok := number(v); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	if r := []rune(s); len(r) > 60 {
		s = string(r[:59]) + "…"
	}
	return s
}
