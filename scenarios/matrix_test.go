package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestMatrixYAML(t *testing.T) {
	src := `name: pricing
vars: {greeting: Hi, plan: none}
repeat: 2
matrix:
  - {plan: growth, price: "49"}
  - {plan: scale, price: "99", greeting: Hello}
turns:
  - user: "{{ greeting }}, is {{ plan }} {{ price }}? ({{ scenario }})"
`
	scs, err := Parse("m.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sc := range scs {
		names = append(names, sc.Name)
	}
	if !slices.Equal(names, []string{"pricing[growth]", "pricing[scale]"}) {
		t.Fatalf("names = %v", names)
	}
	want := []string{"Hi, is growth 49? (pricing[growth])", "Hello, is scale 99? (pricing[scale])"}
	for i, sc := range scs {
		got, err := sc.Turns[0].User.Render(&Env{Vars: sc.Vars, Scenario: sc.Name})
		if err != nil || got != want[i] {
			t.Errorf("row %d: %q, %v; want %q", i+1, got, err, want[i])
		}
		if sc.BaseName != "pricing" || sc.Row != i+1 || sc.Repeat != 2 || sc.RowKey != strings.TrimSuffix(strings.TrimPrefix(sc.Name, "pricing["), "]") {
			t.Errorf("row %d: %+v", i+1, sc)
		}
	}
	suite := &Suite{Scenarios: scs}
	if suite.Conversations() != 4 || suite.Turns() != 4 {
		t.Errorf("conversations %d, turns %d", suite.Conversations(), suite.Turns())
	}
}

func TestMatrixRowKeys(t *testing.T) {
	tests := []struct {
		name, matrix string
		want         []string
	}{
		{"first column", "[{plan: a, x: 1}, {plan: b, x: 1}]", []string{"m[a]", "m[b]"}},
		{"key column", "[{plan: a, key: one}, {plan: a, key: two}]", []string{"m[one]", "m[two]"}},
		{"duplicates: numbered", "[{plan: a}, {plan: a}, {plan: b}]", []string{"m[1]", "m[2]", "m[3]"}},
		{"empty: numbered", "[{plan: ''}, {plan: b}]", []string{"m[1]", "m[2]"}},
		{"long: numbered", "[{q: " + strings.Repeat("x", 41) + "}]", []string{"m[1]"}},
		{"brackets: numbered", "[{q: 'a]'}, {q: b}]", []string{"m[1]", "m[2]"}},
	}
	for _, tt := range tests {
		scs, err := Parse("m.yaml", []byte("name: m\nmatrix: "+tt.matrix+"\nturns: [{user: hi}]\n"))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var names []string
		for _, sc := range scs {
			names = append(names, sc.Name)
		}
		if !slices.Equal(names, tt.want) {
			t.Errorf("%s: names %v, want %v", tt.name, names, tt.want)
		}
	}
}

