package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/evalrun/evalrun/internal/tmpl"
)

// maxTemplateErrors is how many placeholder errors one template reports.
const maxTemplateErrors = 10

// tmplScope is what a template may use at its place in a scenario.
type tmplScope struct {
	vars     map[string]string
	captured map[string]int // capture name → index of the first turn capturing it
	turn     int            // index of the turn whose message this is; -1 for client_id
	opts     *LoadOptions   // nil: no {{ env }} allowed
	uses     map[string]Pos // vars used, with the place of the first use (nil: not recorded)
	// unknownVars: the vars are not all known (an unreadable matrix CSV),
	// so undefined names are not reported.
	unknownVars bool
}

// template parses src, the text of node n under key, and checks that every
// placeholder names something defined at that place. Errors point at the
// placeholder itself where the source allows it.
func (d *decoder) template(n *yaml.Node, key, src string, sc *tmplScope) *Template {
	t, terr := parseTemplate(src)
	if terr != nil {
		d.errs.Add(d.placeholderPos(n, src, terr.Off), "%s: %s", key, terr.Msg)
		return nil
	}
	ok := true
	bad := 0
	for _, ph := range t.placeholders() {
		if msg := sc.check(ph, key); msg != "" {
			ok = false
			if bad++; bad > maxTemplateErrors {
				d.errorf(n, "%s: more undefined names than %d; stopping here", key, maxTemplateErrors)
				break
			}
			d.errs.Add(d.placeholderPos(n, src, ph.off), "%s", msg)
			continue
		}
		if _, isVar := sc.vars[ph.name]; isVar && sc.uses != nil {
			if _, seen := sc.uses[ph.name]; !seen {
				sc.uses[ph.name] = d.placeholderPos(n, src, ph.off)
			}
		}
	}
	if !ok {
		return nil
	}
	return t
}

// check returns an error message for a placeholder that is not defined
// here, or "".
func (sc *tmplScope) check(ph *placeholder, key string) string {
	name := ph.name
	if b, ok := builtins[name]; ok && b.args != nil {
		if name == "env" {
			return sc.checkEnv(key, ph.arg.(string))
		}
		return ""
	}
	if ph.args != "" {
		return key + ": " + tmpl.NoArgs(name, ph.args)
	}
	if _, ok := builtins[name]; ok {
		return ""
	}
	if _, ok := sc.vars[name]; ok {
		return ""
	}
	if at, ok := sc.captured[name]; ok {
		switch {
		case sc.turn < 0:
			return fmt.Sprintf("%s: {{ %s }} is captured from a reply, but %s is set before the first turn", key, name, key)
		case at == sc.turn:
			return fmt.Sprintf("%s: {{ %s }} is captured from this turn's reply; it can be used from the next turn on", key, name)
		case at > sc.turn:
			return fmt.Sprintf("%s: {{ %s }} is captured by turn %d; it can be used from turn %d on", key, name, at+1, at+2)
		}
		return ""
	}
	if sc.unknownVars {
		return ""
	}
	var here []string
	for v := range sc.vars {
		here = append(here, v)
	}
	for c, at := range sc.captured {
		if sc.turn >= 0 && at < sc.turn {
			here = append(here, c)
		}
	}
	candidates := append(append([]string{}, here...), Builtins()...)
	msg := key + ": " + tmpl.Undefined(name, candidates) + "; "
	if len(here) > 0 {
		slices.Sort(here)
		msg += "defined here: " + strings.Join(here, ", ") + "; "
	}
	return msg + "built-ins: " + strings.Join(Builtins(), ", ")
}

// checkEnv checks {{ env NAME }}: NAME must be in the allow-list and set.
func (sc *tmplScope) checkEnv(key, name string) string {
	if sc.opts == nil || !sc.opts.envAllowed(name) {
		return fmt.Sprintf("%s: {{ env %s }}: %s is not in the allow-list; list it under env_allow in evalrun.yaml to read it", key, name, name)
	}
	if _, ok := sc.opts.lookupEnv(name); !ok {
		return fmt.Sprintf("%s: {{ env %s }}: environment variable %s is not set", key, name, name)
	}
	return ""
}

// placeholderPos finds where the "{{" at byte offset off of a scalar's
// value is in the file. It is exact for one-line plain and quoted scalars
// and for literal (|) block scalars; otherwise it is the scalar's position.
func (d *decoder) placeholderPos(n *yaml.Node, value string, off int) Pos {
	p := d.pos(n)
	lines := d.srcLines()
	switch n.Style {
	case yaml.FoldedStyle:
		return p
	case yaml.LiteralStyle:
		// Each value line is one source line, after the header line.
		ln := strings.Count(value[:off], "\n")
		lineStart := strings.LastIndex(value[:off], "\n") + 1
		lineEnd := strings.IndexByte(value[lineStart:], '\n')
		if lineEnd < 0 {
			lineEnd = len(value) - lineStart
		}
		vline := value[lineStart : lineStart+lineEnd]
		src := n.Line + 1 + ln
		if src-1 >= len(lines) {
			return p
		}
		raw := lines[src-1]
		if !strings.HasSuffix(raw, vline) {
			return p
		}
		i := len(raw) - len(vline) + (off - lineStart)
		return Pos{File: d.file, Line: src, Col: utf8.RuneCountInString(raw[:i]) + 1}
	}
	if n.Line < 1 || n.Line > len(lines) {
		return p
	}
	raw := lines[n.Line-1]
	start := runeOffset(raw, n.Column-1)
	if start < 0 {
		return p
	}
	seg := raw[start:]
	switch n.Style {
	case yaml.DoubleQuotedStyle:
		seg = cutQuoted(seg, '"')
	case yaml.SingleQuotedStyle:
		seg = cutQuoted(seg, '\'')
	}
	k := strings.Count(value[:off], "{{") // this placeholder is the k-th "{{"
	i := nthIndex(seg, "{{", k)
	if i < 0 {
		return p
	}
	return Pos{File: d.file, Line: n.Line, Col: n.Column + utf8.RuneCountInString(seg[:i])}
}

// runeOffset returns the byte offset of the n-th rune of s, or -1.
func runeOffset(s string, n int) int {
	if n < 0 {
		return -1
	}
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	if n == 0 {
		return len(s)
	}
	return -1
}

// cutQuoted cuts seg, which starts with a quote, after its closing quote
// (the whole rest of the line if it does not close there).
func cutQuoted(seg string, q byte) string {
	for i := 1; i < len(seg); i++ {
		switch {
		case q == '"' && seg[i] == '\\':
			i++
		case seg[i] == q && q == '\'' && i+1 < len(seg) && seg[i+1] == '\'':
			i++
		case seg[i] == q:
			return seg[:i+1]
		}
	}
	return seg
}

// nthIndex returns the byte index of the k-th (0-based) occurrence of sub
// in s, or -1.
func nthIndex(s, sub string, k int) int {
	base := 0
	for {
		i := strings.Index(s, sub)
		if i < 0 {
			return -1
		}
		if k == 0 {
			return base + i
		}
		k--
		s = s[i+len(sub):]
		base += i + len(sub)
	}
}
