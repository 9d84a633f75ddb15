package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/config"
	"github.com/evalrun/evalrun/internal/yamlpos"
)

// targetOptions are the transport settings of a `targets:` entry of
// evalrun.yaml (docs/targets.md): the keys shared by every kind and the
// kind's own section. Nil pointers and empty strings are settings the entry
// does not make.
type targetOptions struct {
	auth, header, queryParam, caCert string
	apiVersion                       int
	allowInsecure                    *bool
	timeout                          time.Duration

	openai     map[string]bool // the openai: keys given
	openaiConf agent.OpenAIConfig
	http       *agent.HTTPConfig
}

// Keys of the kind sections.
var (
	optimlyKeys = []string{"api_version", "auth", "header", "query_param"}
	openaiKeys  = []string{"model", "system_prompt", "stream", "no_stream_usage", "path", "health_path", "temperature", "max_tokens", "tools", "tool_status",
		"response_format", "tool_choice", "seed", "stop", "max_completion_tokens", "headers", "extra", "tool_results"}
	httpKeys = []string{"create_session", "session_path", "session_header", "session_cookie", "send", "reply_path", "tools_path",
		"tool_name_field", "tool_status_field", "tool_data_field", "handoff_path", "tokens_path", "headers", "health_path"}
	requestKeys = []string{"method", "path", "headers", "body"}
)

// nodeDecoder decodes YAML nodes into Go values, collecting every problem
// with its file:line:col.
type nodeDecoder struct {
	file string
	what string            // e.g. "targets[1]" (the entry's name when it has one)
	errs yamlpos.ErrorList // config.ErrorList: every file format's one error type
}

func (d *nodeDecoder) errf(n *yaml.Node, format string, args ...any) {
	d.errs.Add(yamlpos.At(d.file, n), "%s: %s", d.what, fmt.Sprintf(format, args...))
}

// mapping calls f for each key of the mapping n; unknown keys (not in
// valid) are errors with the closest valid name.
func (d *nodeDecoder) mapping(field string, n *yaml.Node, valid []string, f func(key string, k, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.errf(n, "%s: want a mapping", field)
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !slices.Contains(valid, k.Value) {
			d.errf(k, "unknown key %q in %s%s; valid keys: %s", k.Value, field, config.Suggest(k.Value, valid), strings.Join(valid, ", "))
			continue
		}
		f(k.Value, k, v)
	}
}

func (d *nodeDecoder) str(field string, v *yaml.Node) string {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		d.errf(v, "%s: want a plain value", field)
		return ""
	}
	return v.Value
}

func (d *nodeDecoder) boolean(field string, v *yaml.Node) bool {
	b, err := strconv.ParseBool(d.str(field, v))
	if err != nil && v.Kind == yaml.ScalarNode {
		d.errf(v, "%s: %q is not true or false", field, v.Value)
	}
	return b
}

func (d *nodeDecoder) integer(field string, v *yaml.Node) int {
	s := d.str(field, v)
	n, err := strconv.Atoi(s)
	if err != nil && v.Kind == yaml.ScalarNode {
		d.errf(v, "%s: %q is not a whole number", field, s)
	}
	return n
}

// jsonValue converts a YAML value to JSON; a string holding JSON is not
// decoded again (it is sent as a JSON string).
func (d *nodeDecoder) jsonValue(field string, v *yaml.Node) json.RawMessage {
	var x any
	if err := v.Decode(&x); err != nil {
		d.errf(v, "%s: %v", field, err)
		return nil
	}
	b, err := json.Marshal(x)
	if err != nil {
		d.errf(v, "%s: cannot be sent as JSON: %v", field, err)
		return nil
	}
	return b
}

func (d *nodeDecoder) strMap(field string, v *yaml.Node) map[string]string {
	if v.Kind != yaml.MappingNode {
		d.errf(v, "%s: want a mapping of names to values", field)
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		out[v.Content[i].Value] = d.str(field+"."+v.Content[i].Value, v.Content[i+1])
	}
	return out
}

func (d *nodeDecoder) request(field string, v *yaml.Node) agent.HTTPRequestSpec {
	var r agent.HTTPRequestSpec
	d.mapping(field, v, requestKeys, func(key string, _, val *yaml.Node) {
		f := field + "." + key
		switch key {
		case "method":
			r.Method = d.str(f, val)
		case "path":
			r.Path = d.str(f, val)
		case "headers":
			r.Headers = d.strMap(f, val)
		case "body":
			r.Body = d.str(f, val)
		}
	})
	if r.Path == "" {
		d.errf(v, "%s: missing path", field)
	}
	return r
}

