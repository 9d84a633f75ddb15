package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"time"

	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/examples"
	"github.com/evalrun/evalrun/report"
	"github.com/evalrun/evalrun/scenarios"
)

// runFlags are the flags of "evalrun run".
type runFlags struct {
	// openUser opens the simulated user of one target's run (simulate.go).
	openUser func() (scenarios.UserSimulator, func(*report.Result), error)

	target      string
	kind        string
	apiKeyEnv   string
	agentFile   string
	allowHTTP   bool
	concurrency int
	limits      limitFlags // --limit, --rate, --new-chat-limit (quota.go)
	load        loadFlags  // --arrival-rate, --stage, --duration, ... (load.go)
	timeout     time.Duration
	attempts    int
	seed        int64
	quiet       bool
	targetName  string // from evalrun.yaml's target, for reports
	quota       quotaFlags
	reports     reportFlags
	gates       gateFlags   // --threshold, --shard (thresholds.go)
	tx          targetFlags // --ca-cert, --debug, --auth, --model, ... (targets.go)

	// Several targets side by side (multitarget.go).
	named   []sideTarget      // --target NAME=URL
	keyEnvs map[string]string // --api-key-env NAME=VAR
	cmdline map[string]bool   // the flags given on the command line
	cfgOpts *targetOptions    // the one targets: entry's transport settings
	runID   string            // --run-id
}

// register defines the flags of "evalrun run" on fs, bound to f, and returns
// the --config value. `evalrun schema config` derives the evalrun.yaml
// settings from the same set (runFlagSet).
func (f *runFlags) register(fs *flag.FlagSet) *string {
	fs.Var(&targetValue{plain: &f.target, named: &f.named}, "target",
		"agent base `URL`, e.g. https://api.optimly.io; empty: start the simulated agent on 127.0.0.1. NAME=URL, repeated: several targets side by side")
	fs.StringVar(&f.kind, "kind", "optimly", "target kind: optimly, openai or http")
	f.tx.register(fs)
	f.apiKeyEnv = "OPTIMLY_API_KEY"
	fs.Var(&keyEnvValue{plain: &f.apiKeyEnv, named: &f.keyEnvs}, "api-key-env", "environment variable holding the agent's API key; NAME=VAR for the target NAME (repeatable)")
	fs.StringVar(&f.agentFile, "agent", "", "agent `FILE` for the simulated agent (default: the built-in baseline agent)")
	fs.BoolVar(&f.allowHTTP, "allow-insecure-http", false, "allow plain http:// to a non-loopback target")
	fs.IntVar(&f.concurrency, "concurrency", 4, "conversations in flight at once (closed model)")
	f.limits.register(fs)
	f.load.register(fs)
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "timeout of one agent call attempt, from sending to the last byte; a call that times out after its request was written is reported as timeout and not re-sent (the agent may have processed it)")
	fs.IntVar(&f.attempts, "max-attempts", 4, "attempts per call; only 429/502/503/504 and calls that never left (connection refused) are retried")
	fs.Int64Var(&f.seed, "seed", 1, "seed for fake data and retry jitter")
	fs.StringVar(&f.runID, "run-id", "", "the run's `ID` in client IDs and results (default: the time and a random suffix); give every shard of a run the same one")
	f.reports.registerRun(fs)
	f.gates.register(fs)
	fs.BoolVar(&f.quiet, "quiet", false, "no progress output")
	f.quota.register(fs, true)
	return fs.String("config", "", "configuration `FILE` (default: ./evalrun.yaml when present); flags override it")
}

func (a *app) run(args []string) error {
	var f runFlags
	fs := a.newFlagSet("run", "run [flags] [paths...]")
	configPath := f.register(fs)
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	f.cmdline = visited(fs)
	if err := checkRanges(fs); err != nil {
		return err
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	if err := applyConfig(cfg, fs); err != nil {
		return err
	}
	if err := applyTarget(cfg, fs); err != nil {
		return err
	}
	if cfg != nil && len(cfg.Targets) == 1 {
		f.targetName = cfg.Targets[0].Name
	}
	if f.tx.auth == "none" && !f.cmdline["api-key-env"] {
		f.apiKeyEnv = "" // --auth none: no key is read or sent
	}
	side, err := f.resolveTargets(cfg, a.secret)
	if err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	if err := checkRunID(f.runID); err != nil {
		return err
	}
	if err := f.reports.checkTranscripts(); err != nil {
		return err
	}
	if err := f.reports.checkJUnit(); err != nil {
		return err
	}
	if err := f.reports.checkOutputs(); err != nil {
		return err
	}
	if err := f.gates.check(); err != nil {
		return err
	}
	if err := f.load.resolve(fs, f.concurrency, f.gates.shard); err != nil {
		return err
	}
	suite, err := a.loadSuite("run", cfg, paths)
	if err != nil {
		return err
	}
	judge, err := a.openJudge(cfg, suite)
	if err != nil {
		return err
	}
	if judge != nil {
		defer judge.Close()
	}
	// Each target's run gets its own simulated user (and counters).
	f.openUser = func() (scenarios.UserSimulator, func(*report.Result), error) { return a.openUser(cfg, suite) }
	if len(side) > 1 {
		return a.runSide(&f, suite, judge, side)
	}

	// The lone target: its quota, connection, run and reports go the way
	// of several targets' (multitarget.go, session.go).
	one := &sideRun{t: sideTarget{kind: f.kind, url: f.target, keyEnv: f.apiKeyEnv, agentFile: f.agentFile, opts: f.cfgOpts},
		q: f.quota, timeout: f.timeout.String()}
	return a.runSides(&f, suite, judge, []*sideRun{one})
}

func (f *runFlags) check() error {
	switch {
	case f.concurrency < 1:
		return usageErr("--concurrency %d: must be at least 1", f.concurrency)
	case f.timeout <= 0:
		return usageErr("--timeout %v: must be positive", f.timeout)
	case f.attempts < 1:
		return usageErr("--max-attempts %d: must be at least 1", f.attempts)
	case checkKind(f.kind) != nil:
		return checkKind(f.kind)
	}
	return f.quota.check()
}

func (a *app) loadSimAgent(path string) (*agentsim.Agent, error) {
	if path == "" {
		ag, err := agentsim.ParseAgent("examples/agents/baseline.agent.yaml (built in)", examples.BaselineAgent)
		if err != nil {
			return nil, fmt.Errorf("built-in agent: %w", err)
		}
		return ag, nil
	}
	ag, err := agentsim.LoadAgent(path)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	return ag, nil
}

func newRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "sim-" + hex.EncodeToString(b[:])
}
