package scenarios

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
