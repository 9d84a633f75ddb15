package config

import (
	"maps"
	"sort"
	"strings"
)

// SchemaID is the $id of the evalrun.yaml JSON Schema.
const SchemaID = "https://evalrun.dev/schemas/evalrun.schema.json"

// SettingType is the type of a setting's value, as the schema states it.
type SettingType int

// Setting types. A string setting accepts any plain value (YAML may read
// `plan: 10000` as a number; the flag receives its text).
const (
	SettingString SettingType = iota
	SettingBool
	SettingInt
	SettingFloat
	SettingDuration
)

// SettingSpec describes one setting of the file (one flag of `evalrun run`)
// for Schema.
type SettingSpec struct {
	// Name is the flag's name, with dashes (cost-unit).
	Name string
	Type SettingType
	// Repeatable settings accept a list, and answer to their plural.
	Repeatable bool
	// Doc is the flag's usage text; Default its default, "" for none.
	Doc     string
	Default string
}

// SchemaParts is what Schema needs from outside this package: the settings
// (the CLI's flags) and the `defaults:` section (the scenario package's),
// with the definitions that section refers to as "#/$defs/NAME".
type SchemaParts struct {
	Settings []SettingSpec
	Defaults map[string]any
	Defs     map[string]any
}

// SettingNames returns the names a setting answers to in the file: its
// flag name, the same with underscores (cost_unit), and for a repeatable
// setting the plurals of both (limits). Names taken by a section key
// (suite, targets, defaults, judge, env_allow) are left out: the section
// wins.
func SettingNames(s SettingSpec) []string {
	cands := []string{s.Name, strings.ReplaceAll(s.Name, "-", "_")}
	if s.Repeatable {
		cands = append(cands, cands[0]+"s", cands[1]+"s")
	}
	var out []string
	for _, c := range cands {
		if !contains(out, c) && !contains(sectionKeys, c) {
			out = append(out, c)
		}
	}
	return out
}

// Schema returns the JSON Schema (draft 2020-12) of evalrun.yaml, for
// editors (`evalrun schema config`) and tests. The section keys come from
// the tables Parse uses (targets' keys and kinds, judge's keys), the
// settings from parts (the flags of `evalrun run`), so neither can drift
// from what the loader accepts. Parse stays stricter where a schema cannot
// follow: unique target names, and the value syntax of each flag.
func Schema(parts SchemaParts) map[string]any {
	props := map[string]any{}
	settings := append([]SettingSpec(nil), parts.Settings...)
	sort.Slice(settings, func(i, j int) bool { return settings[i].Name < settings[j].Name })
	for _, s := range settings {
		if s.Name == "config" {
			continue // a file cannot name another file
		}
		v := settingSchema(s)
		for i, n := range SettingNames(s) {
			sv := maps.Clone(v)
			if i > 0 {
				sv["description"] = "same as " + s.Name + ": " + v["description"].(string)
			}
			props[n] = sv
		}
	}
	str := map[string]any{"type": "string", "minLength": 1}
	strs := map[string]any{"oneOf": []any{str, map[string]any{"type": "array", "items": str}}}
	props["suite"] = with(strs, "default scenario paths (files or directories), relative to this file's directory")
	props["env_allow"] = with(strs, "environment variables {{ env NAME }} may read; names that look like credentials are refused")
	props["targets"] = map[string]any{
		"type": "array", "items": targetSchema(),
		"description": "the agents to run the suite against; names must be unique",
	}
	props["judge"] = judgeSchema()
	um := judgeSchema()
	um["description"] = "the model that plays the simulated user of simulate: scenarios (OpenAI-compatible); without it the rule-based user does"
	props["user_model"] = um
	defaults := parts.Defaults
	if defaults == nil {
		defaults = map[string]any{"type": "object"}
	}
	props["defaults"] = defaults
	defs := maps.Clone(parts.Defs)
	if defs == nil {
		defs = map[string]any{}
	}
	return map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  SchemaID,
		"title":                "evalrun.yaml",
		"description":          "Suite configuration: every flag of `evalrun run` under its own name, plus suite, targets, defaults, judge and env_allow. Flags on the command line override the file.",
		"type":                 "object",
		"additionalProperties": false,
		"properties":           props,
		"$defs":                defs,
	}
}

// settingDurationPattern matches the text time.ParseDuration accepts.
const settingDurationPattern = `^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))+)$`

