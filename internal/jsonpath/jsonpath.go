// Package jsonpath is evalrun's one dialect of paths into a JSON document:
// the generic HTTP target's reply_path, session_path, tools_path,
// handoff_path and tokens_path, and the scenarios' `field: {path: ...}`
// expectation all parse with Parse.
//
// The grammar (docs/scenarios.md, "JSON paths"):
//
//	path = [ "$" ] [ first ] { step }      "$" alone is the whole document
//	first = name | "[" sel "]"             after "$": "." name | "[" sel "]"
//	step = "." name | "[" sel "]"
//	sel  = integer | "*" | quoted
//
// A name is one or more characters other than '.', '[', ']' and ASCII
// white space or control characters; a quoted key ("c.d" or 'c.d') may hold
// anything but its own quote. An integer index counts from 0; a negative
// one counts from the end (-1 is the last item); "*" selects every item.
// White space around the whole path is ignored. A path has at most
// MaxSteps steps.
package jsonpath

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// MaxSteps bounds the steps of one path.
const MaxSteps = 64

// Kind is what one step of a path selects.
type Kind uint8

const (
	// Key is an object's member by name.
	Key Kind = iota
	// Index is a list's item by index (negative: from the end).
	Index
	// All is every item of a list: [*].
	All
)

// Step is one step of a path.
type Step struct {
	Kind  Kind
	Key   string // for Key
	Index int    // for Index
}

// Path is a parsed path. The zero Path is unset (see IsZero).
type Path struct {
	src   string
	steps []Step
	wild  bool
}

// Error is a syntax error in a path, at a 1-based character column of the
// path as written.
type Error struct {
	Col int
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("at character %d: %s", e.Col, e.Msg) }

// Parse parses a path; a syntax error is an *Error.
func Parse(s string) (Path, error) {
	p := Path{src: s}
	lead := len(s) - len(strings.TrimLeft(s, " \t\r\n"))
	in := strings.TrimSpace(s)
	// errAt makes an error at byte i of in, counted in characters of s.
	errAt := func(i int, format string, a ...any) error {
		return &Error{Col: len([]rune(s[:lead+i])) + 1, Msg: fmt.Sprintf(format, a...)}
	}
	if in == "" {
		return Path{}, errAt(0, "empty path; e.g. metadata.tokens_used or choices[0].message.content")
	}
	i := 0
	if in[0] == '$' && (len(in) == 1 || in[1] == '.' || in[1] == '[') {
		i = 1
		if i < len(in) && in[i] == '.' {
			i++
			if i == len(in) {
				return Path{}, errAt(i, "missing name after \"$.\"")
			}
		}
	}
	name := func() error {
		j := i
		for j < len(in) && in[j] != '.' && in[j] != '[' && in[j] != ']' {
			if r := rune(in[j]); r < 0x80 && (unicode.IsSpace(r) || unicode.IsControl(r)) {
				return errAt(j, "white space or control character in a name; quote such a key: [\"a b\"]")
			}
			j++
		}
		if j == i {
			if j < len(in) && in[j] == ']' {
				return errAt(j, `"]" without "["`)
			}
			return errAt(i, "missing name")
		}
		p.steps = append(p.steps, Step{Kind: Key, Key: in[i:j]})
		i = j
		return nil
	}
	sel := func() error {
		start := i
		i++ // '['
		if i < len(in) && (in[i] == '"' || in[i] == '\'') {
			q := in[i]
			end := strings.IndexByte(in[i+1:], q)
			if end < 0 {
				return errAt(i, "quoted key is not closed by %c", q)
			}
			key := in[i+1 : i+1+end]
			i += end + 2
			if i >= len(in) || in[i] != ']' {
				return errAt(i, `want "]" after the quoted key`)
			}
			i++
			p.steps = append(p.steps, Step{Kind: Key, Key: key})
			return nil
		}
		j := strings.IndexByte(in[i:], ']')
		if j < 0 {
			return errAt(start, `"[" is not closed by "]"`)
		}
		sl := in[i : i+j]
		if sl == "*" {
			p.steps = append(p.steps, Step{Kind: All})
			p.wild = true
		} else {
			n, err := strconv.Atoi(sl)
			if err != nil || sl == "" || sl[0] == '+' {
				return errAt(i, "index %q: want a number (negative counts from the end), * for every item, or a quoted key", sl)
			}
			p.steps = append(p.steps, Step{Kind: Index, Index: n})
		}
		i += j + 1
		return nil
	}
	var err error
	switch {
	case i == len(in):
	case in[i] == '[':
		err = sel()
	default:
		err = name()
	}
	for err == nil && i < len(in) {
		if len(p.steps) >= MaxSteps {
			return Path{}, errAt(i, "more than %d steps", MaxSteps)
		}
		switch in[i] {
		case '.':
			i++
			err = name()
		case '[':
			err = sel()
		default:
			err = errAt(i, "unexpected %q; steps are joined by '.' or written [N]", in[i])
		}
	}
	if err != nil {
		return Path{}, err
	}
	return p, nil
}