func TestMatrixCSV(t *testing.T) {
	dir := t.TempDir()
	csv := "\xef\xbb\xbfplan,price,note\r\ngrowth,49,\"fine, really\"\r\nscale,99,\"say \"\"hi\"\"\nthen go\"\r\n"
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "plans.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	yml := "name: csv\nmatrix_csv: data/plans.csv\nturns:\n  - user: \"{{ plan }} {{ price }}: {{ note }}\"\n"
	if err := os.WriteFile(filepath.Join(dir, "s.yaml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	suite, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(suite.Scenarios) != 2 || suite.Scenarios[0].Name != "csv[growth]" || suite.Scenarios[1].Name != "csv[scale]" {
		t.Fatalf("scenarios: %+v", suite.Scenarios)
	}
	want := []string{"growth 49: fine, really", "scale 99: say \"hi\"\nthen go"}
	for i, sc := range suite.Scenarios {
		got, err := sc.Turns[0].User.Render(&Env{Vars: sc.Vars})
		if err != nil || got != want[i] {
			t.Errorf("row %d: %q, %v; want %q", i+1, got, err, want[i])
		}
	}
	// Row positions name the CSV file and line (the second record starts on line 3).
	if p := suite.Scenarios[1].namePos; p.File != filepath.Join(dir, "data", "plans.csv") || p.Line != 3 {
		t.Errorf("row 2 pos = %v", p)
	}
}

func TestParseMatrixCSVErrors(t *testing.T) {
	tests := []struct{ csv, want string }{
		{"a,b\n1,2\n", ""},
		{"", "f.csv:1:1: empty CSV: the first row must name the vars, e.g. plan,price"},
		{"a,b\n", "f.csv:1:1: CSV has a header but no rows; add one row per conversation"},
		{"a,b\n1\n", "f.csv:2:1: CSV row has 1 field, the header has 2; give each row one value per column (quote a value that holds a comma)"},
		{"a,é\n1,2\n", `f.csv:1:3: CSV header: invalid var name "é": use letters, digits and '_', starting with a letter or '_'`},
		{"a\n\"x\n", `f.csv:2:4: invalid CSV: a quoted field is not closed, or text follows its closing quote; double quotes inside quoted fields ("")`},
		{"a\n\xff\n", "f.csv:1:1: invalid CSV: the file is not UTF-8 text"},
		{"\"a\nb\n", `f.csv:2:3: invalid CSV header: a quoted field is not closed, or text follows its closing quote; double quotes inside quoted fields ("")`},
	}
	for _, tt := range tests {
		_, _, errs := parseMatrixCSV("f.csv", []byte(tt.csv))
		if got := errs.Err(); (got == nil && tt.want != "") || (got != nil && got.Error() != tt.want) {
			t.Errorf("parseMatrixCSV(%q) = %v\nwant %s", tt.csv, got, tt.want)
		}
	}
	// Every error is counted, up to the cap.
	_, _, errs := parseMatrixCSV("f.csv", []byte("a,b\n"+strings.Repeat("1\n", 50)))
	if len(errs) != maxCSVErrors {
		t.Errorf("%d errors, want %d", len(errs), maxCSVErrors)
	}
}

func yamlNode(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	// The value of the top-level "defaults:" key.
	return doc.Content[0].Content[1]
}

func TestDefaults(t *testing.T) {
	df, err := ParseDefaults("evalrun.yaml", yamlNode(t, `defaults:
  tags: [nightly, smoke]
  vars: {company: Acme, region: eu}
  expect:
    - max_latency: 5s
    - not: {icontains: error}
  on_fail: continue
  think: 1s
`))
	if err != nil {
		t.Fatal(err)
	}
	src := `name: d
tags: [smoke, sales]
vars: {region: us}
turns:
  - user: "{{ company }} in {{ region }}"
    expect: [{contains: ok}]
  - user: again
    think: 0s
---
name: e
on_fail: stop
turns:
  - user: hi
`
	scs, err := ParseWith(LoadOptions{Defaults: df}, "d.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	d, e := scs[0], scs[1]
	if !slices.Equal(d.Tags, []string{"smoke", "sales", "nightly"}) {
		t.Errorf("tags = %v", d.Tags)
	}
	if got, _ := d.Turns[0].User.Render(&Env{Vars: d.Vars}); got != "Acme in us" {
		t.Errorf("vars: %q", got)
	}
	if d.OnFail != OnFailContinue || e.OnFail != OnFailStop {
		t.Errorf("on_fail: %s, %s", d.OnFail, e.OnFail)
	}
	if d.Turns[0].Think != time.Second || d.Turns[1].Think != 0 {
		t.Errorf("think: %v, %v", d.Turns[0].Think, d.Turns[1].Think)
	}
	var kinds []string
	for _, x := range d.Turns[0].Expect {
		kinds = append(kinds, x.String())
	}
	if !slices.Equal(kinds, []string{`contains "ok"`, "max_latency 5s", `not(icontains "error")`}) {
		t.Errorf("expectations: %v", kinds)
	}
	if len(d.Turns[1].Expect) != 2 || len(e.Turns[0].Expect) != 2 {
		t.Errorf("defaults not applied to every turn")
	}
	// Defaults do not leak into the shared Defaults value.
	if len(df.Expect) != 2 {
		t.Errorf("Defaults.Expect modified: %d", len(df.Expect))
	}
}

func TestDefaultsErrors(t *testing.T) {
	_, err := ParseDefaults("evalrun.yaml", yamlNode(t, `defaults:
  tag: [x]
  vars: {uuid: x}
  expect:
    - max_latency: 5
  on_fail: maybe
  think: soon
`))
	want := `evalrun.yaml:2:3: unknown key "tag" in defaults (did you mean tags?); valid keys: tags, vars, expect, on_fail, think
evalrun.yaml:3:10: defaults.vars: "uuid" is a built-in template name; choose another
evalrun.yaml:5:20: max_latency: expected a duration such as 2s or 500ms, got integer 5 (add a unit: 5s or 5ms)
evalrun.yaml:6:12: defaults.on_fail: expected stop or continue, got "maybe"
evalrun.yaml:7:10: defaults.think: invalid duration "soon": use a number and a unit (ms, s, m, h), e.g. 1.5s or 500ms`
	var list ErrorList
	if !errors.As(err, &list) || err.Error() != want {
		t.Errorf("ParseDefaults:\n%v\nwant\n%s", err, want)
	}
	// A judge default without a judge is a load error at its place.
	df, err := ParseDefaults("evalrun.yaml", yamlNode(t, "defaults:\n  expect:\n    - judge: {rubric: polite}\n"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("turns: [{user: hi}]\n"), 0o644)
	_, err = LoadWith(LoadOptions{Defaults: df}, dir)
	if err == nil || err.Error() != "evalrun.yaml:3:7: judge: no judge is configured; add judge: {url, model, api_key_env} to evalrun.yaml, or remove this default expectation" {
		t.Errorf("LoadWith: %v", err)
	}
	if _, err := LoadWith(LoadOptions{Defaults: df, JudgeConfigured: true}, dir); err != nil {
		t.Errorf("LoadWith(judge): %v", err)
	}
	if df, err := ParseDefaults("x", nil); err != nil || df.Expect != nil {
		t.Errorf("nil node: %+v, %v", df, err)
	}
}
