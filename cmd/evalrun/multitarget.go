package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/config"
	"github.com/evalrun/evalrun/internal/regularfile"
	"github.com/evalrun/evalrun/report"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
	"github.com/evalrun/evalrun/session"
)

// Several targets side by side (docs/results.md): the same conversations
// (same run ID, seed, fake data and client IDs) go to every target at once,
// each with its own connection, limits, quota budget and ledger entry.

// sideTarget is one target of a run: from `--target NAME=URL` or a
// `targets:` entry of evalrun.yaml.
type sideTarget struct {
	name, kind, url, keyEnv, agentFile string
	// noKey: the entry says the target takes no key (api_key_env: "" or
	// auth: none); keyEnv is then "".
	noKey bool
	opts  *targetOptions // evalrun.yaml's transport settings; nil from the flags
	where string         // where it was given, for errors
}

// targetName is what `--target NAME=URL` accepts as a NAME.
var targetNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// splitNamed splits "NAME=VALUE"; ok is false for a plain value (a URL,
// whose query may hold '=' too: a NAME never holds ':' or '/').
func splitNamed(s string) (name, value string, ok bool) {
	name, value, ok = strings.Cut(s, "=")
	if !ok || name == "" || strings.ContainsAny(name, ":/?#") {
		return "", s, false
	}
	return name, value, true
}

// targetValue is --target: a URL (one target), or NAME=URL, repeated for
// several targets side by side.
type targetValue struct {
	plain  *string
	named  *[]sideTarget
	plains int
}

func (v *targetValue) String() string {
	if v == nil || v.plain == nil {
		return ""
	}
	return *v.plain
}

func (v *targetValue) Set(s string) error {
	name, u, ok := splitNamed(s)
	if !ok {
		if v.plains++; v.plains > 1 && *v.plain != s {
			return errors.New("a second target URL; to run several targets side by side name each one: --target a=URL --target b=URL")
		}
		*v.plain = s
		return nil
	}
	if !targetNameRE.MatchString(name) {
		return fmt.Errorf("target name %q: use letters, digits, '.', '_' and '-' (e.g. --target candidate=https://...)", name)
	}
	for _, t := range *v.named {
		if t.name == name {
			return fmt.Errorf("target name %q given twice; names must be unique", name)
		}
	}
	if u == "" {
		return fmt.Errorf("%s=: want %s=URL", name, name)
	}
	*v.named = append(*v.named, sideTarget{name: name, url: u, where: "--target " + name})
	return nil
}

func (v *targetValue) Repeatable() bool { return true }

// keyEnvValue is --api-key-env: a variable for every target, or NAME=VAR
// for the target NAME (repeatable).
type keyEnvValue struct {
	plain *string
	named *map[string]string
}

func (v *keyEnvValue) String() string {
	if v == nil || v.plain == nil {
		return ""
	}
	return *v.plain
}

func (v *keyEnvValue) Set(s string) error {
	name, env, ok := splitNamed(s)
	if !ok {
		*v.plain = s
		return nil
	}
	if env == "" {
		return fmt.Errorf("%s=: want %s=VARIABLE", name, name)
	}
	if *v.named == nil {
		*v.named = map[string]string{}
	}
	(*v.named)[name] = env
	return nil
}

func (v *keyEnvValue) Repeatable() bool { return true }

