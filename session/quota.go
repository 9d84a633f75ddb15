package session

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

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

// PlanNames lists the valid plan names, with their monthly calls, for
// error messages.
const PlanNames = "starter (1,000 calls/month), growth (10,000), scale (100,000), enterprise (unlimited)"

// PlanCalls returns the monthly API calls of an Optimly plan by name (case
// does not matter): -1 for unlimited, ok false for an unknown plan.
func PlanCalls(name string) (calls int64, ok bool) {
	calls, ok = plans[strings.ToLower(name)]
	return calls, ok
}

// Optimly's published limits per key, the defaults against a real Optimly
// target: PublishedLimits on every call, PublishedNewChat on new chats (per
// agent). Callers must not modify them.
var (
	PublishedLimits  = []runner.Limit{{Count: 100, Per: time.Minute}, {Count: 1000, Per: time.Hour}}
	PublishedNewChat = runner.Limit{Count: 30, Per: time.Minute}
)

// Quota is the quota settings of a run.
type Quota struct {
	// Limit is the quota in the cost unit per billing cycle; negative is
	// unlimited.
	Limit int64
	// Label names the quota for people and reports, e.g. "plan growth".
	Label string
	// CostPerCall is what one agent call costs in the unit (1 for calls,
	// 2 for messages); 0 means 1.
	CostPerCall int64
	// Unit is what the quota counts, e.g. "calls" (empty: "calls").
	Unit string
	// Used is usage this cycle outside the ledger, in the unit.
	Used int64
	// Retries is the retry allowance as a fraction (0 to 1) of the
	// worst-case calls.
	Retries float64
	// Partial, when the run does not fit, runs the whole conversations
	// that fit instead of refusing it.
	Partial bool
	// CostOptions say what a new chat of the target costs
	// (runner.NewChatCalls); none means 1 call.
	CostOptions []runner.CostOption
}

// Validate reports a setting out of range, naming the field.
func (q Quota) Validate() error {
	switch {
	case q.Retries < 0 || q.Retries > 1 || q.Retries != q.Retries:
		return fmt.Errorf("session: Quota.Retries %v: must be between 0 and 1", q.Retries)
	case q.Used < 0:
		return fmt.Errorf("session: Quota.Used %d: must not be negative", q.Used)
	case q.CostPerCall < 0:
		return fmt.Errorf("session: Quota.CostPerCall %d: must be 1 or more (0 means 1)", q.CostPerCall)
	}
	return nil
}

func (q Quota) cost() int64 { return max(q.CostPerCall, 1) }

func (q Quota) unit() string {
	if q.Unit == "" {
		return "calls"
	}
	return q.Unit
}

func (q Quota) label() string {
	if q.Label != "" {
		return q.Label
	}
	if q.Limit < 0 {
		return "no quota set"
	}
	return fmt.Sprintf("quota %d", q.Limit)
}

// CostFunc returns a run's cost at costPerCall units a call (opts say what
// a new chat costs): its estimate, whether the conversation count is known
// in advance (false: a duration-bound run bounded by its budget), and how
// many conversations fit a headroom.
type CostFunc func(costPerCall int64, opts ...runner.CostOption) (est runner.Estimate, bounded bool, fit func(headroom int64) (int64, runner.Estimate))

// SuiteCost is the cost of replaying the suite once (Repeat per scenario).
func SuiteCost(suite *scenarios.Suite, retryFraction float64) CostFunc {
	return func(cost int64, opts ...runner.CostOption) (runner.Estimate, bool, func(int64) (int64, runner.Estimate)) {
		return runner.EstimateCost(suite, cost, retryFraction, opts...), true, func(headroom int64) (int64, runner.Estimate) {
			n, e := runner.FitConversations(suite, headroom, cost, retryFraction, opts...)
			return int64(n), e
		}
	}
}

// ShardCost is the cost of shard s of the suite's replay (the whole replay
// when s is whole).
func ShardCost(s runner.Shard, suite *scenarios.Suite, retryFraction float64) CostFunc {
	return func(cost int64, opts ...runner.CostOption) (runner.Estimate, bool, func(int64) (int64, runner.Estimate)) {
		total := int64(suite.Conversations())
		return s.EstimateCost(suite, total, cost, retryFraction, opts...), true, func(headroom int64) (int64, runner.Estimate) {
			return s.Fit(suite, total, headroom, cost, retryFraction, opts...)
		}
	}
}

