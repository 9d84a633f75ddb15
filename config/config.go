// Package config reads evalrun.yaml, the optional suite configuration.
//
// The file is flat: every flag of "evalrun run" can be set under its own
// name (concurrency: 8, limit: [100/min, 1000/h], threshold: ["p95<2s"]),
// and a few keys hold what a flag cannot say: suite (the default scenario
// paths), targets, defaults (applied to every scenario), judge and env_allow.
// Flags given on the command line override the file.
//
// Parsing is strict: every problem is reported with file:line:col, all at
// once. Which setting names are valid is the caller's to decide (they are
// the CLI's flag names), so Parse keeps settings as text with positions and
// the CLI applies them through its own flag parsing.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/evalrun/evalrun/internal/regularfile"

	"go.yaml.in/yaml/v3"

	"github.com/evalrun/evalrun/internal/yamlpos"
)

// DefaultFile is the name looked for in the working directory.
const DefaultFile = "evalrun.yaml"

// maxFileSize bounds what Parse reads; configuration files are small.
const maxFileSize = 1 << 20

// File is a parsed evalrun.yaml.
type File struct {
	Path string
	// Suite holds the default scenario paths, resolved against the
	// directory of the file.
	Suite []string
	// Settings are flag values in file order.
	Settings []Setting
	// Targets are the agents to run the suite against, side by side.
	Targets []Target
	// Defaults is the `defaults:` node, for scenarios.ParseDefaults.
	Defaults *yaml.Node
	// Judge configures the LLM judge; nil when absent.
	Judge *Judge
	// UserModel configures the model that plays the simulated user of
	// simulate: scenarios (`user_model:`, shaped like judge:); nil when
	// absent (the rule-based user plays it).
	UserModel *Judge
	// EnvAllow lists the environment variables templates may read.
	EnvAllow []string
}

// Setting is one flag set in the file. A list value gives the flag once per
// element (for repeatable flags such as limit and threshold).
type Setting struct {
	Name   string
	Values []string
	Pos    Pos
}

// Target is one agent to run against.
type Target struct {
	Name      string
	Kind      string // optimly (default), openai, http
	URL       string // empty: the simulated agent
	APIKeyEnv string
	// NoKey is true when the entry says the target takes no key:
	// `api_key_env: ""` or `auth: none`. No key is then read or sent.
	NoKey bool
	// Agent is the simulated agent's file when URL is empty, resolved
	// against the file's directory.
	Agent string
	// Options is the kind-specific section (the `optimly:`, `openai:` or
	// `http:` key), nil when absent.
	Options *yaml.Node
	// Node is the whole entry, for the transport settings shared by every
	// kind (TransportKeys), which the CLI decodes.
	Node *yaml.Node
	Pos  Pos
}

// Judge is the `judge:` section.
type Judge struct {
	URL       string
	Model     string
	APIKeyEnv string
	// Limit is the judge's own rate limit as written (COUNT/UNIT, e.g.
	// "2/s" or "60/min"; the CLI parses it like --limit); "" means none.
	// LimitPos is where it is written.
	Limit    string
	LimitPos Pos
	Pos      Pos
}

// Pos is a place in the file; Line and Col are 1-based. It is the place
// type of every file format evalrun reads (internal/yamlpos).
type Pos = yamlpos.Pos

// Error is one problem in the file: "file:line:col: msg", then the source
// line with a caret under the column for a YAML syntax error. It is the
// error type of every file format evalrun reads (internal/yamlpos).
type Error = yamlpos.Error

// ErrorList is every problem found, in file order.
type ErrorList = yamlpos.ErrorList