// visited returns the names of the flags set so far.
func visited(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// resolveTargets works out the run's targets after the flags and
// evalrun.yaml are applied. Several (named --target flags, or else two or
// more targets: entries) are returned for runSide; one named target, or
// one targets: entry, sets the single-target flags instead and nil is
// returned. A --target URL on the command line wins over the file.
func (f *runFlags) resolveTargets(cfg *config.File, getenv func(string) string) ([]sideTarget, error) {
	var out []sideTarget
	switch {
	case len(f.named) > 0:
		if f.target != "" {
			return nil, usageErr("--target %s and named targets (--target NAME=URL) both given; name every target", f.target)
		}
		out = append(out, f.named...)
		for i := range out {
			out[i].kind = f.kind
		}
	case f.cmdline["target"] || f.cmdline["agent"] || cfg == nil || len(cfg.Targets) == 0:
	default:
		for _, t := range cfg.Targets {
			opts, err := decodeTargetOptions(t, getenv)
			if err != nil {
				return nil, err
			}
			out = append(out, sideTarget{name: t.Name, kind: t.Kind, url: t.URL, keyEnv: t.APIKeyEnv, noKey: t.NoKey, agentFile: t.Agent,
				opts: opts, where: t.Pos.String() + ": target " + t.Name})
		}
		if len(out) == 1 {
			f.cfgOpts = out[0].opts // the flags hold the rest (applyTarget)
			if out[0].noKey && !f.cmdline["api-key-env"] {
				f.apiKeyEnv = "" // keyless, as the entry says
			}
			return nil, nil
		}
	}
	for name := range f.keyEnvs {
		found := false
		for _, t := range out {
			found = found || t.name == name
		}
		if !found {
			return nil, usageErr("--api-key-env %s=%s: no target is named %s", name, f.keyEnvs[name], name)
		}
	}
	for i := range out {
		if env := f.keyEnvs[out[i].name]; env != "" {
			out[i].keyEnv, out[i].noKey = env, false
		}
		if out[i].keyEnv == "" && !out[i].noKey {
			out[i].keyEnv = f.apiKeyEnv
		}
	}
	if len(out) == 1 {
		t := out[0]
		f.target, f.targetName, f.apiKeyEnv = t.url, t.name, t.keyEnv
		return nil, nil
	}
	return out, nil
}

// sideRun is one target's part of a run.
type sideRun struct {
	t      sideTarget
	spec   targetSpec
	q      quotaFlags
	cf     session.CostFunc
	lims   runLimits
	limStr string // the whole run's limits, for the result
	// timeout is the target's call timeout, for the result.
	timeout string
	qp      *session.Plan
	ac      *session.Account
	resID   string // the ledger reservation's id

	conn    agent.Conn
	closeFn func()
	tgt     report.Target
	tfile   *os.File
	agg     *report.Aggregator
	budget  *runner.Budget
	// recordJudge records the judge's work for this target in its result.
	recordJudge func(*report.Result)
	// recordUser records the simulated user's work in its result.
	recordUser func(*report.Result)
	sum        *runner.Summary
	err        error
}

// targetErr prefixes err with the target's name, keeping its exit code.
func targetErr(name string, err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return &exitError{code: ee.code, err: fmt.Errorf("target %s: %w", name, ee.err)}
	}
	return fmt.Errorf("target %s: %w", name, err)
}

// runSide runs suite against every target at once and reports them side
// by side.
func (a *app) runSide(f *runFlags, suite *scenarios.Suite, judge *runJudge, targets []sideTarget) error {
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.name
	}
	if unknown := report.UnknownTargets(f.gates.thresholds, names); len(unknown) > 0 {
		return usageErr("--threshold: target:%s names no target of the run; its targets are %s", unknown[0], strings.Join(names, ", "))
	}
	sides := make([]*sideRun, len(targets))
	for i, t := range targets {
		s := &sideRun{t: t}
		sides[i] = s
		if err := checkKind(t.kind); err != nil {
			return targetErr(t.name, err)
		}
		if t.url != "" {
			if u, err := url.Parse(t.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return usageErr("%s: url %q: want an http(s) URL such as https://api.optimly.io", t.where, agent.RedactURL(t.url))
			}
		}
		s.spec = a.sideSpec(f, t, t.url, "")
		s.timeout = s.spec.Timeout.String()
		s.q = f.quota
		spec := s.spec
		s.q.chatCost = spec.newChatCalls
	}
	return a.runSides(f, suite, judge, sides)
}

