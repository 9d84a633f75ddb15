package scenarios

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// seedFiles adds every scenario file under testdata/scenarios to f.
func seedFiles(f *testing.F) {
	f.Helper()
	err := filepath.WalkDir(testdata, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || !isScenarioFile(p) {
			return err
		}
		data, err := os.ReadFile(p)
		f.Add(data)
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
}

// FuzzParse checks that no input makes Parse panic, that errors always come
// as a non-empty ErrorList naming the file, and that whatever loads is
// valid: every template renders and every expectation evaluates.
func FuzzParse(f *testing.F) {
	seedFiles(f)
	f.Add([]byte("turns: [{user: '{{ uuid }}', expect: [{tool: {name: a}}, {no_tool: true}]}]"))
	f.Add([]byte("a: &a [*a]\nturns: *a\n"))
	f.Add([]byte("matrix: [{p: a}, {p: b, q: c}]\nturns: [{user: '{{ p }} {{ q }} {{ date +1d weekday }}', expect: [{any: [{not: {field: {path: 'a[*].b', gte: 1}}}, {similar: {to: x}}]}, {judge: {rubric: r}}, {tool: {name: t, data: {a: [1]}}}]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		scs, err := Parse("f.yaml", data)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 || scs != nil {
				t.Fatalf("err %v (%T), %d scenarios", err, err, len(scs))
			}
			for _, e := range list {
				if e.Pos.File != "f.yaml" || e.Msg == "" {
					t.Fatalf("bad error %+v", e)
				}
			}
			return
		}
		seen := map[string]bool{}
		for _, sc := range scs {
			if seen[sc.Name] || sc.Name == "" || sc.Repeat < 1 || !(sc.MinPassRate >= 0 && sc.MinPassRate <= 1) || len(sc.Turns) == 0 {
				t.Fatalf("invalid scenario loaded: %+v", sc)
			}
			seen[sc.Name] = true
			env := &Env{Vars: sc.Vars, Captures: map[string]string{}}
			if _, err := sc.ClientID.Render(env); err != nil {
				t.Fatalf("client_id: %v", err)
			}
			for _, tu := range sc.Turns {
				if _, err := tu.User.Render(env); err != nil {
					t.Fatalf("turn %d: %v", tu.Index, err)
				}
				vs := tu.Evaluate(&Observation{Text: "reply", Tools: []Tool{{Name: "lead_capture", Status: "executed"}}}, env.Captures)
				if len(vs) != len(tu.Expect)+len(tu.Captures) {
					t.Fatalf("%d verdicts", len(vs))
				}
				for _, c := range tu.Captures {
					env.Captures[c.Name] = "x" // as if every capture matched
				}
			}
		}
	})
}

// FuzzTemplate checks that no source makes the template parser or
// renderer panic, that a parsed template renders once its names have
// values, and that the loader places template errors inside the file.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"{{ date +2d \"15:04\" }}", "{{ date -1w weekday }}", "{{ env QA }}", "{{ date +1x }}", "{{ date '' }}", "", "plain", "{{ a }}", "{{a}}{{ b.c }}", "{{", "}} {{ x", "{{ uuid x }}", "{{{ a }}}", "é{{ fake.name }}\n{{ n }}", "{{ 1 }}", "{{ \t }}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		tm, err := ParseTemplate(src)
		if err == nil {
			vars := map[string]string{}
			for _, n := range tm.Names() {
				vars[n] = "v"
			}
			out, err := tm.Render(&Env{Vars: vars})
			if err != nil {
				t.Fatalf("Render(%q): %v", src, err)
			}
			if len(tm.Names()) == 0 && out != src {
				t.Fatalf("Render(%q) = %q", src, out)
			}
		}
		doc := "vars: {a: x, n: y}\nturns:\n  - user: " + strconv.Quote(src) + "\n  - user: |\n      " + strings.ReplaceAll(src, "\n", "\n      ") + "\n"
		_, perr := Parse("t.yaml", []byte(doc))
		var list ErrorList
		if perr != nil && !errors.As(perr, &list) {
			t.Fatalf("Parse: %v", perr)
		}
		lines := len(splitLines(doc))
		for _, e := range list {
			if e.Pos.Line > lines || e.Pos.Line < 0 || e.Pos.Col < 0 {
				t.Fatalf("error outside the file: %v", e)
			}
		}
	})
}

