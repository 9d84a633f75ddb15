package yamlpos

import (
	"errors"
	"io"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// parseErr returns the library's error for src.
func parseErr(t *testing.T, src string) error {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(src))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			t.Fatalf("%q parses", src)
		}
		if err != nil {
			return err
		}
	}
}

// Locate places the library's problem at the offending token; each case
// names where the library's own problem mark is (checked with a copy of
// the library patched to print it) or, where it differs, why.
func TestLocate(t *testing.T) {
	tests := []struct {
		name, src, problem string
		line, col          int
	}{
		{"key dedented (library: 4:2)", "a:\n  b: 1\n  c: 2\n d: 3\n", "did not find expected key", 4, 2},
		{"second colon (library: 1:5)", "a: b: c\n", "mapping values are not allowed in this context", 1, 5},
		{"tab (library: 3:1)", "a:\n  b: 1\n\tc: 2\n", "found a tab character that violates indentation", 3, 1},
		{"undefined alias: its '*' (library: none)", "a: &x 1\nb: [1, *y]\n", "unknown anchor 'y' referenced", 2, 8},
		{"key without ':' (library: 3:1, the line after)", "a: 1\nb\nc: 2\n", "could not find expected ':'", 2, 1},
		{"open quote (library: 3:1, the end of the file)", "a: \"x\nb: 1\n", "found unexpected end of stream", 1, 4},
		{"open quote after a closed one (library: 2:1)", "a: 'x'\"\n", "found unexpected end of stream", 1, 7},
		{"in the second document (library: 3:5)", "a: 1\n---\nb: c: d\n", "mapping values are not allowed in this context", 3, 5},
		{"after CR LF and wide characters (library: 2:5)", "é: 1\r\nü: ä: 2\r\n", "mapping values are not allowed in this context", 2, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problem, line, col, ok := Locate(tt.src, parseErr(t, tt.src))
			if !ok || problem != tt.problem || line != tt.line || col != tt.col {
				t.Errorf("Locate = %q at %d:%d (%v), want %q at %d:%d", problem, line, col, ok, tt.problem, tt.line, tt.col)
			}
		})
	}
	if _, _, _, ok := Locate("a: 1\n", errors.New("yaml: something else")); ok {
		t.Error("a problem the file does not have was placed")
	}
}

// A long line is shown around the column, the caret still under it.
func TestSnippet(t *testing.T) {
	if got, want := Snippet(7, "   capture: x", 4), "    7 |    capture: x\n      |    ^"; got != want {
		t.Errorf("Snippet = %q, want %q", got, want)
	}
	if got, want := Snippet(3, "\t a\x1b[1m", 3), "    3 | \t a?[1m\n      | \t ^"; got != want {
		t.Errorf("tabs and escapes: %q, want %q", got, want)
	}
	line := strings.Repeat("a", 300) + ": b: c"
	got := Snippet(4, line, 304)
	lines := strings.Split(got, "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "    4 | …") || !strings.HasSuffix(lines[0], ": b: c") {
		t.Fatalf("snippet:\n%s", got)
	}
	src, caret := []rune(lines[0]), []rune(lines[1])
	if len(caret) > len(src) || src[len(caret)-1] != ':' || caret[len(caret)-1] != '^' {
		t.Errorf("caret not under the second colon:\n%s", got)
	}
	if got := Snippet(123456, "x", 1); got != "123456 | x\n       | ^" {
		t.Errorf("wide line number: %q", got)
	}
}

// Line breaks lines as the YAML library does, and Pos agrees with it.
func TestLine(t *testing.T) {
	src := "a\r\nb\rc\u2028d\n\ne"
	for i, want := range []string{"a", "b", "c", "d", "", "e"} {
		got, ok := Line(src, i+1)
		if !ok || got != want {
			t.Errorf("Line(%d) = %q, %v; want %q", i+1, got, ok, want)
		}
		if off := strings.Index(src, want); want != "" {
			if l, c := LineCol(src, off); l != i+1 || c != 1 {
				t.Errorf("Pos of %q = %d:%d, want %d:1", want, l, c, i+1)
			}
		}
	}
	for _, n := range []int{0, 7} {
		if _, ok := Line(src, n); ok {
			t.Errorf("Line(%d) of 6 lines", n)
		}
	}
	if got, ok := Line("x\n", 2); !ok || got != "" {
		t.Errorf("the empty line after a final break: %q, %v", got, ok)
	}
}
