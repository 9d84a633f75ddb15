package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"time"

	"golang.org/x/time/rate"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/examples"
	"github.com/evalrun/evalrun/report"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// runFlags are the flags of "evalrun run".
type runFlags struct {
	target      string
	kind        string
	apiKeyEnv   string
	agentFile   string
	allowHTTP   bool
	concurrency int
	rate        string
	timeout     time.Duration
	attempts    int
	seed        int64
	quiet       bool
	targetName  string // from evalrun.yaml's target, for reports
	quota       quotaFlags
	reports     reportFlags
}

func (a *app) run(args []string) error {
	var f runFlags
	fs := a.newFlagSet("run", "run [flags] [paths...]")
	fs.StringVar(&f.target, "target", "", "agent base `URL`, e.g. https://api.optimly.io; empty: start the simulated agent on 127.0.0.1")
	fs.StringVar(&f.kind, "kind", "optimly", "target kind: optimly")
	fs.StringVar(&f.apiKeyEnv, "api-key-env", "OPTIMLY_API_KEY", "environment variable holding the agent's API key")
	fs.StringVar(&f.agentFile, "agent", "", "agent `FILE` for the simulated agent (default: the built-in baseline agent)")
	fs.BoolVar(&f.allowHTTP, "allow-insecure-http", false, "allow plain http:// to a non-loopback target")
	fs.IntVar(&f.concurrency, "concurrency", 4, "conversations in flight at once (closed model)")
	fs.StringVar(&f.rate, "rate", "none", "limit agent calls to `R/s` (also R/min, R/h); none for no limit")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "timeout of one agent call")
	fs.IntVar(&f.attempts, "max-attempts", 4, "attempts per call, retries of 429/502/503/504 and transport errors included")
	fs.Int64Var(&f.seed, "seed", 1, "seed for fake data and retry jitter")
	f.reports.register(fs)
	fs.BoolVar(&f.quiet, "quiet", false, "no progress output")
	fs.StringVar(&f.quota.plan, "plan", "", "the agent's plan: starter, growth, scale, enterprise")
	fs.Int64Var(&f.quota.quota, "quota", 0, "monthly call quota (instead of --plan)")
	fs.Int64Var(&f.quota.used, "quota-used", 0, "calls already used this billing cycle")
	fs.StringVar(&f.quota.costUnit, "cost-unit", "calls", "what the quota counts: calls, or messages (2 per turn)")
	fs.BoolVar(&f.quota.partial, "partial", false, "when the suite does not fit the quota, run the whole conversations that fit")
	fs.Float64Var(&f.quota.retries, "retry-allowance", 0.1, "share of the worst-case calls reserved for retries (0 to 1)")
	configPath := fs.String("config", "", "configuration `FILE` (default: ./evalrun.yaml when present); flags override it")
	paths, err := parseFlags(fs, args)
	if err != nil {
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
	if err := f.check(); err != nil {
		return err
	}
	if len(paths) == 0 && cfg != nil {
		paths = cfg.Suite
	}
	if len(paths) == 0 {
		return usageErr("no scenario paths given; e.g. evalrun run examples (or list them under suite: in evalrun.yaml)")
	}

	suite, err := scenarios.Load(paths...)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}

	// Quota: the worst case must fit the headroom before the first call.
	limit, quotaLabel, err := f.quota.limit()
	if err != nil {
		return err
	}
	cost, err := f.quota.costPerCall()
	if err != nil {
		return err
	}
	est := runner.EstimateCost(suite, cost, f.quota.retries)
	maxConv := 0
	var budget *runner.Budget
	headroom := int64(-1)
	if limit >= 0 {
		headroom = max(limit-f.quota.used, 0)
		if est.WorstCase > headroom {
			n, fit := runner.FitConversations(suite, headroom, cost, f.quota.retries)
			if !f.quota.partial || n == 0 {
				msg := fmt.Sprintf("the run needs up to %d %s (%d conversations) but only %d are left (%s, %d used)",
					est.WorstCase, f.quota.unit(), est.Conversations, headroom, quotaLabel, f.quota.used)
				if n > 0 {
					msg += fmt.Sprintf("; --partial runs the %d whole conversations that fit (up to %d %s)", n, fit.WorstCase, f.quota.unit())
				} else {
					msg += "; not even one conversation fits"
				}
				return usageErr("%s", msg)
			}
			maxConv = n
			est = fit
		}
		budget = runner.NewBudget(headroom, cost, est.WorstCase-est.Calls*cost)
	}

	conn, tgt, closeTarget, err := a.connect(&f)
	if err != nil {
		return err
	}
	defer closeTarget()

	healthCtx, cancel := context.WithTimeout(a.stop, 10*time.Second)
	err = conn.Health(healthCtx)
	cancel()
	if err != nil {
		return unfinishedErr("target %s is not healthy: %v", tgt.URL, err)
	}

	runID := newRunID()
	started := time.Now()
	agg := report.NewAggregator(report.Meta{
		RunID:   runID,
		Version: version,
		Started: started,
		Target:  tgt,
		Seed:    f.seed,
		Settings: map[string]any{
			"concurrency":  f.concurrency,
			"rate":         f.rate,
			"timeout":      f.timeout.String(),
			"max_attempts": f.attempts,
			"quota":        quotaLabel,
			"cost_unit":    f.quota.unit(),
			"partial":      maxConv > 0,
		},
	})

	total := est.Conversations
	prog := a.startProgress(&f, agg, total, budget)
	lim, burst, _ := parseRate("--rate", f.rate)
	opts := runner.Options{
		Conn:             conn,
		Concurrency:      f.concurrency,
		Budget:           budget,
		Retry:            runner.RetryPolicy{MaxAttempts: f.attempts},
		RunID:            runID,
		Seed:             f.seed,
		Observer:         agg,
		Abort:            a.abort,
		CallTimeout:      f.timeout,
		MaxConversations: maxConv,
	}
	if lim != rate.Inf {
		opts.Limiters = append(opts.Limiters, rate.NewLimiter(lim, burst))
	}
	sum, runErr := runner.Run(a.stop, suite, opts)
	prog.stop()

	fin := report.Finish{Ended: time.Now()}
	if sum != nil {
		fin.Interrupted = sum.Interrupted
		fin.StopReason = sum.StopReason
	}
	if budget != nil {
		fin.Budget = report.BudgetInfo{Unit: f.quota.unit(), Limit: limit, UsedBefore: f.quota.used, Spent: budget.Spent()}
	}
	res := agg.Result(fin)

	// Reports first: nothing recorded is lost, whatever stopped the run.
	if err := a.writeReports(res, &f.reports); err != nil {
		return err
	}

	switch {
	case errors.Is(runErr, runner.ErrInterrupted) || (runErr == nil && sum.Interrupted):
		return unfinishedErr("interrupted; the reports written are marked interrupted")
	case errors.Is(runErr, runner.ErrRejected):
		return unfinishedErr("the target refused the API key in %s (%v); the run stopped", f.apiKeyEnv, runErr)
	case errors.Is(runErr, runner.ErrQuotaExhausted):
		return unfinishedErr("the agent's quota is used up; the run stopped cleanly (results written)")
	case runErr != nil:
		return unfinishedErr("run failed: %v", runErr)
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
	case f.quota.retries < 0 || f.quota.retries > 1:
		return usageErr("--retry-allowance %v: must be between 0 and 1", f.quota.retries)
	case f.quota.used < 0:
		return usageErr("--quota-used %d: must not be negative", f.quota.used)
	case f.kind != "optimly":
		return usageErr("--kind %q: valid kinds are optimly", f.kind)
	}
	if _, _, err := parseRate("--rate", f.rate); err != nil {
		return err
	}
	return nil
}

func (q *quotaFlags) unit() string {
	if q.costUnit == "" {
		return "calls"
	}
	return q.costUnit
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
		key = a.getenv(f.apiKeyEnv)
		if key == "" {
			return nil, tgt, nil, usageErr("environment variable %s is empty; set it to the agent's API key (or name another with --api-key-env)", f.apiKeyEnv)
		}
		tgt.Name = u.Host
		if f.targetName != "" {
			tgt.Name = f.targetName
		}
		tgt.URL = u.Redacted()
	}
	conn, err := agent.NewOptimly(agent.Options{
		BaseURL:           tgtURL(f, tgt),
		APIKey:            key,
		Timeout:           f.timeout,
		MaxConns:          max(f.concurrency, 16),
		UserAgent:         "evalrun/" + version,
		AllowInsecureHTTP: f.allowHTTP,
	})
	if err != nil {
		closeFn()
		return nil, tgt, nil, usageErr("--target: %v", agent.Redact(err.Error(), key))
	}
	return conn, tgt, func() { conn.Close(); closeFn() }, nil
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
