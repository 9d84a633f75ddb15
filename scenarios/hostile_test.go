package scenarios

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A cancelled context stops the load with an error saying so, not with an
// ErrorList.
func TestLoadContextInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	suite, err := LoadContext(ctx, LoadOptions{}, filepath.Join(testdata, "valid"))
	if suite != nil || !errors.Is(err, ErrLoadInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("LoadContext after cancel: %v, %v", suite, err)
	}
	var list ErrorList
	if errors.As(err, &list) {
		t.Errorf("an interrupt reported as problems in files: %v", err)
	}
	if _, err := LoadContext(context.Background(), LoadOptions{}, filepath.Join(testdata, "valid")); err != nil {
		t.Errorf("LoadContext: %v", err)
	}
}

// A suite directory given as a symlink loads like the directory, with or
// without a trailing separator; files keep the path as given.
func TestLoadSymlinkedDirectory(t *testing.T) {
	target, err := filepath.Abs(filepath.Join(testdata, "valid"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := Load(target)
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "suite")
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlink: %v", err)
	}
	chain := filepath.Join(t.TempDir(), "again")
	if err := os.Symlink(link, chain); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, link + string(filepath.Separator), chain} {
		got, err := Load(p)
		if err != nil {
			t.Errorf("Load(%q): %v", p, err)
			continue
		}
		if names(got) != names(want) {
			t.Errorf("Load(%q) = %s, want %s", p, names(got), names(want))
		}
		if f := got.Scenarios[0].File; f != filepath.Join(p, "pricing.yaml") {
			t.Errorf("Load(%q): file %q, want it under the path given", p, f)
		}
	}
	// A symlink inside the tree to a directory is not followed (a link to
	// an ancestor would loop); a symlink to a file is read.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("turns:\n  - user: hi\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(dir, "loop")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil || names(got) != "a,b" {
		t.Errorf("a tree with a loop: %v, %v", got, err)
	}
	_, err = Load(filepath.Join(t.TempDir(), "nowhere"))
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("a missing path: %v", err)
	}
}

// linear fails the test when work(4n) takes more than 8 times work(n)
// (quadratic work takes 16 times; linear about 4). Each size is timed in
// CPU time (wall time where it is not known) at its best of three, so that
// a busy machine does not make it fail; no absolute time is asserted.
func linear(t *testing.T, n int, work func(n int)) {
	t.Helper()
	best := func(n int) time.Duration {
		b := time.Duration(math.MaxInt64)
		for range 3 {
			start, cpu0 := time.Now(), processCPU()
			work(n)
			took := processCPU() - cpu0
			if cpu0 == 0 {
				took = time.Since(start)
			}
			b = min(b, took)
		}
		return b
	}
	small, large := best(n), best(4*n)
	t.Logf("n=%d: %v; 4n: %v", n, small, large)
	if large > 8*small {
		t.Errorf("4× the input took %.1f× the time (%v for %d, %v for %d): not linear", float64(large)/float64(small), small, n, large, 4*n)
	}
}

// A scenario with 100,000 top-level keys is checked in linear time and
// reports its first 100 problems and how many more there are.
func TestManyKeysLinearAndCapped(t *testing.T) {
	keys := func(n int, key func(i int) string) []byte {
		var b strings.Builder
		b.WriteString("turns:\n  - user: hi\n")
		for i := range n {
			fmt.Fprintf(&b, "%s: v\n", key(i))
		}
		return []byte(b.String())
	}
	unknown := func(i int) string { return "k" + strconv.Itoa(i) }
	linear(t, 5000, func(n int) { _, _ = Parse("k.yaml", keys(n, unknown)) })

	_, err := Parse("k.yaml", keys(2000, unknown))
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxFileErrors+1 {
		t.Fatalf("%d lines of errors, want %d", len(lines), maxFileErrors+1)
	}
	if want := `k.yaml:3:1: unknown key "k0" in scenario`; !strings.HasPrefix(lines[0], want) {
		t.Errorf("first line %q, want %q…", lines[0], want)
	}
	if want := "k.yaml:103:1: …and 1900 more problems in this file (the first 100 are shown)"; lines[len(lines)-1] != want {
		t.Errorf("last line %q, want %q", lines[len(lines)-1], want)
	}
	if len(err.Error()) > 30_000 {
		t.Errorf("%d bytes of errors", len(err.Error()))
	}

	// Past the linear scan's size, a duplicate still names its first line.
	_, err = Parse("d.yaml", keys(40, func(i int) string { return []string{"name", "k" + strconv.Itoa(i), "name"}[min(i, 2)] }))
	if err == nil || !strings.Contains(err.Error(), `d.yaml:5:1: duplicate key "name" (first at line 3)`) || strings.Count(err.Error(), "duplicate key") != 38 {
		t.Errorf("duplicates among 40 keys: %v", err)
	}
}

// A matrix CSV whose header has 200,000 columns loads in linear time, and
// a problem far along a long line is placed at its column.
func TestWideCSVLinear(t *testing.T) {
	csv := func(n int, last string) []byte {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "c%d,", i)
		}
		b.WriteString(last + "\n")
		for range n {
			b.WriteString("é,")
		}
		b.WriteString("x\n")
		return []byte(b.String())
	}
	linear(t, 25_000, func(n int) {
		if _, _, errs := parseMatrixCSV("w.csv", csv(n, "z")); len(errs) > 0 {
			t.Fatal(errs)
		}
	})
	rows, names, errs := parseMatrixCSV("w.csv", csv(200_000, "z"))
	if len(errs) > 0 || len(rows) != 1 || len(names) != 200_001 || rows[0].vars["c199999"] != "é" {
		t.Fatalf("200,000 columns: %d rows, %d names, %v", len(rows), len(names), errs)
	}
	// Column of "9bad": the 1,000 columns before it take 4,890 characters.
	_, _, errs = parseMatrixCSV("w.csv", csv(1000, "9bad"))
	if len(errs) != 1 || errs[0].Pos != (Pos{File: "w.csv", Line: 1, Col: 4891}) || !strings.Contains(errs[0].Msg, `invalid var name "9bad"`) {
		t.Errorf("bad column after 1,000: %v", errs)
	}
}

