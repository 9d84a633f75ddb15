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
