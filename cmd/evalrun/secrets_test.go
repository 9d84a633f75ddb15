package main

import (
	"bytes"
	"context"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/ledger"
)

// The canaries: distinctive fake keys that must never be written anywhere.
// leakMark is in every one of them, so a key cut short is caught too.
const (
	leakMark    = "LEAKCANARY"
	canaryKey   = "sk-live-LEAKCANARY-7f3a9c1e5b2d4e6f"
	canaryWrong = "sk-live-LEAKCANARY-wrong-0a1b2c3d"
	canaryJudge = "jk-LEAKCANARY-judge-9e8d7c6b5a"
)

// TestSecretsNeverWritten runs every command and every writer with fake
// keys in the environment — the agent's (sent as a Bearer token, an
// X-API-Key header and an api_key query parameter), a wrong one the agent
// refuses, and the LLM judge's — and asserts that no part of a key appears
// in any stdout, stderr, result, report, histogram, ledger, transcript,
// debug dump or judge cache file: it walks every directory the commands
// wrote to. It also checks that the ledger holds only the key's short
// fingerprint, and that the --debug dumps redact the Authorization and
// X-API-Key headers and the key query parameter while still showing the
// requests.
func TestSecretsNeverWritten(t *testing.T) {
	root := t.TempDir()
	// Everything a command might write by default lands under root.
	t.Setenv("HOME", root)
	t.Setenv("XDG_STATE_HOME", filepath.Join(root, "state"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(root, "cache"))
	t.Setenv("OPTIMLY_API_KEY", canaryKey)
	t.Setenv("JUDGE_KEY", canaryJudge)
	ledgerPath := filepath.Join(root, "state", "evalrun", "ledger.json")
	env := map[string]string{
		"OPTIMLY_API_KEY": canaryKey,
		"WRONG_KEY":       canaryWrong,
		"JUDGE_KEY":       canaryJudge,
		"HOME":            root,
		"XDG_STATE_HOME":  filepath.Join(root, "state"),
		"XDG_CACHE_HOME":  filepath.Join(root, "cache"),
		"EVALRUN_LEDGER":  ledgerPath,
	}
	out := func(p ...string) string { return filepath.Join(append([]string{root, "out"}, p...)...) }
	if err := os.MkdirAll(out(), 0o755); err != nil {
		t.Fatal(err)
	}

	sim := startSim(t, canaryKey)
	js := agentsim.NewJudgeServer()
	js.Key = canaryJudge
	judgeSrv := httptest.NewServer(js)
	defer judgeSrv.Close()
	judgeSuite, err := filepath.Abs(repoPath("testdata/judge"))
	if err != nil {
		t.Fatal(err)
	}
	judgeCfg := filepath.Join(root, "evalrun.yaml")
	if err := os.WriteFile(judgeCfg, []byte("suite: ["+judgeSuite+"]\njudge: {url: "+judgeSrv.URL+", model: grader, api_key_env: JUDGE_KEY}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	examples := repoPath("examples")

	type step struct {
		name  string
		args  []string
		codes []int // accepted exit codes
	}
	runArgs := func(tag, auth string) []string {
		a := []string{"run", "--quiet", "--target", sim.URL, "--quota", "100000",
			"--out", out(tag + ".json"), "--junit", out(tag + ".xml"), "--md", out(tag + ".md"),
			"--html", out(tag + ".html"), "--hgrm", out(tag + "-hgrm"),
			"--transcripts", "all", "--debug", out(tag + ".debug.log")}
		if auth != "" {
			a = append(a, "--auth", auth)
		}
		return append(a, examples)
	}
	steps := []step{
		{"run bearer", runArgs("bearer", ""), []int{exitOK, exitFailed}},
		{"run header", runArgs("header", "header"), []int{exitOK, exitFailed}},
		{"run query", runArgs("query", "query"), []int{exitOK, exitFailed}},
		{"run debug to stderr", []string{"run", "--quiet", "--target", sim.URL, "--auth", "query", "--debug", "-", "--out", out("stderr.json"), examples}, []int{exitOK, exitFailed}},
		{"run shard 1", []string{"run", "--quiet", "--target", sim.URL, "--shard", "1/2", "--out", out("shard1.json"), examples}, []int{exitOK, exitFailed}},
		{"run shard 2", []string{"run", "--quiet", "--target", sim.URL, "--shard", "2/2", "--out", out("shard2.json"), examples}, []int{exitOK, exitFailed}},
		{"run refused key", []string{"run", "--quiet", "--target", sim.URL, "--api-key-env", "WRONG_KEY", "--debug", out("wrong.debug.log"), "--out", out("wrong.json"), examples}, []int{exitUnfinished}},
		{"run refused key in query", []string{"run", "--quiet", "--target", sim.URL, "--auth", "query", "--api-key-env", "WRONG_KEY", "--out", out("wrongq.json"), examples}, []int{exitUnfinished}},
		{"run judge", []string{"run", "--quiet", "--config", judgeCfg, "--target", sim.URL, "--out", out("judge.json")}, []int{exitOK, exitFailed}},
		{"run judge again (cache)", []string{"run", "--quiet", "--config", judgeCfg, "--target", sim.URL, "--out", out("judge2.json")}, []int{exitOK, exitFailed}},
		{"dry run", []string{"run", "--dry-run", "--target", sim.URL, "--plan", "starter", examples}, []int{exitOK}},
		{"over quota", []string{"run", "--target", sim.URL, "--quota", "3", examples}, []int{exitUsage}},
		{"validate", []string{"validate", examples}, []int{exitOK}},
		{"quota", []string{"quota", "--plan", "growth", examples}, []int{exitOK}},
		{"report", []string{"report", out("bearer.json"), "--junit", out("re.xml"), "--md", out("re.md"), "--html", out("re.html"), "--hgrm", out("re-hgrm")}, []int{exitOK, exitFailed}},
		{"compare", []string{"compare", "--md", out("cmp.md"), out("bearer.json"), out("header.json")}, []int{exitOK, exitFailed}},
		{"merge", []string{"merge", "-o", out("merged.json"), out("shard1.json"), out("shard2.json")}, []int{exitOK, exitFailed}},
		{"regrade", []string{"regrade", "--out", out("regraded.json"), out("bearer.json"), examples}, []int{exitOK, exitFailed}},
		{"schema", []string{"schema"}, []int{exitOK}},
		{"quota reset", []string{"quota", "--reset"}, []int{exitOK}},
	}
	var transcript bytes.Buffer // every command's output, for the leak check
	for _, s := range steps {
		c := cli{env: env}
		code := c.run(t, s.args...)
		transcript.WriteString(c.stdout.String())
		transcript.WriteString(c.stderr.String())
		ok := false
		for _, want := range s.codes {
			ok = ok || code == want
		}
		if !ok {
			t.Errorf("%s: exit %d, want one of %v\nstderr:\n%s", s.name, code, s.codes, c.stderr.String())
		}
		if s.name == "run debug to stderr" {
			checkDebugDump(t, s.name, c.stderr.String(), "api_key=")
		}
		if s.name == "run refused key" && !strings.Contains(c.stderr.String(), "WRONG_KEY") {
			t.Errorf("%s: the error does not name the variable WRONG_KEY:\n%s", s.name, c.stderr.String())
		}
	}

	// serve, briefly: it accepts the key from the environment and says
	// how many keys, never which.
	{
		stop, cancel := context.WithCancel(context.Background())
		c := cli{env: env, stop: stop}
		done := make(chan int, 1)
		go func() { done <- c.run(t, "serve", "--addr", "127.0.0.1:0", "--api-key-env", "OPTIMLY_API_KEY") }()
		time.Sleep(300 * time.Millisecond)
		cancel()
		select {
		case code := <-done:
			if code != exitOK {
				t.Errorf("serve: exit %d: %s", code, c.stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Fatal("serve did not stop")
		}
		transcript.WriteString(c.stderr.String())
		transcript.WriteString(c.stdout.String())
	}

	if i := strings.Index(transcript.String(), leakMark); i >= 0 {
		t.Errorf("a key appears in the output of a command: …%s…", excerpt(transcript.String(), i))
	}

	// The debug dumps show the requests with the credentials redacted.
	for tag, marker := range map[string]string{"bearer": "Authorization: " + agent.Redacted, "header": "X-Api-Key: " + agent.Redacted, "query": "api_key="} {
		data, err := os.ReadFile(out(tag + ".debug.log"))
		if err != nil {
			t.Fatal(err)
		}
		checkDebugDump(t, tag, string(data), marker)
	}

	// The ledger holds the key's fingerprint, nothing else of it. (quota
	// --reset above dropped the current cycle; every run before wrote it.)
	data, err := os.ReadFile(ledgerPath)
	if err != nil {
		t.Fatalf("no ledger: %v", err)
	}
	for _, fp := range regexp.MustCompile(`"([0-9a-f]{12})"`).FindAllStringSubmatch(string(data), -1) {
		if fp[1] != ledger.Fingerprint(canaryKey) && fp[1] != ledger.Fingerprint(canaryWrong) {
			t.Errorf("ledger holds an unknown fingerprint %s", fp[1])
		}
	}

	// Walk every file written under root: none holds any part of a key.
	files := 0
	var kinds []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if path == judgeCfg {
			return nil // the test's own input
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		kinds = append(kinds, filepath.Ext(path))
		if i := bytes.Index(b, []byte(leakMark)); i >= 0 {
			t.Errorf("%s holds a key: …%s…", path, excerpt(string(b), i))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The walk covered every kind of file evalrun writes.
	for _, want := range []string{".json", ".xml", ".md", ".html", ".hgrm", ".jsonl", ".log"} {
		if !strings.Contains(strings.Join(kinds, " "), want) {
			t.Errorf("no %s file was written; the check covers less than it should (%d files)", want, files)
		}
	}
	cache, _ := filepath.Glob(filepath.Join(root, "cache", "evalrun", "judge", "*", "*.json"))
	if len(cache) == 0 {
		t.Error("the judge cache is empty; the check covers less than it should")
	}
	t.Logf("%d files checked", files)
}

// checkDebugDump checks that a --debug dump shows requests and redacts the
// credential marked by marker.
func checkDebugDump(t *testing.T, name, dump, marker string) {
	t.Helper()
	if !strings.Contains(dump, "> POST ") {
		t.Errorf("%s: the debug dump shows no request:\n%.500s", name, dump)
	}
	i := strings.Index(dump, marker)
	if i < 0 {
		t.Errorf("%s: the debug dump has no %q:\n%.800s", name, marker, dump)
		return
	}
	if marker == "api_key=" && !strings.HasPrefix(dump[i+len(marker):], agent.Redacted) && !strings.HasPrefix(dump[i+len(marker):], "%5BREDACTED%5D") && !strings.HasPrefix(dump[i+len(marker):], "REDACTED") {
		t.Errorf("%s: the key query parameter is not redacted: …%s…", name, excerpt(dump, i))
	}
}

func excerpt(s string, i int) string {
	return s[max(i-60, 0):min(i+60, len(s))]
}
