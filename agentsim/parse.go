package agentsim

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/evalrun/evalrun/internal/suggest"
	"github.com/evalrun/evalrun/internal/yamlpos"
)

// ParseError is one problem in an agent file, at a position in it
// ("file:line:col: msg", then the source line with a caret under the column
// for a YAML syntax error). It is the error type of every file format
// evalrun reads (internal/yamlpos): scenarios.Error, config.Error.
type ParseError = yamlpos.Error

// ParseErrors lists every problem found in one agent file, in file order.
// ParseAgent returns it (as error) when the file has any problem.
type ParseErrors = yamlpos.ErrorList

// The keys valid in each mapping of an agent file, in documentation order.
var (
	topKeys         = []string{"name", "id", "api_keys", "seed", "personality", "knowledge", "fallback", "tools", "latency", "faults", "quota", "limits", "envelope"}
	personalityKeys = []string{"greeting", "openers"}
	entryKeys       = []string{"topic", "keywords", "phrases", "answer"}
	toolsKeys       = []string{"lead_capture", "appointment", "email_handoff"}
	toolKeys        = []string{"enabled", "reply"}
	handoffKeys     = []string{"enabled", "reply", "queue"}
	latencyKeys     = []string{"median", "p99", "fixed"}
	faultsKeys      = []string{"throttle", "error500", "error503", "drop", "malformed", "slow", "slow_delay", "retry_after"}
	limitsKeys      = []string{"per_minute", "per_hour", "new_chats_per_minute", "v1_per_minute"}
)

// maxAgentFile bounds the size of an agent file ParseAgent accepts.
const maxAgentFile = 4 << 20

// ParseAgent parses and checks an agent file; file names it in errors. It is
// strict: an unknown key, a value of the wrong type, a missing required field
// (name, api_keys, fallback) or an out-of-range value is an error naming
// file:line:col and what would be valid. All problems are reported at once,
// as ParseErrors. Error messages never contain an API key.
func ParseAgent(file string, data []byte) (*Agent, error) {
	d := &decoder{file: file}
	if len(data) > maxAgentFile {
		d.errs = append(d.errs, &ParseError{Pos: yamlpos.At(file, nil), Msg: fmt.Sprintf("file is %d bytes; an agent file may be at most %d", len(data), maxAgentFile)})
		return nil, d.errs
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errs = append(d.errs, &ParseError{Pos: yamlpos.At(file, nil), Msg: "file is empty; an agent file needs at least name, api_keys and fallback"})
			return nil, d.errs
		}
		d.errs = append(d.errs, syntaxError(file, string(data), err))
		return nil, d.errs
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errorf(&extra, "a second YAML document; an agent file holds exactly one agent")
	} else if !errors.Is(err, io.EOF) {
		d.errs = append(d.errs, syntaxError(file, string(data), err))
	}
	a := &Agent{Faults: Faults{RetryAfter: time.Second}}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	d.agent(root, a)
	if len(d.errs) > 0 {
		d.errs.Sort()
		return nil, d.errs
	}
	return a, nil
}

// syntaxError places a YAML syntax error at the offending token with the
// source line and a caret (yamlpos.Syntax), except that a line of the
// api_keys block is not shown: an error message never contains a key.
func syntaxError(file, src string, err error) *ParseError {
	e := yamlpos.Syntax(file, src, err)
	if e.Source != "" && inAPIKeys(src, e.Pos.Line) {
		e.Source = ""
		e.Msg += " (the line is not shown: it is in api_keys)"
	}
	return e
}

// inAPIKeys reports whether line n (1-based) of src is, or may be, part of
// the api_keys entry: the line of the key and every line after it that is
// indented deeper or is a "- " item at its indentation. The file does not
// parse, so this reads the lines, and errs towards hiding.
func inAPIKeys(src string, n int) bool {
	in, indent := false, 0
	for i, line := range strings.Split(strings.ReplaceAll(src, "\r", "\n"), "\n") {
		body := strings.TrimLeft(line, " \t")
		ind := len(line) - len(body)
		switch {
		case strings.Contains(line, "api_keys"):
			in, indent = true, ind
		case in && (body == "" || strings.HasPrefix(body, "#") || ind > indent || ind == indent && strings.HasPrefix(body, "-")):
		default:
			in = false
		}
		if i+1 == n {
			return in
		}
	}
	return false
}