// runSides is a run's life in the CLI, for the lone target or several side
// by side: each side's limits, cost and quota checked (or shown, with
// --dry-run), every target connected and checked for health, the run
// through session.Run, the thresholds, the reports, and the exit code.
func (a *app) runSides(f *runFlags, suite *scenarios.Suite, judge *runJudge, sides []*sideRun) error {
	for _, s := range sides {
		if err := a.planSide(f, suite, s); err != nil {
			return err
		}
	}
	if f.quota.dryRun {
		if lone(sides) {
			if err := a.dryRun(a.stdout, sides[0].qp, sides[0].ac, sides[0].lims, sides[0].t.url, sides[0].t.keyEnv); err != nil {
				return err
			}
			// Not for a shard (or a --partial cut) without simulated
			// conversations: its calls are a single number.
			if s, qp := simulatedDryRun(suite), sides[0].qp; s != "" && (!qp.Bounded || qp.FewestCalls < qp.Full.Calls) {
				fmt.Fprintf(a.stdout, "%-17s %s\n", "simulated:", s)
			}
			return nil
		}
		for i, s := range sides {
			if i > 0 {
				fmt.Fprintln(a.stdout)
			}
			fmt.Fprintf(a.stdout, "━━ target %s\n", s.t.name)
			if err := a.dryRun(a.stdout, s.qp, s.ac, s.lims, s.t.url, s.t.keyEnv); err != nil {
				return targetErr(s.t.name, err)
			}
		}
		return nil
	}
	for _, s := range sides {
		if err := refusalErr(s.qp); err != nil {
			return s.wrap(err)
		}
	}
	defer func() {
		for _, s := range sides {
			if s.closeFn != nil {
				s.closeFn()
			}
		}
	}()
	for _, s := range sides {
		if err := a.connectSide(f, s); err != nil {
			return s.wrap(err)
		}
	}
	if err := a.checkHealth(f, sides); err != nil {
		return err
	}

	defer f.reports.closeTranscripts()
	results, err := a.runTargets(f, suite, judge, sides)
	if err != nil {
		return err
	}
	var streamErr error
	for _, s := range sides {
		if s.tfile != nil {
			if err := s.tfile.Close(); err != nil && streamErr == nil {
				streamErr = unfinishedErr("closing the transcripts file of target %s: %v", s.t.name, err)
			}
		}
	}
	run := report.NewRun(results...)
	report.EvaluateRunThresholds(run, f.gates.thresholds)

	// Reports first: nothing recorded is lost, whatever stopped the run.
	if err := a.writeRunReports(run, &f.reports); err != nil {
		return err
	}
	if streamErr != nil {
		return streamErr
	}
	printRunThresholds(a.stdout, run)

	for _, s := range sides {
		if err := s.runErrExit(); err != nil {
			return err
		}
	}
	if err := judgeErr(run.Targets...); err != nil {
		return err
	}
	if !run.Passed() {
		return &exitError{code: exitFailed, err: errNoMessage}
	}
	return nil
}

// sideSpec is the transport of target t: the run's flags, then the
// target's own settings from evalrun.yaml (the command line wins). A named
// target's debug log gets its name.
func (a *app) sideSpec(f *runFlags, t sideTarget, u, key string) targetSpec {
	g := *f
	g.kind = t.kind
	spec := specFromFlags(&g, u, key, t.url == "", a.stderr)
	t.opts.apply(&spec, f.cmdline)
	if spec.DebugFile != "" && spec.DebugFile != "-" && t.name != "" {
		spec.DebugFile = sidePath(spec.DebugFile, t.name, "")
	}
	return spec
}

// connectSide opens target s: its URL with the key from its variable, or a
// simulated agent of its own started in-process on loopback. The lone
// target of a run (no name) is named by evalrun.yaml's target, else its
// host, else "sim:" and its agent's name.
func (a *app) connectSide(f *runFlags, s *sideRun) error {
	t := s.t
	s.tgt = report.Target{Name: t.name, Kind: t.kind}
	u, key := t.url, ""
	closeSim := func() {}
	if t.url == "" {
		ag, err := a.loadSimAgent(t.agentFile)
		if err != nil {
			return err
		}
		// The in-process agent accepts one fresh key; no account needed.
		key = newKey()
		a.redactor().Add(key)
		ag.APIKeys = []string{key}
		srv, err := agentsim.Start(ag, "127.0.0.1:0")
		if err != nil {
			return unfinishedErr("starting the simulated agent: %v", err)
		}
		closeSim = func() { srv.Close() }
		u = srv.URL
		if t.name == "" {
			s.tgt.Name = "sim:" + ag.Name
			fmt.Fprintf(a.stderr, "evalrun: no --target given; simulated agent %q listening on %s\n", ag.Name, srv.URL)
		} else {
			fmt.Fprintf(a.stderr, "evalrun: target %s: simulated agent %q listening on %s\n", t.name, ag.Name, srv.URL)
		}
	} else {
		if t.name == "" {
			pu, err := url.Parse(t.url)
			if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
				return usageErr("--target %q: want an http(s) URL such as https://api.optimly.io", t.url)
			}
			s.tgt.Name = cmp.Or(f.targetName, pu.Host)
		}
		if err := a.checkKey(t); err != nil {
			return err
		}
		if t.keyEnv != "" { // "": keyless, as the user said (api_key_env: "", auth: none, --api-key-env "")
			key = a.secret(t.keyEnv)
		}
	}
	parsed, _ := url.Parse(u)
	s.tgt.URL = parsed.Redacted()
	spec := a.sideSpec(f, t, u, key)
	conn, closeConn, err := buildConn(spec)
	if err != nil {
		closeSim()
		return err
	}
	s.conn = conn
	s.closeFn = func() { closeConn(); closeSim() }
	s.tgt.OpenAI = openAITarget(spec, conn)
	return nil
}

