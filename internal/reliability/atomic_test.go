package reliability

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// fileCalls are the calls by which Go code creates or rewrites a file in
// place.
var fileCalls = regexp.MustCompile(`\bos\.(Create|WriteFile|OpenFile|CreateTemp)\(`)

// allowedWrites are the places in evalrun's non-test code that may call
// them, and why each is safe. Everything else must write through
// report.WriteFileAtomic (or the ledger's own atomic write).
var allowedWrites = map[string]string{
	"internal/regularfile/regularfile.go:OpenFile": "opens files evalrun reads, read-only (O_RDONLY), never written",
	"report/atomic.go:CreateTemp":                  "WriteFileAtomic itself: temp file in the same directory, fsync, rename, directory fsync",
	"ledger/ledger.go:CreateTemp":                  "the ledger's atomic write: temp file, fsync, rename, directory fsync, under the flock",
	"ledger/ledger.go:OpenFile":                    "the ledger's lock file: opened for flock, never written",
	"agent/judge.go:CreateTemp":                    "the judge cache: temp file renamed into place; a damaged entry reads as a miss",
	"cmd/evalrun/reports.go:Create":                "--transcripts all: the JSON Lines stream, append by design (see docs/reliability.md)",
	"cmd/evalrun/targets.go:Create":                "--debug FILE: the request dump, a log stream by design",
	"cmd/evalrun/reports.go:OpenFile":              "checkOutputs: an existing output opened write-only without truncation and closed, to check it can be written before the first call",
	"cmd/evalrun/reports.go:CreateTemp":            "checkOutputs: an empty probe file created and removed, to check a directory takes new files before the first call",
	"cmd/evalrun/multitarget.go:Create":            "--transcripts all with several targets: one JSON Lines stream per target, append by design",
	"cmd/evalrun/profile.go:Create":                "EVALRUN_CPUPROFILE / EVALRUN_MEMPROFILE: developer profiles, not results; a torn one is only re-measured",
}

// TestEveryFileWriteIsAtomic audits evalrun's non-test code (bench/ holds
// tools, not evalrun, and is skipped): every call that creates or rewrites
// a file must be one of allowedWrites; results, reports, .hgrm files, the
// ledger and the judge cache are written atomically (temp file + rename),
// so a crash leaves the old file or the new one, never half of one.
func TestEveryFileWriteIsAtomic(t *testing.T) {
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			switch {
			case rel == ".":
			case rel == "bench", d.Name() == "testdata", strings.HasPrefix(d.Name(), "."):
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "//") {
				continue
			}
			for _, m := range fileCalls.FindAllStringSubmatch(line, -1) {
				key := rel + ":" + m[1]
				if _, ok := allowedWrites[key]; !ok {
					t.Errorf("%s:%d: os.%s writes a file in place; write it with report.WriteFileAtomic (temp file + rename), or add it to allowedWrites with the reason it is safe", rel, i+1, m[1])
				}
				seen[key] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var stale []string
	for k := range allowedWrites {
		if !seen[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(stale)
	for _, k := range stale {
		t.Errorf("allowedWrites lists %s, which no longer exists: remove it", k)
	}
}