// decoder walks the YAML node tree, filling an Agent and collecting errors.
type decoder struct {
	file string
	errs ParseErrors
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs.Add(yamlpos.At(d.file, n), format, args...)
}

// resolve follows aliases (bounded, in case of a cycle).
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

// mapping checks that n is a mapping whose keys are all in valid (each at
// most once) and calls fn for each key in file order.
func (d *decoder) mapping(n *yaml.Node, what string, valid []string, fn func(key string, k, v *yaml.Node)) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping with keys %s, got %s", what, strings.Join(valid, ", "), describe(n))
		return
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			d.errorf(k, "%s: keys must be plain words; valid keys: %s", what, strings.Join(valid, ", "))
			continue
		}
		key := k.Value
		if !contains(valid, key) {
			msg := fmt.Sprintf("unknown key %q in %s", key, what)
			if s := closest(key, valid); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errorf(k, "%s; valid keys: %s", msg, strings.Join(valid, ", "))
			continue
		}
		if line, dup := seen[key]; dup {
			d.errorf(k, "key %q in %s is repeated (first at line %d)", key, what, line)
			continue
		}
		seen[key] = k.Line
		fn(key, k, v)
	}
}

func (d *decoder) agent(n *yaml.Node, a *Agent) {
	var nameNode *yaml.Node
	var keysNode, fallbackNode bool
	d.mapping(n, "the agent file", topKeys, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			nameNode = v
			if a.Name = d.text(v, "name"); strings.TrimSpace(a.Name) == "" && resolve(v) != nil && resolve(v).Kind == yaml.ScalarNode && resolve(v).Tag != "!!null" {
				d.errorf(v, "name must not be blank")
			}
		case "id":
			a.ID = d.text(v, "id")
		case "api_keys":
			keysNode = true
			a.APIKeys = d.keys(v)
		case "seed":
			a.Seed = d.integer(v, "seed", math.MinInt64)
		case "personality":
			d.mapping(v, "personality", personalityKeys, func(key string, _, v *yaml.Node) {
				switch key {
				case "greeting":
					a.Personality.Greeting = d.text(v, "personality.greeting")
				case "openers":
					a.Personality.Openers = d.textList(v, "personality.openers", true)
				}
			})
		case "knowledge":
			a.Knowledge = d.knowledge(v)
		case "fallback":
			fallbackNode = true
			a.Fallback = d.text(v, "fallback")
		case "tools":
			d.mapping(v, "tools", toolsKeys, func(key string, _, v *yaml.Node) {
				switch key {
				case "lead_capture":
					a.Tools.LeadCapture = d.tool(v, "tools.lead_capture", toolKeys)
				case "appointment":
					a.Tools.Appointment = d.tool(v, "tools.appointment", toolKeys)
				case "email_handoff":
					a.Tools.EmailHandoff = d.tool(v, "tools.email_handoff", handoffKeys)
				}
			})
		case "latency":
			a.Latency = d.latency(v)
		case "faults":
			a.Faults = d.faults(v)
		case "quota":
			a.Quota = d.integer(v, "quota", 0)
		case "limits":
			d.mapping(v, "limits", limitsKeys, func(key string, _, v *yaml.Node) {
				x := d.integer(v, "limits."+key, 0)
				switch key {
				case "per_minute":
					a.Limits.PerMinute = x
				case "per_hour":
					a.Limits.PerHour = x
				case "new_chats_per_minute":
					a.Limits.NewChatsPerMinute = x
				case "v1_per_minute":
					a.Limits.V1PerMinute = x
				}
			})
		case "envelope":
			a.Envelope = d.boolean(v, "envelope")
		}
	})
	if resolve(n) == nil || resolve(n).Kind != yaml.MappingNode {
		return
	}
	if nameNode == nil {
		d.errorf(n, "missing required key name (the agent's display name)")
	}
	if !keysNode {
		d.errorf(n, "missing required key api_keys (a list of at least one API key the agent accepts)")
	}
	if !fallbackNode {
		d.errorf(n, "missing required key fallback (the answer when nothing in the knowledge base matches)")
	}
}

