// Package soak drives randomized evalrun runs against the simulated agent
// and checks, after each, the promises of docs/reliability.md: the agent
// counted no more calls than the budget; the usage ledger grew by exactly
// the calls the agent counted; every conversation is in the result with one
// outcome; the result file loads back; the exit code is the documented one.
//
// A Case is one randomized run: a suite of scenario files, a simulated
// agent with faults (429 with Retry-After, 500/503, dropped connections,
// malformed and slow bodies), an optional server-side quota, the run's flags
// (concurrency 1–256, a budget from tiny to ample, --partial, --cost-unit,
// --transcripts all) and an interrupt schedule (a first and maybe a second
// Ctrl-C at random moments). The driver runs the CLI (bench/soak/run: the
// built binary, with real SIGINTs; cmd/evalrun's soak test: in-process)
// and hands the outcome to Case.Check.
//
// The package is a test helper: it prints nothing.
package soak

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evalrun/evalrun/agentsim"
	"github.com/evalrun/evalrun/examples"
	"github.com/evalrun/evalrun/ledger"
	"github.com/evalrun/evalrun/report"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// KeyEnv is the environment variable the runs read their API key from.
const KeyEnv = "SOAK_API_KEY"

// Scale bounds the size of a Case.
type Scale struct {
	// MaxConversations bounds the conversations of one run.
	MaxConversations int
	// MaxInterrupt is the latest moment of the first interrupt.
	MaxInterrupt time.Duration
	// MaxSlow is the longest stall of a slow body.
	MaxSlow time.Duration
}

// Full is the scale of bench/soak.sh; CI is the scale of the in-tree test.
var (
	Full = Scale{MaxConversations: 300, MaxInterrupt: 1500 * time.Millisecond, MaxSlow: 1500 * time.Millisecond}
	CI   = Scale{MaxConversations: 80, MaxInterrupt: 600 * time.Millisecond, MaxSlow: 600 * time.Millisecond}
)

// scenarioSpec is one generated scenario file.
type scenarioSpec struct {
	name    string
	repeat  int
	turns   []turnSpec
	onFail  string
	minPass float64
}

type turnSpec struct {
	user    string
	think   time.Duration
	expect  []string // YAML flow items, e.g. `{icontains: plan}`
	history bool
}

// Case is one randomized run.
type Case struct {
	Index int
	Seed  uint64

	scen []scenarioSpec

	// The simulated agent.
	Faults      agentsim.Faults
	Latency     time.Duration
	ServerQuota int64 // the agent's own monthly quota (0: none)

	// The run's flags.
	Concurrency    int
	MaxAttempts    int
	Timeout        time.Duration
	Quota          int64 // --quota in the cost unit; 0: no quota
	CostUnit       string
	Partial        bool
	RetryAllowance float64
	QuotaUsed      int64
	Transcripts    bool // --transcripts all

	// Interrupts, measured from the start of the process; 0: none.
	Interrupt, SecondInterrupt time.Duration

	// Key is the API key the agent accepts and the run reads from KeyEnv.
	Key string

	// Set by Prepare.
	Dir, ScenarioDir, Out, Ledger string
}

var userLines = []string{
	"Hi! What plans do you have?",
	"How much is the growth plan?",
	"Do you integrate with Slack?",
	"Is my data safe? Tell me about security.",
	"What are your support hours?",
	"Can I get a refund?",
	"I'm Dana, dana@example.com. Please have sales call me.",
	"Can I talk to a human please?",
	"Tell me a joke about databases.",
}

var expectations = []string{
	`{icontains: plan}`,
	`{not_icontains: sorry}`,
	`{min_length: 5}`,
	`{max_latency: 5s}`,
	`{regex: '\$\s?\d+'}`,
	`{icontains: zebra}`, // fails: exercises exit 1
	`{any: [{icontains: slack}, {icontains: help}, {icontains: plan}]}`,
}

