package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/report"
)

// TestRunWritesEveryReport runs the examples with every report and
// --transcripts all, then re-renders each report from the saved result
// with "evalrun report" and expects the same bytes.
func TestRunWritesEveryReport(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	var c cli
	code := c.run(t, "run", "--quiet", "--out", p("result.json"), "--junit", p("junit.xml"), "--md", p("summary.md"),
		"--html", p("report.html"), "--hgrm", p("hgrm"), "--transcripts", "all", "--transcripts-sample", "0", repoPath("examples"))
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, c.stdout.String(), c.stderr.String())
	}
	res := readResult(t, p("result.json"))
	ti := res.Transcripts
	if ti == nil || ti.Policy != report.TranscriptsAll || ti.File != p("result.transcripts.jsonl") || ti.Streamed != int64(res.Totals.Conversations) {
		t.Fatalf("transcripts info %+v, want all %d conversations streamed to result.transcripts.jsonl", ti, res.Totals.Conversations)
	}
	if ti.Kept != 0 {
		t.Errorf("kept %d transcripts in the result with no sample and nothing failed", ti.Kept)
	}
	f, err := os.Open(ti.File)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := 0
	if err := report.ReadTranscripts(f, func(*report.TranscriptLine) error { lines++; return nil }); err != nil {
		t.Fatal(err)
	}
	if lines != res.Totals.Conversations {
		t.Errorf("%d transcript lines, want %d", lines, res.Totals.Conversations)
	}

	junit, _ := os.ReadFile(p("junit.xml"))
	if err := xml.Unmarshal(junit, new(struct{})); err != nil {
		t.Errorf("junit.xml is not XML: %v", err)
	}
	md, _ := os.ReadFile(p("summary.md"))
	if !bytes.HasPrefix(md, []byte("## ✅ evalrun PASSED")) {
		t.Errorf("summary.md starts %q", md[:min(len(md), 60)])
	}
	if hg, _ := os.ReadDir(p("hgrm")); len(hg) < 3 {
		t.Errorf("%d .hgrm files, want one per histogram", len(hg))
	}

	// Re-render from the saved result.
	var rc cli
	code = rc.run(t, "report", p("result.json"), "--md", p("again.md"), "--html", p("again.html"))
	if code != exitOK {
		t.Fatalf("report: exit %d\n%s", code, rc.stderr.String())
	}
	for _, pair := range [][2]string{{"summary.md", "again.md"}, {"report.html", "again.html"}} {
		a, _ := os.ReadFile(p(pair[0]))
		b, _ := os.ReadFile(p(pair[1]))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s re-rendered from the result differs from the run's", pair[0])
		}
	}
	if rc.stdout.Len() != 0 {
		t.Errorf("report with file outputs printed to stdout:\n%s", rc.stdout.String())
	}
	var sc cli
	if code := sc.run(t, "report", p("result.json")); code != exitOK || !strings.Contains(sc.stdout.String(), "PASSED") {
		t.Errorf("report without outputs: exit %d, stdout:\n%s", code, sc.stdout.String())
	}
}

func TestReportCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"schema_version": 99}`), 0o644)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"report"}, exitUsage, "one result file"},
		{[]string{"report", filepath.Join(dir, "missing.json")}, exitUsage, "no such file"},
		{[]string{"report", bad}, exitUsage, "schema_version: 99 is not supported"},
		{[]string{"run", "--transcripts", "everything", repoPath("examples")}, exitUsage, "valid policies are failed, sample, all, none"},
		{[]string{"run", "--transcripts", "all", repoPath("examples")}, exitUsage, "give --out or --transcripts-file"},
		{[]string{"run", "--transcripts-file", "x.jsonl", repoPath("examples")}, exitUsage, "only with --transcripts all"},
	}
	for _, tt := range tests {
		var c cli
		if code := c.run(t, tt.args...); code != tt.code || !strings.Contains(c.stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tt.args, code, c.stderr.String(), tt.code, tt.want)
		}
	}
}
