package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evalrun/evalrun/internal/netaddr"
	"github.com/evalrun/evalrun/ledger"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// plans maps a plan name to its monthly API calls; -1 is unlimited.
var plans = map[string]int64{
	"starter":    1_000,
	"growth":     10_000,
	"scale":      100_000,
	"enterprise": -1,
}

// ledgerEnv names the environment variable that overrides the ledger's
// location (the --ledger flag wins over it).
const ledgerEnv = "EVALRUN_LEDGER"

// quotaFlags are the quota settings of a run (and of "evalrun quota").
type quotaFlags struct {
	plan       string
	quota      int64
	used       int64 // --quota-used: usage outside this machine's ledger
	costUnit   string
	partial    bool
	retries    float64 // retry allowance as a fraction of the worst-case calls
	cycleStart int
	ledgerPath string
	dryRun     bool
	// chatCost, when set, returns how many agent calls one new chat of the
	// target makes (agent.NewChatCost: 0 for targets that keep chats
	// client-side); nil means 1. The run's register sets it from --kind.
	chatCost func() int
}

// register adds the quota flags to fs; run adds --partial and --dry-run.
func (q *quotaFlags) register(fs *flag.FlagSet, run bool) {
	fs.StringVar(&q.plan, "plan", "", "the agent's plan: starter, growth, scale, enterprise")
	fs.Var(countValue{&q.quota}, "quota", "monthly quota: `N` in the cost unit, 0 to 10^15 (instead of --plan)")
	fs.Var(countValue{&q.used}, "quota-used", "quota used this billing cycle outside this machine's ledger: `N` (0 to 10^15), added to the ledger's count")
	fs.StringVar(&q.costUnit, "cost-unit", "calls", "what the quota counts: calls, or messages (2 per call)")
	fs.Float64Var(&q.retries, "retry-allowance", 0.1, "share of the worst-case calls reserved for retries (0 to 1)")
	fs.IntVar(&q.cycleStart, "cycle-start", 1, "day of the month (1-28, UTC) the billing cycle starts")
	fs.StringVar(&q.ledgerPath, "ledger", "", "usage ledger `FILE` (default $"+ledgerEnv+", else $XDG_STATE_HOME/evalrun/ledger.json)")
	if run {
		fs.BoolVar(&q.partial, "partial", false, "when the run does not fit the quota, run the whole conversations that fit")
		fs.BoolVar(&q.dryRun, "dry-run", false, "print the conversations, calls, quota headroom and minimum duration; make no call")
		// The run's --kind, read when the cost is worked out (after flags
		// and evalrun.yaml are applied), says what a new chat costs.
		q.chatCost = func() int {
			if k := fs.Lookup("kind"); k != nil {
				return kindNewChatCalls(k.Value.String())
			}
			return 1
		}
	}
}

// costOptions are the runner's estimate options for the run's target.
func (q *quotaFlags) costOptions() []runner.CostOption {
	if q.chatCost == nil {
		return nil
	}
	return []runner.CostOption{runner.NewChatCalls(q.chatCost())}
}

// check validates the quota flags.
func (q *quotaFlags) check() error {
	switch {
	case q.retries < 0 || q.retries > 1 || q.retries != q.retries:
		return usageErr("--retry-allowance %v: must be between 0 and 1", q.retries)
	case q.used < 0:
		return usageErr("--quota-used %d: must not be negative", q.used)
	case q.cycleStart < 1 || q.cycleStart > 28:
		return usageErr("--cycle-start %d: must be a day from 1 to 28 (every month has it)", q.cycleStart)
	}
	if _, _, err := q.limit(); err != nil {
		return err
	}
	_, err := q.costPerCall()
	return err
}

// limit returns the quota in the cost unit (-1 for unlimited) and a label
// for reports.
func (q *quotaFlags) limit() (int64, string, error) {
	switch {
	case q.plan != "" && q.quota != 0:
		return 0, "", usageErr("--plan and --quota both set; give one")
	case q.quota < 0:
		return 0, "", usageErr("--quota %d: must be a positive number of %s", q.quota, q.unit())
	case q.quota > 0:
		return q.quota, fmt.Sprintf("quota %d", q.quota), nil
	case q.plan != "":
		n, ok := plans[strings.ToLower(q.plan)]
		if !ok {
			return 0, "", usageErr("--plan %q: valid plans are starter (1,000 calls/month), growth (10,000), scale (100,000), enterprise (unlimited)", q.plan)
		}
		return n, "plan " + strings.ToLower(q.plan), nil
	}
	return -1, "no quota set", nil
}

