package scenarios

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/evalrun/evalrun/internal/tmpl"
)

// Template is a text with {{ name }} placeholders (spaces inside the braces
// are optional), in evalrun's one template syntax (internal/tmpl, the same
// as the generic HTTP target's request templates). A name is a scenario var, a value captured by an earlier
// turn, or a built-in: uuid, iteration, run_id, scenario, fake.name,
// fake.email, fake.phone, fake.company, date (with an optional offset and
// layout: {{ date +2d "Monday" }}) and env NAME (or env.NAME). Load checks every name against what
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
		return nil, fmt.Errorf("template %q at byte %d: %w", src, err.Off, err)
	}
	return t, nil
}

// parseTemplate parses src with the one template syntax (internal/tmpl)
// and the arguments of built-ins such as {{ date +2d }}.
func parseTemplate(src string) (*Template, *tmpl.Error) {
	parsed, terr := tmpl.Parse(src)
	if terr != nil {
		return nil, terr
	}
	t := &Template{src: src, parts: make([]tmplPart, 0, len(parsed))}
	for _, p := range parsed {
		if p.Ph == nil {
			t.parts = append(t.parts, tmplPart{lit: p.Lit})
			continue
		}
		ph := &placeholder{name: p.Ph.Name, args: p.Ph.Args, off: p.Ph.Off}
		if b, ok := builtins[ph.name]; ok && b.args != nil {
			a, err := b.args(ph.args)
			if err != nil {
				return nil, &tmpl.Error{Off: ph.off, Msg: err.Error()}
			}
			ph.arg = a
		}
		t.parts = append(t.parts, tmplPart{ph: ph})
	}
	return t, nil
}

// validName reports whether s is an identifier ([A-Za-z_][A-Za-z0-9_]*),
// or, with dotted, identifiers joined by '.'.
func validName(s string, dotted bool) bool { return tmpl.ValidName(s, dotted) }

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
