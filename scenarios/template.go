package scenarios

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Template is a text with {{ name }} placeholders (spaces inside the braces
// are optional). A name is a scenario var, a value captured by an earlier
// turn, or a built-in: uuid, iteration, run_id, scenario, fake.name,
// fake.email, fake.phone, fake.company, date (with an optional offset and
// layout: {{ date +2d "Monday" }}) and env NAME. Load checks every name against what
// is defined at that place, so a Template from a loaded Suite renders
// without error. Text outside placeholders is copied as is; "}}" alone is
// plain text, "{{" must be closed.
type Template struct {
	src   string
	parts []tmplPart
}

// tmplPart is either literal text (ph == nil) or a placeholder.
type tmplPart struct {
	lit string
	ph  *placeholder
}

// placeholder is one {{ name args }} in a template.
type placeholder struct {
	name string
	args string // text after the name, for built-ins with arguments
	arg  any    // args as parsed by the built-in
	off  int    // byte offset of "{{" in the source
}

// templateError is a syntax error at a byte offset of a template's source.
type templateError struct {
	off int
	msg string
}

func (e *templateError) Error() string { return e.msg }

// ErrNoValue is returned (wrapped) by Template.Render when a placeholder's
// name has no value in the Env: a capture whose turn did not match (the
// conversation went on with on_fail: continue), or an Env that lacks the
// scenario's vars.
var ErrNoValue = errors.New("no value")

// ParseTemplate parses a template's syntax: every "{{" closed by "}}" around
// a name made of letters, digits, '_' and '.'. It does not check that the
// names are defined; Load does, with the file position of each placeholder.
func ParseTemplate(src string) (*Template, error) {
	t, err := parseTemplate(src)
	if err != nil {
		return nil, fmt.Errorf("template %q at byte %d: %w", src, err.off, err)
	}
	return t, nil
}

func parseTemplate(src string) (*Template, *templateError) {
	t := &Template{src: src}
	rest, base := src, 0
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, tmplPart{lit: rest})
			}
			return t, nil
		}
		if i > 0 {
			t.parts = append(t.parts, tmplPart{lit: rest[:i]})
		}
		off := base + i
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return nil, &templateError{off, `"{{" is not closed by "}}"`}
		}
		inner := strings.TrimSpace(rest[i+2 : i+2+j])
		if inner == "" {
			return nil, &templateError{off, `empty placeholder "{{}}": put a name inside, e.g. {{ uuid }}`}
		}
		name, args := inner, ""
		if k := strings.IndexAny(inner, " \t\r\n"); k >= 0 {
			name, args = inner[:k], strings.TrimSpace(inner[k:])
		}
		if !validName(name, true) {
			return nil, &templateError{off, fmt.Sprintf("invalid name %q in placeholder: use letters, digits, '_' and '.' (e.g. {{ fake.email }})", name)}
		}
		ph := &placeholder{name: name, args: args, off: off}
		if b, ok := builtins[name]; ok && b.args != nil {
			a, err := b.args(args)
			if err != nil {
				return nil, &templateError{off, err.Error()}
			}
			ph.arg = a
		}
		t.parts = append(t.parts, tmplPart{ph: ph})
		adv := i + 2 + j + 2
		rest, base = rest[adv:], base+adv
	}
}

// validName reports whether s is an identifier ([A-Za-z_][A-Za-z0-9_]*),
// or, with dotted, identifiers joined by '.'.
func validName(s string, dotted bool) bool {
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

// String returns the template's source.
func (t *Template) String() string {
	if t == nil {
		return ""
	}
	return t.src
}

// Names returns the names used by the template's placeholders, in order,
// repeated if used several times.
func (t *Template) Names() []string {
	var names []string
	for _, p := range t.parts {
		if p.ph != nil {
			names = append(names, p.ph.name)
		}
	}
	return names
}

func (t *Template) placeholders() []*placeholder {
	var phs []*placeholder
	for _, p := range t.parts {
		if p.ph != nil {
			phs = append(phs, p.ph)
		}
	}
	return phs
}

// Render fills in the placeholders from env: captures first, then vars,
// then built-ins (Load keeps these names apart, so the order only matters
// for hand-made Envs). A nil env renders only built-ins that need nothing.
// Rendering a uuid advances env's counter, so each {{ uuid }} differs while
// the sequence stays reproducible for the same RunID, Seed and Conversation.
//
// The only error is a name without a value (see ErrNoValue).
func (t *Template) Render(env *Env) (string, error) {
	if t == nil {
		return "", nil
	}
	if len(t.parts) == 1 && t.parts[0].ph == nil {
		return t.parts[0].lit, nil // plain text: no copy
	}
	if env == nil {
		env = &Env{}
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.ph == nil {
			b.WriteString(p.lit)
			continue
		}
		v, ok := env.lookup(p.ph)
		if !ok {
			if p.ph.name == "env" {
				return "", fmt.Errorf("{{ env %s }} in %q: %w (environment variable %s is not set)", p.ph.args, t.src, ErrNoValue, p.ph.args)
			}
			return "", fmt.Errorf("{{ %s }} in %q: %w (%s)", p.ph.name, t.src, ErrNoValue, noValueHint(p.ph.name))
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

func noValueHint(name string) string {
	if _, ok := builtins[name]; ok {
		return "built-in"
	}
	return "not a var, and no earlier turn captured it"
}

// Env is what a template is rendered with. One Env belongs to one
// conversation; it is not safe for concurrent use.
type Env struct {
	Vars         map[string]string // scenario vars
	Captures     map[string]string // values captured by earlier turns
	RunID        string
	Scenario     string
	Iteration    int   // 0-based index of the conversation within its scenario's repeats
	Conversation int   // run-wide conversation number, for per-conversation fake data
	Seed         int64 // the run's seed; fake.* values derive from (Seed, Conversation)
	// Now is the run's start time, what {{ date }} is relative to; zero
	// means the time of rendering.
	Now time.Time
	// LookupEnv reads {{ env NAME }}; nil means os.LookupEnv.
	LookupEnv func(name string) (string, bool)

	uuids uint64 // uuids rendered so far, for reproducible uuid sequences
}

func (env *Env) lookup(ph *placeholder) (string, bool) {
	name := ph.name
	if v, ok := env.Captures[name]; ok {
		return v, true
	}
	if v, ok := env.Vars[name]; ok {
		return v, true
	}
	if b, ok := builtins[name]; ok {
		return b.render(env, ph.arg)
	}
	return "", false
}