// YAML syntax errors are placed at the offending token (the YAML library's
// problem mark, not the line of the mapping it is in), with the source line
// and a caret under the column.
func TestYAMLErrorPositions(t *testing.T) {
	head := "name: a\nturns:\n  - user: hi\n    expect:\n      - contains: x\n"
	tests := []struct {
		name, src, want string
	}{
		{"key dedented", head + "    think: 1s\n   capture: {a: \"(b)\"}\n",
			"p.yaml:7:4: invalid YAML: did not find expected '-' indicator\n" +
				"    7 |    capture: {a: \"(b)\"}\n" +
				"      |    ^"},
		{"extra indent", head + "  - user: again\n    think: 1s\n    expect:\n       - contains: y\n      - contains: z\n",
			"p.yaml:10:7: invalid YAML: did not find expected key\n" +
				"   10 |       - contains: z\n" +
				"      |       ^"},
		{"a tab", head + "    think: 1s\n\tcapture: {}\n",
			"p.yaml:7:1: invalid YAML: found a tab character that violates indentation\n" +
				"    7 | \tcapture: {}\n" +
				"      | ^"},
		{"a tab after spaces", head + "    think: 1s\n  \tcapture: {}\n",
			"p.yaml:7:3: invalid YAML: found a tab character that violates indentation\n" +
				"    7 |   \tcapture: {}\n" +
				"      |   ^"},
		{"undefined alias", "name: a\nvars:\n  x: &v hello\nturns:\n  - user: hi\n    expect:\n      - contains: x\n  - user: *v\n    think: *nope\n",
			"p.yaml:9:12: invalid YAML: unknown anchor 'nope' referenced\n" +
				"    9 |     think: *nope\n" +
				"      |            ^"},
		{"second colon", "name: a\nturns:\n  - user: hi: there\n",
			"p.yaml:3:13: invalid YAML: mapping values are not allowed in this context\n" +
				"    3 |   - user: hi: there\n" +
				"      |             ^"},
		{"key without a colon", head + "    think\n",
			"p.yaml:6:5: invalid YAML: could not find expected ':'\n" +
				"    6 |     think\n" +
				"      |     ^"},
		{"unclosed quote", "name: \"a\nturns:\n  - user: hi\n",
			"p.yaml:1:7: invalid YAML: found unexpected end of stream\n" +
				"    1 | name: \"a\n" +
				"      |       ^"},
		{"a quote left open after a closed one", "turns:\n  - user: hi\n    expect:\n      - regex: 'a'\"\n",
			"p.yaml:4:19: invalid YAML: found unexpected end of stream\n" +
				"    4 |       - regex: 'a'\"\n" +
				"      |                   ^"},
		{"CR LF and wide characters", "name: é\r\nturns:\r\n  - user: ü: x\r\n",
			"p.yaml:3:12: invalid YAML: mapping values are not allowed in this context\n" +
				"    3 |   - user: ü: x\n" +
				"      |            ^"},
		{"second document", "turns:\n  - user: hi\n---\nturns:\n  - user: a: b\n",
			"p.yaml:5:12: invalid YAML: mapping values are not allowed"},
		{"a control character", "turns:\n  - user: a\x1b[31mb\n",
			"p.yaml:2:12: invalid YAML: control characters are not allowed\n" +
				"    2 |   - user: a?[31mb\n" +
				"      |            ^"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.src))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant:\n%s", err, tt.want)
			}
		})
	}
}

// A value that contains itself through an alias gets one short error, not
// a path of 10,000 keys; a date offset too large is out of range, not a
// syntax error.
func TestSelfReferenceAndDateRange(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"list in itself", "turns:\n  - user: hi\n    expect:\n      - field: {path: reply, equals: &a [1, *a]}\n",
			"p.yaml:4:45: field.equals[1]: *a refers to a value that contains it; a value must not contain itself"},
		{"mapping in itself", "turns:\n  - user: hi\n    expect:\n      - tool: {name: x, data: &d {a: {b: *d}}}\n",
			"p.yaml:4:42: tool.data.a.b: *d refers to a value that contains it; a value must not contain itself"},
		{"date offset out of range", "turns:\n  - user: \"in {{ date +1000000d }}\"\n",
			`p.yaml:2:15: user: {{ date +1000000d }}: offset "+1000000d" is out of range: the number must be from 0 to 999999`},
		{"date offset of 30 digits", "turns:\n  - user: \"in {{ date -999999999999999999999999999999y }}\"\n",
			"is out of range: the number must be from 0 to 999999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) || len(err.Error()) > 300 {
				t.Errorf("error (%d bytes):\n%.400v\nwant %q", len(err.Error()), err, tt.want)
			}
		})
	}
	// A value used twice (not inside itself) is fine, and the largest
	// offsets render.
	scs, err := Parse("p.yaml", []byte("turns:\n  - user: \"{{ date -999999y }} {{ date +999999mo }}\"\n    expect:\n      - tool: {name: x, data: {a: &d {b: 1}, c: *d, e: [*d, *d]}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scs[0].Turns[0].User.Render(nil); err != nil {
		t.Errorf("render: %v", err)
	}
}
