// Package schemastrict checks a JSON Schema (as Go maps, before it is
// marshalled) against the rules of ajv's strict mode that evalrun's
// schemas could break, so that go test catches what scripts/check-schema.sh
// finds with the real ajv: union types (strictTypes), formats outside
// ajv-formats and the "regex" format (evalrun's expressions are RE2, not
// ECMAScript), and required keys not defined in properties beside them or
// in the parent schema (strictRequired).
package schemastrict

import (
	"fmt"
	"slices"
	"sort"
)

// formats are the formats ajv-formats defines, but "regex": evalrun's
// regular expressions are Go RE2, which ECMAScript's RegExp rejects
// ((?i) and other flags).
var formats = []string{"date", "time", "date-time", "iso-time", "iso-date-time", "duration", "uri", "uri-reference",
	"uri-template", "url", "email", "hostname", "ipv4", "ipv6", "uuid", "json-pointer", "json-pointer-uri-fragment",
	"relative-json-pointer", "byte", "int32", "int64", "float", "double", "password", "binary"}

// Check returns the strict-mode problems of schema s, each with its JSON
// pointer in the schema; nil when there are none.
func Check(s map[string]any) []string {
	var out []string
	walk(s, "#", nil, &out)
	sort.Strings(out)
	return out
}

// walk checks s at pointer at. parent is the schema whose properties ajv
// has already evaluated when it reaches s (for dependentSchemas; not for
// oneOf, anyOf, allOf and not, which ajv evaluates before properties).
func walk(s map[string]any, at string, parent map[string]any, out *[]string) {
	if t, ok := s["type"].([]any); ok {
		*out = append(*out, fmt.Sprintf("%s: union type %v (strictTypes: use anyOf)", at, t))
	}
	if f, ok := s["format"].(string); ok && !slices.Contains(formats, f) {
		*out = append(*out, fmt.Sprintf("%s: format %q is not one of ajv-formats' (or is ECMAScript regex)", at, f))
	}
	props, _ := s["properties"].(map[string]any)
	if req, ok := s["required"].([]any); ok {
		for _, k := range req {
			name, _ := k.(string)
			if _, ok := props[name]; !ok && !parentDefined(parent, name) {
				*out = append(*out, fmt.Sprintf("%s: required %q is not defined in properties beside it (strictRequired)", at, name))
			}
		}
	}
	for k, v := range s {
		switch k {
		case "properties", "$defs", "dependentSchemas", "patternProperties":
			var p map[string]any
			if k == "dependentSchemas" {
				p = s
			}
			m, _ := v.(map[string]any)
			for name, sub := range m {
				if sm, ok := sub.(map[string]any); ok {
					walk(sm, at+"/"+k+"/"+name, p, out)
				}
			}
		case "items", "additionalProperties", "propertyNames", "contains", "unevaluatedProperties", "unevaluatedItems":
			if sm, ok := v.(map[string]any); ok {
				walk(sm, at+"/"+k, nil, out)
			}
		case "not", "if", "then", "else":
			if sm, ok := v.(map[string]any); ok {
				walk(sm, at+"/"+k, nil, out)
			}
		case "oneOf", "anyOf", "allOf", "prefixItems":
			l, _ := v.([]any)
			for i, sub := range l {
				if sm, ok := sub.(map[string]any); ok {
					walk(sm, fmt.Sprintf("%s/%s/%d", at, k, i), nil, out)
				}
			}
		}
	}
}

func parentDefined(parent map[string]any, name string) bool {
	props, _ := parent["properties"].(map[string]any)
	_, ok := props[name]
	return ok
}
