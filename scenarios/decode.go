package scenarios

import (
	"fmt"
	"iter"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxAliasNodes bounds how many nodes the YAML aliases of one file may
// expand to, so that a small file cannot make the loader walk a huge tree.
const maxAliasNodes = 100_000

// decoder walks the yaml.Node tree of one file, collecting every error with
// its position instead of stopping at the first.
type decoder struct {
	file    string
	src     string   // the file's text; split into lines only when an error needs them
	lines   []string // source lines, to place errors inside scalars (see srcLines)
	errs    ErrorList
	aliased int                // nodes expanded through aliases so far
	sizes   map[*yaml.Node]int // subtree sizes of alias targets
	opts    *LoadOptions       // nil for Parse: judge allowed, no env, no defaults
	depth   int                // nesting of any/all/not
	regexps *regexpCache       // compiled patterns shared by a load's files; nil: none
}

// srcLines returns the file's lines, splitting them on first use: only
// errors need them, and most files have none.
func (d *decoder) srcLines() []string {
	if d.lines == nil && d.src != "" {
		d.lines = splitLines(d.src)
	}
	return d.lines
}

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Col: n.Column} }

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs.Add(d.pos(n), format, args...)
}

// resolve follows aliases to the node they stand for. Past the expansion
// budget an alias stands for null (after one error).
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		if n.Alias == nil || d.aliased > maxAliasNodes {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
		}
		d.aliased += d.size(n.Alias)
		if d.aliased > maxAliasNodes {
			d.errorf(n, "YAML aliases expand to more than %d nodes", maxAliasNodes)
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
		}
		n = n.Alias
	}
	return n
}

// size counts the nodes of a subtree, not following aliases.
func (d *decoder) size(n *yaml.Node) int {
	if s, ok := d.sizes[n]; ok {
		return s
	}
	s := 1
	for _, c := range n.Content {
		s += d.size(c)
	}
	if d.sizes == nil {
		d.sizes = map[*yaml.Node]int{}
	}
	d.sizes[n] = s
	return s
}

// describe names a node's type and value for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.DocumentNode:
		return "a document"
	}
	v := excerpt(n.Value, 40)
	switch n.ShortTag() {
	case "!!str":
		return "string " + v
	case "!!int":
		return "integer " + n.Value
	case "!!float":
		return "number " + n.Value
	case "!!bool":
		return "boolean " + n.Value
	case "!!null":
		return "null (no value)"
	case "!!timestamp":
		return "timestamp " + n.Value
	}
	return "a value tagged " + n.ShortTag()
}

// field is one key/value pair of a mapping.
type field struct {
	name     string
	key, val *yaml.Node
}

// pairs yields the key and value nodes of mapping n in order, aliases
// resolved; a key that is not a name (a mapping, a list, null) is reported
// and its pair skipped, so k.Value is the key's name.
func (d *decoder) pairs(n *yaml.Node) iter.Seq2[*yaml.Node, *yaml.Node] {
	return func(yield func(k, v *yaml.Node) bool) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := d.resolve(n.Content[i]), d.resolve(n.Content[i+1])
			if _, ok := d.key(k); !ok {
				continue
			}
			if !yield(k, v) {
				return
			}
		}
	}
}

// fields checks that n is a mapping whose keys are all in valid (listed in
// that order in messages) and unique, and returns its known pairs in order.
// what names the mapping in messages, e.g. "scenario" or "turn".
func (d *decoder) fields(n *yaml.Node, what string, valid []string) ([]field, bool) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: expected a mapping, got %s", what, describe(n))
		return nil, false
	}
	out := make([]field, 0, len(n.Content)/2)
	// The keys so far: a list while the mapping is small (the usual case),
	// a map from smallKeys on, so that a mapping of 100,000 keys is checked
	// in linear time.
	var seen []*yaml.Node
	var seenMap map[string]*yaml.Node
	for k, v := range d.pairs(n) {
		name := k.Value
		first := seenMap[name]
		if seenMap == nil {
			first = firstKey(seen, name)
		}
		if first != nil {
			d.errorf(k, "duplicate key %q (first at line %d)", name, first.Line)
			continue
		}
		switch {
		case seenMap != nil:
			seenMap[name] = k
		case len(seen) < smallKeys:
			seen = append(seen, k)
		default:
			seenMap = make(map[string]*yaml.Node, len(n.Content)/2)
			for _, s := range seen {
				seenMap[s.Value] = s
			}
			seenMap[name] = k
		}
		if !contains(valid, name) {
			hint := didYouMean(name, valid)
			if name == "<<" {
				hint = " (YAML merge keys are not supported)"
			}
			d.errorf(k, "unknown key %q in %s%s; valid keys: %s", name, what, hint, strings.Join(valid, ", "))
			continue
		}
		out = append(out, field{name: name, key: k, val: v})
	}
	return out, true
}

