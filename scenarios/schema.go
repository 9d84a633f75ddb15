package scenarios

import "maps"

// SchemaID is the $id of the scenario file JSON Schema.
const SchemaID = "https://evalrun.dev/schemas/scenario.schema.json"

// keyDocs describe the keys of a scenario and of a turn, for the schema.
var keyDocs = map[string]string{
	"name":          "unique name in the suite; default: the file name (NAME#2 for the second document)",
	"description":   "what the scenario checks, for reports",
	"tags":          "labels to select and group scenarios",
	"vars":          "template variables: {{ name }} in user messages and client_id",
	"matrix":        "one conversation per row: a list of var mappings merged over vars; named NAME[KEY]",
	"matrix_csv":    "like matrix, from a CSV file (relative to this file) whose header row names the vars",
	"client_id":     "template of the client_id of each conversation; default evalrun-<run id>-<n>",
	"repeat":        "how many conversations to run (default 1)",
	"min_pass_rate": "fraction of the repeats that must pass, 0 to 1 (default 1)",
	"on_fail":       "after a failed turn: stop (default) ends the conversation, continue keeps going",
	"turns":         "the user messages, in order, each with its expectations",
	"user":          "the message to send (a template)",
	"think":         "pause before this turn, e.g. 2s (simulated reading time)",
	"expect":        "expectations on the reply; each item has one kind and an optional name",
	"capture":       "values to capture from the reply text: name → regular expression with a group",
	"tool_results":  "OpenAI targets: results of the previous reply's tool calls, by call id or tool name (a text, or a value sent as JSON)",
	"openai":        "OpenAI targets: request fields over the target's (response_format, tool_choice, seed, stop, max_completion_tokens, ...), and headers",
}

// scalarSchema accepts a string, number or boolean. It is an anyOf, not a
// union "type": ajv's strict mode (strictTypes) rejects union types.
func scalarSchema() map[string]any {
	return map[string]any{"anyOf": []any{
		map[string]any{"type": "string"}, map[string]any{"type": "number"}, map[string]any{"type": "boolean"},
	}}
}