// costPerCall is what one agent call costs in the quota's unit. With
// "messages" a turn counts the user's message and the agent's reply; a
// new-chat call is charged the same (conservatively) so that one price
// bounds every call.
func (q *quotaFlags) costPerCall() (int64, error) {
	switch q.costUnit {
	case "calls", "":
		return 1, nil
	case "messages":
		return 2, nil
	}
	return 0, usageErr("--cost-unit %q: valid units are calls, messages", q.costUnit)
}

func (q *quotaFlags) unit() string {
	if q.costUnit == "" {
		return "calls"
	}
	return q.costUnit
}

// ledgerFile returns where the ledger is: --ledger, $EVALRUN_LEDGER, or the
// XDG default.
func (a *app) ledgerFile(q *quotaFlags) (string, error) {
	if q.ledgerPath != "" {
		return q.ledgerPath, nil
	}
	if p := a.getenv(ledgerEnv); p != "" {
		return p, nil
	}
	p, err := ledger.DefaultPath(a.getenv)
	if err != nil {
		return "", usageErr("cannot place the usage ledger (%v); set XDG_STATE_HOME or HOME, or pass --ledger FILE", err)
	}
	return p, nil
}

// account is one API key's entry in one billing cycle of the ledger.
type account struct {
	led        *ledger.Ledger
	fp, cycle  string
	cycleStart time.Time
	keyEnv     string
}

func (ac *account) String() string {
	return fmt.Sprintf("key %s (fingerprint %s), billing cycle from %s", ac.keyEnv, ac.fp, ac.cycle)
}

// openAccount opens the ledger entry of key in the current billing cycle.
func (a *app) openAccount(q *quotaFlags, key, keyEnv string) (*account, error) {
	path, err := a.ledgerFile(q)
	if err != nil {
		return nil, err
	}
	led, err := ledger.Open(path)
	if err != nil {
		return nil, unfinishedErr("%v", err)
	}
	now := time.Now()
	start, err := ledger.CycleStart(now, q.cycleStart)
	if err != nil {
		return nil, usageErr("--cycle-start: %v", err)
	}
	return &account{led: led, fp: ledger.Fingerprint(key), cycle: start.Format(time.DateOnly), cycleStart: start, keyEnv: keyEnv}, nil
}

// costFunc returns a run's cost at costPerCall units a call (opts say what
// a new chat costs): its estimate, whether the conversation count is known
// in advance (false: a --duration run bounded by its budget), and how many
// conversations fit a headroom.
type costFunc func(costPerCall int64, opts ...runner.CostOption) (est runner.Estimate, bounded bool, fit func(headroom int64) (int64, runner.Estimate))

// suiteCost is the cost of replaying the suite once (Repeat per scenario).
func suiteCost(suite *scenarios.Suite, retryFraction float64) costFunc {
	return func(cost int64, opts ...runner.CostOption) (runner.Estimate, bool, func(int64) (int64, runner.Estimate)) {
		return runner.EstimateCost(suite, cost, retryFraction, opts...), true, func(headroom int64) (int64, runner.Estimate) {
			n, e := runner.FitConversations(suite, headroom, cost, retryFraction, opts...)
			return int64(n), e
		}
	}
}

// quotaPlan is a run's cost checked against the quota.
type quotaPlan struct {
	limit   int64 // the quota in units; -1 unlimited
	label   string
	cost    int64 // units per call
	unit    string
	est     runner.Estimate // of what will run (after --partial)
	full    runner.Estimate // of the whole run
	bounded bool
	// fewestCalls is full.Calls with every simulated conversation at the
	// fewest turns it may send (runner.FewestTurns); full.Calls without
	// simulated conversations.
	fewestCalls int64

	ledgerUsed int64 // units charged in the ledger this cycle
	extraUsed  int64 // --quota-used
	reserved   int64 // units reserved by other runs in progress
	headroom   int64 // -1 unlimited
	exhausted  time.Time

	maxConv int64 // > 0: --partial runs this many conversations
	// refusal, when set, is why the run may not start.
	refusal error
}