// ScheduleCost is the cost of a load shape (arrival rate, stages,
// duration) over the suite; a run bound by its duration is not bounded.
func ScheduleCost(suite *scenarios.Suite, ld runner.Load, retryFraction float64) CostFunc {
	return func(cost int64, opts ...runner.CostOption) (runner.Estimate, bool, func(int64) (int64, runner.Estimate)) {
		est, bounded := runner.ScheduleEstimate(suite, ld, cost, retryFraction, opts...)
		return est, bounded, func(headroom int64) (int64, runner.Estimate) {
			return runner.FitSchedule(suite, ld, headroom, cost, retryFraction, opts...)
		}
	}
}

// Plan is a run's cost checked against its quota.
type Plan struct {
	Limit       int64 // the quota in units; -1 unlimited
	Label       string
	CostPerCall int64 // units per call
	Unit        string
	Est         runner.Estimate // of what will run (after Partial)
	Full        runner.Estimate // of the whole run
	Bounded     bool            // the conversation count is known in advance
	// FewestCalls is Full.Calls with every simulated conversation at the
	// fewest turns it may send (runner.FewestTurns); Full.Calls without
	// simulated conversations.
	FewestCalls int64

	LedgerUsed int64 // units charged in the ledger this cycle
	ExtraUsed  int64 // Quota.Used
	Reserved   int64 // units reserved by other runs in progress
	Headroom   int64 // -1 unlimited
	Exhausted  time.Time

	// MaxConv > 0: Partial runs this many conversations.
	MaxConv int64
	// Refusal, when set, is why the run may not start (see Err).
	Refusal error

	account *Account
}

// UsedBefore is the units used before the run: the ledger's count plus
// Quota.Used.
func (p *Plan) UsedBefore() int64 { return p.LedgerUsed + p.ExtraUsed }

// ReserveCalls is the calls the run reserves in the ledger: its worst case
// (the whole headroom when the count is not known in advance), nothing
// without a quota.
func (p *Plan) ReserveCalls() int64 {
	if p.Limit < 0 || p.Refusal != nil {
		return 0
	}
	units := p.Est.WorstCase
	if !p.Bounded {
		units = p.Headroom
	}
	return (units + p.CostPerCall - 1) / p.CostPerCall
}

// Budget returns the run's budget (runner.Options.Budget): nil without a
// quota.
func (p *Plan) Budget(retryFraction float64) *runner.Budget {
	if p.Limit < 0 {
		return nil
	}
	if p.Bounded {
		return runner.NewBudget(min(p.Headroom, p.Est.WorstCase), p.CostPerCall, p.Est.RetryAllowance)
	}
	allowance := int64(float64(p.Headroom) * retryFraction / (1 + retryFraction))
	return runner.NewBudget(p.Headroom, p.CostPerCall, allowance)
}

// Err is the refusal as a *RefusedError, nil when the run may start.
func (p *Plan) Err() error {
	if p.Refusal == nil {
		return nil
	}
	where := ""
	if ac := p.account; ac != nil {
		where = fmt.Sprintf(" [%s; ledger %s]", ac, ac.Ledger.Path())
	}
	return &RefusedError{Err: p.Refusal, Exhausted: !p.Exhausted.IsZero(), Where: where}
}

// RefusedError is a run the quota refuses.
type RefusedError struct {
	// Err says why, naming the numbers.
	Err error
	// Exhausted: the server declared the key's quota used up for the
	// cycle (the run cannot finish); else the run does not fit (bad
	// usage: a smaller run, --partial or another quota would).
	Exhausted bool
	// Where names the account and ledger, when there is one.
	Where string
}

func (e *RefusedError) Error() string { return "quota: " + e.Err.Error() + e.Where }

// Unwrap returns the reason.
func (e *RefusedError) Unwrap() error { return e.Err }

// LedgerError is a usage ledger that could not be opened, read or written.
type LedgerError struct{ Err error }

func (e *LedgerError) Error() string { return e.Err.Error() }

// Unwrap returns the ledger's error.
func (e *LedgerError) Unwrap() error { return e.Err }

