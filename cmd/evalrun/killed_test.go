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
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/examples"
	"github.com/evalrun/evalrun/ledger"
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
	// The next run plans with the same headroom.
	var next cli
	next.env = c.env
	if code := next.run(t, "run", "--dry-run", "--target", srv.URL, "--quota", strconv.Itoa(quota), suite); code != exitOK && code != exitUsage {
		t.Fatalf("dry run: exit %d\n%s", code, next.stderr.String())
	}
	m = regexp.MustCompile(`headroom:\s+(\d+) calls`).FindStringSubmatch(next.stdout.String())
	if m == nil {
		t.Fatalf("no headroom line in the dry run:\n%s", next.stdout.String())
	}
	if h, _ := strconv.ParseInt(m[1], 10, 64); h > quota-counted {
		t.Errorf("the next run's headroom is %d, more than %d - %d", h, quota, counted)
	}
	t.Logf("agent counted %d calls; next headroom %d of %d", counted, remaining, quota)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestCorruptLedgerRefusedBeforeAnyCall: a ledger whose two reservations of
// nearly 2^63 calls used to wrap the sum negative ("26 remaining of 20")
// is refused by `quota` and `run`, naming the file and the field, and the
// run sends nothing.
func TestCorruptLedgerRefusedBeforeAnyCall(t *testing.T) {
	const key = "sk-test-corrupt-ledger-0123"
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ledgerPath := filepath.Join(t.TempDir(), "ledger.json")
	body := `{"version": 1, "keys": {"` + ledger.Fingerprint(key) + `": {"cycles": {"2025-03-01": {"calls": 10, "updated": "2025-03-02T00:00:00Z", "reservations": {
	  "a": {"calls": 9223372036854775800, "pid": 1, "host": "elsewhere", "created": "2099-01-01T00:00:00Z"},
	  "b": {"calls": 9223372036854775800, "pid": 1, "host": "elsewhere", "created": "2099-01-01T00:00:00Z"}}}}}}}`
	if err := os.WriteFile(ledgerPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"quota", "--quota", "20"},
		{"run", "--quiet", "--target", srv.URL, "--quota", "20", repoPath("testdata/quota")},
	} {
		var c cli
		c.env = map[string]string{"OPTIMLY_API_KEY": key, "EVALRUN_LEDGER": ledgerPath}
		code := c.run(t, args...)
		if code == exitOK {
			t.Errorf("%s: exit 0 with a corrupt ledger\n%s", args[0], c.stdout.String())
		}
		if msg := c.stderr.String(); !strings.Contains(msg, ledgerPath) || !strings.Contains(msg, ".calls: 9223372036854775800 is more than any quota") {
			t.Errorf("%s: error does not name the file and the field:\n%s", args[0], msg)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests reached the agent", n)
	}
}