// Load reads and parses the file at path, which must be a regular file: a
// named pipe or a device is refused without being read (reading a pipe
// would wait for a writer, and the CLI with it).
func Load(path string) (*File, error) {
	f, err := regularfile.Open(path)
	if regularfile.IsNotRegular(err) {
		return nil, fmt.Errorf("%s: %w; the configuration file must be a regular file", path, err)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(ioLimit(f)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return Parse(path, buf.Bytes())
}

// yamlError places the YAML library's error at the offending token, with
// the source line and a caret under it (yamlpos.Syntax).
func yamlError(file string, data []byte, err error) *Error {
	return yamlpos.Syntax(file, string(data), err)
}

// Parse parses the contents of a configuration file named file.
func Parse(file string, data []byte) (*File, error) {
	if len(data) > maxFileSize {
		return nil, ErrorList{{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: fmt.Sprintf("file is larger than %d bytes", maxFileSize)}}
	}
	p := &parser{file: file, cfg: &File{Path: file}}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, errEOF) {
			return p.cfg, nil // an empty file configures nothing
		}
		return nil, ErrorList{yamlError(file, data, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errf(&extra, "a configuration file holds one document; remove the second `---`")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	switch {
	case root.Kind == yaml.ScalarNode && root.Tag == "!!null":
		return p.cfg, nil
	case root.Kind != yaml.MappingNode:
		p.errf(root, "want a mapping of settings (key: value), got %s", kindName(root))
	default:
		p.top(root)
	}
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool {
			a, b := p.errs[i].Pos, p.errs[j].Pos
			return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
		})
		return nil, p.errs
	}
	return p.cfg, nil
}

// Keys that are not flags.
var sectionKeys = []string{"suite", "targets", "defaults", "judge", "user_model", "env_allow"}

type parser struct {
	file string
	cfg  *File
	errs ErrorList
}

func (p *parser) pos(n *yaml.Node) Pos { return Pos{File: p.file, Line: n.Line, Col: n.Column} }

func (p *parser) errf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, &Error{Pos: p.pos(n), Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) dir() string { return filepath.Dir(p.file) }

func (p *parser) top(m *yaml.Node) {
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errf(k, "a key must be a plain name")
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			p.errf(k, "%q is set twice (also at line %d)", k.Value, prev.Line)
			continue
		}
		seen[k.Value] = k
		switch k.Value {
		case "suite":
			for _, s := range p.strings(k.Value, v) {
				p.cfg.Suite = append(p.cfg.Suite, p.resolve(s))
			}
		case "targets":
			p.targets(v)
		case "defaults":
			if v.Kind != yaml.MappingNode {
				p.errf(v, "defaults: want a mapping (tags, vars, expect), got %s", kindName(v))
				continue
			}
			p.cfg.Defaults = v
		case "judge":
			p.judge(v)
		case "user_model":
			p.userModel(v)
		case "env_allow":
			p.cfg.EnvAllow = p.strings(k.Value, v)
		default:
			vals := p.strings(k.Value, v)
			if vals != nil {
				p.cfg.Settings = append(p.cfg.Settings, Setting{Name: k.Value, Values: vals, Pos: p.pos(k)})
			}
		}
	}
}

// strings reads a scalar or a list of scalars.
func (p *parser) strings(key string, v *yaml.Node) []string {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			p.errf(v, "%s: missing value", key)
			return nil
		}
		return []string{v.Value}
	case yaml.SequenceNode:
		out := make([]string, 0, len(v.Content))
		for _, e := range v.Content {
			if e.Kind != yaml.ScalarNode || e.Tag == "!!null" {
				p.errf(e, "%s: each item must be a plain value, got %s", key, kindName(e))
				continue
			}
			out = append(out, e.Value)
		}
		return out
	}
	p.errf(v, "%s: want a value or a list of values, got %s", key, kindName(v))
	return nil
}

func (p *parser) scalar(key string, v *yaml.Node) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		p.errf(v, "%s: want a plain value, got %s", key, kindName(v))
		return "", false
	}
	return v.Value, true
}

func (p *parser) resolve(path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(p.dir(), path)
}

var targetKeys = append([]string{"name", "kind", "url", "api_key_env", "agent", "optimly", "openai", "http"}, TransportKeys...)

// TransportKeys are the settings of a target shared by every kind (see
// docs/targets.md); Parse checks they are plain values and leaves their
// decoding to the caller, through Target.Node.
var TransportKeys = []string{"auth", "header", "query_param", "api_version", "ca_cert", "allow_insecure_http", "timeout"}

// Kinds of target.
var Kinds = []string{"optimly", "openai", "http"}

