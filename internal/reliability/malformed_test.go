// Package reliability holds the cross-package checks of
// docs/reliability.md: the corpus of malformed inputs with their golden
// errors, and the audit of how evalrun writes files.
package reliability

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/config"
	"github.com/evalrun/evalrun/ledger"
	"github.com/evalrun/evalrun/report"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

var update = flag.Bool("update", false, "rewrite the golden errors of testdata/malformed")

// root is the module root, relative to this package.
const root = "../.."

// format is one input format of evalrun: how to parse a file of it, and
// whether its errors carry a line (and column).
type format struct {
	// parse returns the error of the file at path (module-relative, e.g.
	// testdata/malformed/scenario/x.yaml; read it as root/path).
	parse func(path string) error
	// positioned: the error must name the file and a line.
	positioned bool
	// lineOnly: the error names a line but not the file (a reader of a
	// stream, e.g. JSON Lines).
	lineOnly bool
}

func read(path string) []byte {
	b, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		panic(err)
	}
	return b
}

// value is the content of a one-line file: a flag's value.
func value(path string) string { return strings.TrimRight(string(read(path)), "\n") }

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

var formats = map[string]format{
	"scenario": {positioned: true, parse: func(p string) error {
		_, err := scenarios.Parse(p, read(p))
		return err
	}},
	"config": {positioned: true, parse: func(p string) error {
		_, err := config.Parse(p, read(p))
		return err
	}},
	"agent": {positioned: true, parse: func(p string) error {
		_, err := agentsim.ParseAgent(p, read(p))
		return err
	}},
	// A scenario whose matrix: {csv: NAME.csv} is the malformed file.
	"csv": {positioned: true, parse: func(p string) error {
		_, err := scenarios.Load(filepath.Join(root, p))
		return err
	}},
	"result": {positioned: false, parse: func(p string) error {
		_, err := report.ReadResultFile(filepath.Join(root, p))
		return err
	}},
	"transcripts": {lineOnly: true, parse: func(p string) error {
		return report.ReadTranscripts(bytes.NewReader(read(p)), func(*report.TranscriptLine) error { return nil })
	}},
	"ledger": {parse: func(p string) error {
		// A copy: Open creates the lock file beside the ledger.
		dir, err := os.MkdirTemp("", "malformed-ledger-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cp := filepath.Join(dir, filepath.Base(p))
		if err := os.WriteFile(cp, read(p), 0o600); err != nil {
			return err
		}
		_, err = ledger.Open(cp)
		if err != nil {
			return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), cp, p))
		}
		return nil
	}},
	"threshold": {parse: func(p string) error { _, err := report.ParseThreshold(value(p)); return err }},
	"ratelimit": {parse: func(p string) error { _, err := runner.ParseRateLimit(value(p)); return err }},
	"stage":     {parse: func(p string) error { _, err := runner.ParseStage(value(p)); return err }},
	"shard":     {parse: func(p string) error { _, err := runner.ParseShard(value(p)); return err }},
	"template": {parse: func(p string) error {
		// A template is checked in a scenario: its names too.
		y := "name: t\nturns:\n  - user: " + fmt.Sprintf("%q", value(p)) + "\n"
		_, perr := scenarios.ParseTemplate(value(p))
		_, serr := scenarios.Parse(p, []byte(y))
		return firstErr(perr, serr)
	}},
	"jsonpath":     {parse: func(p string) error { _, err := agent.ParseJSONPath(value(p)); return err }},
	"arrival-rate": {parse: func(p string) error { _, err := runner.ParseArrivalRate(value(p)); return err }},
	"cycle-day":    {parse: func(p string) error { _, err := ledger.ParseCycleDay(value(p)); return err }},
}

// fixWords are words by which an error says what would be valid.
// A syntax error at file:line:col says its fix by pointing at it (with
// what the parser expected there, or "unexpected end": a file cut short).
var fixWords = regexp.MustCompile(`(?i)(\b(want|wants|valid|must|expected|expecting|expects|such as|did you mean|use|give|put|needs?|should|only|between|at least|at most|is not|not a|allowed|missing|unknown|fix|remove|requires?|cannot|not supported|reads|add up to|unexpected end)\b|e\.g\.|invalid (JSON|YAML))`)

// TestMalformedInputs parses every file of testdata/malformed/FORMAT/ with
// that format's parser and compares the error with the file's golden
// (NAME.golden; go test -update rewrites them). Each must be an error —
// never a panic, never a silent default — that names the place
// (file:line:col for formats with positions) and says what is valid.
func TestMalformedInputs(t *testing.T) {
	dir := filepath.Join(root, "testdata", "malformed")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	perFormat := map[string]int{}
	for _, fe := range ents {
		if !fe.IsDir() {
			continue
		}
		f, ok := formats[fe.Name()]
		if !ok {
			t.Errorf("testdata/malformed/%s: no parser for this format", fe.Name())
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, fe.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			name := file.Name()
			ext := filepath.Ext(name)
			if ext == ".golden" || (fe.Name() == "csv" && ext == ".csv") {
				continue
			}
			rel := filepath.ToSlash(filepath.Join("testdata", "malformed", fe.Name(), name))
			total++
			perFormat[fe.Name()]++
			t.Run(fe.Name()+"/"+name, func(t *testing.T) {
				var perr error
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Fatalf("panic: %v", r)
						}
					}()
					perr = f.parse(rel)
				}()
				if perr == nil {
					t.Fatalf("%s parsed without an error", rel)
				}
				got := strings.ReplaceAll(perr.Error(), root+"/", "") + "\n"
				golden := filepath.Join(dir, fe.Name(), strings.TrimSuffix(name, ext)+".golden")
				if *update {
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("no golden (run go test -update): %v", err)
				}
				if got != string(want) {
					t.Errorf("error changed\n got: %s\nwant: %s", got, want)
				}
				checkPlace(t, f, rel, got)
				if !fixWords.MatchString(got) {
					t.Errorf("the error does not say what is valid: %s", got)
				}
			})
		}
	}
	keys := make([]string, 0, len(perFormat))
	for k := range perFormat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, perFormat[k]))
	}
	t.Logf("%d malformed inputs: %s", total, strings.Join(parts, ", "))
	if total < 50 {
		t.Errorf("only %d malformed inputs; the corpus promises at least 50", total)
	}
}

var lineColRE = regexp.MustCompile(`:\d+:\d+`)

// checkPlace checks that the error names where the problem is.
func checkPlace(t *testing.T, f format, rel, msg string) {
	t.Helper()
	base := filepath.Base(rel)
	switch {
	case f.positioned:
		// The file itself or, for a CSV matrix, the CSV file it names.
		if !strings.Contains(msg, strings.TrimSuffix(base, filepath.Ext(base))) || !lineColRE.MatchString(msg) {
			t.Errorf("the error does not name file:line:col: %s", msg)
		}
	case f.lineOnly:
		if !strings.Contains(msg, "line ") && !lineColRE.MatchString(msg) {
			t.Errorf("the error does not name the line: %s", msg)
		}
	case strings.HasSuffix(rel, ".json"):
		if !strings.Contains(msg, base) {
			t.Errorf("the error does not name the file: %s", msg)
		}
	default:
		// A flag's value: the error quotes it.
		if v := value(rel); !strings.Contains(msg, v) {
			t.Errorf("the error does not quote the value %q: %s", v, msg)
		}
	}
}
