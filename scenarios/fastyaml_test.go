package scenarios

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// libraryDocs parses src with the YAML library the way parseFile's slow
// path does, returning each document's root.
func libraryDocs(src string) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(strings.NewReader(src))
	var roots []*yaml.Node
	for {
		var doc yaml.Node
		err := decodeDoc(dec, &doc)
		if errors.Is(err, io.EOF) {
			return roots, nil
		}
		if err != nil {
			return nil, err
		}
		root := &doc
		if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
			root = doc.Content[0]
		}
		roots = append(roots, root)
	}
}

// sameTree returns "" when a and b agree in everything the loader reads,
// or where they first differ.
func sameTree(path string, a, b *yaml.Node) string {
	if a.Kind != b.Kind || a.Style != b.Style || a.Tag != b.Tag || a.Value != b.Value ||
		a.Line != b.Line || a.Column != b.Column || len(a.Content) != len(b.Content) {
		return fmt.Sprintf("%s: fast {kind %d style %d tag %s value %q at %d:%d, %d children}, library {kind %d style %d tag %s value %q at %d:%d, %d children}",
			path, a.Kind, a.Style, a.Tag, a.Value, a.Line, a.Column, len(a.Content),
			b.Kind, b.Style, b.Tag, b.Value, b.Line, b.Column, len(b.Content))
	}
	for i := range a.Content {
		if d := sameTree(fmt.Sprintf("%s/%d", path, i), a.Content[i], b.Content[i]); d != "" {
			return d
		}
	}
	return ""
}

// checkFastYAML fails t if the fast path accepts src and the library
// disagrees with it; it returns whether the fast path accepted src.
func checkFastYAML(t *testing.T, src string) bool {
	t.Helper()
	fast, ok := fastYAML(src)
	if !ok {
		return false
	}
	lib, err := libraryDocs(src)
	if err != nil {
		t.Fatalf("fast path accepted what the library refuses (%v):\n%s", err, src)
	}
	if len(fast) != len(lib) {
		t.Fatalf("fast path found %d documents, the library %d:\n%s", len(fast), len(lib), src)
	}
	for i := range fast {
		if d := sameTree(fmt.Sprint("doc", i), fast[i], lib[i]); d != "" {
			t.Fatalf("%s\n%s", d, src)
		}
	}
	return true
}

func TestFastYAML(t *testing.T) {
	tests := []struct {
		name string
		src  string
		fast bool // the fast path must take it (and agree with the library)
	}{
		{"mapping", "name: a\nturns: x\n", true},
		{"no final newline", "name: a", true},
		{"scalars", "a: 1\nb: 0.5\nc: true\nd: null\ne: ~\nf: 2s\ng: 2026-01-02\nh: <<\ni: -1\nj: :x\nk: -x\n", true},
		{"plain with colons and hashes", "a: http://x/y#z\nb: C# and F#\nc: 10:30 am\n", true},
		{"comments", "# head\na: b # line\n\n  # indented\nc: d\n# foot\n", true},
		{"quoted", "a: 'it''s'\nb: \"q\\\"\\\\ \\n\\t\"\n'c': \"d\"\n\"e f\": ''\n", true},
		{"nested block", "a:\n  b:\n    c: d\n  e: f\ng: h\n", true},
		{"sequence", "turns:\n  - user: hi\n    expect:\n      - icontains: x\n      - regex: '\\d+'\n  - user: bye\n", true},
		{"compact sequence", "turns:\n- user: hi\n  expect:\n  - a\n  - b\n- user: bye\nname: n\n", true},
		{"sequence of scalars and collections", "a:\n  - x\n  - [1, 2]\n  - {k: v}\n  -\n    k: v\n  -\n    - nested\n", true},
		{"flow", "a: [x, 'y', \"z\", [], {}, {k: [1, {m: n}]}]\nb: {to: \"Thanks, we will call\", min: 0.2}\nc: [thanks, thank you]\n", true},
		{"documents", "---\na: 1\n---\nb: 2\n", true},
		{"non-ASCII columns", "é: ü\nb: [ü, 'é', x]\n", true},
		{"dash values", "a: --x\nb: a - b\n", true},

		{"anchor", "a: &x 1\nb: *x\n", false},
		{"tag", "a: !!str 1\n", false},
		{"literal", "a: |\n  x\n   y #z\n\n  w\nb: c\n", true},
		{"literal strip and keep", "a: |-\n  x\n\nb: |+\n  y\n\n\nc: |  # c\n  z\n", true},
		{"literal in sequence", "a:\n  - |\n    x\n  - k: |\n      y\n    l: >-\n      z\n", true},
		{"literal at end", "a: |\n  x\n\n", true},
		{"folded", "a: >\n  x\n  y\n\n  z\n\n\n  w\nb: 1\n", true},
		{"folded keep", "a: >+\n  x\n  y\n\n", true},
		{"literal, no final break", "a: |\n  x", false},
		{"literal, indentation indicator", "a: |2\n  x\n", false},
		{"literal, blank line with spaces", "a: |\n  x\n   \n  y\n", false},
		{"literal, leading blank line", "a: |\n\n  x\n", false},
		{"literal, empty", "a: |\nb: c\n", false},
		{"literal, not deeper than parent", "a:\n  - |\n  x\n", false},
		{"folded, more indented", "a: >\n  x\n    y\n", false},
		{"literal, text after indicator", "a: |x\n  y\n", false},
		{"multi-line plain", "a: x\n  y\n", false},
		{"multi-line quoted", "a: 'x\n  y'\n", false},
		{"multi-line flow", "a: [x,\n  y]\n", false},
		{"empty value", "a:\nb: 1\n", false},
		{"empty entry", "a:\n  -\n  - x\n", false},
		{"tab", "a:\tb\n", false},
		{"CRLF", "a: b\r\n", false},
		{"BOM", "\ufeffa: b\n", false},
		{"NEL", "a: b\u0085c: d\n", false},
		{"invalid UTF-8", "a: \xff\n", false},
		{"root sequence", "- a\n", false},
		{"root scalar", "a\n", false},
		{"empty", "", false},
		{"comment only", "# x\n", false},
		{"indented root", "  a: b\n", false},
		{"trailing document", "a: b\n---\n", false},
		{"document end", "a: b\n...\n", false},
		{"marker with comment", "--- # x\na: b\n", false},
		{"space before colon", "a : b\n", false},
		{"mapping in value", "a: b: c\n", false},
		{"dedent to nowhere", "a:\n    b: c\n  d: e\n", false},
		{"continuation after entry", "a:\n  - x\n    y\n", false},
		{"trailing comma", "a: [x, ]\n", false},
		{"colon in flow", "a: [http://x]\n", false},
		{"pair in flow sequence", "a: [k: v]\n", false},
		{"flow key without value", "a: {k}\n", false},
		{"unknown escape", "a: \"\\x41\"\n", false},
		{"slash escape", "a: \"\\/\"\n", false},
		{"escaped line break", "a: \"x\\\ny\"\n", false},
		{"hash after value", "a: [x]#c\n", false},
		{"nested compact sequence", "a:\n  - - x\n", false},
		{"explicit key", "? a\n: b\n", false},
		{"directive", "%YAML 1.2\n---\na: b\n", false},
		{"long key", strings.Repeat("k", 1100) + ": v\n", false},
		{"deep", strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n", false},
		{"sequence after key of mapping", "a: 1\n- b\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkFastYAML(t, tt.src); got != tt.fast {
				t.Errorf("fast path taken: %v, want %v", got, tt.fast)
			}
		})
	}
}

