package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The structure, cost and speed kinds check what the agent did besides
// writing text: the tools it executed, a handoff to a human, the time the
// reply took and the tokens it used.

// Tool statuses a `tool:` expectation without a status accepts: Optimly
// reports the tools the agent ran as StatusExecuted; the openai transport
// reports the tool calls the model asked for (which the server does not
// run) as StatusCalled. Either shows the agent used the tool, so a scenario
// runs unchanged against both; an explicit `status:` wants exactly that one.
const (
	StatusExecuted = "executed"
	StatusCalled   = "called"
)

func init() {
	kinds["tool"] = kindSpec{doc: "the agent ran this tool: `tool: NAME` or `tool: {name: NAME, status: STATUS, data: {...}}` (without a status, executed or called is accepted; data is matched as a subset)", parse: parseTool}
	kinds["no_tool"] = kindSpec{doc: "the agent did not call this tool (`no_tool: NAME`), or no tool at all (`no_tool: true`)", parse: parseNoTool}
	kinds["handoff"] = kindSpec{doc: "the reply hands the conversation to a human (true) or not (false)", parse: parseHandoff}
	kinds["max_latency"] = kindSpec{doc: "the reply took at most this long, e.g. 3s or 800ms", parse: parseMaxLatency}
	kinds["max_tokens"] = kindSpec{doc: "the reply used at most this many tokens, as the agent reports them", parse: parseMaxTokens}
}

func parseTool(d *decoder, v *yaml.Node) checker {
	switch v.Kind {
	case yaml.ScalarNode:
		name, ok := d.nonEmpty(v, "tool")
		if !ok {
			return nil
		}
		return toolCheck{name: name}
	case yaml.MappingNode:
	default:
		d.errorf(v, "tool: expected a tool name or a mapping {name, status, data}, got %s", describe(v))
		return nil
	}
	before := len(d.errs)
	fs, _ := d.fields(v, "tool", []string{"name", "status", "data"})
	var c toolCheck
	hasName := false
	for _, f := range fs {
		if f.name == "data" {
			if f.val.Kind != yaml.MappingNode {
				d.errorf(f.val, "tool.data: expected a mapping of the fields the tool's data must contain, got %s", describe(f.val))
				continue
			}
			if val, ok := d.value(f.val, "tool.data"); ok {
				c.data = val.(map[string]any)
			}
			continue
		}
		s, ok := d.nonEmpty(f.val, f.name)
		if !ok {
			continue
		}
		if f.name == "name" {
			c.name, hasName = s, true
		} else {
			c.status = s
		}
	}
	if len(d.errs) > before {
		return nil
	}
	if !hasName {
		d.errorf(v, "tool: missing name, e.g. {name: lead_capture, status: executed}")
		return nil
	}
	return c
}

// toolCheck wants a tool with the name and status (empty: StatusExecuted
// or StatusCalled) whose data contains data (a subset match; nil checks
// nothing).
type toolCheck struct {
	name, status string
	data         map[string]any
}

// accepts reports whether a tool with status s counts.
func (c toolCheck) accepts(s string) bool {
	if c.status == "" {
		return s == StatusExecuted || s == StatusCalled
	}
	return s == c.status
}

// want describes the statuses that count.
func (c toolCheck) want() string {
	if c.status == "" {
		return StatusExecuted + " or " + StatusCalled
	}
	return c.status
}

func (c toolCheck) String() string {
	s := "tool " + c.name
	if c.status != "" && c.status != StatusExecuted {
		s += " status " + c.status
	}
	if c.data != nil {
		s += " data " + showValue(c.data)
	}
	return s
}

func (c toolCheck) check(obs *Observation) (bool, string) {
	var other []string
	dataWhy := ""
	for _, t := range obs.Tools {
		if t.Name == c.name {
			if !c.accepts(t.Status) {
				other = append(other, statusOrNone(t.Status))
				continue
			}
			if c.data == nil {
				return true, ""
			}
			var got any = map[string]any(t.Data)
			if t.Data == nil {
				got = map[string]any{}
			}
			ok, where, found := subset(c.data, got, "data")
			if ok {
				return true, ""
			}
			if dataWhy == "" {
				dataWhy = fmt.Sprintf("tool %s %s %s", c.name, where, found)
			}
		}
	}
	if dataWhy != "" {
		return false, dataWhy
	}
	if len(other) > 0 {
		return false, fmt.Sprintf("tool %s has status %s, want %s", c.name, strings.Join(other, ", "), c.want())
	}
	return false, fmt.Sprintf("no tool %s %s (tools: %s)", c.name, c.want(), toolNames(obs.Tools, false))
}