// regexSchema is the schema of a regular expression. Expressions are Go
// RE2 syntax ((?i) flags and all), not the ECMAScript syntax that JSON
// Schema's "regex" format means, so the schema carries no format: the
// loader checks them.
func regexSchema() map[string]any {
	return map[string]any{"type": "string", "minLength": 1, "description": "a regular expression in Go RE2 syntax, e.g. (?i)refund"}
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/$defs/" + name} }

func obj(props map[string]any, required ...string) map[string]any {
	s := map[string]any{"type": "object", "additionalProperties": false, "properties": props}
	if len(required) > 0 {
		r := make([]any, len(required))
		for i, x := range required {
			r[i] = x
		}
		s["required"] = r
	}
	return s
}

func unit() map[string]any {
	return map[string]any{"type": "number", "minimum": 0, "maximum": 1}
}

// kindSchemas are the JSON Schemas of the expectation kinds' values.
// TestSchemaCoversKinds fails when a kind has none.
var kindSchemas = map[string]func() map[string]any{
	"equals":        func() map[string]any { return scalarSchema() },
	"contains":      func() map[string]any { return scalarSchema() },
	"icontains":     func() map[string]any { return scalarSchema() },
	"not_contains":  func() map[string]any { return scalarSchema() },
	"not_icontains": func() map[string]any { return scalarSchema() },
	"starts_with":   func() map[string]any { return scalarSchema() },
	"regex":         regexSchema,
	"not_regex":     regexSchema,
	"contains_any":  func() map[string]any { return map[string]any{"type": "array", "minItems": 1, "items": scalarSchema()} },
	"contains_all":  func() map[string]any { return map[string]any{"type": "array", "minItems": 1, "items": scalarSchema()} },
	"min_length":    func() map[string]any { return map[string]any{"type": "integer", "minimum": 0} },
	"max_length":    func() map[string]any { return map[string]any{"type": "integer", "minimum": 0} },
	"max_tokens":    func() map[string]any { return map[string]any{"type": "integer", "minimum": 0} },
	"max_latency":   func() map[string]any { return ref("duration") },
	"handoff":       func() map[string]any { return map[string]any{"type": "boolean"} },
	"no_tool": func() map[string]any {
		return map[string]any{"oneOf": []any{map[string]any{"type": "string", "minLength": 1}, map[string]any{"const": true}}}
	},
	"tool": func() map[string]any {
		return map[string]any{"oneOf": []any{
			map[string]any{"type": "string", "minLength": 1},
			obj(map[string]any{"name": map[string]any{"type": "string"}, "status": map[string]any{"type": "string"}, "data": map[string]any{"type": "object"}}, "name"),
		}}
	},
	"similar": func() map[string]any {
		return obj(map[string]any{"to": map[string]any{"type": "string", "minLength": 1}, "min": unit()}, "to")
	},
	"field": func() map[string]any {
		return obj(map[string]any{
			"path":   map[string]any{"type": "string", "minLength": 1, "description": "names joined by '.', [N] (negative counts from the end), [*] for every item, [\"quoted key\"]; e.g. tools_executed[0].tool, messages[-1].text"},
			"equals": map[string]any{},
			"gte":    map[string]any{"type": "number"},
			"lte":    map[string]any{"type": "number"},
			"exists": map[string]any{"type": "boolean"},
		}, "path")
	},
	"any": func() map[string]any {
		return map[string]any{"type": "array", "minItems": 1, "items": ref("expectation")}
	},
	"all": func() map[string]any {
		return map[string]any{"type": "array", "minItems": 1, "items": ref("expectation")}
	},
	"not": func() map[string]any { return ref("expectation") },
	"judge": func() map[string]any {
		return obj(map[string]any{"rubric": map[string]any{"type": "string", "minLength": 1}, "min_score": unit()}, "rubric")
	},
	"history": func() map[string]any {
		return map[string]any{"oneOf": []any{
			map[string]any{"type": "integer", "minimum": 1},
			obj(map[string]any{"turns": map[string]any{"type": "integer", "minimum": 1}}, "turns"),
		}}
	},
}

// defaultsDocs describe the keys of evalrun.yaml's `defaults:`.
var defaultsDocs = map[string]string{
	"tags":    "added to every scenario's tags",
	"vars":    "defined in every scenario; a scenario's vars and matrix rows override them",
	"expect":  "expectations appended to every turn, e.g. max_latency: 5s",
	"on_fail": "on_fail of scenarios that do not set it: stop (default) or continue",
	"think":   "think time of turns that do not set one, e.g. 1s",
}

// schemaProps returns the property schemas of a scenario's and of a turn's
// keys (without descriptions).
func schemaProps() (scenario, turn map[string]any) {
	scenario = map[string]any{
		"name":          map[string]any{"type": "string", "minLength": 1},
		"description":   map[string]any{"type": "string"},
		"tags":          map[string]any{"type": "array", "items": map[string]any{"type": "string", "minLength": 1}},
		"vars":          ref("vars"),
		"matrix":        map[string]any{"type": "array", "minItems": 1, "maxItems": maxMatrixRows, "items": ref("vars")},
		"matrix_csv":    map[string]any{"type": "string", "minLength": 1},
		"client_id":     map[string]any{"type": "string", "minLength": 1},
		"repeat":        map[string]any{"type": "integer", "minimum": 1, "maximum": maxRepeat},
		"min_pass_rate": unit(),
		"on_fail":       map[string]any{"enum": []any{string(OnFailStop), string(OnFailContinue)}},
		"openai": map[string]any{"type": "object", "propertyNames": map[string]any{"not": map[string]any{"enum": []any{"model", "messages", "stream"}}},
			"properties": map[string]any{"headers": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}}}},
		"turns": map[string]any{"type": "array", "minItems": 1, "items": ref("turn")},
	}
	scenario["expect_conversation"] = map[string]any{"type": "array", "minItems": 1, "items": ref("conversation_expectation")}
	scenario["simulate"] = simulateSchema()
	turn = map[string]any{
		"user":    map[string]any{"type": "string", "minLength": 1},
		"think":   ref("duration"),
		"expect":  map[string]any{"type": "array", "items": ref("expectation")},
		"capture": map[string]any{"type": "object", "propertyNames": ref("name"), "additionalProperties": regexSchema()},
		"tool_results": map[string]any{"type": "object", "additionalProperties": map[string]any{"anyOf": []any{
			map[string]any{"type": "string"}, map[string]any{"type": "number"}, map[string]any{"type": "boolean"},
			map[string]any{"type": "object"}, map[string]any{"type": "array"}}}},
	}
	return scenario, turn
}