// NewCase draws case number index of the soak seeded with seed.
func NewCase(seed uint64, index int, sc Scale) *Case {
	rng := rand.New(rand.NewPCG(seed, uint64(index)))
	c := &Case{Index: index, Seed: seed, Key: fmt.Sprintf("soak-%016x-%d", rng.Uint64(), index)}
	// The suite: up to MaxConversations conversations in 1–4 scenarios.
	nScen := 1 + rng.IntN(4)
	budgetConv := 1 + rng.IntN(sc.MaxConversations)
	for s := 0; s < nScen; s++ {
		sp := scenarioSpec{name: fmt.Sprintf("s%d", s+1), repeat: max(1, budgetConv/nScen/(1+rng.IntN(3)))}
		nTurns := 1 + rng.IntN(4)
		for t := 0; t < nTurns; t++ {
			ts := turnSpec{user: userLines[rng.IntN(len(userLines))]}
			if rng.IntN(4) == 0 {
				ts.think = time.Duration(rng.IntN(40)) * time.Millisecond
			}
			for range rng.IntN(3) {
				ts.expect = append(ts.expect, expectations[rng.IntN(len(expectations))])
			}
			ts.history = rng.IntN(6) == 0
			sp.turns = append(sp.turns, ts)
		}
		if rng.IntN(3) == 0 {
			sp.onFail = "continue"
		}
		if rng.IntN(4) == 0 {
			sp.minPass = 0.5
		}
		c.scen = append(c.scen, sp)
	}

	// Faults: each kind present in about half the cases; their sum < 1.
	frac := func(maxF float64) float64 {
		if rng.IntN(2) == 0 {
			return 0
		}
		return rng.Float64() * maxF
	}
	c.Faults = agentsim.Faults{
		Throttle:  frac(0.25),
		Error500:  frac(0.1),
		Error503:  frac(0.1),
		Drop:      frac(0.1),
		Malformed: frac(0.1),
		Slow:      frac(0.1),
	}
	if rng.IntN(4) == 0 {
		c.Faults.RetryAfter = time.Second // honoured: slows the run down
	}
	if c.Faults.Slow > 0 {
		c.Faults.SlowDelay = time.Duration(1+rng.Int64N(int64(sc.MaxSlow))) / time.Millisecond * time.Millisecond
	}
	c.Latency = time.Duration(rng.IntN(15)) * time.Millisecond

	// Flags.
	c.Concurrency = int(math.Round(math.Exp(rng.Float64() * math.Log(256))))
	c.Concurrency = min(max(c.Concurrency, 1), 256)
	c.MaxAttempts = 1 + rng.IntN(4)
	c.Timeout = []time.Duration{150 * time.Millisecond, 400 * time.Millisecond, 2 * time.Second, 10 * time.Second}[rng.IntN(4)]
	c.CostUnit = "calls"
	if rng.IntN(5) == 0 {
		c.CostUnit = "messages"
	}
	c.RetryAllowance = []float64{0, 0.05, 0.1, 0.5, 1}[rng.IntN(5)]
	worst := c.worstCaseCalls()
	if rng.IntN(8) != 0 { // most runs have a quota: tiny (1 call up) or ample (up to 2× the worst case)
		calls := int64(math.Round(math.Exp(rng.Float64() * math.Log(float64(worst)))))
		if rng.IntN(3) != 0 {
			calls = int64(float64(worst) * (1 + c.RetryAllowance) * (1 + rng.Float64()))
		}
		c.Quota = max(calls, 1) * c.cost()
		c.Partial = rng.IntN(2) == 0
		if rng.IntN(5) == 0 {
			c.QuotaUsed = rng.Int64N(c.Quota/2 + 1)
		}
	}
	if rng.IntN(6) == 0 { // the server says the quota is used up mid-run
		c.ServerQuota = 1 + rng.Int64N(int64(worst))
	}
	// Keep a run under about 20 s: a slow, throttled suite at concurrency
	// 1 would take minutes (Retry-After 1 s per 429), so raise concurrency.
	perCall := c.Latency + time.Duration(c.Faults.Slow*float64(min(c.Faults.SlowDelay, c.Timeout))) +
		time.Duration(c.Faults.Throttle*float64(c.Faults.RetryAfter)) + 5*time.Millisecond
	if serial := time.Duration(worst) * perCall; serial/time.Duration(c.Concurrency) > 20*time.Second {
		c.Concurrency = min(256, int(serial/(20*time.Second))+1)
	}
	c.Transcripts = rng.IntN(3) == 0
	if rng.IntN(2) == 0 {
		c.Interrupt = time.Duration(rng.Int64N(int64(sc.MaxInterrupt)))
		if rng.IntN(5) < 2 {
			c.SecondInterrupt = c.Interrupt + time.Duration(rng.Int64N(int64(500*time.Millisecond)))
		}
	}
	return c
}

