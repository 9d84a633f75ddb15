package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/examples"
	"github.com/evalrun/evalrun/report"
	"github.com/evalrun/evalrun/runner"
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

	// Quota and limits: the worst case must fit the headroom before the
	// first call (quota.go, dryrun.go).
	lims, err := f.limits.resolve(f.kind, f.target)
	if err != nil {
		return err
	}
	limitsSetting := lims.String() // the whole run's, the same in every shard
	lims = lims.shard(f.gates.shard)
	cf := shardCost(&f.gates, suite, f.quota.retries)
	if f.load.shapesCount() {
		cf = f.load.cost(suite, f.quota.retries)
	}
	qp, ac, err := a.checkQuota(&f.quota, cf, f.gates.headroom, f.target, f.apiKeyEnv)
	if err != nil {
		return err
	}
	if f.quota.dryRun {
		if err := a.dryRun(a.stdout, qp, ac, lims, f.target, f.apiKeyEnv); err != nil {
			return err
		}
		// Not for a shard (or a --partial cut) without simulated
		// conversations: its calls are a single number.
		if s := simulatedDryRun(suite); s != "" && (!qp.bounded || qp.fewestCalls < qp.full.Calls) {
			fmt.Fprintf(a.stdout, "%-17s %s\n", "simulated:", s)
		}
		return nil
	}
	if err := qp.refusalErr(ac); err != nil {
		return err
	}

	conn, tgt, closeTarget, err := a.connect(&f)
	if err != nil {
		return err
	}
	defer closeTarget()

	if !f.tx.noHealth {
		healthCtx, cancel := context.WithTimeout(a.stop, 10*time.Second)
		err = conn.Health(healthCtx)
		cancel()
		// Interrupted during the check: go on, so the run reports every
		// conversation not_run ("interrupted") and writes its reports.
		if err != nil && a.stop.Err() == nil {
			return unfinishedErr("target %s is not healthy: %v%s", tgt.URL, err, healthHint(f.kind))
		}
	}

	runID := f.newRunID()
	if qp, err = a.reserveQuota(&f.quota, qp, ac, cf, f.gates.headroom, runID, tgt.URL); err != nil {
		return err
	}
	est, maxConv, budget, limit, quotaLabel := qp.est, int(qp.maxConv), qp.budget(f.quota.retries), qp.limit, qp.label
	started := time.Now()
	transcripts, err := f.reports.openTranscripts()
	if err != nil {
		return err
	}
	if transcripts.Stream != nil {
		transcripts.Stream = a.redactor().Writer(transcripts.Stream)
	}
	defer f.reports.closeTranscripts()
	cutBy, planned := partialPlan(&f, suite, int64(maxConv))
	agg := report.NewAggregator(report.Meta{
		CutBy:   cutBy,
		Planned: planned,
		RunID:   runID,
		Version: version,
		Started: started,
		Target:  tgt,
		Seed:    f.seed,
		Load:    f.load.info(),
		Settings: map[string]any{
			"concurrency":  f.concurrency,
			"limits":       limitsSetting,
			"timeout":      f.timeout.String(),
			"max_attempts": f.attempts,
			"quota":        quotaLabel,
			"cost_unit":    f.quota.unit(),
			"partial":      maxConv > 0,
		},
		Transcripts: transcripts,
	})

	total := est.Conversations
	prog := a.startProgress(&f, []progressSource{{snap: agg, total: total, budget: budget}})
	tuneGC(a.getenv, max(f.concurrency, f.load.conns()))
	opts := runner.Options{
		Conn:        conn,
		Concurrency: f.concurrency,
		Budget:      budget,
		Retry:       runner.RetryPolicy{MaxAttempts: f.attempts},
		RunID:       runID,
		Seed:        f.seed,
		Observer:    redactingObserver{agg, a.redactor()},
		Abort:       a.abort,
		// No CallTimeout: the Conn enforces --timeout on every attempt
		// itself; a second timer and context per call cost CPU for nothing.
		MaxConversations: maxConv,
		Shard:            f.gates.shard,
	}
	user, recordUser, err := f.openUser()
	if err != nil {
		return err
	}
	opts.User = user
	judgeView, recordJudge := judge.view()
	if judgeView != nil {
		opts.Judge = redactingJudge{judgeView, a.redactor()}
	}
	if err := lims.apply(&opts); err != nil {
		return err
	}
	if err := f.load.apply(&opts, f.seed); err != nil {
		return err
	}
	lr := startLedgerRun(ac, runID, &opts)
	sum, runErr := runner.Run(a.stop, suite, opts)
	prog.stop()
	if err := lr.finish(sum, runErr, qp); err != nil {
		fmt.Fprintf(a.stderr, "evalrun: warning: usage ledger: %v\n", err)
	}

	fin := report.Finish{Ended: time.Now()}
	if sum != nil {
		fin.Interrupted = sum.Interrupted
		fin.StopReason = sum.StopReason
		fin.Schedule = sum.Schedule
	}
	if budget != nil {
		fin.Budget = report.BudgetInfo{Unit: f.quota.unit(), Limit: limit, UsedBefore: qp.usedBefore(), Spent: budget.Spent()}
	}
	res := agg.Result(fin)
	recordJudge(res)
	recordUser(res)
	f.load.settings(res.Settings)
	f.gates.settings(res.Settings, suite)
	applyThresholds(res, f.gates.thresholds)

	// Reports first: nothing recorded is lost, whatever stopped the run.
	if err := a.writeReports(res, &f.reports); err != nil {
		return err
	}
	printThresholds(a.stdout, res)

	switch {
	case errors.Is(runErr, runner.ErrInterrupted) || (runErr == nil && sum.Interrupted):
		return unfinishedErr("interrupted; the reports written are marked interrupted")
	case errors.Is(runErr, runner.ErrRejected):
		return unfinishedErr("the target refused %s (%v); the run stopped", keyWhat(f.apiKeyEnv), runErr)
	case errors.Is(runErr, runner.ErrQuotaExhausted):
		return unfinishedErr("the agent's quota is used up; the run stopped cleanly (results written)")
	case runErr != nil:
		return unfinishedErr("run failed: %v", runErr)
	case judgeErr(res) != nil:
		return judgeErr(res)
	case !res.Passed():
		return &exitError{code: exitFailed, err: errors.New("")}
	}
	return nil
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

