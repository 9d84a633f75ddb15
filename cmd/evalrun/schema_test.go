package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/evalrun/evalrun/config"
	"github.com/evalrun/evalrun/internal/schemastrict"
	"github.com/evalrun/evalrun/scenarios"
)

// compileConfigSchema compiles the evalrun.yaml schema as an editor reads
// it (through `evalrun schema config`'s JSON) with a real draft 2020-12
// validator.
func compileConfigSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := &cli{}
	if code := c.run(t, "schema", "config"); code != exitOK {
		t.Fatalf("schema config: exit %d: %s", code, c.stderr.String())
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(c.stdout.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft2020)
	comp.AssertFormat()
	if err := comp.AddResource(config.SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := comp.Compile(config.SchemaID)
	if err != nil {
		t.Fatalf("the config schema does not compile: %v", err)
	}
	return sch
}

// validateYAML validates one YAML document against sch.
func validateYAML(sch *jsonschema.Schema, data []byte) error {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return err
	}
	js, err := json.Marshal(v)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// loadConfigFile reads a configuration file the way `evalrun run` does:
// parse, apply the settings to run's flags, parse the defaults.
func loadConfigFile(path string) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	if err := applyConfig(cfg, runFlagSet()); err != nil {
		return err
	}
	_, err = scenarios.ParseDefaults(path, cfg.Defaults)
	return err
}

func leaves(ve *jsonschema.ValidationError) []string {
	if len(ve.Causes) == 0 {
		return []string{"/" + strings.Join(ve.InstanceLocation, "/")}
	}
	var out []string
	for _, c := range ve.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

// TestConfigSchemaFiles checks that the schema and the loader agree on
// testdata/config: every valid file passes both, every invalid file fails
// both, and the schema reports the problem where the file's "# where:"
// line says it is.
func TestConfigSchemaFiles(t *testing.T) {
	sch := compileConfigSchema(t)
	valid, _ := filepath.Glob("../../testdata/config/valid/*.yaml")
	invalid, _ := filepath.Glob("../../testdata/config/invalid/*.yaml")
	if len(valid) < 4 || len(invalid) < 8 {
		t.Fatalf("%d valid and %d invalid files", len(valid), len(invalid))
	}
	for _, f := range valid {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := validateYAML(sch, data); err != nil {
			t.Errorf("%s: schema: %v", f, err)
		}
		if err := loadConfigFile(f); err != nil {
			t.Errorf("%s: loader: %v", f, err)
		}
	}
	where := regexp.MustCompile(`(?m)^# where: (\S+)`)
	for _, f := range invalid {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if loadConfigFile(f) == nil {
			t.Errorf("%s: accepted by the loader", f)
		}
		err = validateYAML(sch, data)
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: accepted by the schema (%v)", f, err)
			continue
		}
		m := where.FindSubmatch(data)
		if m == nil {
			t.Errorf("%s: no '# where:' line", f)
			continue
		}
		want := strings.TrimSuffix(string(m[1]), "/") + "/"
		if locs := leaves(ve); !slices.ContainsFunc(locs, func(l string) bool { return strings.HasPrefix(l+"/", want) }) {
			t.Errorf("%s: no problem reported at %s; problems at %v", f, m[1], locs)
		}
	}
}

// TestConfigSchemaSettings checks that the settings in the schema are
// exactly the flags of `evalrun run` (but --config), each under the names
// the loader resolves to that flag, with its type from the flag's kind.
func TestConfigSchemaSettings(t *testing.T) {
	s := configSchema()
	props := s["properties"].(map[string]any)
	fs := runFlagSet()
	n := 0
	fs.VisitAll(func(fl *flag.Flag) {
		if fl.Name == "config" {
			if _, ok := props["config"]; ok {
				t.Error("config is a setting")
			}
			return
		}
		n++
		if _, ok := props[fl.Name]; !ok {
			t.Errorf("flag --%s has no setting", fl.Name)
		}
	})
	if n < 20 {
		t.Fatalf("only %d flags", n)
	}
	sections := []string{"suite", "targets", "defaults", "judge", "user_model", "env_allow"}
	for name := range props {
		if slices.Contains(sections, name) {
			continue
		}
		if fl := fs.Lookup(flagName(fs, name)); fl == nil {
			t.Errorf("setting %q resolves to no flag", name)
		}
	}
	for _, tc := range []struct{ name, want string }{
		{"concurrency", `"type":"integer"`},
		{"seed", `"type":"integer"`},
		{"quiet", `"type":"boolean"`},
		{"retry-allowance", `"type":"number"`},
		{"timeout", `"pattern"`},
		{"cost_unit", `"anyOf":[{"type":"string"},{"type":"number"},{"type":"boolean"}]`},
		{"limits", `"type":"array"`},
		{"threshold", `"type":"array"`},
		{"stage", `"type":"array"`},
	} {
		data, _ := json.Marshal(props[tc.name])
		if !strings.Contains(string(data), tc.want) {
			t.Errorf("%s: %s lacks %s", tc.name, data, tc.want)
		}
	}
	for _, name := range []string{"concurrencys", "timeouts", "max_attemptss"} {
		if _, ok := props[name]; ok {
			t.Errorf("%s is a setting; only repeatable flags have a plural", name)
		}
	}
}

// TestConfigSchemaDocs validates the evalrun.yaml examples of the docs
// (blocks starting with "# evalrun.yaml", and docs/targets.md's blocks
// starting with "targets:") against the schema.
func TestConfigSchemaDocs(t *testing.T) {
	sch := compileConfigSchema(t)
	n := 0
	for _, doc := range []string{"../../docs/config.md", "../../docs/scenarios.md", "../../docs/targets.md"} {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range regexp.MustCompile("(?s)```yaml\n((?:# evalrun.yaml|targets:)\n.*?)```").FindAllSubmatch(data, -1) {
			n++
			if err := validateYAML(sch, b[1]); err != nil {
				t.Errorf("%s: example:\n%s\n%v", doc, b[1], err)
			}
		}
	}
	if n < 8 {
		t.Errorf("only %d examples", n)
	}
}

// TestConfigSchemaStrict checks the evalrun.yaml schema against the ajv
// strict-mode rules (scripts/check-schema.sh runs the real ajv).
func TestConfigSchemaStrict(t *testing.T) {
	for _, p := range schemastrict.Check(configSchema()) {
		t.Error(p)
	}
}

func TestSchemaCommandConfig(t *testing.T) {
	for _, args := range [][]string{{"schema", "config"}, {"schema", "--config"}} {
		c := &cli{}
		if code := c.run(t, args...); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, c.stderr.String())
		}
		var s map[string]any
		if err := json.Unmarshal(c.stdout.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		if s["$id"] != config.SchemaID || s["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%v: header %v %v", args, s["$id"], s["$schema"])
		}
	}
	c := &cli{}
	if code := c.run(t, "schema", "scenario"); code != exitOK || !strings.Contains(c.stdout.String(), scenarios.SchemaID) {
		t.Errorf("schema scenario: exit %d", code)
	}
	for _, args := range [][]string{{"schema", "bogus"}, {"schema", "config", "scenario"}, {"schema", "--config", "scenario"}} {
		c := &cli{}
		if code := c.run(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}
