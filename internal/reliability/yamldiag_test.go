package reliability

import (
	"errors"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/config"
	"github.com/evalrun/evalrun/internal/yamlpos"
	"github.com/evalrun/evalrun/scenarios"
)

// TestOneYAMLDiagnostic: every YAML file format (scenario files,
// evalrun.yaml, agent files) reports the same syntax error the same way —
// one error type (yamlpos.Error), file:line:col at the offending token, the
// source line and a caret under it.
func TestOneYAMLDiagnostic(t *testing.T) {
	parsers := map[string]func(file string, data []byte) error{
		"scenario": func(f string, d []byte) error { _, err := scenarios.Parse(f, d); return err },
		"config":   func(f string, d []byte) error { _, err := config.Parse(f, d); return err },
		"agent":    func(f string, d []byte) error { _, err := agentsim.ParseAgent(f, d); return err },
	}
	tests := []struct{ src, want string }{
		{"name: x\nlist: [1, 2\nnext: 3\n", "f.yaml:2:11: invalid YAML: did not find expected ',' or ']'\n    2 | list: [1, 2\n      |           ^"},
		{"name: x\ntext: \"open\n", "f.yaml:2:7: invalid YAML: found unexpected end of stream\n    2 | text: \"open\n      |       ^"},
		{"name: x\n  bad: 1\n", "f.yaml:2:6: invalid YAML: mapping values are not allowed in this context\n    2 |   bad: 1\n      |      ^"},
	}
	for _, tt := range tests {
		for name, parse := range parsers {
			err := parse("f.yaml", []byte(tt.src))
			var errs yamlpos.ErrorList
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Errorf("%s: %q: error %T %v, want a yamlpos.ErrorList", name, tt.src, err, err)
				continue
			}
			if got := errs[0].Error(); got != tt.want {
				t.Errorf("%s: %q:\n got: %s\nwant: %s", name, tt.src, got, tt.want)
			}
			if !strings.Contains(errs[0].Source, "^") {
				t.Errorf("%s: %q: no caret", name, tt.src)
			}
		}
	}
}