// TestFastYAMLCoversScenarioFiles checks the fast path against the library
// on every scenario file of the repository, and that it takes the files it
// was written for: the examples and the load benchmark's.
func TestFastYAMLCoversScenarioFiles(t *testing.T) {
	var files []string
	for _, root := range []string{"../examples", testdata, "../docs"} {
		err := filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	took := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if checkFastYAML(t, string(data)) {
			took++
		} else if strings.HasPrefix(f, "../examples/") && !strings.HasSuffix(f, ".agent.yaml") {
			t.Errorf("%s: the fast path does not take an example scenario", f)
		}
	}
	t.Logf("fast path took %d of %d files", took, len(files))
	if !checkFastYAML(t, fmt.Sprintf(benchFile, 1, 1)) {
		t.Error("the fast path does not take the load benchmark's file")
	}
}

// FuzzFastYAML checks that whatever the fast path accepts, the YAML library
// parses to the same trees.
func FuzzFastYAML(f *testing.F) {
	seedFiles(f)
	f.Add([]byte(fmt.Sprintf(benchFile, 1, 1)))
	f.Add([]byte("a: [x, {k: 'v'}]\nb:\n- c: \"d\\n\"\n  e: f # g\n---\nh: é\n"))
	f.Add([]byte("a: |\n  x\n   y #z\n\n  w\nb:\n  - >-\n    p\n    q\n\n    r\n  - k: |+\n      s\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastYAML(t, string(data))
	})
}

// TestPlainDecimalAgreesWithLibrary checks the decoder's shortcut for
// integers against the YAML library's decoding.
func TestPlainDecimalAgreesWithLibrary(t *testing.T) {
	for _, v := range []string{"0", "7", "-7", "600", "123456789", "1234567890", "-0", "007", "08", "0x1f", "1_000", "+5", "-", "", "9e3", "12a"} {
		got, ok := plainDecimal(v)
		var want int64
		err := yaml.Unmarshal([]byte("v: "+v), &struct{ V *int64 }{&want})
		switch {
		case ok && (err != nil || int64(got) != want):
			t.Errorf("plainDecimal(%q) = %d, the library: %d, %v", v, got, want, err)
		case !ok && v == "600":
			t.Errorf("plainDecimal(%q) refused a plain decimal", v)
		}
	}
}

// BenchmarkParseYAML compares the fast path with the YAML library on the
// load benchmark's file: the trees the decoder walks, per file.
func BenchmarkParseYAML(b *testing.B) {
	src := fmt.Sprintf(benchFile, 1, 1)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		p := getFastParser()
		defer p.release()
		for b.Loop() {
			if _, ok := p.parse(src); !ok {
				b.Fatal("the fast path refused the file")
			}
		}
	})
	b.Run("library", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := libraryDocs(src); err != nil {
				b.Fatal(err)
			}
		}
	})
}
