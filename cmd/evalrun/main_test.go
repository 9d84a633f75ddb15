package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/examples"
	"github.com/evalrun/evalrun/report"
)

// cli runs the CLI in-process and returns its exit code and output.
type cli struct {
	env    map[string]string
	stop   context.Context
	stdout bytes.Buffer
	stderr bytes.Buffer
}

func (c *cli) run(t *testing.T, args ...string) int {
	t.Helper()
	stop := c.stop
	if stop == nil {
		stop = context.Background()
	}
	if c.env == nil {
		c.env = map[string]string{}
	}
	if _, ok := c.env["EVALRUN_LEDGER"]; !ok {
		// Never the user's real ledger: each test gets its own.
		c.env["EVALRUN_LEDGER"] = filepath.Join(t.TempDir(), "ledger.json")
	}
	a := &app{
		stdout: &syncWriter{w: &c.stdout},
		stderr: &syncWriter{w: &c.stderr},
		getenv: func(k string) string { return c.env[k] },
		stop:   stop,
		abort:  context.Background(),
	}
	return a.main(args)
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// repoPath returns a path relative to the module root.
func repoPath(p string) string { return filepath.Join("..", "..", p) }

func readResult(t *testing.T, path string) *report.Result {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := report.ReadResult(f)
	if err != nil {
		t.Fatalf("result file does not load back: %v", err)
	}
	return r
}

// startSim starts a simulated agent on loopback that accepts key.
func startSim(t *testing.T, key string) *agentsim.Running {
	t.Helper()
	ag, err := agentsim.ParseAgent("baseline.agent.yaml", examples.BaselineAgent)
	if err != nil {
		t.Fatal(err)
	}
	ag.APIKeys = []string{key}
	ag.Latency = agentsim.LatencyModel{}
	srv, err := agentsim.Start(ag, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func TestRunExamplesEndToEnd(t *testing.T) {
	out := filepath.Join(t.TempDir(), "result.json")
	var c cli
	code := c.run(t, "run", "--quiet", "--out", out, repoPath("examples"))
	if code != exitOK {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, c.stdout.String(), c.stderr.String())
	}
	if !strings.Contains(c.stderr.String(), "simulated agent") || !strings.Contains(c.stderr.String(), "http://127.0.0.1:") {
		t.Errorf("stderr does not announce the in-process simulated agent on loopback:\n%s", c.stderr.String())
	}
	res := readResult(t, out)

	// Count what the suite should have produced.
	var convs, turns int
	for _, s := range res.Scenarios {
		for _, cv := range s.Conversations {
			convs++
			turns += len(cv.Turns)
		}
	}
	if convs == 0 || convs != res.Totals.Conversations {
		t.Fatalf("conversations in scenarios %d, totals %d", convs, res.Totals.Conversations)
	}
	if res.Totals.Passed != convs {
		t.Errorf("passed %d of %d conversations", res.Totals.Passed, convs)
	}
	if res.Totals.Turns != int64(turns) {
		t.Errorf("totals.turns %d, transcripts hold %d", res.Totals.Turns, turns)
	}
	if want := int64(convs + turns); res.Totals.Calls != want {
		t.Errorf("totals.calls %d, want %d (one new chat per conversation + turns)", res.Totals.Calls, want)
	}
	// Every histogram's count equals the calls it covers.
	counts := map[string]int64{}
	for _, h := range res.Histograms {
		counts[h.Kind+":"+h.Name] = h.Count
		hd, err := h.Decode()
		if err != nil {
			t.Fatalf("histogram %s: %v", h.Name, err)
		}
		if hd.TotalCount() != h.Count {
			t.Errorf("histogram %s: encoded count %d, stated %d", h.Name, hd.TotalCount(), h.Count)
		}
	}
	checks := map[string]int64{
		report.HistOverall + ":all":       int64(convs + turns),
		report.HistCallKind + ":new_chat": int64(convs),
		report.HistCallKind + ":turn":     int64(turns),
	}
	for name, want := range checks {
		if got, ok := counts[name]; !ok || got != want {
			t.Errorf("histogram %q count %d (present %v), want %d; have %v", name, got, ok, want, counts)
		}
	}
	var perScenario, perTurn int64
	for name, n := range counts {
		if strings.HasPrefix(name, report.HistScenario+":") {
			perScenario += n
		}
		if strings.HasPrefix(name, report.HistTurn+":") {
			perTurn += n
		}
	}
	if perScenario != int64(turns) || perTurn != int64(turns) {
		t.Errorf("per-scenario histograms hold %d, per-turn %d, want %d each", perScenario, perTurn, turns)
	}
}

// TestRunRepeatIterationsPerScenario: with --repeat over a suite where one
// scenario has repeat: 10, every scenario numbers its conversations
// 0..n-1, the default transcript sample keeps all of them (n ≤ 20), and the
// per-conversation JUnit testcases are named NAME[1] … NAME[n].
func TestRunRepeatIterationsPerScenario(t *testing.T) {
	dir := t.TempDir()
	out, junit := filepath.Join(dir, "result.json"), filepath.Join(dir, "junit.xml")
	var c cli
	if code := c.run(t, "run", "--quiet", "--repeat", "2", "--out", out, "--junit", junit, "--junit-cases", "conversation", repoPath("examples")); code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", code, c.stderr.String())
	}
	res := readResult(t, out)
	xml, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Scenarios {
		if s.Runs < 2 {
			t.Errorf("scenario %s ran %d times, want at least 2", s.Name, s.Runs)
		}
		var its []int
		for _, cv := range s.Conversations {
			its = append(its, cv.Iteration)
		}
		slices.Sort(its)
		for i, it := range its {
			if it != i {
				t.Errorf("scenario %s: iterations %v, want 0..%d (all %d transcripts kept by the default sample)", s.Name, its, s.Runs-1, s.Runs)
				break
			}
		}
		if len(its) != s.Runs {
			t.Errorf("scenario %s: %d transcripts of %d runs kept", s.Name, len(its), s.Runs)
		}
		// One testcase per conversation: named NAME[1] … NAME[runs], each once.
		var ks []int
		for _, m := range regexp.MustCompile(`testcase name="`+regexp.QuoteMeta(s.Name)+`\[(\d+)\]"`).FindAllSubmatch(xml, -1) {
			k, _ := strconv.Atoi(string(m[1]))
			ks = append(ks, k)
		}
		slices.Sort(ks)
		for i, k := range ks {
			if k != i+1 || len(ks) != s.Runs {
				t.Errorf("scenario %s: JUnit testcases %v, want [1] … [%d]", s.Name, ks, s.Runs)
				break
			}
		}
		if len(ks) != s.Runs {
			t.Errorf("scenario %s: %d JUnit testcases for %d runs", s.Name, len(ks), s.Runs)
		}
	}
}
