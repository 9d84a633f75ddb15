package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/examples"
)

// helperCLIEnv, when set in the environment of the test binary, makes
// TestHelperCLI run the CLI with the JSON list of arguments it holds, as
// the evalrun binary would, and exit with its code.
const helperCLIEnv = "EVALRUN_HELPER_CLI_ARGS"

// TestHelperCLI is not a test: it is the CLI, run as a subprocess by tests
// that must kill a real process (startCLIProcess).
func TestHelperCLI(t *testing.T) {
	raw := os.Getenv(helperCLIEnv)
	if raw == "" {
		t.Skip("the CLI as a subprocess, for other tests")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		os.Exit(99)
	}
	a := &app{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, stop: context.Background(), abort: context.Background()}
	os.Exit(a.main(args))
}

// startCLIProcess starts the CLI with args in a subprocess (the test binary
// running TestHelperCLI), with env added to the environment.
func startCLIProcess(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	raw, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCLI$")
	cmd.Env = append(append(os.Environ(), env...), helperCLIEnv+"="+string(raw))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// TestKilledRunCannotLetTheNextOvershoot runs the CLI as a process against
// an agent that counts the calls it receives, SIGKILLs it mid-flight (calls
// in flight, some not yet flushed to the ledger), and checks that the next
// run's headroom is at most the quota minus the calls the agent counted: the
// killed run's reservation is settled as spent, not dropped, and `evalrun
// quota` shows it.
func TestKilledRunCannotLetTheNextOvershoot(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a subprocess for a few seconds")
	}
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL")
	}
	const key = "sk-test-killed-run-0123456789"
	ag, err := agentsim.ParseAgent("baseline.agent.yaml", examples.BaselineAgent)
	if err != nil {
		t.Fatal(err)
	}
	ag.APIKeys = []string{key}
	ag.Latency = agentsim.LatencyModel{}
	sim := agentsim.New(ag)
	var received atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			received.Add(1) // the agent counts it as soon as it arrives
			time.Sleep(40 * time.Millisecond)
		}
		sim.ServeHTTP(w, r)
	}))
	defer srv.Close()

	ledgerPath := filepath.Join(t.TempDir(), "ledger.json")
	suite, err := filepath.Abs(repoPath("testdata/quota")) // 100 calls a replay
	if err != nil {
		t.Fatal(err)
	}
	const quota = 5000
	cmd := startCLIProcess(t, []string{"OPTIMLY_API_KEY=" + key, "EVALRUN_LEDGER=" + ledgerPath},
		"run", "--quiet", "--target", srv.URL, "--quota", strconv.Itoa(quota), "--repeat", "20",
		"--limit", "none", "--concurrency", "8", suite)

	// Kill it mid-flight: after a flush or two, with calls in flight.
	deadline := time.Now().Add(30 * time.Second)
	for received.Load() < 60 || !fileExists(ledgerPath) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the run made %d calls in 30s", received.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // reaped: its pid is gone
	time.Sleep(100 * time.Millisecond)
	counted := received.Load()
	if counted >= 2000 {
		t.Fatalf("the run finished (%d calls) before it was killed", counted)
	}

	var c cli
	c.env = map[string]string{"OPTIMLY_API_KEY": key, "EVALRUN_LEDGER": ledgerPath}
	if code := c.run(t, "quota", "--quota", strconv.Itoa(quota)); code != exitOK {
		t.Fatalf("quota: exit %d\n%s", code, c.stderr.String())
	}
	m := regexp.MustCompile(`remaining\s+(\d+) calls`).FindStringSubmatch(c.stdout.String())
	if m == nil {
		t.Fatalf("no remaining line:\n%s", c.stdout.String())
	}
	remaining, _ := strconv.ParseInt(m[1], 10, 64)
	if remaining > quota-counted {
		t.Errorf("after the kill the headroom is %d, more than the quota %d minus the %d calls the agent counted\n%s",
			remaining, quota, counted, c.stdout.String())
	}
	if !regexp.MustCompile(`settled\s+\d+ calls.*1 killed run`).MatchString(c.stdout.String()) {
		t.Errorf("evalrun quota does not show the settled reservation:\n%s", c.stdout.String())
	}
	t.Logf("agent counted %d calls; next headroom %d of %d", counted, remaining, quota)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