// keys reads api_keys without ever echoing a key in an error.
func (d *decoder) keys(n *yaml.Node) []string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		d.errorf(n, "api_keys must be a list of keys, e.g. [\"sim-demo-key\"], got %s", describe(n))
		return nil
	}
	if len(n.Content) == 0 {
		d.errorf(n, "api_keys must hold at least one key")
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		c = resolve(c)
		if c == nil || c.Kind != yaml.ScalarNode || c.Tag == "!!null" {
			d.errorf(c, "api_keys[%d] must be a text key, got %s", i, kindName(c))
			continue
		}
		k := c.Value
		switch {
		case k == "":
			d.errorf(c, "api_keys[%d] is empty", i)
		case strings.ContainsAny(k, " \t\r\n"):
			d.errorf(c, "api_keys[%d] contains white space; keys are sent in an HTTP header", i)
		default:
			out = append(out, k)
		}
	}
	return out
}

func (d *decoder) knowledge(n *yaml.Node) []Entry {
	n = resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		d.errorf(n, "knowledge must be a list of entries (each with keywords and/or phrases, and answer), got %s", describe(n))
		return nil
	}
	out := make([]Entry, 0, len(n.Content))
	for i, c := range n.Content {
		what := fmt.Sprintf("knowledge[%d]", i)
		var e Entry
		var hasAnswer bool
		d.mapping(c, what, entryKeys, func(key string, _, v *yaml.Node) {
			switch key {
			case "topic":
				e.Topic = d.text(v, what+".topic")
			case "keywords":
				e.Keywords = d.textList(v, what+".keywords", false)
			case "phrases":
				e.Phrases = d.textList(v, what+".phrases", false)
			case "answer":
				hasAnswer = true
				e.Answer = d.text(v, what+".answer")
			}
		})
		if rc := resolve(c); rc == nil || rc.Kind != yaml.MappingNode {
			continue
		}
		if !hasAnswer {
			d.errorf(c, "%s: missing required key answer", what)
		} else if strings.TrimSpace(e.Answer) == "" {
			d.errorf(c, "%s: answer must not be empty", what)
		}
		if len(e.Keywords)+len(e.Phrases) == 0 {
			d.errorf(c, "%s: needs at least one of keywords or phrases, or it can never match", what)
		}
		for _, w := range append(append([]string(nil), e.Keywords...), e.Phrases...) {
			if len(normalize(w)) == 0 {
				d.errorf(c, "%s: %q has no letters or digits to match", what, w)
			}
		}
		out = append(out, e)
	}
	return out
}

func (d *decoder) tool(n *yaml.Node, what string, valid []string) Tool {
	t := Tool{Enabled: true}
	if r := resolve(n); r != nil && r.Kind == yaml.ScalarNode && r.Tag == "!!null" {
		return t // "lead_capture:" with nothing after it: on, with defaults
	}
	d.mapping(n, what, valid, func(key string, _, v *yaml.Node) {
		switch key {
		case "enabled":
			t.Enabled = d.boolean(v, what+".enabled")
		case "reply":
			t.Reply = d.text(v, what+".reply")
		case "queue":
			t.Queue = d.text(v, what+".queue")
		}
	})
	return t
}

func (d *decoder) latency(n *yaml.Node) LatencyModel {
	var l LatencyModel
	var fixed, median, p99 *yaml.Node
	d.mapping(n, "latency", latencyKeys, func(key string, _, v *yaml.Node) {
		switch key {
		case "median":
			l.Median, median = d.duration(v, "latency.median"), v
		case "p99":
			l.P99, p99 = d.duration(v, "latency.p99"), v
		case "fixed":
			l.Fixed, fixed = d.duration(v, "latency.fixed"), v
		}
	})
	switch {
	case fixed != nil && (median != nil || p99 != nil):
		d.errorf(fixed, "latency: give either fixed, or median and p99, not both")
	case (median == nil) != (p99 == nil):
		at := median
		if at == nil {
			at = p99
		}
		d.errorf(at, "latency: a log-normal latency needs both median and p99 (e.g. {median: 40ms, p99: 200ms})")
	case median != nil && l.P99 < l.Median:
		d.errorf(p99, "latency.p99 (%v) must be at least latency.median (%v)", l.P99, l.Median)
	case median != nil && l.Median == 0 && l.P99 > 0:
		d.errorf(median, "latency.median must be positive when p99 is (a log-normal has no zero median)")
	}
	return l
}

