package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// validate is a small JSON Schema validator for the keywords Schema uses:
// $ref (local), type, properties, additionalProperties, required,
// propertyNames, items, minItems, maxItems, minLength, enum, const, oneOf,
// minimum, maximum, pattern. It returns the first problem found.
func validate(root, s map[string]any, v any, path string) error {
	if r, ok := s["$ref"].(string); ok {
		def := strings.TrimPrefix(r, "#/$defs/")
		sub, ok := root["$defs"].(map[string]any)[def].(map[string]any)
		if !ok {
			return fmt.Errorf("%s: unresolved $ref %s", path, r)
		}
		return validate(root, sub, v, path)
	}
	if t, ok := s["type"]; ok {
		types := []any{t}
		if l, ok := t.([]any); ok {
			types = l
		}
		if !slices.ContainsFunc(types, func(x any) bool { return hasType(v, x.(string)) }) {
			return fmt.Errorf("%s: %v is not of type %v", path, v, t)
		}
	}
	if c, ok := s["const"]; ok && c != v {
		return fmt.Errorf("%s: %v is not %v", path, v, c)
	}
	if e, ok := s["enum"].([]any); ok && !slices.Contains(e, v) {
		return fmt.Errorf("%s: %v is not one of %v", path, v, e)
	}
	if f, ok := num(v); ok {
		if m, ok := num(s["minimum"]); ok && f < m {
			return fmt.Errorf("%s: %v < minimum %v", path, f, m)
		}
		if m, ok := num(s["maximum"]); ok && f > m {
			return fmt.Errorf("%s: %v > maximum %v", path, f, m)
		}
	}
	if str, ok := v.(string); ok {
		if m, ok := num(s["minLength"]); ok && float64(len([]rune(str))) < m {
			return fmt.Errorf("%s: string shorter than %v", path, m)
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			return fmt.Errorf("%s: %q does not match %s", path, str, p)
		}
	}
	if l, ok := v.([]any); ok {
		if m, ok := num(s["minItems"]); ok && float64(len(l)) < m {
			return fmt.Errorf("%s: fewer than %v items", path, m)
		}
		if m, ok := num(s["maxItems"]); ok && float64(len(l)) > m {
			return fmt.Errorf("%s: more than %v items", path, m)
		}
		if items, ok := s["items"].(map[string]any); ok {
			for i, x := range l {
				if err := validate(root, items, x, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	}
	if m, ok := v.(map[string]any); ok {
		props, _ := s["properties"].(map[string]any)
		for _, r := range asList(s["required"]) {
			if _, ok := m[r.(string)]; !ok {
				return fmt.Errorf("%s: missing required %s", path, r)
			}
		}
		for k, x := range m {
			if pn, ok := s["propertyNames"].(map[string]any); ok {
				if err := validate(root, pn, k, path+"."+k+"(name)"); err != nil {
					return err
				}
			}
			if ps, ok := props[k].(map[string]any); ok {
				if err := validate(root, ps, x, path+"."+k); err != nil {
					return err
				}
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					return fmt.Errorf("%s: unknown key %s", path, k)
				}
			case map[string]any:
				if err := validate(root, ap, x, path+"."+k); err != nil {
					return err
				}
			}
		}
	}
	if one, ok := s["oneOf"].([]any); ok {
		n := 0
		for _, o := range one {
			if validate(root, o.(map[string]any), v, path) == nil {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("%s: matches %d of oneOf's %d schemas, want exactly 1", path, n, len(one))
		}
	}
	return nil
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func hasType(v any, t string) bool {
	switch t {
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := num(v)
		return ok
	case "integer":
		f, ok := num(v)
		return ok && f == math.Trunc(f)
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "null":
		return v == nil
	}
	return false
}

// schemaRoundTrip returns Schema as a JSON value, as an editor reads it.
func schemaRoundTrip(t *testing.T) map[string]any {
	t.Helper()
	data, err := json.Marshal(Schema())
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	// JSON numbers are float64; the validator reads them as numbers.
	return s
}

// validateFile checks every document of a YAML file against the schema.
func validateFile(schema map[string]any, data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for i := 1; ; i++ {
		var doc any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if doc == nil {
			continue
		}
		if err := validate(schema, schema, jsonish(doc), fmt.Sprintf("doc%d", i)); err != nil {
			return err
		}
	}
}

// jsonish converts YAML-decoded values to JSON's shapes.
func jsonish(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonish(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = jsonish(e)
		}
		return x
	case int:
		return float64(x)
	}
	return v
}

func TestSchemaCoversKinds(t *testing.T) {
	s := Schema()
	props := s["$defs"].(map[string]any)["expectation"].(map[string]any)["properties"].(map[string]any)
	for _, k := range Kinds() {
		if kindSchemas[k] == nil {
			t.Errorf("kind %s has no schema in kindSchemas", k)
		}
		if _, ok := props[k]; !ok {
			t.Errorf("kind %s missing from the schema", k)
		}
	}
	for k := range kindSchemas {
		if _, ok := kinds[k]; !ok {
			t.Errorf("kindSchemas has %s, which is not a kind", k)
		}
	}
	for _, k := range append(slices.Clone(scenarioKeys), turnKeys...) {
		if keyDocs[k] == "" {
			t.Errorf("key %s has no description", k)
		}
	}
	if got := len(s["properties"].(map[string]any)); got != len(scenarioKeys) {
		t.Errorf("%d scenario properties, want %d", got, len(scenarioKeys))
	}
}

// TestSchemaAcceptsValidFiles validates every example and valid test file
// (and the doc's examples, see docs_test.go) against the schema, and checks
// that structurally wrong files are rejected.
func TestSchemaAcceptsValidFiles(t *testing.T) {
	schema := schemaRoundTrip(t)
	var files []string
	for _, root := range []string{"../examples", filepath.Join(testdata, "valid")} {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && isScenarioFile(d.Name()) && !strings.ContainsAny(d.Name()[:1], "_.") && !strings.Contains(p, string(filepath.Separator)+"_") {
				files = append(files, p)
			}
			return nil
		})
	}
	if len(files) < 5 {
		t.Fatalf("only %d files: %v", len(files), files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := validateFile(schema, data); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, name := range []string{"unknown-key", "unknown-kind", "unknown-turn-key", "on-fail", "empty-turns", "bad-judge", "bad-similar", "bad-logic", "matrix-bad-rows", "think-onfail", "repeat-and-rate", "bad-durations"} {
		data, err := os.ReadFile(filepath.Join(testdata, "malformed", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := validateFile(schema, data); err == nil {
			t.Errorf("%s.yaml: accepted by the schema", name)
		}
	}
}