// connect opens the target: the given --target with its key from the
// environment, or the simulated agent started in-process on loopback.
func (a *app) connect(f *runFlags) (agent.Conn, report.Target, func(), error) {
	tgt := report.Target{Kind: f.kind}
	var key string
	closeFn := func() {}
	if f.target == "" {
		ag, err := a.loadSimAgent(f.agentFile)
		if err != nil {
			return nil, tgt, nil, err
		}
		// The in-process agent accepts one fresh key; no account needed.
		key = newKey()
		a.redactor().Add(key)
		ag.APIKeys = []string{key}
		srv, err := agentsim.Start(ag, "127.0.0.1:0")
		if err != nil {
			return nil, tgt, nil, unfinishedErr("starting the simulated agent: %v", err)
		}
		closeFn = func() { srv.Close() }
		tgt.Name = "sim:" + ag.Name
		tgt.URL = srv.URL
		fmt.Fprintf(a.stderr, "evalrun: no --target given; simulated agent %q listening on %s\n", ag.Name, srv.URL)
	} else {
		u, err := url.Parse(f.target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, tgt, nil, usageErr("--target %q: want an http(s) URL such as https://api.optimly.io", f.target)
		}
		if f.apiKeyEnv != "" { // "": keyless, as the user said (--api-key-env "", auth: none)
			key = a.secret(f.apiKeyEnv)
			if key == "" {
				return nil, tgt, nil, usageErr("environment variable %s is empty; set it to the agent's API key (or name another with --api-key-env; for a server that takes no key, --api-key-env \"\")", f.apiKeyEnv)
			}
		}
		tgt.Name = u.Host
		if f.targetName != "" {
			tgt.Name = f.targetName
		}
		tgt.URL = u.Redacted()
	}
	spec := specFromFlags(f, tgtURL(f, tgt), key, f.target == "", a.stderr)
	f.cfgOpts.apply(&spec, f.cmdline) // the targets: entry's own settings
	conn, closeConn, err := buildConn(spec)
	if err != nil {
		closeFn()
		return nil, tgt, nil, err
	}
	tgt.OpenAI = openAITarget(spec, conn)
	return conn, tgt, func() { closeConn(); closeFn() }, nil
}

func tgtURL(f *runFlags, tgt report.Target) string {
	if f.target != "" {
		return f.target
	}
	return tgt.URL
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