// smallKeys is how many keys fields checks for duplicates by a linear scan.
const smallKeys = 16

// firstKey returns the key node named name, or nil.
func firstKey(keys []*yaml.Node, name string) *yaml.Node {
	for _, k := range keys {
		if k.Value == name {
			return k
		}
	}
	return nil
}

// key returns a mapping key's text; keys must be scalars.
func (d *decoder) key(k *yaml.Node) (string, bool) {
	if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!null" {
		d.errorf(k, "expected a key name, got %s", describe(k))
		return "", false
	}
	return k.Value, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// text reads a scalar as text: strings as they are, numbers and booleans as
// written.
func (d *decoder) text(n *yaml.Node, key string) (string, bool) {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!str", "!!int", "!!float", "!!bool":
			return n.Value, true
		}
	}
	d.errorf(n, "%s: expected a string, got %s", key, describe(n))
	return "", false
}

// nonEmpty reads text that must not be blank.
func (d *decoder) nonEmpty(n *yaml.Node, key string) (string, bool) {
	s, ok := d.text(n, key)
	if ok && strings.TrimSpace(s) == "" {
		d.errorf(n, "%s: must not be empty", key)
		return "", false
	}
	return s, ok
}

func (d *decoder) int(n *yaml.Node, key string) (int, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		var i int64
		if err := n.Decode(&i); err == nil && i >= math.MinInt32 && i <= math.MaxInt32 {
			return int(i), true
		}
		d.errorf(n, "%s: integer %s is out of range", key, n.Value)
		return 0, false
	}
	d.errorf(n, "%s: expected an integer, got %s", key, describe(n))
	return 0, false
}

// nonNegInt reads an integer that must be >= 0.
func (d *decoder) nonNegInt(n *yaml.Node, key string) (int, bool) {
	i, ok := d.int(n, key)
	if ok && i < 0 {
		d.errorf(n, "%s: must be 0 or more, got %d", key, i)
		return 0, false
	}
	return i, ok
}

func (d *decoder) float(n *yaml.Node, key string) (float64, bool) {
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!float" || n.ShortTag() == "!!int") {
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err == nil {
			return f, true
		}
		var v float64
		if err := n.Decode(&v); err == nil {
			return v, true
		}
	}
	d.errorf(n, "%s: expected a number, got %s", key, describe(n))
	return 0, false
}

// fraction decodes a number between 0 and 1 (a score or similarity
// threshold); out of range is reported like a wrong type.
func (d *decoder) fraction(n *yaml.Node, key string) (float64, bool) {
	f, ok := d.float(n, key)
	if !ok {
		return 0, false
	}
	if !(f >= 0 && f <= 1) {
		d.errorf(n, "%s: must be between 0 and 1, got %s", key, n.Value)
		return 0, false
	}
	return f, true
}

func (d *decoder) bool(n *yaml.Node, key string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		switch n.Value {
		case "true", "True", "TRUE":
			return true, true
		case "false", "False", "FALSE":
			return false, true
		}
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	d.errorf(n, "%s: expected true or false, got %s", key, describe(n))
	return false, false
}

// duration reads a Go duration such as "1.5s", "500ms" or "1m30s". Zero is
// allowed, negative durations are not.
func (d *decoder) duration(n *yaml.Node, key string) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		hint := ""
		if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") {
			hint = fmt.Sprintf(" (add a unit: %ss or %sms)", n.Value, n.Value)
		}
		d.errorf(n, "%s: expected a duration such as 2s or 500ms, got %s%s", key, describe(n), hint)
		return 0, false
	}
	v, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil {
		d.errorf(n, "%s: invalid duration %s: use a number and a unit (ms, s, m, h), e.g. 1.5s or 500ms", key, excerpt(n.Value, 40))
		return 0, false
	}
	if v < 0 {
		d.errorf(n, "%s: duration must not be negative, got %s", key, n.Value)
		return 0, false
	}
	return v, true
}

// list checks that n is a sequence and returns its (resolved) items.
func (d *decoder) list(n *yaml.Node, key string) ([]*yaml.Node, bool) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s: expected a list, got %s", key, describe(n))
		return nil, false
	}
	items := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		items[i] = d.resolve(c)
	}
	return items, true
}

// strList reads a list of non-empty texts; it must have at least one item
// when nonEmptyList is set.
func (d *decoder) strList(n *yaml.Node, key string, nonEmptyList bool) ([]string, bool) {
	items, ok := d.list(n, key)
	if !ok {
		return nil, false
	}
	if nonEmptyList && len(items) == 0 {
		d.errorf(n, "%s: list must not be empty", key)
		return nil, false
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, ok2 := d.nonEmpty(it, key+" item")
		ok = ok && ok2
		out = append(out, s)
	}
	return out, ok
}
