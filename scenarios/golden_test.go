package scenarios

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under ../testdata/scenarios")

// testdata is the repository's shared testdata directory.
const testdata = "../testdata/scenarios"

// TestMalformedGolden loads every file under testdata/scenarios/malformed
// and compares the whole error output with NAME.golden. File names in the
// output are relative to the repository root, as a user running evalrun
// there would see them.
func TestMalformedGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testdata, "malformed", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("only %d malformed files", len(files))
	}
	for i, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		files[i] = abs
	}
	// From the repository root, a matrix_csv path resolves as a user's would.
	t.Chdir("..")
	lineRE := regexp.MustCompile(`^testdata/scenarios/malformed/[a-z-]+\.(yaml|csv)(:\d+:\d+)?: \S`)
	sourceRE := regexp.MustCompile(`^ *\d+ \| .*\n +\| [ \t]*\^$`)
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			scs, err := Parse("testdata/scenarios/malformed/"+name, data)
			var list ErrorList
			if !errors.As(err, &list) || scs != nil {
				t.Fatalf("Parse = %d scenarios, %v; want nil and an ErrorList", len(scs), err)
			}
			got := err.Error() + "\n"
			for _, e := range list {
				if !lineRE.MatchString(strings.SplitN(e.Error(), "\n", 2)[0]) {
					t.Errorf("error does not name file:line:col: %q", e.Error())
				}
				if e.Source != "" && !sourceRE.MatchString(e.Source) {
					t.Errorf("source of %q is not a line and a caret: %q", e.Msg, e.Source)
				}
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s\n--- got:\n%s--- want:\n%s", golden, got, want)
			}
		})
	}
}
