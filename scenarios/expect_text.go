package scenarios

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The text kinds check the reply text. Case-sensitive unless the kind's name
// starts with "i" (icontains, not_icontains).

func init() {
	kinds["equals"] = kindSpec{doc: "the reply is exactly this text (surrounding white space ignored)", parse: parseText("equals", true, func(s string) checker { return equalsCheck{s} })}
	kinds["contains"] = kindSpec{doc: "the reply contains this text", parse: parseText("contains", false, func(s string) checker { return containsCheck{want: s} })}
	kinds["icontains"] = kindSpec{doc: "the reply contains this text, ignoring case", parse: parseText("icontains", false, func(s string) checker { return containsCheck{want: s, fold: true} })}
	kinds["not_contains"] = kindSpec{doc: "the reply does not contain this text", parse: parseText("not_contains", false, func(s string) checker { return containsCheck{want: s, negate: true} })}
	kinds["not_icontains"] = kindSpec{doc: "the reply does not contain this text, ignoring case", parse: parseText("not_icontains", false, func(s string) checker { return containsCheck{want: s, fold: true, negate: true} })}
	kinds["starts_with"] = kindSpec{doc: "the reply starts with this text (leading white space ignored)", parse: parseText("starts_with", false, func(s string) checker { return startsWithCheck{s} })}
	kinds["regex"] = kindSpec{doc: "the reply matches this regular expression (RE2 syntax)", parse: parseRegex(false)}
	kinds["not_regex"] = kindSpec{doc: "the reply does not match this regular expression", parse: parseRegex(true)}
	kinds["contains_any"] = kindSpec{doc: "the reply contains at least one of these texts", parse: parseTextList("contains_any", func(l []string) checker { return containsListCheck{l, false} })}
	kinds["contains_all"] = kindSpec{doc: "the reply contains every one of these texts", parse: parseTextList("contains_all", func(l []string) checker { return containsListCheck{l, true} })}
	kinds["min_length"] = kindSpec{doc: "the reply has at least this many characters", parse: parseLength("min_length", false)}
	kinds["max_length"] = kindSpec{doc: "the reply has at most this many characters", parse: parseLength("max_length", true)}
}

// literal rejects "{{" in an expectation value: expectations are not
// templates, and a placeholder there would silently be matched as text.
func literal(d *decoder, v *yaml.Node, key, s string) bool {
	if strings.Contains(s, "{{") {
		d.errorf(v, "%s: expectation values are matched literally, not templated; remove the {{ }} placeholder", key)
		return false
	}
	return true
}

func parseText(key string, allowEmpty bool, mk func(string) checker) func(*decoder, *yaml.Node) checker {
	return func(d *decoder, v *yaml.Node) checker {
		read := d.nonEmpty
		if allowEmpty {
			read = d.text
		}
		s, ok := read(v, key)
		if !ok || !literal(d, v, key, s) {
			return nil
		}
		return mk(s)
	}
}

func parseTextList(key string, mk func([]string) checker) func(*decoder, *yaml.Node) checker {
	return func(d *decoder, v *yaml.Node) checker {
		l, ok := d.strList(v, key, true)
		if !ok {
			return nil
		}
		for _, s := range l {
			if !literal(d, v, key, s) {
				return nil
			}
		}
		return mk(l)
	}
}

type equalsCheck struct{ want string }

func (c equalsCheck) String() string { return "equals " + strconv.Quote(c.want) }

func (c equalsCheck) check(obs *Observation) (bool, string) {
	if strings.TrimSpace(obs.Text) == strings.TrimSpace(c.want) {
		return true, ""
	}
	return false, fmt.Sprintf("reply %s is not %s", replyExcerpt(obs.Text), excerpt(c.want, 80))
}

type containsCheck struct {
	want         string
	fold, negate bool
}

func (c containsCheck) String() string {
	kind := "contains"
	if c.fold {
		kind = "icontains"
	}
	if c.negate {
		kind = "not_" + kind
	}
	return kind + " " + strconv.Quote(c.want)
}

func (c containsCheck) check(obs *Observation) (bool, string) {
	start, end := c.find(obs.Text)
	found := start >= 0
	switch {
	case found == !c.negate:
		return true, ""
	case c.negate:
		return false, fmt.Sprintf("found %s in %s", strconv.Quote(obs.Text[start:end]), excerptAround(obs.Text, start, end, 80))
	case c.fold:
		return false, fmt.Sprintf("%s (any case) not found in %s", strconv.Quote(c.want), replyExcerpt(obs.Text))
	default:
		return false, fmt.Sprintf("%s not found in %s", strconv.Quote(c.want), replyExcerpt(obs.Text))
	}
}

// find returns the byte range of the first occurrence of want in text, or
// -1, -1.
func (c containsCheck) find(text string) (int, int) {
	if !c.fold {
		i := strings.Index(text, c.want)
		if i < 0 {
			return -1, -1
		}
		return i, i + len(c.want)
	}
	return indexFold(text, c.want)
}

// indexFold finds sub in s ignoring case (Unicode simple folding) and
// returns the byte range of the match in s.
func indexFold(s, sub string) (int, int) {
	n := utf8.RuneCountInString(sub)
	for i := range s {
		j := i
		for k := 0; k < n; k++ {
			if j >= len(s) {
				return -1, -1 // fewer than n runes left
			}
			_, w := utf8.DecodeRuneInString(s[j:])
			j += w
		}
		if strings.EqualFold(s[i:j], sub) {
			return i, j
		}
	}
	return -1, -1
}

type startsWithCheck struct{ want string }