// usedBefore is the units used before the run: the ledger's count plus
// --quota-used.
func (p *quotaPlan) usedBefore() int64 { return p.ledgerUsed + p.extraUsed }

// reserveCalls is the calls the run reserves in the ledger: its worst case
// (the whole headroom when the count is not known in advance), nothing
// without a quota.
func (p *quotaPlan) reserveCalls() int64 {
	if p.limit < 0 || p.refusal != nil {
		return 0
	}
	units := p.est.WorstCase
	if !p.bounded {
		units = p.headroom
	}
	return (units + p.cost - 1) / p.cost
}

// budget returns the run's budget: nil without a quota.
func (p *quotaPlan) budget(retryFraction float64) *runner.Budget {
	if p.limit < 0 {
		return nil
	}
	if p.bounded {
		return runner.NewBudget(min(p.headroom, p.est.WorstCase), p.cost, p.est.RetryAllowance)
	}
	allowance := int64(float64(p.headroom) * retryFraction / (1 + retryFraction))
	return runner.NewBudget(p.headroom, p.cost, allowance)
}

// planQuota checks the run's cost against the quota given what the ledger
// says is used (u; zero without a ledger). A run that does not fit gets a
// refusal naming both numbers, or with --partial the conversations that fit.
//
// share, if not nil, gives the part of the headroom this run may use (a
// shard's share).
func planQuota(q *quotaFlags, cf costFunc, share func(int64) int64, u ledger.Usage) (*quotaPlan, error) {
	limit, label, err := q.limit()
	if err != nil {
		return nil, err
	}
	cost, err := q.costPerCall()
	if err != nil {
		return nil, err
	}
	p := &quotaPlan{limit: limit, label: label, cost: cost, unit: q.unit(), headroom: -1,
		ledgerUsed: u.Calls * cost, extraUsed: q.used, reserved: u.Reserved * cost, exhausted: u.Exhausted}
	est, bounded, fit := cf(cost, q.costOptions()...)
	p.est, p.full, p.bounded = est, est, bounded
	p.fewestCalls = est.Calls
	if bounded {
		fe, _, _ := cf(cost, append(slices.Clone(q.costOptions()), runner.FewestTurns())...)
		p.fewestCalls = min(fe.Calls, est.Calls)
	}
	if limit >= 0 {
		p.headroom = max(limit-p.usedBefore()-p.reserved, 0)
		if share != nil {
			p.headroom = share(p.headroom)
		}
	}
	if !p.exhausted.IsZero() && p.headroom <= 0 {
		p.refusal = fmt.Errorf("the server said on %s that this key's quota is used up for the billing cycle; the ledger refuses new runs until the cycle ends. "+
			"If the plan was upgraded, pass the new --plan or --quota; if the provider reset the quota, run `evalrun quota --reset`",
			p.exhausted.UTC().Format("2006-01-02 15:04 MST"))
		return p, nil
	}
	if limit < 0 {
		return p, nil
	}
	used := fmt.Sprintf("%d used", p.usedBefore())
	if p.reserved > 0 {
		used += fmt.Sprintf(", %d reserved by other runs in progress", p.reserved)
	}
	switch {
	case !bounded && p.headroom <= 0:
		p.refusal = fmt.Errorf("no %s left (%s, %s)", p.unit, label, used)
	case bounded && est.WorstCase > p.headroom:
		n, fits := fit(p.headroom)
		if !q.partial || n == 0 {
			msg := fmt.Sprintf("the run needs up to %d %s (%d conversations) but only %d are left (%s, %s)",
				est.WorstCase, p.unit, est.Conversations, p.headroom, label, used)
			if n > 0 {
				msg += fmt.Sprintf("; --partial runs the %d whole conversations that fit (up to %d %s)", n, fits.WorstCase, p.unit)
			} else {
				msg += "; not even one conversation fits"
			}
			p.refusal = errors.New(msg)
			break
		}
		p.maxConv, p.est = n, fits
	}
	return p, nil
}