func (d *decoder) faults(n *yaml.Node) Faults {
	f := Faults{RetryAfter: time.Second}
	var slow *yaml.Node
	var hasDelay bool
	d.mapping(n, "faults", faultsKeys, func(key string, _, v *yaml.Node) {
		switch key {
		case "slow_delay":
			f.SlowDelay, hasDelay = d.duration(v, "faults.slow_delay"), true
			return
		case "retry_after":
			f.RetryAfter = d.duration(v, "faults.retry_after")
			return
		}
		x := d.fraction(v, "faults."+key)
		switch key {
		case "throttle":
			f.Throttle = x
		case "error500":
			f.Error500 = x
		case "error503":
			f.Error503 = x
		case "drop":
			f.Drop = x
		case "malformed":
			f.Malformed = x
		case "slow":
			f.Slow, slow = x, v
		}
	})
	if sum := f.Throttle + f.Error500 + f.Error503 + f.Drop + f.Malformed + f.Slow; sum > 1+1e-9 {
		d.errorf(n, "faults: the fractions add up to %g; their sum must be at most 1", sum)
	}
	if f.Slow > 0 && (!hasDelay || f.SlowDelay <= 0) {
		d.errorf(slow, "faults.slow needs faults.slow_delay, the stall of a slow answer (e.g. slow_delay: 5s)")
	}
	return f
}

// text reads a scalar as text. Numbers and booleans are taken as written.
func (d *decoder) text(n *yaml.Node, what string) string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, "%s must be text, got %s", what, describe(n))
		return ""
	}
	return n.Value
}

func (d *decoder) textList(n *yaml.Node, what string, allowEmpty bool) []string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list of text, e.g. [\"a\", \"b\"], got %s", what, describe(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		s := d.text(c, fmt.Sprintf("%s[%d]", what, i))
		if s == "" && !allowEmpty {
			if c := resolve(c); c != nil && c.Kind == yaml.ScalarNode && c.Tag != "!!null" {
				d.errorf(c, "%s[%d] is empty", what, i)
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// integer reads a whole number no smaller than min.
func (d *decoder) integer(n *yaml.Node, what string, min int64) int64 {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.errorf(n, "%s must be a whole number, got %s", what, describe(n))
		return 0
	}
	var x int64
	if err := n.Decode(&x); err != nil {
		d.errorf(n, "%s: %q is not a whole number that fits in 64 bits", what, n.Value)
		return 0
	}
	if x < min {
		d.errorf(n, "%s must be at least %d, got %d", what, min, x)
		return 0
	}
	return x
}

func (d *decoder) fraction(n *yaml.Node, what string) float64 {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		d.errorf(n, "%s must be a fraction from 0 to 1 (e.g. 0.05 for 5%%), got %s", what, describe(n))
		return 0
	}
	var x float64
	if err := n.Decode(&x); err != nil || math.IsNaN(x) || x < 0 || x > 1 {
		d.errorf(n, "%s must be a fraction from 0 to 1 (e.g. 0.05 for 5%%), got %s", what, n.Value)
		return 0
	}
	return x
}

func (d *decoder) boolean(n *yaml.Node, what string) bool {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.errorf(n, "%s must be true or false, got %s", what, describe(n))
		return false
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		d.errorf(n, "%s must be true or false, got %q", what, n.Value)
	}
	return b
}

// duration reads a Go duration such as 40ms or 1.5s ("0" is also accepted).
func (d *decoder) duration(n *yaml.Node, what string) time.Duration {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, "%s must be a duration such as 40ms or 1.5s, got %s", what, describe(n))
		return 0
	}
	if n.Value == "0" {
		return 0
	}
	x, err := time.ParseDuration(n.Value)
	if err != nil {
		d.errorf(n, "%s: %q is not a duration; write a number with a unit, such as 40ms or 1.5s", what, n.Value)
		return 0
	}
	if x < 0 {
		d.errorf(n, "%s must not be negative, got %s", what, n.Value)
		return 0
	}
	if x > time.Hour {
		d.errorf(n, "%s must be at most 1h, got %s", what, n.Value)
		return 0
	}
	return x
}

// describe names what a node is, for "got ..." in errors. Scalars are quoted
// up to a short length.
func describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return fmt.Sprintf("%s %q", kindName(n), v)
	}
	return kindName(n)
}

func kindName(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.DocumentNode:
		return "a document"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.Tag {
	case "!!null":
		return "null"
	case "!!int":
		return "number"
	case "!!float":
		return "number"
	case "!!bool":
		return "boolean"
	}
	return "text"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// closest returns the valid key nearest to key when it is plausibly a typo.
func closest(key string, valid []string) string { return suggest.Closest(key, valid) }
