package schemastrict

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	str := map[string]any{"type": "string"}
	tests := []struct {
		name   string
		schema map[string]any
		want   string // a substring of the one problem; "" for none
	}{
		{"clean", map[string]any{"type": "object", "properties": map[string]any{"a": str}, "required": []any{"a"}}, ""},
		{"union type", map[string]any{"properties": map[string]any{"a": map[string]any{"type": []any{"string", "number"}}}}, "#/properties/a: union type"},
		{"regex format", map[string]any{"$defs": map[string]any{"r": map[string]any{"type": "string", "format": "regex"}}}, `#/$defs/r: format "regex"`},
		{"known format", map[string]any{"type": "string", "format": "date-time"}, ""},
		{"required in oneOf without properties", map[string]any{"type": "object", "properties": map[string]any{"a": str},
			"oneOf": []any{map[string]any{"required": []any{"a"}}}}, `#/oneOf/0: required "a"`},
		{"required in oneOf with properties", map[string]any{"type": "object", "properties": map[string]any{"a": str},
			"oneOf": []any{map[string]any{"required": []any{"a"}, "properties": map[string]any{"a": true}}}}, ""},
		{"required in not", map[string]any{"type": "object", "properties": map[string]any{"a": str},
			"not": map[string]any{"required": []any{"a"}}}, `#/not: required "a"`},
		{"required in dependentSchemas", map[string]any{"type": "object", "properties": map[string]any{"a": str, "b": str},
			"dependentSchemas": map[string]any{"b": map[string]any{"required": []any{"a"}}}}, ""},
		{"deep items", map[string]any{"items": map[string]any{"anyOf": []any{map[string]any{"type": []any{"null", "string"}}}}}, "#/items/anyOf/0: union type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Check(tt.schema)
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("problems %q, want none", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Errorf("problems %q, want one with %q", got, tt.want)
			}
		})
	}
}