// MustParse is Parse for paths known to be valid; it panics otherwise.
func MustParse(s string) Path {
	p, err := Parse(s)
	if err != nil {
		panic(fmt.Sprintf("jsonpath.MustParse(%q): %v", s, err))
	}
	return p
}

// String returns the path as written.
func (p Path) String() string { return p.src }

// IsZero reports whether p was never set.
func (p Path) IsZero() bool { return p.src == "" }

// Wild reports whether the path has a [*] step, so it may select several
// values.
func (p Path) Wild() bool { return p.wild }

// Steps returns the path's steps; "$" alone has none.
func (p Path) Steps() []Step { return p.steps }

// Resolve returns the 0-based item index that i selects in a list of n
// items (negative i counts from the end), and whether there is one.
func Resolve(i, n int) (int, bool) {
	if i < 0 {
		i += n
	}
	return i, i >= 0 && i < n
}

// Lookup returns the first value the path selects in a decoded document
// (as encoding/json decodes into any), and whether there is one.
func (p Path) Lookup(doc any) (any, bool) {
	return lookup(p.steps, doc)
}

func lookup(steps []Step, v any) (any, bool) {
	for k, st := range steps {
		switch st.Kind {
		case Key:
			obj, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = obj[st.Key]; !ok {
				return nil, false
			}
		case Index:
			arr, ok := v.([]any)
			if !ok {
				return nil, false
			}
			i, ok := Resolve(st.Index, len(arr))
			if !ok {
				return nil, false
			}
			v = arr[i]
		case All:
			arr, _ := v.([]any)
			for _, item := range arr {
				if got, ok := lookup(steps[k+1:], item); ok {
					return got, true
				}
			}
			return nil, false
		}
	}
	return v, true
}

// LookupString returns the value at p as text: a string as is, a number as
// written (json.Number); anything else fails.
func (p Path) LookupString(doc any) (string, bool) {
	v, ok := p.Lookup(doc)
	if !ok {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	}
	return "", false
}

// AppendKey returns the concrete path prefix followed by member key:
// prefix.key, or prefix["key"] when key is not a plain name.
func AppendKey(prefix, key string) string {
	plain := key != ""
	for i := 0; i < len(key) && plain; i++ {
		c := key[i]
		plain = c != '.' && c != '[' && c != ']' && c != '"' && c != '\'' && !(c < 0x80 && (unicode.IsSpace(rune(c)) || unicode.IsControl(rune(c))))
	}
	if plain && !(prefix == "" && key[0] == '$') {
		if prefix == "" {
			return key
		}
		return prefix + "." + key
	}
	q := `"`
	if strings.Contains(key, `"`) {
		q = "'"
	}
	return prefix + "[" + q + key + q + "]"
}