// FuzzMatrixCSV checks that no CSV makes the matrix parser panic, that
// errors carry a position inside the file, and that rows have every
// header column.
func FuzzMatrixCSV(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "", "a\n", "\xef\xbb\xbfa,b\r\n\"x,y\",\"q\"\"\"\n", "a,b\n1\n", "a\n\"x\n", "a,,a,uuid\n1,2,3,4\n", "a\n\xff\n", "\"a\nb\"\n1\n"} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob(filepath.Join(testdata, "malformed", "*.csv"))
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, names, errs := parseMatrixCSV("f.csv", data)
		lines := len(splitLines(string(data))) + 1
		for _, e := range errs {
			if e.Pos.File != "f.csv" || e.Pos.Line < 1 || e.Pos.Line > lines || e.Pos.Col < 1 || e.Msg == "" {
				t.Fatalf("bad error %+v (%d lines)", e, lines)
			}
		}
		if len(errs) > maxCSVErrors+1 {
			t.Fatalf("%d errors", len(errs))
		}
		if len(errs) == 0 {
			if len(rows) == 0 {
				t.Fatal("no rows and no error")
			}
			for _, r := range rows {
				for _, n := range names {
					if _, ok := r.vars[n]; !ok {
						t.Fatalf("row %+v lacks %s", r, n)
					}
				}
			}
		}
	})
}

// FuzzFieldPath checks that the path parser never panics, that a parsed
// path keeps its source, and that looking it up in any JSON is safe.
func FuzzFieldPath(f *testing.F) {
	for _, s := range []string{"metadata.tokens_used", "tools_executed[0].tool", "tools_executed[*].status", "[0]", "a..b", "a[", "a[99999999999999999999]", "a[*][*].b", "]", "a. b", "é.ü[1]"} {
		f.Add(s, `{"metadata":{"tokens_used":3},"tools_executed":[{"tool":"a","status":"executed"}],"a":[[{"b":1}]]}`)
	}
	f.Fuzz(func(t *testing.T, path, doc string) {
		p, err := parseFieldPath(path)
		if err != nil {
			var pe *pathError
			if !errors.As(err, &pe) || pe.off < 0 || pe.off > len(path) {
				t.Fatalf("error %v outside %q", err, path)
			}
			return
		}
		if p.String() != path || len(p.steps) == 0 {
			t.Fatalf("parsed %q as %+v", path, p)
		}
		var root any
		if json.Unmarshal([]byte(doc), &root) != nil {
			return
		}
		vals, paths, miss := p.lookup(root)
		if len(vals) != len(paths) || (len(vals) == 0 && miss == "") {
			t.Fatalf("lookup(%q) = %v, %v, %q", path, vals, paths, miss)
		}
		c := &fieldCheck{path: p, exists: new(bool)}
		c.check(&Observation{Raw: json.RawMessage(doc)})
	})
}

// FuzzParseDefaults checks that evalrun.yaml's defaults node never makes
// ParseDefaults panic and that errors name the file.
func FuzzParseDefaults(f *testing.F) {
	for _, s := range []string{"defaults: {tags: [a], vars: {x: y}, expect: [{max_latency: 5s}], on_fail: continue, think: 1s}", "defaults: 3", "defaults: {expect: [{any: [{not: {contains: x}}]}]}", "defaults: {vars: [a]}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var doc yaml.Node
		if decodeDoc(yaml.NewDecoder(strings.NewReader(src)), &doc) != nil || len(doc.Content) == 0 {
			return
		}
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode || len(root.Content) < 2 {
			return
		}
		_, err := ParseDefaults("c.yaml", root.Content[1])
		var list ErrorList
		if err != nil && (!errors.As(err, &list) || list[0].Pos.File != "c.yaml") {
			t.Fatalf("error %v", err)
		}
	})
}