// decodeTargetOptions reads the transport settings of t (see
// targetOptions); every mistake is reported at once, each with
// file:line:col. getenv is what {{ env.NAME }} in http templates reads.
func decodeTargetOptions(t config.Target, getenv func(string) string) (*targetOptions, error) {
	d := &nodeDecoder{file: t.Pos.File, what: "target " + strconv.Quote(t.Name)}
	o := &targetOptions{}
	transport := func(key string, val *yaml.Node) {
		switch key {
		case "auth":
			o.auth = d.str(key, val)
			if !slices.Contains([]string{"bearer", "header", "query", "none"}, o.auth) && val.Kind == yaml.ScalarNode {
				d.errf(val, "auth: %q is not valid; valid: bearer, header, query, none (the server takes no key)", o.auth)
			}
		case "header":
			o.header = d.str(key, val)
		case "query_param":
			o.queryParam = d.str(key, val)
		case "api_version":
			o.apiVersion = d.integer(key, val)
			if o.apiVersion != 1 && o.apiVersion != 2 && val.Kind == yaml.ScalarNode {
				d.errf(val, "api_version: %q is not valid; valid: 1 (legacy /external/agent), 2 (/external/agent/v2)", val.Value)
			}
		case "ca_cert":
			o.caCert = d.str(key, val)
		case "allow_insecure_http":
			b := d.boolean(key, val)
			o.allowInsecure = &b
		case "timeout":
			s := d.str(key, val)
			dur, err := time.ParseDuration(s)
			if (err != nil || dur <= 0) && val.Kind == yaml.ScalarNode {
				d.errf(val, "timeout: %q is not a positive duration such as 30s", s)
			}
			o.timeout = dur
		}
	}
	if n := t.Node; n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; slices.Contains(config.TransportKeys, k.Value) {
				transport(k.Value, n.Content[i+1])
			}
		}
	}
	if t.Options != nil {
		switch t.Kind {
		case agent.TargetOptimly:
			d.mapping("optimly", t.Options, optimlyKeys, func(key string, _, val *yaml.Node) { transport(key, val) })
		case agent.TargetOpenAI:
			o.openai = map[string]bool{}
			c := &o.openaiConf
			d.mapping("openai", t.Options, openaiKeys, func(key string, _, val *yaml.Node) {
				o.openai[key] = true
				f := "openai." + key
				switch key {
				case "model":
					c.Model = d.str(f, val)
				case "system_prompt":
					c.SystemPrompt = d.str(f, val)
				case "stream":
					c.Stream = d.boolean(f, val)
				case "no_stream_usage":
					c.NoStreamUsage = d.boolean(f, val)
				case "path":
					c.Path = d.str(f, val)
				case "health_path":
					c.HealthPath = d.str(f, val)
					c.NoHealthCheck = c.HealthPath == "" && val.Kind == yaml.ScalarNode
				case "temperature":
					s := d.str(f, val)
					x, err := strconv.ParseFloat(s, 64)
					if err != nil && val.Kind == yaml.ScalarNode {
						d.errf(val, "%s: %q is not a number", f, s)
					}
					c.Temperature = &x
				case "max_tokens":
					c.MaxTokens = d.integer(f, val)
				case "tools":
					var v any
					if err := val.Decode(&v); err != nil {
						d.errf(val, "%s: %v", f, err)
						return
					}
					if s, ok := v.(string); ok { // JSON written as a string
						if !json.Valid([]byte(s)) {
							d.errf(val, "%s: not valid JSON", f)
							return
						}
						c.Tools = json.RawMessage(s)
						return
					}
					data, err := json.Marshal(v)
					if err != nil {
						d.errf(val, "%s: cannot be sent as JSON: %v", f, err)
						return
					}
					c.Tools = data
				case "tool_status":
					c.ToolStatus = d.str(f, val)
				case "response_format":
					c.ResponseFormat = d.jsonValue(f, val)
				case "tool_choice":
					c.ToolChoice = d.jsonValue(f, val)
				case "stop":
					c.Stop = d.jsonValue(f, val)
				case "seed":
					s := d.str(f, val)
					n, err := strconv.ParseInt(s, 10, 64)
					if err != nil && val.Kind == yaml.ScalarNode {
						d.errf(val, "%s: %q is not a whole number", f, s)
					}
					c.Seed = &n
				case "max_completion_tokens":
					c.MaxCompletionTokens = d.integer(f, val)
					if c.MaxCompletionTokens < 0 {
						d.errf(val, "%s: %d is negative", f, c.MaxCompletionTokens)
					}
				case "headers":
					c.Headers = d.strMap(f, val)
				case "extra":
					if val.Kind != yaml.MappingNode {
						d.errf(val, "%s: want a mapping of request fields to values, e.g. {top_p: 0.9}", f)
						return
					}
					c.Extra = map[string]json.RawMessage{}
					for i := 0; i+1 < len(val.Content); i += 2 {
						k := val.Content[i].Value
						if slices.Contains([]string{"model", "messages", "stream"}, k) || slices.Contains(openaiKeys, k) {
							d.errf(val.Content[i], "%s: %q cannot go in extra: %s", f, k, map[bool]string{true: "set openai." + k + " instead", false: "the transport sets it"}[slices.Contains(openaiKeys, k)])
							continue
						}
						c.Extra[k] = d.jsonValue(f+"."+k, val.Content[i+1])
					}
				case "tool_results":
					if val.Kind != yaml.MappingNode {
						d.errf(val, "%s: want a mapping of tool names to results, e.g. {lookup_order: '{\"status\": \"shipped\"}'}", f)
						return
					}
					c.ToolResults = map[string]string{}
					for i := 0; i+1 < len(val.Content); i += 2 {
						k, v := val.Content[i].Value, val.Content[i+1]
						if v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
							c.ToolResults[k] = v.Value
						} else {
							c.ToolResults[k] = string(d.jsonValue(f+"."+k, v))
						}
					}
				}
			})
		case agent.TargetHTTP:
			h := &agent.HTTPConfig{Getenv: getenv}
			d.mapping("http", t.Options, httpKeys, func(key string, _, val *yaml.Node) {
				f := "http." + key
				switch key {
				case "create_session":
					r := d.request(f, val)
					h.CreateSession = &r
				case "send":
					h.Send = d.request(f, val)
				case "session_path":
					h.SessionPath = d.str(f, val)
				case "session_header":
					h.SessionHeader = d.str(f, val)
				case "session_cookie":
					h.SessionCookie = d.str(f, val)
				case "reply_path":
					h.ReplyPath = d.str(f, val)
				case "tools_path":
					h.ToolsPath = d.str(f, val)
				case "tool_name_field":
					h.ToolNameField = d.str(f, val)
				case "tool_status_field":
					h.ToolStatusField = d.str(f, val)
				case "tool_data_field":
					h.ToolDataField = d.str(f, val)
				case "handoff_path":
					h.HandoffPath = d.str(f, val)
				case "tokens_path":
					h.TokensPath = d.str(f, val)
				case "headers":
					h.Headers = d.strMap(f, val)
				case "health_path":
					h.HealthPath = d.str(f, val)
				}
			})
			if h.Send.Path == "" && len(d.errs) == 0 {
				d.errf(t.Options, "http: missing send (the request of each turn: {path, body})")
			}
			if h.ReplyPath == "" && len(d.errs) == 0 {
				d.errf(t.Options, "http: missing reply_path (where the reply text is in the response, e.g. messages[-1].text)")
			}
			o.http = h
		}
	}
	if t.Kind == agent.TargetHTTP && t.Options == nil {
		d.errs.Add(t.Pos, "%s: kind http needs an http: section with the request templates (see docs/targets.md)", d.what)
	}
	if len(d.errs) > 0 {
		return nil, &exitError{code: exitUsage, err: d.errs}
	}
	return o, nil
}