// PlanQuota checks the run's cost against the quota given what the ledger
// says is used (u; zero without a ledger). A run that does not fit gets a
// Refusal naming both numbers, or with Partial the conversations that fit.
//
// share, if not nil, gives the part of the headroom this run may use (a
// shard's share).
func PlanQuota(q Quota, cf CostFunc, share func(int64) int64, u ledger.Usage) (*Plan, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	limit, label, cost := q.Limit, q.label(), q.cost()
	if limit < 0 {
		limit = -1
	}
	p := &Plan{Limit: limit, Label: label, CostPerCall: cost, Unit: q.unit(), Headroom: -1,
		LedgerUsed: u.Calls * cost, ExtraUsed: q.Used, Reserved: u.Reserved * cost, Exhausted: u.Exhausted}
	est, bounded, fit := cf(cost, q.CostOptions...)
	p.Est, p.Full, p.Bounded = est, est, bounded
	p.FewestCalls = est.Calls
	if bounded {
		fe, _, _ := cf(cost, append(slices.Clone(q.CostOptions), runner.FewestTurns())...)
		p.FewestCalls = min(fe.Calls, est.Calls)
	}
	if limit >= 0 {
		p.Headroom = max(limit-p.UsedBefore()-p.Reserved, 0)
		if share != nil {
			p.Headroom = share(p.Headroom)
		}
	}
	if !p.Exhausted.IsZero() && p.Headroom <= 0 {
		p.Refusal = fmt.Errorf("the server said on %s that this key's quota is used up for the billing cycle; the ledger refuses new runs until the cycle ends. "+
			"If the plan was upgraded, pass the new --plan or --quota; if the provider reset the quota, run `evalrun quota --reset`",
			p.Exhausted.UTC().Format("2006-01-02 15:04 MST"))
		return p, nil
	}
	if limit < 0 {
		return p, nil
	}
	used := fmt.Sprintf("%d used", p.UsedBefore())
	if p.Reserved > 0 {
		used += fmt.Sprintf(", %d reserved by other runs in progress", p.Reserved)
	}
	switch {
	case !bounded && p.Headroom <= 0:
		p.Refusal = fmt.Errorf("no %s left (%s, %s)", p.Unit, label, used)
	case bounded && est.WorstCase > p.Headroom:
		n, fits := fit(p.Headroom)
		if !q.Partial || n == 0 {
			msg := fmt.Sprintf("the run needs up to %d %s (%d conversations) but only %d are left (%s, %s)",
				est.WorstCase, p.Unit, est.Conversations, p.Headroom, label, used)
			if n > 0 {
				msg += fmt.Sprintf("; --partial runs the %d whole conversations that fit (up to %d %s)", n, fits.WorstCase, p.Unit)
			} else {
				msg += "; not even one conversation fits"
			}
			p.Refusal = errors.New(msg)
			break
		}
		p.MaxConv, p.Est = n, fits
	}
	return p, nil
}

// Check works out the run's cost against the quota and what the ledger
// says is used, without writing anything. With ac nil nothing is recorded
// (e.g. a simulated agent whose key is fresh each run) and the ledger is
// not read.
func Check(q Quota, cf CostFunc, share func(int64) int64, ac *Account) (*Plan, error) {
	var u ledger.Usage
	if ac != nil {
		var err error
		if u, err = ac.Ledger.Usage(ac.Fingerprint, ac.Cycle, ""); err != nil {
			return nil, &LedgerError{err}
		}
	}
	p, err := PlanQuota(q, cf, share, u)
	if p != nil {
		p.account = ac
	}
	return p, err
}

// Reserve takes the run's reservation (id runID, against target) in the
// ledger, planning the run again under the ledger's lock: a run that
// started meanwhile may have taken the headroom. It returns the plan the
// reservation was made for, or a *RefusedError or *LedgerError. Without an
// account it returns p unchanged (or p's refusal).
func Reserve(q Quota, p *Plan, ac *Account, cf CostFunc, share func(int64) int64, runID, target string) (*Plan, error) {
	if ac == nil {
		return p, p.Err()
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var plan *Plan
	_, err := ac.Ledger.Reserve(ac.Fingerprint, ac.Cycle, runID, target, func(u ledger.Usage) (int64, error) {
		var err error
		if plan, err = PlanQuota(q, cf, share, u); err != nil {
			return 0, err
		}
		plan.account = ac
		if err := plan.Err(); err != nil {
			return 0, err
		}
		return plan.ReserveCalls(), nil
	})
	if err != nil {
		var re *RefusedError
		if errors.As(err, &re) {
			return nil, re
		}
		return nil, &LedgerError{err}
	}
	return plan, nil
}