func (c startsWithCheck) String() string { return "starts_with " + strconv.Quote(c.want) }

func (c startsWithCheck) check(obs *Observation) (bool, string) {
	if strings.HasPrefix(strings.TrimLeft(obs.Text, " \t\r\n"), c.want) {
		return true, ""
	}
	return false, fmt.Sprintf("reply does not start with %s: %s", strconv.Quote(c.want), replyExcerpt(obs.Text))
}

func parseRegex(negate bool) func(*decoder, *yaml.Node) checker {
	key := "regex"
	if negate {
		key = "not_regex"
	}
	return func(d *decoder, v *yaml.Node) checker {
		re, ok := d.regexp(v, key)
		if !ok {
			return nil
		}
		return regexCheck{re, negate}
	}
}

// regexp compiles a non-empty RE2 pattern.
func (d *decoder) regexp(v *yaml.Node, key string) (*regexp.Regexp, bool) {
	s, ok := d.nonEmpty(v, key)
	if !ok {
		return nil, false
	}
	re, err := d.regexps.compile(s)
	if err != nil {
		d.errorf(v, "%s: invalid regular expression: %v", key, err)
		return nil, false
	}
	return re, true
}

// regexpCache holds the patterns compiled during one load, so that files
// repeating a pattern (a suite's usual `regex: '\$\s?\d+'`) share one
// compiled expression: a *regexp.Regexp is safe for concurrent use, and
// compiled programs are a large part of a loaded suite's memory.
type regexpCache struct{ m sync.Map } // pattern → *regexp.Regexp

// compile is regexp.Compile through the cache; a nil cache compiles.
func (c *regexpCache) compile(s string) (*regexp.Regexp, error) {
	if c == nil {
		return regexp.Compile(s)
	}
	if re, ok := c.m.Load(s); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, err // errors are not cached: they are rare, and reported each time
	}
	got, _ := c.m.LoadOrStore(s, re)
	return got.(*regexp.Regexp), nil
}

// patternText shows a regular expression on one line: control characters
// (a newline written into a YAML block, a tab) as the RE2 escapes \n, \r,
// \t or \x{HEX}, which match the same text, so reasons stay one line.
func patternText(re *regexp.Regexp) string {
	s := re.String()
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	escaped := false // the previous character is an escaping backslash
	for _, r := range s {
		if !unicode.IsControl(r) {
			b.WriteRune(r)
			escaped = r == '\\' && !escaped
			continue
		}
		if !escaped { // after a backslash, the escape's own backslash is there
			b.WriteByte('\\')
		}
		escaped = false
		switch r {
		case '\n':
			b.WriteByte('n')
		case '\r':
			b.WriteByte('r')
		case '\t':
			b.WriteByte('t')
		default:
			fmt.Fprintf(&b, "x{%X}", r)
		}
	}
	return b.String()
}

type regexCheck struct {
	re     *regexp.Regexp
	negate bool
}

func (c regexCheck) String() string {
	if c.negate {
		return "not_regex '" + patternText(c.re) + "'"
	}
	return "regex '" + patternText(c.re) + "'"
}

func (c regexCheck) check(obs *Observation) (bool, string) {
	loc := c.re.FindStringIndex(obs.Text)
	switch {
	case (loc != nil) != c.negate:
		return true, ""
	case c.negate:
		return false, fmt.Sprintf("regex '%s' matched %s in %s", patternText(c.re), excerpt(obs.Text[loc[0]:loc[1]], 80), excerptAround(obs.Text, loc[0], loc[1], 80))
	default:
		return false, fmt.Sprintf("regex '%s' did not match %s", patternText(c.re), replyExcerpt(obs.Text))
	}
}

type containsListCheck struct {
	want []string
	all  bool
}

func (c containsListCheck) String() string {
	kind := "contains_any"
	if c.all {
		kind = "contains_all"
	}
	return kind + " " + quoteList(c.want)
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func (c containsListCheck) check(obs *Observation) (bool, string) {
	var missing []string
	for _, w := range c.want {
		if !strings.Contains(obs.Text, w) {
			missing = append(missing, w)
		} else if !c.all {
			return true, ""
		}
	}
	if c.all && len(missing) == 0 {
		return true, ""
	}
	if c.all {
		return false, fmt.Sprintf("missing %s in %s", quoteList(missing), replyExcerpt(obs.Text))
	}
	return false, fmt.Sprintf("none of %s found in %s", quoteList(c.want), replyExcerpt(obs.Text))
}

func parseLength(key string, isMax bool) func(*decoder, *yaml.Node) checker {
	return func(d *decoder, v *yaml.Node) checker {
		n, ok := d.nonNegInt(v, key)
		if !ok {
			return nil
		}
		return lengthCheck{n, isMax}
	}
}

// lengthCheck bounds the reply's length in characters (runes), not bytes.
type lengthCheck struct {
	n     int
	isMax bool
}

func (c lengthCheck) String() string {
	if c.isMax {
		return "max_length " + strconv.Itoa(c.n)
	}
	return "min_length " + strconv.Itoa(c.n)
}

func (c lengthCheck) check(obs *Observation) (bool, string) {
	got := utf8.RuneCountInString(obs.Text)
	switch {
	case c.isMax && got > c.n:
		return false, fmt.Sprintf("reply has %d characters, want at most %d: %s", got, c.n, replyExcerpt(obs.Text))
	case !c.isMax && got < c.n:
		return false, fmt.Sprintf("reply has %d characters, want at least %d: %s", got, c.n, replyExcerpt(obs.Text))
	}
	return true, ""
}