// describeKeys returns the schemas of keys taken from props (or from the
// scenario's or turn's props), each with its description from docs.
func describeKeys(keys []string, docs map[string]string, props ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		var s map[string]any
		for _, p := range props {
			if x, ok := p[k].(map[string]any); ok {
				s = x
				break
			}
		}
		s = maps.Clone(s)
		if s == nil {
			s = map[string]any{}
		}
		s["description"] = docs[k]
		out[k] = s
	}
	return out
}

// SchemaDefs returns the shared definitions ($defs) of the scenario
// schema: name, vars, duration, turn and expectation. Schema and
// DefaultsSchema refer to them as "#/$defs/NAME", so a schema embedding
// DefaultsSchema (the evalrun.yaml schema) must carry them in its own $defs.
func SchemaDefs() map[string]any {
	_, turnProps := schemaProps()
	expProps := map[string]any{"name": map[string]any{"type": "string", "minLength": 1, "description": "a name for the check in reports"}}
	var oneOf []any
	for _, k := range Kinds() {
		s := map[string]any{}
		if f := kindSchemas[k]; f != nil {
			s = f()
		}
		s["description"] = KindDoc(k)
		expProps[k] = s
		// The branch names k in its own properties too: ajv's strict mode
		// (strictRequired) wants a required key defined beside it, and
		// oneOf is checked before the parent's properties.
		oneOf = append(oneOf, map[string]any{"required": []any{k}, "properties": map[string]any{k: true}})
	}
	defs := map[string]any{
		"name":     map[string]any{"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
		"vars":     map[string]any{"type": "object", "propertyNames": ref("name"), "additionalProperties": scalarSchema()},
		"duration": map[string]any{"type": "string", "pattern": durationPattern, "description": "a Go duration such as 2s, 500ms or 1m30s"},
		"turn":     obj(describeKeys(turnKeys, keyDocs, turnProps), "user"),
		"expectation": map[string]any{
			"type":                 "object",
			"description":          "one check on the reply: exactly one kind, plus an optional name",
			"properties":           expProps,
			"additionalProperties": false,
			"oneOf":                oneOf,
		},
	}
	defs["conversation_expectation"] = conversationSchema(expProps)
	return defs
}

// durationPattern matches what time.ParseDuration accepts, apart from a
// bare 0 (which YAML reads as a number).
const durationPattern = `^\s*([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h)(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))*\s*$`

// DefaultsSchema returns the JSON Schema of evalrun.yaml's `defaults:`
// mapping (the keys ParseDefaults reads). It refers to SchemaDefs.
func DefaultsSchema() map[string]any {
	scenarioProps, turnProps := schemaProps()
	s := obj(describeKeys(defaultsKeys, defaultsDocs, scenarioProps, turnProps))
	s["description"] = "settings applied to every scenario of the suite"
	return s
}

// Schema returns the JSON Schema (draft 2020-12) of a scenario file's
// documents, for editors (`evalrun schema`). It is built from the tables
// the loader uses (the scenario and turn keys, Kinds and KindDoc), so the
// two cannot drift apart. The loader stays stricter: templates, regular
// expressions and field paths are checked only by Load.
func Schema() map[string]any {
	props, _ := schemaProps()
	scenario := obj(describeKeys(scenarioKeys, keyDocs, props), "turns")
	turnsOrSimulate(scenario)
	scenario["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	scenario["$id"] = SchemaID
	scenario["title"] = "evalrun scenario"
	scenario["description"] = "One scenario: a multi-turn conversation and the outcomes expected at each turn. A file may hold several, separated by ---."
	scenario["$defs"] = SchemaDefs()
	return scenario
}
