package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/internal/schemastrict"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// schemaRoundTrip compiles Schema, as an editor reads it (through JSON),
// with a real JSON Schema (draft 2020-12) validator that also asserts
// formats (a "regex" must compile).
func schemaRoundTrip(t testing.TB) *jsonschema.Schema {
	t.Helper()
	return compileSchema(t, SchemaID, Schema())
}

func compileSchema(t testing.TB, id string, s map[string]any) *jsonschema.Schema {
	t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(id)
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	return sch
}

// validateFile checks every document of a YAML file against the schema.
func validateFile(sch *jsonschema.Schema, data []byte) error {
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
		inst, err := jsonInstance(doc)
		if err != nil {
			return fmt.Errorf("document %d: %w", i, err)
		}
		if err := sch.Validate(inst); err != nil {
			return fmt.Errorf("document %d: %w", i, err)
		}
	}
}

// jsonInstance converts a YAML-decoded value to the JSON value an editor
// validates (numbers as json.Number), through JSON text.
func jsonInstance(v any) (any, error) {
	data, err := json.Marshal(stringKeys(v))
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(data))
}

// stringKeys turns mappings with non-string keys (YAML allows 1: x) into
// JSON objects, as editors do.
func stringKeys(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = stringKeys(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = stringKeys(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = stringKeys(e)
		}
		return x
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
// (and the doc's examples, see docs_test.go) against the schema with a real
// validator, and checks that the loader agrees: each valid file loads.
func TestSchemaAcceptsValidFiles(t *testing.T) {
	sch := schemaRoundTrip(t)
	var files []string
	for _, root := range []string{"../examples", filepath.Join(testdata, "valid")} {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && isScenarioFile(d.Name()) && !strings.ContainsAny(d.Name()[:1], "_.") && !strings.Contains(p, string(filepath.Separator)+"_") {
				files = append(files, p)
			}
			return nil
		})
	}
	if len(files) < 8 {
		t.Fatalf("only %d files: %v", len(files), files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := validateFile(sch, data); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if _, err := Load(f); err != nil {
			t.Errorf("%s: the schema accepts it but the loader does not: %v", f, err)
		}
	}
}

// TestSchemaRejectsInvalidFiles checks that every file of
// testdata/scenarios/invalid (structural mistakes: unknown keys and kinds,
// wrong types, missing turns, ...) and the structural ones among the
// malformed files are rejected by the schema, and by the loader too.
func TestSchemaRejectsInvalidFiles(t *testing.T) {
	sch := schemaRoundTrip(t)
	files, err := filepath.Glob(filepath.Join(testdata, "invalid", "*.yaml"))
	if err != nil || len(files) < 8 {
		t.Fatalf("%d invalid files (%v)", len(files), err)
	}
	for _, name := range []string{"unknown-key", "unknown-kind", "unknown-turn-key", "on-fail", "empty-turns", "bad-judge", "bad-similar", "bad-logic", "matrix-bad-rows", "think-onfail", "repeat-and-rate", "bad-durations", "wrong-types"} {
		files = append(files, filepath.Join(testdata, "malformed", name+".yaml"))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		err = validateFile(sch, data)
		if err == nil {
			t.Errorf("%s: accepted by the schema", f)
		}
		// A "# where: /json/pointer" line says where the mistake is; the
		// schema must report a problem there (not a bug of its own elsewhere).
		if m := regexp.MustCompile(`(?m)^# where: (\S+)`).FindSubmatch(data); m != nil && err != nil {
			var ve *jsonschema.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("%s: %T", f, err)
			}
			if locs := leafLocations(ve); !slices.ContainsFunc(locs, func(l string) bool { return strings.HasPrefix(l+"/", strings.TrimSuffix(string(m[1]), "/")+"/") }) {
				t.Errorf("%s: no problem reported at %s; problems at %v", f, m[1], locs)
			}
		} else if strings.Contains(f, "invalid") {
			t.Errorf("%s: no '# where:' line", f)
		}
		if _, err := ParseWith(LoadOptions{JudgeConfigured: true}, f, data); err == nil {
			t.Errorf("%s: accepted by the loader", f)
		}
	}
}

// leafLocations returns the instance locations (JSON pointers) of the
// innermost causes of a validation error.
func leafLocations(ve *jsonschema.ValidationError) []string {
	if len(ve.Causes) == 0 {
		return []string{"/" + strings.Join(ve.InstanceLocation, "/")}
	}
	var out []string
	for _, c := range ve.Causes {
		out = append(out, leafLocations(c)...)
	}
	return out
}

// TestDefaultsSchema checks the schema of evalrun.yaml's defaults: section
// against what ParseDefaults accepts and refuses.
func TestDefaultsSchema(t *testing.T) {
	s := DefaultsSchema()
	s["$defs"] = SchemaDefs()
	sch := compileSchema(t, "https://evalrun.dev/schemas/defaults.test.json", s)
	for _, tc := range []struct {
		src string
		ok  bool
	}{
		{"{tags: [ci], vars: {company: Acme}, expect: [{max_latency: 5s}], on_fail: continue, think: 1s}", true},
		{"{expect: [{any: [{contains: a}, {not: {regex: 'b+'}}]}]}", true},
		{"{tag: [ci]}", false},
		{"{on_fail: retry}", false},
		{"{expect: [{contain: x}]}", false},
		{"{think: soon}", false},
		{"{vars: [a, b]}", false},
	} {
		var node yaml.Node
		if err := yaml.Unmarshal([]byte(tc.src), &node); err != nil {
			t.Fatal(err)
		}
		var v any
		if err := node.Decode(&v); err != nil {
			t.Fatal(err)
		}
		inst, err := jsonInstance(v)
		if err != nil {
			t.Fatal(err)
		}
		serr := sch.Validate(inst)
		_, perr := ParseDefaults("evalrun.yaml", &node)
		if (serr == nil) != tc.ok || (perr == nil) != tc.ok {
			t.Errorf("%s: schema %v, ParseDefaults %v; want ok=%v", tc.src, serr, perr, tc.ok)
		}
	}
}

// TestSchemaStrict checks the schema against the ajv strict-mode rules
// (no union types, no "regex" format, required keys defined beside them):
// scripts/check-schema.sh runs the real ajv over it and every example.
func TestSchemaStrict(t *testing.T) {
	for _, p := range schemastrict.Check(Schema()) {
		t.Error(p)
	}
}

// TestSchemaAcceptsRE2 checks that RE2 expressions that ECMAScript
// rejects ((?i), (?s), \z, named groups in Go's (?P<name>) form) pass the
// schema with format assertions on, and that an empty one does not.
func TestSchemaAcceptsRE2(t *testing.T) {
	sch := schemaRoundTrip(t)
	for _, tc := range []struct {
		re string
		ok bool
	}{
		{`(?i)full refund within \d+ days`, true},
		{`(?s)a.b\z`, true},
		{`(?P<plan>\w+)`, true},
		{``, false},
	} {
		for _, kind := range []string{"regex", "not_regex"} {
			src := fmt.Sprintf("turns:\n  - user: hi\n    expect:\n      - %s: %q\n", kind, tc.re)
			if err := validateFile(sch, []byte(src)); (err == nil) != tc.ok {
				t.Errorf("%s %q: schema says %v, want ok=%v", kind, tc.re, err, tc.ok)
			}
		}
		src := fmt.Sprintf("turns:\n  - user: hi\n    capture:\n      plan: %q\n", tc.re)
		if err := validateFile(sch, []byte(src)); (err == nil) != tc.ok {
			t.Errorf("capture %q: schema says %v, want ok=%v", tc.re, err, tc.ok)
		}
	}
}