// limitFlags are the rate limits of a run.
type limitFlags struct {
	limits    stringList  // --limit, repeatable
	rate      string      // --rate: an alias of one --limit
	newChat   string      // --new-chat-limit
	margin    marginValue // --limit-margin: auto or a duration
	published bool        // --published-limits
}

// publishedLimits are the Optimly external API's published limits per key,
// the defaults against a real Optimly target; publishedNewChat is its
// new-chat limit per agent.
var (
	publishedLimits  = []runner.Limit{{Count: 100, Per: time.Minute}, {Count: 1000, Per: time.Hour}}
	publishedNewChat = runner.Limit{Count: 30, Per: time.Minute}
)

func (l *limitFlags) register(fs *flag.FlagSet) {
	fs.Var(&l.limits, "limit", "limit agent calls to `N/UNIT` (s, min, h) in any window; repeat to stack (--limit 100/min --limit 1000/h); none for no limit. "+
		"Default against a real Optimly target: its published 100/min and 1000/h")
	fs.StringVar(&l.rate, "rate", "", "alias of one --limit, e.g. 10/s")
	fs.StringVar(&l.newChat, "new-chat-limit", "", "limit new chats to `N/UNIT`, on top of --limit; none for no limit. Default against a real Optimly target: 30/min")
	fs.Var(&l.margin, "limit-margin", "safety margin added to every limit's window so that network jitter cannot put N+1 calls in one of the agent's windows: "+
		"auto (a fiftieth of the window, 10ms to 2s), or a `duration` such as 50ms (0: none)")
	fs.BoolVar(&l.published, "published-limits", false, "apply Optimly's published limits (100/min, 1000/h, new chats 30/min) whatever the target: "+
		"a loopback or non-Optimly host that enforces the same; --limit and --new-chat-limit stack on them")
}

// runLimits are the limits a run applies.
type runLimits struct {
	all     []runner.Limit // every agent call
	newChat []runner.Limit // new chats, on top
	margin  time.Duration  // added to every window; runner.AutoMargin for the default
	source  string         // where they come from, for people
}

func (l runLimits) String() string {
	if len(l.all)+len(l.newChat) == 0 {
		return "none (" + l.source + ")"
	}
	var parts []string
	for _, x := range l.all {
		parts = append(parts, x.String())
	}
	s := "calls " + strings.Join(parts, " and ")
	if len(l.all) == 0 {
		s = "calls unlimited"
	}
	for _, x := range l.newChat {
		s += ", new chats " + x.String()
	}
	if l.margin != runner.AutoMargin {
		s += ", margin " + l.margin.String() + " per window"
	}
	return s + " (" + l.source + ")"
}

// marginValue is --limit-margin, checked as it is set (so a bad value in
// evalrun.yaml is reported at its place).
type marginValue struct{ text string }

func (v *marginValue) String() string {
	if v.text == "" {
		return "auto"
	}
	return v.text
}

func (v *marginValue) Set(s string) error {
	if _, err := parseMargin(s); err != nil {
		return fmt.Errorf("want auto, or a duration from 0 to 1h such as 20ms or 1s")
	}
	v.text = strings.TrimSpace(s)
	return nil
}

// parseMargin parses --limit-margin: auto (runner.AutoMargin) or a
// duration from 0 to 1h.
func parseMargin(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "auto") {
		return runner.AutoMargin, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > time.Hour {
		return 0, usageErr("--limit-margin %q: want auto, or a duration from 0 to 1h such as 20ms or 1s", s)
	}
	return d, nil
}