// cost is the units one call costs.
func (c *Case) cost() int64 {
	if c.CostUnit == "messages" {
		return 2
	}
	return 1
}

// worstCaseCalls is the calls of the suite when nothing is retried.
func (c *Case) worstCaseCalls() int {
	n := 0
	for _, s := range c.scen {
		per := 1
		for _, t := range s.turns {
			per++
			if t.history {
				per++
			}
		}
		n += s.repeat * per
	}
	return n
}

// String describes the case in one line, to reproduce it.
func (c *Case) String() string {
	return fmt.Sprintf("case %d (seed %d): %d scenarios, %d worst-case calls, faults %+v, latency %v, server quota %d, args %s, interrupt %v/%v",
		c.Index, c.Seed, len(c.scen), c.worstCaseCalls(), c.Faults, c.Latency, c.ServerQuota, strings.Join(c.Args("URL"), " "), c.Interrupt, c.SecondInterrupt)
}

// Prepare writes the case's scenario files under dir and sets the paths of
// its outputs.
func (c *Case) Prepare(dir string) error {
	c.Dir = dir
	c.ScenarioDir = filepath.Join(dir, "suite")
	c.Out = filepath.Join(dir, "out", "result.json")
	c.Ledger = filepath.Join(dir, "state", "ledger.json")
	for _, d := range []string{c.ScenarioDir, filepath.Dir(c.Out)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, s := range c.scen {
		var b strings.Builder
		fmt.Fprintf(&b, "name: %s\nrepeat: %d\n", s.name, s.repeat)
		if s.onFail != "" {
			fmt.Fprintf(&b, "on_fail: %s\n", s.onFail)
		}
		if s.minPass > 0 {
			fmt.Fprintf(&b, "min_pass_rate: %g\n", s.minPass)
		}
		b.WriteString("turns:\n")
		for i, t := range s.turns {
			fmt.Fprintf(&b, "  - user: %q\n", t.user)
			if t.think > 0 {
				fmt.Fprintf(&b, "    think: %s\n", t.think)
			}
			exp := append([]string(nil), t.expect...)
			if t.history {
				exp = append(exp, fmt.Sprintf("{history: %d}", i+1))
			}
			if len(exp) > 0 {
				fmt.Fprintf(&b, "    expect: [%s]\n", strings.Join(exp, ", "))
			}
		}
		if err := os.WriteFile(filepath.Join(c.ScenarioDir, s.name+".yaml"), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// StartAgent starts the case's simulated agent on loopback.
func (c *Case) StartAgent() (*agentsim.Running, error) {
	ag, err := agentsim.ParseAgent("baseline.agent.yaml", examples.BaselineAgent)
	if err != nil {
		return nil, err
	}
	ag.APIKeys = []string{c.Key}
	ag.Latency = agentsim.LatencyModel{Fixed: c.Latency}
	ag.Faults = c.Faults
	ag.Quota = c.ServerQuota
	ag.Limits = agentsim.Limits{}
	ag.Seed = int64(c.Seed) + int64(c.Index)
	return agentsim.Start(ag, "127.0.0.1:0")
}

// Args returns the evalrun command line of the case against target url.
func (c *Case) Args(url string) []string {
	a := []string{"run", "--quiet",
		"--target", url, "--api-key-env", KeyEnv,
		"--concurrency", strconv.Itoa(c.Concurrency),
		"--max-attempts", strconv.Itoa(c.MaxAttempts),
		"--timeout", c.Timeout.String(),
		"--seed", strconv.Itoa(c.Index + 1),
		"--cost-unit", c.CostUnit,
		"--retry-allowance", strconv.FormatFloat(c.RetryAllowance, 'g', -1, 64),
		"--out", c.Out, "--ledger", c.Ledger,
	}
	if c.Quota > 0 {
		a = append(a, "--quota", strconv.FormatInt(c.Quota, 10))
		if c.QuotaUsed > 0 {
			a = append(a, "--quota-used", strconv.FormatInt(c.QuotaUsed, 10))
		}
	}
	if c.Partial {
		a = append(a, "--partial")
	}
	if c.Transcripts {
		a = append(a, "--transcripts", "all")
	}
	return append(a, c.ScenarioDir)
}

// Outcome is how the CLI process ended.
type Outcome struct {
	Exit     int  // exit code; meaningless when Signaled
	Signaled bool // killed by a signal (e.g. an interrupt before its handler was installed)
	Hung     bool // did not end in time and was killed
	Stderr   string
}

// Verdict is what Check found. Each flag is one kind of broken promise,
// except Refused and EarlyKill, which are documented behaviours counted on
// their own.
type Verdict struct {
	Overshoot   bool // the agent counted more calls than the budget
	LedgerOff   bool // the ledger's delta is not the agent's count
	Lost        bool // a conversation missing, or counted twice
	InvalidFile bool // no result file, or one that does not load
	BadExit     bool // an exit code other than the documented one
	Refused     bool // exit 2: the run did not fit the quota (documented)
	EarlyKill   bool // stopped by the interrupt before the first call (killed before the handler was installed, or interrupted while loading), nothing sent
	Unhealthy   bool // exit 3 before the first call: the health check failed (documented)
	Interrupted bool
	ServerCalls int64
	LedgerDelta int64
	// Unseen is the attempts charged (ledger, budget) that the agent never
	// counted: timed out or aborted before the request reached it.
	Unseen   int64
	Problems []string
}

// settledStats returns the agent's counters once they stop changing: a
// request the client abandoned at the very end may still be on its way to
// the handler when the process has ended.
func settledStats(srv *agentsim.Running) agentsim.Stats {
	st := srv.Server.Stats()
	for i := 0; i < 50; i++ {
		time.Sleep(10 * time.Millisecond)
		next := srv.Server.Stats()
		if next.AgentCalls == st.AgentCalls && i >= 2 {
			return next
		}
		st = next
	}
	return st
}

// OK reports whether every promise held.
func (v Verdict) OK() bool {
	return !v.Overshoot && !v.LedgerOff && !v.Lost && !v.InvalidFile && !v.BadExit
}

// Check checks the promises after the run of c against srv ended with o.
func (c *Case) Check(srv *agentsim.Running, o Outcome) Verdict {
	var v Verdict
	bad := func(flag *bool, format string, args ...any) {
		*flag = true
		v.Problems = append(v.Problems, fmt.Sprintf(format, args...))
	}
	st := settledStats(srv)
	v.ServerCalls = st.AgentCalls
	cost := c.cost()

	// 1. Budget: the agent never counted more than the headroom.
	if c.Quota > 0 {
		headroom := max(c.Quota-c.QuotaUsed, 0) / cost
		if v.ServerCalls > headroom {
			bad(&v.Overshoot, "agent counted %d calls, headroom %d calls", v.ServerCalls, headroom)
		}
	}

	// 2. Exit code and result file.
	res, rerr := report.ReadResultFile(c.Out)
	_, statErr := os.Stat(c.Out)
	exhausted := false
	switch {
	case o.Hung:
		bad(&v.BadExit, "the process did not end in time")
	case o.Signaled:
		if v.ServerCalls == 0 && c.Interrupt > 0 && errors.Is(statErr, os.ErrNotExist) {
			v.EarlyKill = true
		} else {
			bad(&v.BadExit, "killed by a signal after %d calls", v.ServerCalls)
		}
	case o.Exit == 2:
		if c.Quota > 0 && strings.Contains(o.Stderr, "evalrun: quota:") && v.ServerCalls == 0 {
			v.Refused = true
		} else {
			bad(&v.BadExit, "exit 2 for a valid run: %s", firstLine(o.Stderr))
		}
	case o.Exit == 3 && v.ServerCalls == 0 && c.Interrupt > 0 && strings.Contains(o.Stderr, "interrupted while loading the scenarios; nothing was sent") && errors.Is(statErr, os.ErrNotExist):
		// Ctrl-C while the suite was still loading: the run never
		// started, nothing was sent or charged, and no result is written.
		v.EarlyKill = true
	case o.Exit == 3 && v.ServerCalls == 0 && strings.Contains(o.Stderr, "is not healthy") && errors.Is(statErr, os.ErrNotExist):
		// The health check before the first call failed (here: an agent
		// too slow for a short --timeout on a loaded machine): the run
		// never started, nothing was sent or charged; exit 3 "target down".
		v.Unhealthy = true
	case o.Exit == 0 || o.Exit == 1 || o.Exit == 3:
		if rerr != nil {
			bad(&v.InvalidFile, "exit %d, result file: %v; stderr: %s", o.Exit, rerr, firstLine(o.Stderr))
			break
		}
		v.Interrupted = res.Interrupted
		exhausted = res.StopReason == runner.StopQuotaExhausted
		switch {
		case o.Exit == 0 && !res.Passed():
			bad(&v.BadExit, "exit 0 but the result did not pass")
		case o.Exit == 1 && (res.Passed() || res.Interrupted || res.StopReason != ""):
			bad(&v.BadExit, "exit 1 but passed=%v interrupted=%v stop=%q", res.Passed(), res.Interrupted, res.StopReason)
		case o.Exit == 3 && !res.Interrupted && res.StopReason == "":
			bad(&v.BadExit, "exit 3 but the result is neither interrupted nor stopped: %s", firstLine(o.Stderr))
		case o.Exit != 3 && (res.Interrupted || res.StopReason != ""):
			bad(&v.BadExit, "exit %d but interrupted=%v stop=%q", o.Exit, res.Interrupted, res.StopReason)
		}
		if o.Exit == 3 && c.Interrupt == 0 && c.ServerQuota == 0 && res.StopReason != runner.StopQuotaExhausted {
			bad(&v.BadExit, "exit 3 without interrupt or quota: %s", firstLine(o.Stderr))
		}
		c.checkConversations(res, &v, bad)
	default:
		bad(&v.BadExit, "exit %d: %s", o.Exit, firstLine(o.Stderr))
	}

	// 3. Ledger: grown by exactly the agent's count (raised to the quota
	// when the server said it is used up), no reservation left behind.
	fp := ledger.Fingerprint(c.Key)
	cycle, _ := ledger.CycleID(time.Now(), 1)
	if _, err := os.Stat(c.Ledger); err == nil || v.ServerCalls > 0 {
		led, err := ledger.Open(c.Ledger)
		if err != nil {
			bad(&v.LedgerOff, "ledger: %v", err)
			return v
		}
		u, err := led.Usage(fp, cycle, "")
		if err != nil {
			bad(&v.LedgerOff, "ledger: %v", err)
			return v
		}
		v.LedgerDelta = u.Calls
		// The ledger records every attempt the client sent, exactly once:
		// it equals the result's attempts (raised to the quota when the
		// server said it is used up). The agent may have seen fewer: an
		// attempt timed out or aborted before the request reached it is
		// still charged, as the client cannot know. It must never have
		// seen more: that would be a call nobody charged.
		recorded := v.ServerCalls
		if res != nil {
			recorded = res.Totals.Attempts
		}
		want := recorded
		if exhausted && c.Quota > 0 {
			want = max(want, (c.Quota+cost-1)/cost)
		}
		detail := func() string {
			var spent int64
			if res != nil {
				spent = res.Budget.Spent
			}
			return fmt.Sprintf("exhausted %v; result attempts %d, budget spent %d; agent dropped %d, canceled %d, by status %v",
				exhausted, recorded, spent, st.Dropped, st.Canceled, st.ByStatus)
		}
		switch {
		case u.Calls != want:
			bad(&v.LedgerOff, "ledger delta %d, want %d (%s)", u.Calls, want, detail())
		case v.ServerCalls > recorded:
			bad(&v.LedgerOff, "agent counted %d calls, the run recorded %d attempts (%s)", v.ServerCalls, recorded, detail())
		case v.ServerCalls < recorded:
			v.Unseen = recorded - v.ServerCalls
		}
		if u.Reserved != 0 && !v.EarlyKill {
			bad(&v.LedgerOff, "ledger still holds a reservation of %d calls", u.Reserved)
		}
	}
	return v
}

// expectedConversations is how many conversations the run replays: the
// whole suite, or with --partial the largest whole set that fits.
func (c *Case) expectedConversations() (int, error) {
	suite, err := scenarios.Load(c.ScenarioDir)
	if err != nil {
		return 0, err
	}
	cost := c.cost()
	est := runner.EstimateCost(suite, cost, c.RetryAllowance)
	if c.Quota <= 0 {
		return int(est.Conversations), nil
	}
	headroom := max(c.Quota-c.QuotaUsed, 0)
	if est.WorstCase <= headroom {
		return int(est.Conversations), nil
	}
	n, _ := runner.FitConversations(suite, headroom, cost, c.RetryAllowance)
	return n, nil
}

func (c *Case) checkConversations(res *report.Result, v *Verdict, bad func(*bool, string, ...any)) {
	want, err := c.expectedConversations()
	if err != nil {
		bad(&v.Lost, "loading the suite back: %v", err)
		return
	}
	t := res.Totals
	if t.Conversations != want {
		bad(&v.Lost, "result accounts for %d conversations, the run has %d", t.Conversations, want)
	}
	if sum := t.Total(); sum != t.Conversations {
		bad(&v.Lost, "outcomes add up to %d, conversations %d", sum, t.Conversations)
	}
	runs := 0
	for _, s := range res.Scenarios {
		runs += s.Runs
		if s.Total() != s.Runs {
			bad(&v.Lost, "scenario %s: outcomes do not add up to its %d runs", s.Name, s.Runs)
		}
	}
	if runs != t.Conversations {
		bad(&v.Lost, "scenarios hold %d runs, totals %d conversations", runs, t.Conversations)
	}
	if !c.Transcripts {
		return
	}
	// Every conversation streamed exactly once, with one outcome.
	path := strings.TrimSuffix(c.Out, ".json") + ".transcripts.jsonl"
	f, err := os.Open(path)
	if err != nil {
		bad(&v.Lost, "transcripts: %v", err)
		return
	}
	defer f.Close()
	seen := map[int]int{}
	outcomes := map[runner.Outcome]int{}
	err = report.ReadTranscripts(bufio.NewReader(f), func(l *report.TranscriptLine) error {
		seen[l.ID]++
		outcomes[l.Outcome]++
		return nil
	})
	if err != nil {
		bad(&v.InvalidFile, "transcripts: %v", err)
		return
	}
	var dup, missing []int
	for id := 1; id <= want; id++ {
		switch seen[id] {
		case 0:
			missing = append(missing, id)
		case 1:
		default:
			dup = append(dup, id)
		}
	}
	if len(seen) != want || len(dup)+len(missing) > 0 {
		sort.Ints(dup)
		bad(&v.Lost, "transcripts hold %d distinct conversations of %d; missing %v, repeated %v", len(seen), want, head(missing), head(dup))
	}
	if outcomes[runner.Passed] != t.Passed || outcomes[runner.Failed] != t.Failed || outcomes[runner.NotRun] != t.NotRun {
		bad(&v.Lost, "transcript outcomes %v differ from totals %+v", outcomes, t)
	}
}

func head(xs []int) []int {
	if len(xs) > 5 {
		return xs[:5]
	}
	return xs
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Tally counts verdicts.
type Tally struct {
	Runs, OK, Overshoots, LedgerOff, Lost, InvalidFiles, BadExits int
	Refused, EarlyKills, Interrupted, Unhealthy                   int
	ServerCalls, Unseen                                           int64
	RunsWithUnseen                                                int
}

// Add counts v.
func (t *Tally) Add(v Verdict) {
	t.Runs++
	t.ServerCalls += v.ServerCalls
	t.Unseen += v.Unseen
	if v.Unseen > 0 {
		t.RunsWithUnseen++
	}
	for _, x := range []struct {
		b bool
		n *int
	}{{v.OK(), &t.OK}, {v.Overshoot, &t.Overshoots}, {v.LedgerOff, &t.LedgerOff}, {v.Lost, &t.Lost},
		{v.InvalidFile, &t.InvalidFiles}, {v.BadExit, &t.BadExits}, {v.Refused, &t.Refused},
		{v.EarlyKill, &t.EarlyKills}, {v.Interrupted, &t.Interrupted}, {v.Unhealthy, &t.Unhealthy}} {
		if x.b {
			*x.n++
		}
	}
}

// Failed reports whether a promise was broken in some run.
func (t *Tally) Failed() bool { return t.OK != t.Runs }

// String prints the counts.
func (t *Tally) String() string {
	return fmt.Sprintf("runs %d, ok %d | overshoots %d, ledger mismatches %d, lost conversations %d, invalid files %d, bad exit codes %d | refused over quota (exit 2) %d, health check failed (exit 3) %d, interrupted %d, stopped before the first call %d | agent calls %d, attempts charged but never seen by the agent (timed out or aborted on the way) %d in %d runs",
		t.Runs, t.OK, t.Overshoots, t.LedgerOff, t.Lost, t.InvalidFiles, t.BadExits, t.Refused, t.Unhealthy, t.Interrupted, t.EarlyKills, t.ServerCalls, t.Unseen, t.RunsWithUnseen)
}
