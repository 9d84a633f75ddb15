package scenarios

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestDocExamples loads every example of docs/scenarios.md: scenario
// blocks must load (and pass the JSON Schema), blocks marked
// <!-- invalid --> must not, and evalrun.yaml blocks' defaults must parse.
func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/scenarios.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)(<!-- invalid -->\n)?```(yaml|csv)\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	dir := t.TempDir()
	for _, b := range blocks {
		if b[2] == "csv" {
			if err := os.WriteFile(filepath.Join(dir, "plans.csv"), []byte(b[3]), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	opts := LoadOptions{JudgeConfigured: true, EnvAllow: []string{"QA_REGION"}, LookupEnv: func(n string) (string, bool) { return "eu", n == "QA_REGION" }}
	schema := schemaRoundTrip(t)
	scenariosSeen, configs := 0, 0
	for i, b := range blocks {
		if b[2] != "yaml" {
			continue
		}
		src := b[3]
		if strings.HasPrefix(src, "# evalrun.yaml") {
			configs++
			var root yaml.Node
			if err := yaml.Unmarshal([]byte(src), &root); err != nil {
				t.Errorf("block %d: %v", i, err)
				continue
			}
			m := root.Content[0]
			for k := 0; k+1 < len(m.Content); k += 2 {
				if m.Content[k].Value == "defaults" {
					if _, err := ParseDefaults("evalrun.yaml", m.Content[k+1]); err != nil {
						t.Errorf("block %d: defaults: %v", i, err)
					}
				}
			}
			continue
		}
		_, err := ParseWith(opts, filepath.Join(dir, "doc.yaml"), []byte(src))
		if b[1] != "" {
			if err == nil {
				t.Errorf("block %d is marked invalid but loads:\n%s", i, src)
			}
			continue
		}
		scenariosSeen++
		if err != nil {
			t.Errorf("block %d: %v\n%s", i, err, src)
		}
		if err := validateFile(schema, []byte(src)); err != nil {
			t.Errorf("block %d: schema: %v", i, err)
		}
	}
	if scenariosSeen < 12 || configs < 3 {
		t.Errorf("only %d scenario and %d config examples found", scenariosSeen, configs)
	}
	// Every kind has an example in the doc.
	for _, k := range Kinds() {
		if !strings.Contains(string(doc), "- "+k+":") && !strings.Contains(string(doc), "  "+k+":") {
			t.Errorf("kind %s has no example in docs/scenarios.md", k)
		}
	}
}

// TestOtherDocExamples loads the scenario examples of the README and of
// docs/targets.md (yaml blocks starting with name: or turns:) and
// validates them against the schema with format assertions on.
func TestOtherDocExamples(t *testing.T) {
	schema := schemaRoundTrip(t)
	n := 0
	for _, doc := range []string{"../README.md", "../docs/targets.md"} {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range regexp.MustCompile("(?s)```yaml\n((?:name|turns):.*?)```").FindAllStringSubmatch(string(data), -1) {
			n++
			if _, err := ParseWith(LoadOptions{JudgeConfigured: true}, filepath.Join(t.TempDir(), "doc.yaml"), []byte(b[1])); err != nil {
				t.Errorf("%s: %v\n%s", doc, err, b[1])
			}
			if err := validateFile(schema, []byte(b[1])); err != nil {
				t.Errorf("%s: schema: %v\n%s", doc, err, b[1])
			}
		}
	}
	if n < 2 {
		t.Errorf("only %d examples", n)
	}
}