// resolve returns the limits of a run against target (a URL; empty for the
// in-process simulated agent) of kind: the flags', or the published limits
// of a real Optimly target (or of any target with --published-limits), or
// none. A loopback target (localhost, *.localhost, 127.0.0.0/8, [::1]) is
// one's own server, e.g. `evalrun serve`: it gets no default limits.
func (l *limitFlags) resolve(kind, target string) (runLimits, error) {
	real := target != "" && !netaddr.IsLoopbackURL(target)
	specs := append([]string(nil), l.limits...)
	if l.rate != "" {
		specs = append(specs, l.rate)
	}
	var out runLimits
	var err error
	if out.margin, err = parseMargin(l.margin.text); err != nil {
		return out, err
	}
	off := false
	for _, s := range specs {
		if strings.TrimSpace(s) == "none" {
			off = true
			continue
		}
		lim, err := runner.ParseRateLimit(s)
		if err != nil {
			return out, usageErr("--limit: %v", err)
		}
		out.all = append(out.all, lim)
	}
	published := l.published || (kind == "optimly" && real && len(specs) == 0)
	switch {
	case off && len(out.all) > 0:
		return out, usageErr("--limit none turns every limit off; it cannot be combined with other limits (%s)", strings.Join(specs, ", "))
	case off && l.published:
		return out, usageErr("--limit none turns every limit off; it cannot be combined with --published-limits")
	case off:
		out.source = "--limit none"
	case l.published:
		out.all = append(slices.Clone(publishedLimits), out.all...)
		out.source = "--published-limits"
		if len(specs) > 0 {
			out.source += " and --limit"
		}
	case len(specs) > 0:
		out.source = "--limit"
	case published:
		out.all = publishedLimits
		out.source = "Optimly's published limits"
	case real:
		out.source = "no default for kind " + kind
	case target != "":
		out.source = "loopback target"
	default:
		out.source = "simulated agent"
	}
	switch s := strings.TrimSpace(l.newChat); {
	case s == "none":
	case s != "":
		lim, err := runner.ParseRateLimit(s)
		if err != nil {
			return out, usageErr("--new-chat-limit: %v", err)
		}
		out.newChat = []runner.Limit{lim}
		if l.published {
			out.newChat = append([]runner.Limit{publishedNewChat}, lim)
		}
	case published && !off:
		out.newChat = []runner.Limit{publishedNewChat}
	}
	return out, nil
}

// apply sets the run's limiters.
func (l runLimits) apply(opts *runner.Options) error {
	if len(l.all) > 0 {
		lim, err := runner.NewLimitsMargin(l.margin, l.all...)
		if err != nil {
			return usageErr("--limit: %v", err)
		}
		opts.Limiters = append(opts.Limiters, lim)
	}
	if len(l.newChat) > 0 {
		lim, err := runner.NewLimitsMargin(l.margin, l.newChat...)
		if err != nil {
			return usageErr("--new-chat-limit: %v", err)
		}
		opts.NewChatLimiter = lim
	}
	return nil
}

// minDuration is the least time the limits let the run's calls and new
// chats be sent in, with margin (runner.AutoMargin: the default; 0: the
// exact limits). It is a lower bound: the new chats are also calls, and
// the two limits are met separately.
func (l runLimits) minDuration(calls, newChats int64, margin time.Duration) (time.Duration, error) {
	d, err := runner.MinDurationMargin(calls, margin, l.all...)
	if err != nil {
		return 0, err
	}
	dc, err := runner.MinDurationMargin(newChats, margin, l.newChat...)
	return max(d, dc), err
}

// ledgerFlushEvery is how often a run writes the calls it charged to the
// ledger: a crash loses at most this much of the count.
const ledgerFlushEvery = time.Second

// ledgerRun records a run's calls in its account as they are sent, holding
// the run's reservation until the end.
type ledgerRun struct {
	ac    *account
	runID string
	calls atomic.Int64 // attempts sent so far, counted by the observer

	mu       sync.Mutex
	recorded int64 // calls written to the ledger
	err      error // the first write error

	stop chan struct{}
	done chan struct{}
}

// countingObserver counts the attempts of every call before passing it on.
type countingObserver struct {
	runner.Observer
	lr *ledgerRun
}

func (o countingObserver) CallDone(c *runner.Call) {
	o.lr.calls.Add(int64(c.Attempts))
	o.Observer.CallDone(c)
}