func statusOrNone(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// toolNames lists tools for reasons: "lead_capture, appointment" or "none";
// withStatus adds each tool's status in parentheses.
func toolNames(tools []Tool, withStatus bool) string {
	if len(tools) == 0 {
		return "none"
	}
	names := make([]string, len(tools))
	for i, t := range tools {
		names[i] = t.Name
		if withStatus {
			names[i] += " (" + statusOrNone(t.Status) + ")"
		}
	}
	return strings.Join(names, ", ")
}

func parseNoTool(d *decoder, v *yaml.Node) checker {
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!bool" {
		b, _ := d.bool(v, "no_tool")
		if !b {
			d.errorf(v, "no_tool: false checks nothing; use `no_tool: NAME` or `no_tool: true` (no tool at all)")
			return nil
		}
		return noToolCheck{}
	}
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
		d.errorf(v, "no_tool: expected a tool name or true, got %s", describe(v))
		return nil
	}
	name, ok := d.nonEmpty(v, "no_tool")
	if !ok {
		return nil
	}
	return noToolCheck{name: name}
}

// noToolCheck fails when the named tool (any tool, if name is "") was
// called, whatever its status: an attempt counts.
type noToolCheck struct{ name string }

func (c noToolCheck) String() string {
	if c.name == "" {
		return "no_tool true"
	}
	return "no_tool " + c.name
}

func (c noToolCheck) check(obs *Observation) (bool, string) {
	if c.name == "" {
		if len(obs.Tools) == 0 {
			return true, ""
		}
		return false, "tools were called: " + toolNames(obs.Tools, true)
	}
	for _, t := range obs.Tools {
		if t.Name == c.name {
			return false, fmt.Sprintf("tool %s was called (status %s)", c.name, statusOrNone(t.Status))
		}
	}
	return true, ""
}

func parseHandoff(d *decoder, v *yaml.Node) checker {
	b, ok := d.bool(v, "handoff")
	if !ok {
		return nil
	}
	return handoffCheck{b}
}

type handoffCheck struct{ want bool }

func (c handoffCheck) String() string { return "handoff " + strconv.FormatBool(c.want) }

func (c handoffCheck) check(obs *Observation) (bool, string) {
	switch {
	case obs.Handoff == c.want:
		return true, ""
	case c.want:
		return false, "no handoff to a human in reply " + replyExcerpt(obs.Text)
	default:
		return false, "unexpected handoff to a human in reply " + replyExcerpt(obs.Text)
	}
}

func parseMaxLatency(d *decoder, v *yaml.Node) checker {
	dur, ok := d.duration(v, "max_latency")
	if !ok {
		return nil
	}
	if dur == 0 {
		d.errorf(v, "max_latency: must be more than 0")
		return nil
	}
	return maxLatencyCheck{dur}
}

type maxLatencyCheck struct{ max time.Duration }

func (c maxLatencyCheck) String() string { return "max_latency " + c.max.String() }

func (c maxLatencyCheck) check(obs *Observation) (bool, string) {
	if obs.Latency <= c.max {
		return true, ""
	}
	return false, fmt.Sprintf("latency %s exceeds %s", roundDuration(obs.Latency), c.max)
}

// roundDuration shortens a measured duration for messages: 4.213s, 812ms,
// 950µs.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

func parseMaxTokens(d *decoder, v *yaml.Node) checker {
	n, ok := d.nonNegInt(v, "max_tokens")
	if !ok {
		return nil
	}
	return maxTokensCheck{n}
}

type maxTokensCheck struct{ max int }

func (c maxTokensCheck) String() string { return "max_tokens " + strconv.Itoa(c.max) }

func (c maxTokensCheck) check(obs *Observation) (bool, string) {
	return c.checkCtx(&evalCtx{}, obs)
}

// checkCtx decides nothing when the reply reports no token count (an
// OpenAI-compatible server without usage, an agent without tokens_used):
// zero tokens is no report, since every reply costs some. The verdict is
// then undecided, never a pass on a count that was not made.
func (c maxTokensCheck) checkCtx(ec *evalCtx, obs *Observation) (bool, string) {
	if obs.TokensUsed <= 0 {
		ec.undecided = true
		return false, fmt.Sprintf("the reply reports no token count (no usage), so max_tokens %d cannot be decided", c.max)
	}
	if obs.TokensUsed <= c.max {
		return true, ""
	}
	return false, fmt.Sprintf("reply used %d tokens, limit %d", obs.TokensUsed, c.max)
}
