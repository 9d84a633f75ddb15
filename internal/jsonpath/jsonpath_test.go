package jsonpath

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct{ src, err string }{
		// what reply_path accepted
		{"reply", ""},
		{"data.session.id", ""},
		{"choices[0].message.content", ""},
		{"messages[-1].text", ""},
		{`$["key with.dots"].value`, ""},
		{"$.a.b[-1]['c.d']", ""},
		{"$", ""},
		{"$[0]", ""},
		{" reply ", ""},
		// what field paths accepted
		{"metadata.tokens_used", ""},
		{"tools_executed[*].status", ""},
		{"[0].id", ""},
		{"a[1][2].b-c", ""},
		{"$id", ""},
		{"é.ü[1]", ""},
		// errors, with the column of the mistake
		{"", "at character 1: empty path; e.g. metadata.tokens_used or choices[0].message.content"},
		{"   ", "at character 4: empty path; e.g. metadata.tokens_used or choices[0].message.content"},
		{"a..b", "at character 3: missing name"},
		{"a.", "at character 3: missing name"},
		{".", "at character 1: missing name"},
		{"$.", `at character 3: missing name after "$."`},
		{"a[x]", `at character 3: index "x": want a number (negative counts from the end), * for every item, or a quoted key`},
		{"a[+1]", `at character 3: index "+1": want a number (negative counts from the end), * for every item, or a quoted key`},
		{"a[]", `at character 3: index "": want a number (negative counts from the end), * for every item, or a quoted key`},
		{"a[1", `at character 2: "[" is not closed by "]"`},
		{`a["k]`, `at character 3: quoted key is not closed by "`},
		{`a["k"x]`, `at character 6: want "]" after the quoted key`},
		{"a]", `at character 2: unexpected ']'; steps are joined by '.' or written [N]`},
		{"a b", `at character 2: white space or control character in a name; quote such a key: ["a b"]`},
		{"é b", `at character 2: white space or control character in a name; quote such a key: ["a b"]`},
		{"  a b", `at character 4: white space or control character in a name; quote such a key: ["a b"]`},
		{"a[0]b", `at character 5: unexpected 'b'; steps are joined by '.' or written [N]`},
		{"a" + strings.Repeat(".a", MaxSteps), "at character 128: more than 64 steps"},
	}
	for _, tt := range tests {
		p, err := Parse(tt.src)
		got := ""
		if err != nil {
			got = err.Error()
			var pe *Error
			if !errors.As(err, &pe) {
				t.Errorf("Parse(%q) error %T, want *Error", tt.src, err)
			}
		} else if p.String() != tt.src {
			t.Errorf("String() = %q, want %q", p, tt.src)
		}
		if got != tt.err {
			t.Errorf("Parse(%q) error = %q, want %q", tt.src, got, tt.err)
		}
	}
}

func TestLookup(t *testing.T) {
	var doc any
	if err := json.Unmarshal([]byte(`{"a":{"b":["x",{"c.d":"deep"}]},"n":42,"l":[{"v":1},{"w":2}],"$id":"i"}`), &doc); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want string // JSON of the value; "" when there is none
	}{
		{"a.b[0]", `"x"`},
		{"$.a.b[-1]['c.d']", `"deep"`},
		{`a.b[1]["c.d"]`, `"deep"`},
		{"a.b[-2]", `"x"`},
		{"a.b[-3]", ""},
		{"a.b[2]", ""},
		{"a.z", ""},
		{"a.b.c", ""},
		{"n", "42"},
		{"n[0]", ""},
		{"l[*].w", "2"},
		{"l[*].z", ""},
		{"$id", `"i"`},
		{"$", ""}, // checked below: the whole document
	}
	for _, tt := range tests {
		v, ok := MustParse(tt.path).Lookup(doc)
		if tt.path == "$" {
			if !ok || v == nil {
				t.Errorf("$ = %v %v, want the document", v, ok)
			}
			continue
		}
		got := ""
		if ok {
			b, _ := json.Marshal(v)
			got = string(b)
		}
		if got != tt.want {
			t.Errorf("Lookup(%s) = %s, want %s", tt.path, got, tt.want)
		}
	}
}

func TestAppendKey(t *testing.T) {
	tests := []struct{ prefix, key, want string }{
		{"", "a", "a"},
		{"a", "b", "a.b"},
		{"a", "c.d", `a["c.d"]`},
		{"", "$id", `["$id"]`},
		{"a", "x y", `a["x y"]`},
		{"a", `say "hi"`, `a['say "hi"']`},
		{"a", "", `a[""]`},
	}
	for _, tt := range tests {
		if got := AppendKey(tt.prefix, tt.key); got != tt.want {
			t.Errorf("AppendKey(%q, %q) = %q, want %q", tt.prefix, tt.key, got, tt.want)
		}
		// A concrete path reads back to the same member.
		if p, err := Parse(AppendKey("r", tt.key)); err != nil {
			t.Errorf("AppendKey(r, %q) does not parse: %v", tt.key, err)
		} else if st := p.Steps(); len(st) != 2 || st[1].Key != tt.key {
			t.Errorf("AppendKey(r, %q) reads back as %+v", tt.key, st)
		}
	}
}

// FuzzParse checks that Parse never panics, that errors point inside the
// path, that a parsed path keeps its source, and that lookups are safe.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"a.b[0]", "$", "$.x[-1]['k']", "a..b", "[", `a["q"]`, "tools_executed[*].status", "a[99999999999999999999]", "]", "a. b", "é.ü[1]", "$id"} {
		f.Add(s, `{"a":[{"b":"c"}],"x":[{"k":1}],"tools_executed":[{"status":"ok"}]}`)
	}
	f.Fuzz(func(t *testing.T, s, doc string) {
		p, err := Parse(s)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Col < 1 || pe.Col > len([]rune(s))+1 {
				t.Fatalf("error %v outside %q", err, s)
			}
			return
		}
		if p.String() != s || len(p.Steps()) > MaxSteps {
			t.Fatalf("parsed %q as %+v", s, p)
		}
		var root any
		if json.Unmarshal([]byte(doc), &root) != nil {
			return
		}
		p.Lookup(root)
		p.LookupString(root)
	})
}