// startLedgerRun begins recording: it wraps the run's observer to count
// attempts and flushes the count to the ledger every second. With ac nil
// (nothing recorded: the simulated agent) it returns nil, which does
// nothing.
func startLedgerRun(ac *account, runID string, opts *runner.Options) *ledgerRun {
	if ac == nil {
		return nil
	}
	lr := &ledgerRun{ac: ac, runID: runID, stop: make(chan struct{}), done: make(chan struct{})}
	opts.Observer = countingObserver{Observer: opts.Observer, lr: lr}
	go func() {
		defer close(lr.done)
		t := time.NewTicker(ledgerFlushEvery)
		defer t.Stop()
		for {
			select {
			case <-lr.stop:
				return
			case <-t.C:
				lr.flush(lr.calls.Load())
			}
		}
	}()
	return lr
}

// flush charges the calls sent since the last flush.
func (lr *ledgerRun) flush(total int64) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if d := total - lr.recorded; d > 0 {
		if err := lr.ac.led.Charge(lr.ac.fp, lr.ac.cycle, lr.runID, d); err != nil {
			lr.err = cmp.Or(lr.err, err)
			return
		}
		lr.recorded = total
	}
}

// finish stops the flushing, charges the run's exact count of attempts,
// releases the reservation, and, when the server said the quota is used up,
// marks the cycle exhausted (used = the quota, when known in calls). It
// returns the first ledger error, if any.
func (lr *ledgerRun) finish(sum *runner.Summary, runErr error, p *quotaPlan) error {
	if lr == nil {
		return nil
	}
	close(lr.stop)
	<-lr.done
	total := lr.calls.Load()
	if sum != nil {
		total = max(total, sum.Attempts)
	}
	lr.flush(total)
	ac := lr.ac
	err := lr.err
	if rerr := ac.led.Release(ac.fp, ac.cycle, lr.runID); rerr != nil {
		err = cmp.Or(err, rerr)
	}
	if errors.Is(runErr, runner.ErrQuotaExhausted) {
		quotaCalls := int64(-1)
		if p != nil && p.limit >= 0 {
			quotaCalls = (p.limit + p.cost - 1) / p.cost
		}
		if merr := ac.led.MarkExhausted(ac.fp, ac.cycle, quotaCalls); merr != nil {
			err = cmp.Or(err, merr)
		}
	}
	return err
}

// shardCost is the cost of the run's shard (the whole run when not
// sharded): see gateFlags.estimate and fit.
func shardCost(g *gateFlags, suite *scenarios.Suite, retryFraction float64) costFunc {
	return func(cost int64, opts ...runner.CostOption) (runner.Estimate, bool, func(int64) (int64, runner.Estimate)) {
		return g.estimate(suite, cost, retryFraction, opts...), true, func(headroom int64) (int64, runner.Estimate) {
			n, e := g.fit(suite, headroom, cost, retryFraction, opts...)
			return int64(n), e
		}
	}
}

// shard returns the shard's part of the limits: each limit's count is
// shared out (Shard.Share), so the n shards together never exceed it in any
// window; a shard left with no call gets one per n windows.
func (l runLimits) shard(s runner.Shard) runLimits {
	if s.Whole() {
		return l
	}
	part := func(ls []runner.Limit) []runner.Limit {
		var out []runner.Limit
		for _, x := range ls {
			if c := s.Share(x.Count); c > 0 {
				out = append(out, runner.Limit{Count: c, Per: x.Per})
			} else {
				out = append(out, runner.Limit{Count: 1, Per: x.Per * time.Duration(s.Count)})
			}
		}
		return out
	}
	l.all, l.newChat = part(l.all), part(l.newChat)
	l.source += ", shard " + s.String()
	return l
}

// partialPlan is what a --partial run cut (report.Meta's CutBy and
// Planned): each scenario's planned conversations, when the run runs
// fewer than its plan (maxConv > 0). Only a whole, unsharded run of the
// suite's own repeats says it; a load shape or a shard plans otherwise.
func partialPlan(f *runFlags, suite *scenarios.Suite, maxConv int64) (string, map[string]int) {
	if maxConv <= 0 || !f.gates.shard.Whole() || f.load.shapesCount() {
		return "", nil
	}
	planned := map[string]int{}
	for _, sc := range suite.Scenarios {
		if sc != nil {
			planned[sc.Name] += max(sc.Repeat, 1)
		}
	}
	return "the quota (--partial)", planned
}