func settingSchema(s SettingSpec) map[string]any {
	var v map[string]any
	switch s.Type {
	case SettingBool:
		v = map[string]any{"type": "boolean"}
	case SettingInt:
		v = map[string]any{"type": "integer"}
	case SettingFloat:
		v = map[string]any{"type": "number"}
	case SettingDuration:
		v = map[string]any{"anyOf": []any{
			map[string]any{"type": "string", "pattern": settingDurationPattern},
			map[string]any{"const": 0},
		}}
	default:
		// anyOf, not a union "type", which ajv's strict mode rejects.
		v = map[string]any{"anyOf": []any{
			map[string]any{"type": "string"}, map[string]any{"type": "number"}, map[string]any{"type": "boolean"},
		}}
	}
	if s.Repeatable {
		v = map[string]any{"anyOf": []any{v, map[string]any{"type": "array", "items": v}}}
	}
	doc := "--" + s.Name + ": " + s.Doc
	if s.Default != "" {
		doc += " (default " + s.Default + ")"
	}
	if s.Repeatable {
		doc += "; a list gives it once per item"
	}
	v["description"] = doc
	return v
}

func with(s map[string]any, doc string) map[string]any {
	s = maps.Clone(s)
	s["description"] = doc
	return s
}

var targetDocs = map[string]string{
	"name":        "the target's name in reports (required, unique)",
	"kind":        "how to talk to it: " + strings.Join(Kinds, ", ") + " (default optimly)",
	"url":         "the agent's base URL; leave out (and give agent) for the simulated agent",
	"api_key_env": `the environment variable holding the API key (never the key itself); "" for a target that takes no key`,
	"agent":       "a simulated agent file, relative to this file, instead of url",
	"optimly":     "options of the optimly kind",
	"openai":      "options of the openai kind",
	"http":        "options of the http kind",

	"auth":                "how the key is sent: bearer (default), header or query; none sends no key",
	"header":              "with auth: header, the header's name (default X-API-Key)",
	"query_param":         "with auth: query, the parameter's name (default api_key)",
	"api_version":         "optimly: 2 (default, /external/agent/v2) or 1 (legacy /external/agent)",
	"ca_cert":             "PEM file of CA certificates trusted besides the system roots",
	"allow_insecure_http": "allow plain http:// to a host that is not loopback",
	"timeout":             "timeout of one agent call attempt, e.g. 30s; not re-sent once the request was written",
}

func targetSchema() map[string]any {
	props := map[string]any{}
	str := map[string]any{"type": "string"}
	for _, k := range targetKeys {
		var v map[string]any
		switch {
		case k == "kind":
			enum := make([]any, len(Kinds))
			for i, x := range Kinds {
				enum[i] = x
			}
			v = map[string]any{"enum": enum}
		case contains(Kinds, k):
			v = map[string]any{"type": "object"}
		case k == "api_version":
			v = map[string]any{"enum": []any{1, 2}}
		case k == "allow_insecure_http":
			v = map[string]any{"type": "boolean"}
		default:
			v = maps.Clone(str)
			if k == "name" {
				v["minLength"] = 1
			}
		}
		v["description"] = targetDocs[k]
		props[k] = v
	}
	// A kind's section needs that kind (optimly is the default kind).
	dep := map[string]any{}
	for _, k := range Kinds {
		s := map[string]any{"properties": map[string]any{"kind": map[string]any{"const": k}}}
		if k != "optimly" {
			s["required"] = []any{"kind"}
		}
		dep[k] = s
	}
	return map[string]any{
		"type":                 "object",
		"additionalProperties": false,
		"properties":           props,
		"required":             []any{"name"},
		"dependentSchemas":     dep,
		// The keys are defined beside required for ajv's strict mode
		// (strictRequired).
		"not": map[string]any{"required": []any{"url", "agent"}, "properties": map[string]any{"url": true, "agent": true}},
	}
}

var judgeDocs = map[string]string{
	"url":         "base URL of an OpenAI-compatible chat-completions endpoint",
	"model":       "the grading model",
	"api_key_env": "the environment variable holding the judge's API key",
	"limit":       "the judge's own rate limit, COUNT/UNIT as --limit (e.g. 2/s, 60/min); retries included",
}

func judgeSchema() map[string]any {
	props := map[string]any{}
	for _, k := range judgeKeys {
		props[k] = map[string]any{"type": "string", "minLength": 1, "description": judgeDocs[k]}
	}
	props["limit"].(map[string]any)["pattern"] = `^\s*[0-9.eE+]+\s*/\s*[a-z]+\s*$`
	return map[string]any{
		"type":                 "object",
		"additionalProperties": false,
		"properties":           props,
		"required":             []any{"url", "model"},
		"description":          "the LLM judge that grades judge: expectations",
	}
}