// openSideTranscripts opens the target's own --transcripts all stream
// (RESULT.NAME.transcripts.jsonl): one file per target keeps every line
// whole.
func (a *app) openSideTranscripts(r *reportFlags, s *sideRun) (report.Transcripts, error) {
	p, err := report.ParseTranscriptPolicy(r.transcripts)
	if err != nil {
		return report.Transcripts{}, usageErr("--transcripts: %v", err)
	}
	tr := report.Transcripts{Policy: p, Sample: r.sample}
	if r.sample == 0 {
		tr.Sample = -1
	}
	if p == report.TranscriptsAll {
		path := sidePath(r.transcriptsPath(), s.t.name, ".transcripts.jsonl")
		f, err := os.Create(path)
		if err != nil {
			return tr, unfinishedErr("--transcripts all: %v", err)
		}
		s.tfile = f
		tr.Stream, tr.StreamName = f, path
	}
	return tr, nil
}

// sidePath inserts the target's name into a file name: before suffix when
// path ends with it, else before the extension (debug.log →
// debug.NAME.log).
func sidePath(path, name, suffix string) string {
	safe := safeFile(name)
	if suffix != "" {
		if base, ok := strings.CutSuffix(path, suffix); ok {
			return base + "." + safe + suffix
		}
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "." + safe + ext
}

// safeFile makes a target's name safe in a file name.
func safeFile(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, strings.TrimLeft(name, "."))
}

// writeRunReports writes the console summary to stdout and every file
// report asked for. For one target the reports are those of its result
// (each RunWriter writes a run of one target as its Writer writes the
// result); for several, side by side.
func (a *app) writeRunReports(run *report.Run, r *reportFlags) error {
	if err := (report.ConsoleWriter{}).WriteRun(a.stdout, run); err != nil {
		return fmt.Errorf("writing summary: %w", err)
	}
	return a.writeRunFiles(run, r)
}

// writeRunFiles closes the transcript stream and writes the file reports r
// asks for, one file holding every target (the .hgrm files of each target
// in a directory of its own under --hgrm when there are several). Each
// file is written atomically; a failing writer does not stop the others,
// and the first error is returned.
func (a *app) writeRunFiles(run *report.Run, r *reportFlags) error {
	var first error
	fail := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	write := func(path, what string, w report.RunWriter) {
		if path == "" {
			return
		}
		if err := report.WriteFileAtomic(path, func(out io.Writer) error { return w.WriteRun(a.redactor().Writer(out), run) }); err != nil {
			fail(unfinishedErr("writing %s %s: %v", what, path, err))
		}
	}
	if err := r.closeTranscripts(); err != nil {
		fail(unfinishedErr("closing the transcripts file: %v", err))
	}
	for _, res := range run.Targets {
		if ti := res.Transcripts; ti != nil && ti.StreamError != "" {
			if run.Single() {
				fail(unfinishedErr("the transcripts file %s is incomplete: %s", ti.File, ti.StreamError))
			} else {
				fail(unfinishedErr("the transcripts file %s of target %s is incomplete: %s", ti.File, res.Target.Name, ti.StreamError))
			}
		}
	}
	host, _ := os.Hostname()
	write(r.out, "result file", report.JSONWriter{})
	write(r.junit, "JUnit report", report.JUnitWriter{Hostname: host, Cases: r.junitCases})
	write(r.md, "Markdown summary", report.MarkdownWriter{})
	write(r.html, "HTML report", report.HTMLWriter{})
	if r.hgrm != "" {
		for _, res := range run.Targets {
			dir := r.hgrm
			if !run.Single() {
				dir = filepath.Join(r.hgrm, cmp.Or(safeFile(res.Target.Name), "target"))
			}
			if _, err := report.WriteHgrmDir(dir, res); err != nil {
				fail(unfinishedErr("writing histograms to %s: %v", dir, err))
			}
		}
	}
	return first
}

