package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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
	for _, s := range []string{"", "plain", "{{ a }}", "{{a}}{{ b.c }}", "{{", "}} {{ x", "{{ uuid x }}", "{{{ a }}}", "é{{ fake.name }}\n{{ n }}", "{{ 1 }}", "{{ \t }}"} {
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