// apply sets the settings o makes on spec, except those whose flag was
// given on the command line (cmdline): the command line overrides the file.
func (o *targetOptions) apply(spec *targetSpec, cmdline map[string]bool) {
	if o == nil {
		return
	}
	set := func(flag string, given bool, do func()) {
		if given && !cmdline[flag] {
			do()
		}
	}
	set("auth", o.auth != "", func() { spec.Auth = o.auth })
	set("", o.header != "", func() { spec.Header = o.header })
	set("", o.queryParam != "", func() { spec.QueryParam = o.queryParam })
	set("api-version", o.apiVersion != 0, func() { spec.APIVersion = o.apiVersion })
	set("ca-cert", o.caCert != "", func() { spec.CACertFile = o.caCert })
	set("allow-insecure-http", o.allowInsecure != nil, func() { spec.AllowInsecureHTTP = *o.allowInsecure })
	set("timeout", o.timeout > 0, func() { spec.Timeout = o.timeout })
	if o.http != nil {
		spec.HTTP = o.http
	}
	if o.openai != nil {
		c := o.openaiConf
		if spec.OpenAI != nil { // from the flags: --model, --system-prompt, --stream
			if cmdline["model"] || !o.openai["model"] {
				c.Model = spec.OpenAI.Model
			}
			if cmdline["system-prompt"] || !o.openai["system_prompt"] {
				c.SystemPrompt = spec.OpenAI.SystemPrompt
			}
			if cmdline["stream"] || !o.openai["stream"] {
				c.Stream = spec.OpenAI.Stream
			}
		}
		if c.Model != "" {
			spec.OpenAI = &c
		}
	}
}
