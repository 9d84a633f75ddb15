package main

import (
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/agentsim"
)

func TestJudgeFromConfigGradesAndCaches(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	js := agentsim.NewJudgeServer()
	js.Key = "judge-key-for-test"
	srv := httptest.NewServer(js)
	defer srv.Close()

	suite, err := filepath.Abs(repoPath("testdata/judge"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, "suite: ["+suite+"]\nquiet: true\njudge: {url: "+srv.URL+", model: grader, api_key_env: JUDGE_KEY}\n")
	env := map[string]string{"JUDGE_KEY": "judge-key-for-test"}

	first := cli{env: env}
	if code := first.run(t, "run", "--config", cfg); code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, first.stdout.String(), first.stderr.String())
	}
	calls := js.Calls()
	if calls != 1 {
		// Both conversations get the same deterministic reply: one grade,
		// then a cache hit.
		t.Errorf("judge server answered %d calls on the first run, want 1", calls)
	}
	second := cli{env: env}
	if code := second.run(t, "run", "--config", cfg); code != exitOK {
		t.Fatalf("second run: exit %d\n%s", code, second.stderr.String())
	}
	if js.Calls() != calls {
		t.Errorf("the second run paid the judge again: %d calls, want %d", js.Calls(), calls)
	}

	// No judge configured: a load-time error naming the place.
	noJudge := writeConfig(t, "suite: ["+suite+"]\n")
	var c cli
	if code := c.run(t, "run", "--config", noJudge); code != exitUsage || !strings.Contains(c.stderr.String(), "judged.yaml:") {
		t.Errorf("exit %d without a judge: %s", code, c.stderr.String())
	}
	// The judge's key is never written.
	for _, s := range []string{first.stdout.String(), first.stderr.String()} {
		if strings.Contains(s, "judge-key-for-test") {
			t.Error("the judge key appears in the output")
		}
	}
}
