package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestUnwritableOutputsRefusedBeforeAnyCall: an output path that cannot be
// written (a missing directory, a file where a directory should be, a
// directory where a file should be) is found before the first request: the
// run exits with a usage error naming every bad flag, and the agent — a
// plain net/http server counting every request — receives nothing.
func TestUnwritableOutputsRefusedBeforeAnyCall(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	dir := t.TempDir()
	aFile := filepath.Join(dir, "file")
	if err := os.WriteFile(aFile, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nonexistent", "d")
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"out", []string{"--out", filepath.Join(missing, "r.json")}, []string{"--out " + filepath.Join(missing, "r.json") + ": directory " + missing + " does not exist"}},
		{"every flag", []string{
			"--junit", filepath.Join(missing, "j.xml"),
			"--md", filepath.Join(aFile, "s.md"),
			"--html", dir,
			"--hgrm", filepath.Join(aFile, "h"),
		}, []string{"--junit ", "--md ", "is not a directory", "--html " + dir + ": exists and is not a regular file", "--hgrm "}},
		{"transcripts", []string{"--out", filepath.Join(dir, "ok.json"), "--transcripts", "all", "--transcripts-file", filepath.Join(missing, "t.jsonl")},
			[]string{"--transcripts-file " + filepath.Join(missing, "t.jsonl")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c cli
			c.env = map[string]string{"OPTIMLY_API_KEY": "sk-test-outputs"}
			args := append([]string{"run", "--quiet", "--target", srv.URL, "--quota", "1000"}, tc.args...)
			code := c.run(t, append(args, repoPath("testdata/quota"))...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s", code, exitUsage, c.stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(c.stderr.String(), w) {
					t.Errorf("error does not contain %q:\n%s", w, c.stderr.String())
				}
			}
			if n := requests.Load(); n != 0 {
				t.Errorf("%d requests reached the agent before the bad output was found", n)
			}
		})
	}
	if b, _ := os.ReadFile(aFile); string(b) != "keep me" {
		t.Errorf("an existing file was changed by the check: %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "ok.json")); err == nil {
		t.Errorf("the check left a file behind")
	}
	// Nothing but the file the test made: no probe left behind.
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("the check left files in %s: %v", dir, ents)
	}
}