func (p *parser) targets(v *yaml.Node) {
	if v.Kind != yaml.SequenceNode {
		p.errf(v, "targets: want a list of targets (- name: ..., url: ...), got %s", kindName(v))
		return
	}
	names := map[string]int{}
	for i, tn := range v.Content {
		if tn.Kind != yaml.MappingNode {
			p.errf(tn, "targets[%d]: want a mapping with name, kind, url, api_key_env, got %s", i, kindName(tn))
			continue
		}
		t := Target{Kind: "optimly", Node: tn, Pos: p.pos(tn)}
		var kindNode *yaml.Node
		for j := 0; j+1 < len(tn.Content); j += 2 {
			k, val := tn.Content[j], tn.Content[j+1]
			field := fmt.Sprintf("targets[%d].%s", i, k.Value)
			switch k.Value {
			case "name":
				t.Name, _ = p.scalar(field, val)
			case "kind":
				t.Kind, _ = p.scalar(field, val)
				kindNode = val
			case "url":
				t.URL, _ = p.scalar(field, val)
			case "api_key_env":
				t.APIKeyEnv, _ = p.scalar(field, val)
				t.NoKey = t.NoKey || (t.APIKeyEnv == "" && val.Kind == yaml.ScalarNode && val.Tag != "!!null")
			case "agent":
				s, _ := p.scalar(field, val)
				t.Agent = p.resolve(s)
			case "auth", "header", "query_param", "api_version", "ca_cert", "allow_insecure_http", "timeout":
				if s, _ := p.scalar(field, val); k.Value == "auth" && s == "none" {
					t.NoKey = true
				}
			case "optimly", "openai", "http":
				if val.Kind != yaml.MappingNode {
					p.errf(val, "%s: want a mapping, got %s", field, kindName(val))
					continue
				}
				t.Options = val
			default:
				p.errf(k, "unknown key %q in a target%s; valid keys: %s", k.Value, suggest(k.Value, targetKeys), strings.Join(targetKeys, ", "))
			}
		}
		if !contains(Kinds, t.Kind) && kindNode != nil {
			p.errf(kindNode, "targets[%d].kind: %q is not a kind; valid kinds: %s", i, t.Kind, strings.Join(Kinds, ", "))
		}
		if t.Options != nil {
			// The kind-specific section must match the kind.
			for j := 0; j+1 < len(tn.Content); j += 2 {
				k := tn.Content[j]
				if contains(Kinds, k.Value) && k.Value != t.Kind {
					p.errf(k, "targets[%d]: section %q does not match kind %q", i, k.Value, t.Kind)
				}
			}
		}
		if t.Name == "" {
			p.errf(tn, "targets[%d]: missing name (used in reports to tell targets apart)", i)
		} else if prev, dup := names[t.Name]; dup {
			p.errf(tn, "targets[%d]: name %q is also used by targets[%d]; names must be unique", i, t.Name, prev)
		} else {
			names[t.Name] = i
		}
		if t.URL != "" && t.Agent != "" {
			p.errf(tn, "targets[%d]: give url (a real agent) or agent (a simulated agent file), not both", i)
		}
		p.cfg.Targets = append(p.cfg.Targets, t)
	}
}

var judgeKeys = []string{"url", "model", "api_key_env", "limit"}

func (p *parser) judge(v *yaml.Node) {
	if j := p.modelSection("judge", v); j != nil {
		p.cfg.Judge = j
	}
}

// userModel parses `user_model:`, which takes the keys of judge:.
func (p *parser) userModel(v *yaml.Node) {
	if u := p.modelSection("user_model", v); u != nil {
		p.cfg.UserModel = u
	}
}

// modelSection parses a section naming an OpenAI-compatible model (judge:,
// user_model:): url, model, api_key_env and limit; nil when it is not a
// mapping. Errors name the section's keys as section.key.
func (p *parser) modelSection(section string, v *yaml.Node) *Judge {
	if v.Kind != yaml.MappingNode {
		p.errf(v, "%s: want a mapping with %s, got %s", section, strings.Join(judgeKeys, ", "), kindName(v))
		return nil
	}
	j := &Judge{Pos: p.pos(v)}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		switch k.Value {
		case "url":
			j.URL, _ = p.scalar(section+".url", val)
		case "model":
			j.Model, _ = p.scalar(section+".model", val)
		case "api_key_env":
			j.APIKeyEnv, _ = p.scalar(section+".api_key_env", val)
		case "limit":
			j.Limit, _ = p.scalar(section+".limit", val)
			j.LimitPos = p.pos(val)
		default:
			p.errf(k, "unknown key %q in %s%s; valid keys: %s", k.Value, section, suggest(k.Value, judgeKeys), strings.Join(judgeKeys, ", "))
		}
	}
	if j.URL == "" {
		p.errf(v, "%s: missing url (an OpenAI-compatible base URL)", section)
	}
	if j.Model == "" {
		p.errf(v, "%s: missing model", section)
	}
	return j
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