// printRunThresholds prints each threshold with its measured value and
// ✓/✗; with several targets each is labelled with its target.
func printRunThresholds(w io.Writer, run *report.Run) {
	if run.Single() {
		printThresholds(w, run.Targets[0])
		return
	}
	type row struct {
		label string
		t     report.ThresholdResult
	}
	var rows []row
	for _, res := range run.Targets {
		for _, t := range res.Thresholds {
			rows = append(rows, row{"[" + res.Target.Name + "] ", t})
		}
	}
	for _, t := range run.Thresholds {
		rows = append(rows, row{"", t})
	}
	if len(rows) == 0 {
		return
	}
	width := 0
	for _, r := range rows {
		width = max(width, len([]rune(r.label+r.t.Expr)))
	}
	fmt.Fprintln(w, "\nThresholds")
	for _, r := range rows {
		mark := "✓"
		if !r.t.Passed {
			mark = "✗"
		}
		s := r.label + r.t.Expr
		fmt.Fprintf(w, "  %s %s%s  %s\n", mark, s, strings.Repeat(" ", width-len([]rune(s))), r.t.Value)
	}
}

// runExit maps a run read back or merged to the exit code a run would
// have: 3 when a target was interrupted, 1 when one did not pass.
func runExit(run *report.Run) error {
	if run.Single() {
		return resultExit(run.Targets[0])
	}
	switch {
	case run.Interrupted:
		return unfinishedErr("the result was interrupted (%s)", run.StopReasons())
	case !run.Passed():
		return &exitError{code: exitFailed, err: errNoMessage}
	}
	return nil
}

// readRunArg reads a result file (one target or several) named on the
// command line; one that cannot be read is a usage error.
func readRunArg(path string) (*report.Run, error) {
	run, err := report.ReadRunFile(path)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	return run, nil
}

// regradeSide regrades every target of a side-by-side run with suite, each
// from its own transcripts file when it has one, and writes the regraded
// run to out.
func (a *app) regradeSide(run *report.Run, suite *scenarios.Suite, resultPath, out string) error {
	regraded := make([]*report.Result, len(run.Targets))
	for i, res := range run.Targets {
		if i > 0 {
			fmt.Fprintln(a.stdout)
		}
		fmt.Fprintf(a.stdout, "━━ target %s\n", res.Target.Name)
		var opts report.RegradeOptions
		if tf := transcriptsFile("", resultPath, res); tf != "" {
			f, err := regularfile.Open(tf)
			if err != nil {
				return usageErr("target %s: transcripts: %v", res.Target.Name, err)
			}
			defer f.Close()
			opts.Transcripts = f
			fmt.Fprintf(a.stderr, "evalrun: target %s: regrading every conversation of %s\n", res.Target.Name, tf)
		}
		rep, err := report.Regrade(res, suite, opts)
		if err != nil {
			return &exitError{code: exitUsage, err: targetErr(res.Target.Name, err)}
		}
		if err := rep.WriteText(a.stdout); err != nil {
			return unfinishedErr("writing the regrade report: %v", err)
		}
		regraded[i] = rep.Result
	}
	next := report.NewRun(regraded...)
	next.Thresholds = run.Thresholds
	printRunThresholds(a.stdout, next)
	if out != "" {
		if err := report.WriteFileAtomic(out, func(w io.Writer) error { return report.JSONWriter{}.WriteRun(w, next) }); err != nil {
			return unfinishedErr("writing regraded result %s: %v", out, err)
		}
	}
	return runExit(next)
}

// runIDRE is what --run-id accepts: it goes into client IDs and file names.
var runIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// checkRunID validates --run-id.
func checkRunID(id string) error {
	if id != "" && !runIDRE.MatchString(id) {
		return usageErr("--run-id %q: use up to 64 letters, digits, '.', '_' and '-', starting with a letter or digit", id)
	}
	return nil
}

// newRunID is --run-id, or a fresh run ID.
func (f *runFlags) newRunID() string {
	if f.runID != "" {
		return f.runID
	}
	return newRunID()
}

// checkKey reports a real target (not the simulated agent) whose key
// variable is empty, unless the user said the target takes no key
// (keyEnv ""). It comes before the quota check of a run, so that a missing
// key is not answered with a quota computed without the ledger.
func (a *app) checkKey(t sideTarget) error {
	if t.url == "" || t.keyEnv == "" || a.secret(t.keyEnv) != "" {
		return nil
	}
	if t.name == "" {
		return usageErr("environment variable %s is empty; set it to the agent's API key (or name another with --api-key-env; for a server that takes no key, --api-key-env \"\")", t.keyEnv)
	}
	return usageErr("environment variable %s is empty; set it to the agent's API key (or name another with --api-key-env %s=VAR or api_key_env:; for a server that takes no key, api_key_env: \"\" or auth: none)", t.keyEnv, t.name)
}
