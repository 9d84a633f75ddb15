package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFailingExpectationsExitOneAndExplain(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.json")
	var c cli
	code := c.run(t, "run", "--quiet", "--out", out, repoPath("testdata/failing"))
	if code != exitFailed {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFailed, c.stdout.String(), c.stderr.String())
	}
	summary := c.stdout.String()
	for _, want := range []string{"wrong-price", "turn 2", "one dollar", "$1 per month"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary does not name %q:\n%s", want, summary)
		}
	}
	res := readResult(t, out)
	if len(res.Scenarios) != 1 || res.Scenarios[0].FirstFailure == nil {
		t.Fatalf("result has no first failure: %+v", res.Scenarios)
	}
	ff := res.Scenarios[0].FirstFailure
	if ff.Turn != 1 || !strings.Contains(ff.Expectation, "$1 per month") || ff.ReplyExcerpt == "" {
		t.Errorf("first failure = %+v", ff)
	}
}

func TestMadeUpKeyNeverWritten(t *testing.T) {
	const key = "sk-evalrun-test-7f3a9c1e5b"
	srv := startSim(t, key)
	dir := t.TempDir()
	out := filepath.Join(dir, "r.json")
	c := cli{env: map[string]string{"OPTIMLY_API_KEY": key}}
	code := c.run(t, "run", "--target", srv.URL, "--out", out, repoPath("examples"))
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, c.stderr.String())
	}
	// A wrong key: the error must not echo it either.
	bad := cli{env: map[string]string{"OPTIMLY_API_KEY": key + "-wrong"}}
	if code := bad.run(t, "run", "--target", srv.URL, repoPath("examples")); code != exitUnfinished {
		t.Fatalf("a wrong key: exit %d, want %d\n%s", code, exitUnfinished, bad.stderr.String())
	}
	if !strings.Contains(bad.stderr.String(), "refused the API key") {
		t.Errorf("a wrong key is not named as the cause:\n%s", bad.stderr.String())
	}
	if n := srv.Server.Stats().ByStatus[401]; n > 4 {
		t.Errorf("%d calls answered 401: the run did not stop at the first", n)
	}
	outputs := map[string]string{
		"stdout": c.stdout.String(), "stderr": c.stderr.String(),
		"stdout (wrong key)": bad.stdout.String(), "stderr (wrong key)": bad.stderr.String(),
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	outputs["result file"] = string(b)
	for name, s := range outputs {
		if strings.Contains(s, key) || strings.Contains(s, key[3:]) {
			t.Errorf("%s contains the API key", name)
		}
	}
}
