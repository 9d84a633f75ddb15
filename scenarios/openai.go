package scenarios

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// OpenAIOptions are a scenario's request options for OpenAI-compatible
// targets (the scenario's `openai:` block), over the target's own: Body
// keys are sent as request fields (response_format, tool_choice, seed,
// stop, max_completion_tokens, temperature, or any other the server
// takes) and replace the target's of the same name; Headers are sent
// besides the target's. Other kinds of target ignore them.
type OpenAIOptions struct {
	Body    map[string]json.RawMessage
	Headers map[string]string
}

// openAIReserved are request fields a scenario cannot set: the transport
// owns them.
var openAIReserved = []string{"model", "messages", "stream"}

// openAIOptions decodes a scenario's `openai:` block: a mapping of request
// fields to YAML values (sent as JSON), and `headers:`, a mapping of
// header names to texts.
func (d *decoder) openAIOptions(n *yaml.Node) *OpenAIOptions {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "openai: expected a mapping of request fields, e.g. {seed: 7, response_format: {type: json_object}}, got %s", describe(n))
		return nil
	}
	o := &OpenAIOptions{Body: map[string]json.RawMessage{}}
	seen := map[string]bool{}
	for k, v := range d.pairs(n) {
		name := k.Value
		switch {
		case seen[name]:
			d.errorf(k, "openai: duplicate key %q", name)
			continue
		}
		seen[name] = true
		switch {
		case slices.Contains(openAIReserved, name):
			d.errorf(k, "openai: %q is set by the target and the transport, not by a scenario; valid: any other request field (response_format, tool_choice, seed, stop, max_completion_tokens, ...) or headers", name)
		case name == "headers":
			o.Headers = d.headerMap(v, "openai.headers")
		default:
			if raw, ok := d.jsonValue(v, "openai."+name); ok {
				o.Body[name] = raw
			}
		}
	}
	return o
}

// headerMap decodes a mapping of header names to texts.
func (d *decoder) headerMap(n *yaml.Node, key string) map[string]string {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: expected a mapping of header names to values, got %s", key, describe(n))
		return nil
	}
	out := map[string]string{}
	seen := map[string]string{} // canonical name → as written first
	for k, v := range d.pairs(n) {
		name := k.Value
		if name == "" || strings.ContainsAny(name, " \t\r\n:") {
			d.errorf(k, "%s: %q is not a header name", key, name)
			continue
		}
		// Header names are case-insensitive: X-A and x-a are one header.
		if first, dup := seen[http.CanonicalHeaderKey(name)]; dup {
			d.errorf(k, "%s: duplicate header %q (also given as %q)", key, name, first)
			continue
		}
		seen[http.CanonicalHeaderKey(name)] = name
		if s, ok := d.text(v, key+"."+name); ok {
			if strings.ContainsAny(s, "\r\n") {
				d.errorf(v, "%s.%s: a header value cannot hold a line break", key, name)
				continue
			}
			out[name] = s
		}
	}
	return out
}

// jsonValue converts a YAML value to JSON.
func (d *decoder) jsonValue(n *yaml.Node, key string) (json.RawMessage, bool) {
	var v any
	if err := n.Decode(&v); err != nil {
		d.errorf(n, "%s: %v", key, err)
		return nil, false
	}
	b, err := json.Marshal(jsonable(v))
	if err != nil {
		d.errorf(n, "%s: cannot be sent as JSON: %v", key, err)
		return nil, false
	}
	return b, true
}

// jsonable turns the map[any]any YAML may give into map[string]any.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonable(e)
		}
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			ks, _ := k.(string)
			m[ks] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonable(e)
		}
	}
	return v
}

// toolResults decodes a turn's `tool_results:`: a mapping of a call id or
// a tool name to the result's content, a text or a YAML value sent as
// JSON text.
func (d *decoder) toolResults(n *yaml.Node) map[string]string {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "tool_results: expected a mapping of tool names or call ids to results, e.g. {lookup_order: '{\"status\": \"shipped\"}'}, got %s", describe(n))
		return nil
	}
	out := map[string]string{}
	for k, v := range d.pairs(n) {
		name := k.Value
		if _, dup := out[name]; dup {
			d.errorf(k, "tool_results: duplicate key %q", name)
			continue
		}
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
			out[name] = v.Value
			continue
		}
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
			d.errorf(v, "tool_results.%s: no value; give the result's content (a text, or a mapping sent as JSON)", name)
			continue
		}
		if raw, ok := d.jsonValue(v, "tool_results."+name); ok {
			out[name] = string(raw)
		}
	}
	return out
}
