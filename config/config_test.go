package config

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestParse(t *testing.T) {
	src := `# evalrun.yaml
suite: [examples, more/scenarios]
concurrency: 8
limit: [100/min, 1000/h]
threshold: "p95<2s"
plan: starter
targets:
  - name: prod
    url: https://api.optimly.io
    api_key_env: PROD_KEY
  - name: sim
    agent: agents/candidate.agent.yaml
    kind: optimly
    optimly: {api_version: 1}
defaults:
  tags: [ci]
judge: {url: "http://127.0.0.1:8788", model: grader, api_key_env: JUDGE_KEY}
env_allow: [CI_COMMIT]
`
	cfg, err := Parse(filepath.Join("cfg", "evalrun.yaml"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join("cfg", "examples"), filepath.Join("cfg", "more/scenarios")}; !reflect.DeepEqual(cfg.Suite, want) {
		t.Errorf("suite %v, want %v", cfg.Suite, want)
	}
	var got []string
	for _, s := range cfg.Settings {
		got = append(got, s.Name+"="+strings.Join(s.Values, "|"))
	}
	if want := []string{"concurrency=8", "limit=100/min|1000/h", "threshold=p95<2s", "plan=starter"}; !reflect.DeepEqual(got, want) {
		t.Errorf("settings %v, want %v", got, want)
	}
	if cfg.Settings[1].Pos.Line != 4 || cfg.Settings[1].Pos.Col != 1 {
		t.Errorf("limit at %v, want line 4 col 1", cfg.Settings[1].Pos)
	}
	if len(cfg.Targets) != 2 {
		t.Fatalf("%d targets", len(cfg.Targets))
	}
	prod, sim := cfg.Targets[0], cfg.Targets[1]
	if prod.Name != "prod" || prod.Kind != "optimly" || prod.URL != "https://api.optimly.io" || prod.APIKeyEnv != "PROD_KEY" {
		t.Errorf("prod target %+v", prod)
	}
	if sim.Agent != filepath.Join("cfg", "agents/candidate.agent.yaml") || sim.Options == nil {
		t.Errorf("sim target %+v", sim)
	}
	if cfg.Defaults == nil || cfg.Judge == nil || cfg.Judge.Model != "grader" || cfg.Judge.APIKeyEnv != "JUDGE_KEY" {
		t.Errorf("defaults %v judge %+v", cfg.Defaults, cfg.Judge)
	}
	if !reflect.DeepEqual(cfg.EnvAllow, []string{"CI_COMMIT"}) {
		t.Errorf("env_allow %v", cfg.EnvAllow)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "# nothing\n", "---\n"} {
		cfg, err := Parse("e.yaml", []byte(src))
		if err != nil || cfg == nil || len(cfg.Settings) != 0 {
			t.Errorf("%q: %v %+v", src, err, cfg)
		}
	}
}

// TestMalformedGolden checks the exact error of every malformed file in
// testdata/malformed against its .golden file (go test -update rewrites).
func TestMalformedGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "malformed", "*.yaml"))
	if len(files) < 10 {
		t.Fatalf("only %d malformed files", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, err := Load(file)
			if err == nil {
				t.Fatal("no error")
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("error:\n%s\nwant:\n%s", got, want)
			}
			if !strings.HasPrefix(got, file+":") {
				t.Errorf("error does not start with the file name")
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "malformed", "*.yaml"))
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Add([]byte("concurrency: 3\nlimit: [1/s]\ntargets: [{name: a, url: 'https://x'}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("f.yaml", data)
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
		if err != nil {
			if _, ok := err.(ErrorList); !ok {
				t.Fatalf("error of type %T", err)
			}
			for _, e := range err.(ErrorList) {
				if e.Pos.Line < 1 || e.Pos.Col < 1 {
					t.Fatalf("error without a position: %v", e)
				}
			}
		}
	})
}
