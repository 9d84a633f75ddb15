package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func names(s *Suite) string {
	var n []string
	for _, sc := range s.Scenarios {
		n = append(n, sc.Name)
	}
	return strings.Join(n, ",")
}

func TestLoadDirectory(t *testing.T) {
	dir := filepath.Join(testdata, "valid")
	suite, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Lexical order, recursive; _drafts, _skipped.yaml, .hidden.yaml and
	// README.txt are not loaded.
	if got := names(suite); got != "pricing-then-lead,pricing#2,human-handoff" {
		t.Fatalf("scenarios = %s", got)
	}
	sc := suite.Scenarios[0]
	if sc.File != filepath.Join(dir, "pricing.yaml") || sc.Pos.File != sc.File || sc.Pos.Line != 2 {
		t.Errorf("file/pos: %q %v", sc.File, sc.Pos)
	}
	if sc.Repeat != 5 || sc.MinPassRate != 0.8 || len(sc.Turns) != 2 || sc.Turns[1].Think.String() != "2s" {
		t.Errorf("pricing-then-lead: %+v", sc)
	}
	if h := suite.Lookup("human-handoff"); h == nil || h.OnFail != OnFailContinue || h.File != filepath.Join(dir, "sub", "handoff.yml") {
		t.Errorf("human-handoff: %+v", h)
	}
	if suite.Lookup("nope") != nil {
		t.Error("Lookup of an unknown name")
	}
	if c, tu := suite.Conversations(), suite.Turns(); c != 7 || tu != 5*2+1*1+1*2 {
		t.Errorf("Conversations = %d, Turns = %d", c, tu)
	}

	// The same files named twice (directory and file) load once.
	again, err := Load(dir, filepath.Join(dir, "pricing.yaml"))
	if err != nil || names(again) != names(suite) {
		t.Errorf("dedup: %v, %v", err, again)
	}
	// A file named explicitly loads even if the directory walk would skip it.
	_, err = Load(filepath.Join(dir, "_skipped.yaml"))
	if err == nil || !strings.Contains(err.Error(), "_skipped.yaml:1:1: unknown key \"this file is skipped\"") {
		t.Errorf("explicit file: %v", err)
	}
}

func TestLoadDuplicateNamesAcrossFiles(t *testing.T) {
	_, err := Load(filepath.Join(testdata, "duplicates"))
	a := filepath.Join(testdata, "duplicates", "a.yaml")
	b := filepath.Join(testdata, "duplicates", "nested", "b.yaml")
	want := b + `:2:7: duplicate scenario name "greeting" (also at ` + a + `:1:7); names must be unique in the suite`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestLoadCollectsErrorsFromAllFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.yaml", "repeat: x\nturns: [{user: a}]\n")
	write("a/z.yml", "turns: [{user: a, think: 1}]\n")
	write("c.yaml", "name: z\nturns: [{user: a}]\n")
	_, err := Load(dir, filepath.Join(dir, "missing.yaml"))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 4 {
		t.Fatalf("want 4 errors, got %v", err)
	}
	got := err.Error()
	for _, frag := range []string{
		filepath.Join(dir, "a", "z.yml") + ":1:26: think: expected a duration",
		filepath.Join(dir, "b.yaml") + `:1:9: repeat: expected an integer, got string "x"`,
		filepath.Join(dir, "c.yaml") + `:1:7: duplicate scenario name "z" (also at ` + filepath.Join(dir, "a", "z.yml") + ":1:1)",
		filepath.Join(dir, "missing.yaml") + ": no such file or directory",
	} {
		if !strings.Contains(got, frag) {
			t.Errorf("missing %q in:\n%s", frag, got)
		}
	}
	for i := 1; i < len(list); i++ {
		if list[i-1].Pos.File > list[i].Pos.File {
			t.Errorf("not sorted by file:\n%s", got)
		}
	}
}

func TestLoadPathErrors(t *testing.T) {
	if _, err := Load(); err == nil || err.Error() != "no scenario files or directories given" {
		t.Errorf("no paths: %v", err)
	}
	empty := t.TempDir()
	if _, err := Load(empty); err == nil || err.Error() != empty+": no scenario files (*.yaml, *.yml) in this directory" {
		t.Errorf("empty dir: %v", err)
	}
	if _, err := Load("does/not/exist"); err == nil || err.Error() != "does/not/exist: no such file or directory" {
		t.Errorf("missing: %v", err)
	}
}

func TestLoadRelativePathsStayRelative(t *testing.T) {
	rel := filepath.Join(testdata, "malformed", "on-fail.yaml")
	_, err := Load(rel)
	if err == nil || !strings.HasPrefix(err.Error(), rel+":2:10: ") {
		t.Errorf("err = %v", err)
	}
}

func TestFailingFixturesLoad(t *testing.T) {
	suite, err := Load(filepath.Join(testdata, "failing"))
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range suite.Scenarios {
		env := &Env{Vars: sc.Vars}
		for _, tu := range sc.Turns {
			if _, err := tu.User.Render(env); err != nil {
				t.Errorf("%s turn %d: %v", sc.Name, tu.Index, err)
			}
			if Passed(tu.Evaluate(&Observation{Text: "We have three plans.", Latency: 1}, map[string]string{})) && len(tu.Expect) > 0 {
				t.Errorf("%s turn %d passes an ordinary reply", sc.Name, tu.Index)
			}
		}
	}
}
