package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/evalrun/evalrun/config"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// validate parses and checks scenarios without a call: every problem at
// once (exit 2), or a one-paragraph plan of what a run would do.
func (a *app) validate(args []string) error {
	fs := a.newFlagSet("validate", "validate [flags] [paths...]")
	var q quotaFlags
	q.register(fs, false)
	configPath := fs.String("config", "", "configuration `FILE` (default: ./evalrun.yaml when present): suite paths, defaults, judge, env_allow and quota settings")
	kind := fs.String("kind", "optimly", "target kind, for the count of new-chat calls: optimly, openai or http (default: evalrun.yaml's targets)")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	kindGiven := visited(fs)["kind"]
	if err := checkKind(*kind); err != nil {
		return err
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	if err := applyKnownSettings(cfg, fs); err != nil {
		return err
	}
	if err := q.check(); err != nil {
		return err
	}
	// A new chat costs a call unless the target keeps chats client-side
	// (openai, http without create_session): the worst over the file's
	// targets, unless --kind says which.
	chatCalls := kindNewChatCalls(*kind)
	if !kindGiven && cfg != nil && len(cfg.Targets) > 0 {
		chatCalls = 0
		for _, t := range cfg.Targets {
			chatCalls = max(chatCalls, kindNewChatCalls(t.Kind))
		}
	}
	q.chatCost = func() int { return chatCalls }
	suite, err := a.loadSuite("validate", cfg, paths)
	if err != nil {
		return err
	}
	plan, err := validatePlan(suite, &q, cfg != nil && cfg.Judge != nil)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, plan)
	return nil
}

// validatePlan is the one-paragraph summary of a valid suite: scenarios as
// written and after matrix expansion, conversations, turns, the worst-case
// agent calls and judge calls, and the headroom when a plan or quota is set.
func validatePlan(suite *scenarios.Suite, q *quotaFlags, judge bool) (string, error) {
	cost, err := q.costPerCall()
	if err != nil {
		return "", err
	}
	limit, label, err := q.limit()
	if err != nil {
		return "", err
	}
	written := map[[2]string]bool{}
	for _, sc := range suite.Scenarios {
		written[[2]string{sc.File, sc.BaseName}] = true
	}
	est := runner.EstimateCost(suite, cost, q.retries, q.costOptions()...)
	chats := suite.Conversations()
	if q.chatCost != nil {
		chats *= q.chatCost()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ok: %s", plural(len(written), "scenario"))
	if len(written) != len(suite.Scenarios) {
		fmt.Fprintf(&b, " (%d after matrix expansion)", len(suite.Scenarios))
	}
	fmt.Fprintf(&b, ", %s, %s; at most %s (%d new chats + %d turns",
		plural(suite.Conversations(), "conversation"), plural(suite.Turns(), "turn"),
		plural64(est.Calls, "agent call"), chats, suite.Turns())
	if extra := est.Calls - int64(chats+suite.Turns()); extra > 0 {
		fmt.Fprintf(&b, " + %d history reads", extra)
	}
	fmt.Fprintf(&b, "), a worst case of %d %s with the %.0f%% retry allowance", est.WorstCase, q.unit(), q.retries*100)
	b.WriteString(simulatedPlan(suite, runner.EstimateCost(suite, cost, q.retries, append(q.costOptions(), runner.FewestTurns())...).Calls))
	if n := suite.JudgeCalls(); n > 0 {
		fmt.Fprintf(&b, "; up to %s, outside the agent's quota", plural(n, "judge call"))
		if !judge {
			b.WriteString(" (no judge is configured: they would fail)")
		}
	}
	switch {
	case limit < 0 && label != "no quota set":
		fmt.Fprintf(&b, "; %s is unlimited", label)
	case limit >= 0:
		head := max(limit-q.used, 0)
		fmt.Fprintf(&b, "; %s leaves %d %s of headroom", label, head, q.unit())
		if q.used > 0 {
			fmt.Fprintf(&b, " after %d used", q.used)
		}
		if est.WorstCase <= head {
			fmt.Fprintf(&b, ", %d after this run", head-est.WorstCase)
		} else {
			fmt.Fprintf(&b, ": the run does NOT fit (short by %d; `evalrun run --partial` runs the whole conversations that fit)", est.WorstCase-head)
		}
	}
	b.WriteString(".")
	return b.String(), nil
}

func plural(n int, what string) string { return plural64(int64(n), what) }

func plural64(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// applyKnownSettings sets the flags of fs that evalrun.yaml sets and the
// command line did not; the file's other settings belong to other commands
// and are ignored here.
func applyKnownSettings(cfg *config.File, fs *flag.FlagSet) error {
	if cfg == nil {
		return nil
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs config.ErrorList
	for _, s := range cfg.Settings {
		if fs.Lookup(s.Name) == nil || s.Name == "config" || given[s.Name] {
			continue
		}
		for _, v := range s.Values {
			if err := fs.Set(s.Name, v); err != nil {
				errs = append(errs, &config.Error{Pos: s.Pos, Msg: fmt.Sprintf("%s: invalid value %q: %v", s.Name, v, err)})
				break
			}
		}
	}
	if len(errs) > 0 {
		return &exitError{code: exitUsage, err: errs}
	}
	return nil
}

// loadSuite loads the scenarios at paths, or at evalrun.yaml's suite when
// none are given, with the file's defaults, judge and env_allow.
func (a *app) loadSuite(cmd string, cfg *config.File, paths []string) (*scenarios.Suite, error) {
	if len(paths) == 0 && cfg != nil {
		paths = cfg.Suite
	}
	if len(paths) == 0 {
		return nil, usageErr("no scenario paths given; e.g. evalrun %s examples (or list them under suite: in evalrun.yaml)", cmd)
	}
	opts, err := a.scenarioOptions(cfg)
	if err != nil {
		return nil, err
	}
	// An interrupt (Ctrl-C, SIGTERM) stops the load: a large suite takes
	// seconds, and nothing has been sent yet.
	suite, err := scenarios.LoadContext(a.stop, opts, paths...)
	if errors.Is(err, scenarios.ErrLoadInterrupted) {
		return nil, unfinishedErr("interrupted while loading the scenarios; nothing was sent")
	}
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	return suite, nil
}

// scenarioOptions turns evalrun.yaml's defaults, judge and env_allow into
// the scenarios' load options. Without a file, no judge is configured.
func (a *app) scenarioOptions(cfg *config.File) (scenarios.LoadOptions, error) {
	opts := scenarios.LoadOptions{LookupEnv: func(name string) (string, bool) {
		v := a.getenv(name)
		return v, v != ""
	}}
	if cfg == nil {
		return opts, nil
	}
	opts.JudgeConfigured = cfg.Judge != nil
	opts.EnvAllow = cfg.EnvAllow
	if cfg.Defaults != nil {
		df, err := scenarios.ParseDefaults(cfg.Path, cfg.Defaults)
		if err != nil {
			return opts, &exitError{code: exitUsage, err: err}
		}
		opts.Defaults = df
	}
	return opts, nil
}
