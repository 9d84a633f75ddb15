package scenarios

// This file pins the package's API for the other packages while it is being
// built. The scenarios implementation replaces every declaration here.

import (
	"errors"
	"regexp"
)

// Template is a text with {{ name }} placeholders, checked at load time.
type Template struct{ src string }

// ParseTemplate parses a template; unknown names are reported by Load, not here.
func ParseTemplate(src string) (*Template, error) { return &Template{src: src}, nil }

// Render fills in the placeholders from env.
func (t *Template) Render(env *Env) (string, error) { return t.src, nil }

// String returns the template's source.
func (t *Template) String() string { return t.src }

// Env is what a template is rendered with.
type Env struct {
	Vars         map[string]string // scenario vars
	Captures     map[string]string // values captured by earlier turns
	RunID        string
	Scenario     string
	Iteration    int   // 0-based index of the conversation within its scenario's repeats
	Conversation int   // run-wide conversation number, for per-conversation fake data
	Seed         int64 // the run's seed; fake.* values derive from (Seed, Conversation)
}

// Expectation is one check on a reply.
type Expectation struct {
	Name string
	Kind string
	Pos  Pos
}

// String describes the expectation as written, e.g. `icontains "growth"`.
func (e *Expectation) String() string { return e.Kind }

// Evaluate checks the expectation against one observation.
func (e *Expectation) Evaluate(obs *Observation) Verdict { return Verdict{Expectation: e.String()} }

// Capture saves the first group of Pattern's match in the reply text as Name.
type Capture struct {
	Name    string
	Pattern *regexp.Regexp
	Pos     Pos
}

// Evaluate checks every expectation of the turn and applies its captures,
// storing captured values in captures. A capture whose pattern does not match
// yields a failed Verdict.
func (t *Turn) Evaluate(obs *Observation, captures map[string]string) []Verdict { return nil }

// Load reads scenario files and directories (recursively, *.yaml and *.yml).
// The error, if any, is an ErrorList holding every problem found.
func Load(paths ...string) (*Suite, error) { return nil, errors.New("not implemented") }

// Parse parses the scenarios of one file's contents.
func Parse(file string, data []byte) ([]*Scenario, error) { return nil, errors.New("not implemented") }
