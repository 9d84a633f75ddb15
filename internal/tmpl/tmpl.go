// Package tmpl is evalrun's one `{{ }}` template syntax: scenario text
// (scenarios.Template, with its vocabulary of vars, captures and
// built-ins) and the generic HTTP target's paths, headers and bodies (with
// theirs: session, content, history_json, client_id, env) parse with Parse,
// so the syntax and its errors are the same everywhere. Each context
// brings its own vocabulary: what a name means, and how its value is
// rendered (escaped) there.
//
// The syntax: text with placeholders "{{ name }}" or "{{ name args }}"
// (spaces inside the braces are optional). A name is identifiers
// ([A-Za-z_][A-Za-z0-9_]*) joined by '.'; args is the rest up to "}}".
// "{{ env.NAME }}" is another spelling of "{{ env NAME }}". Text outside
// placeholders is copied as is; "}}" alone is plain text, "{{" must be
// closed.
package tmpl

import (
	"fmt"
	"strings"

	"github.com/evalrun/evalrun/internal/suggest"
)

// Part is one piece of a parsed template: literal text (Ph == nil) or a
// placeholder.
type Part struct {
	Lit string
	Ph  *Placeholder
}

// Placeholder is one {{ name args }} of a template.
type Placeholder struct {
	Name string
	Args string // the text after the name, trimmed ("" for none)
	Off  int    // byte offset of "{{" in the source
}

// Error is a syntax error at byte offset Off of a template's source.
type Error struct {
	Off int
	Msg string
}

func (e *Error) Error() string { return e.Msg }

// Parse splits src into literal text and placeholders, checking the syntax
// only: what a name means is the context's business.
func Parse(src string) ([]Part, *Error) {
	var parts []Part
	rest, base := src, 0
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				parts = append(parts, Part{Lit: rest})
			}
			return parts, nil
		}
		if i > 0 {
			parts = append(parts, Part{Lit: rest[:i]})
		}
		off := base + i
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return nil, &Error{off, `"{{" is not closed by "}}"`}
		}
		inner := strings.TrimSpace(rest[i+2 : i+2+j])
		if inner == "" {
			return nil, &Error{off, `empty placeholder "{{}}": put a name inside, e.g. {{ uuid }}`}
		}
		name, args := inner, ""
		if k := strings.IndexAny(inner, " \t\r\n"); k >= 0 {
			name, args = inner[:k], strings.TrimSpace(inner[k:])
		}
		if env, ok := strings.CutPrefix(name, "env."); ok && args == "" {
			name, args = "env", env // {{ env.NAME }} is {{ env NAME }}
			if !ValidName(args, false) {
				return nil, &Error{off, fmt.Sprintf("{{ env.%s }}: invalid variable name %q: use letters, digits and '_' (e.g. {{ env.QA_REGION }})", args, args)}
			}
		} else if !ValidName(name, true) {
			return nil, &Error{off, fmt.Sprintf("invalid name %q in placeholder: use letters, digits, '_' and '.' (e.g. {{ fake.email }})", name)}
		}
		parts = append(parts, Part{Ph: &Placeholder{Name: name, Args: args, Off: off}})
		adv := i + 2 + j + 2
		rest, base = rest[adv:], base+adv
	}
}

// ValidName reports whether s is an identifier ([A-Za-z_][A-Za-z0-9_]*),
// or, with dotted, identifiers joined by '.'.
func ValidName(s string, dotted bool) bool {
	if s == "" {
		return false
	}
	start := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			start = false
		case c >= '0' && c <= '9':
			if start {
				return false
			}
		case c == '.' && dotted:
			if start {
				return false
			}
			start = true
		default:
			return false
		}
	}
	return !start
}

// Undefined is the message for a placeholder whose name means nothing in
// its context: `undefined name {{ x }} (did you mean y?)`, the closest of
// candidates suggested. The context adds what is valid there.
func Undefined(name string, candidates []string) string {
	msg := "undefined name {{ " + name + " }}"
	if c := suggest.Closest(name, candidates); c != "" {
		msg += " (did you mean " + c + "?)"
	}
	return msg
}

// NoArgs is the message for arguments given to a name that takes none.
func NoArgs(name, args string) string {
	return fmt.Sprintf("{{ %s }} takes no arguments, got %q", name, args)
}
