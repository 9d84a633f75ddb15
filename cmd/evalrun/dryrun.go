package main

import (
	"fmt"
	"io"
	"time"

	"github.com/evalrun/evalrun/ledger"
)

// checkQuota works out the run's cost against the quota and what the ledger
// says is used, without writing anything. The account is nil when nothing is
// recorded: the simulated agent (no --target; its key is fresh each run) or
// a target whose key variable is empty (the run stops on it later).
func (a *app) checkQuota(q *quotaFlags, cf costFunc, share func(int64) int64, target, keyEnv string) (*quotaPlan, *account, error) {
	if err := q.check(); err != nil {
		return nil, nil, err
	}
	var ac *account
	var u ledger.Usage
	if key := a.secret(keyEnv); target != "" && keyEnv != "" && key != "" {
		var err error
		if ac, err = a.openAccount(q, key, keyEnv); err != nil {
			return nil, nil, err
		}
		if u, err = ac.led.Usage(ac.fp, ac.cycle, ""); err != nil {
			return nil, nil, unfinishedErr("%v", err)
		}
	}
	p, err := planQuota(q, cf, share, u)
	return p, ac, err
}

// refusalErr is the error of a run the quota refuses: bad usage (exit 2)
// when it does not fit, could not finish (exit 3) when the ledger says the
// server declared the quota used up.
func (p *quotaPlan) refusalErr(ac *account) error {
	if p.refusal == nil {
		return nil
	}
	where := ""
	if ac != nil {
		where = fmt.Sprintf(" [%s; ledger %s]", ac, ac.led.Path())
	}
	if !p.exhausted.IsZero() {
		return unfinishedErr("quota: %v%s", p.refusal, where)
	}
	return usageErr("quota: %v%s", p.refusal, where)
}

// reserveQuota takes the run's reservation in the ledger, planning the run
// again under the ledger's lock: a run that started meanwhile may have taken
// the headroom. Without an account it returns p unchanged.
func (a *app) reserveQuota(q *quotaFlags, p *quotaPlan, ac *account, cf costFunc, share func(int64) int64, runID, target string) (*quotaPlan, error) {
	if ac == nil {
		return p, p.refusalErr(nil)
	}
	var plan *quotaPlan
	_, err := ac.led.Reserve(ac.fp, ac.cycle, runID, target, func(u ledger.Usage) (int64, error) {
		var err error
		if plan, err = planQuota(q, cf, share, u); err != nil {
			return 0, err
		}
		if err := plan.refusalErr(ac); err != nil {
			return 0, err
		}
		return plan.reserveCalls(), nil
	})
	if err != nil {
		if _, ok := err.(*exitError); ok {
			return nil, err
		}
		return nil, unfinishedErr("%v", err)
	}
	return plan, nil
}

// dryRun prints what a run would do: its conversations, its expected and
// worst-case cost, the quota headroom, the limits and the least time they
// allow the run to take. It makes no call.
func (a *app) dryRun(w io.Writer, p *quotaPlan, ac *account, lims runLimits, target, keyEnv string) error {
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-17s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	fmt.Fprintln(w, "evalrun dry run: nothing is sent, not even a health check")
	e := p.full
	if p.bounded {
		line("conversations", "%d", e.Conversations)
		if f := p.fewestCalls; f < e.Calls {
			// Simulated conversations end when their users do: the run's
			// calls are a range, and the worst case counts them all.
			line("calls", "%d to %d expected (%d new chats + %d to %d turns, no retries: simulated conversations end when their users do), %d worst case (with %d %s of retry allowance)",
				f, e.Calls, e.NewChats, f-e.NewChats, e.Calls-e.NewChats, e.WorstCase/p.cost, e.RetryAllowance, p.unit)
		} else {
			line("calls", "%d expected (%d new chats + %d turns, no retries), %d worst case (with %d %s of retry allowance)",
				e.Calls, e.NewChats, e.Calls-e.NewChats, e.WorstCase/p.cost, e.RetryAllowance, p.unit)
		}
		if p.cost != 1 {
			line("cost", "%d %s expected, %d worst case (%d %s per call)", e.Cost, p.unit, e.WorstCase, p.cost, p.unit)
		}
	} else {
		line("conversations", "not known in advance: the run repeats until its duration ends, bounded by the quota")
	}
	switch {
	case p.limit < 0:
		line("quota", "%s", p.label)
	default:
		line("quota", "%d %s (%s)", p.limit, p.unit, p.label)
	}
	used := fmt.Sprintf("%d %s", p.usedBefore(), p.unit)
	if ac != nil {
		used += fmt.Sprintf(" (ledger %d", p.ledgerUsed)
		if p.extraUsed > 0 {
			used += fmt.Sprintf(" + --quota-used %d", p.extraUsed)
		}
		used += ")"
		if p.reserved > 0 {
			used += fmt.Sprintf(", %d reserved by runs in progress", p.reserved)
		}
	}
	line("used", "%s", used)
	if p.headroom >= 0 {
		line("headroom", "%d %s", p.headroom, p.unit)
	}
	switch {
	case p.refusal != nil:
		line("verdict", "the run would be refused: %v", p.refusal)
	case p.maxConv > 0:
		line("verdict", "--partial runs the first %d conversations (up to %d %s)", p.maxConv, p.est.WorstCase, p.unit)
	case p.limit >= 0 && p.bounded:
		line("verdict", "fits: %d %s left after the worst case", p.headroom-p.est.WorstCase, p.unit)
	default:
		line("verdict", "runs")
	}
	line("limits", "%s", lims)
	if p.bounded && p.refusal == nil {
		run := p.est
		d, err := lims.minDuration(run.Calls, run.NewChats, lims.margin)
		if err != nil {
			return usageErr("%v", err)
		}
		exact, err := lims.minDuration(run.Calls, run.NewChats, 0)
		if err != nil {
			return usageErr("%v", err)
		}
		switch {
		case d <= 0:
			line("min duration", "no limit applies; as fast as the agent answers")
		case d == exact:
			line("min duration", "at least %s (%d calls and %d new chats under the limits)", fmtMinDuration(d), run.Calls, run.NewChats)
		default:
			line("min duration", "at least %s (%d calls and %d new chats under the limits and their safety margin; the limits alone allow %s)",
				fmtMinDuration(d), run.Calls, run.NewChats, fmtMinDuration(exact))
		}
	}
	if ac != nil {
		line("ledger", "%s, %s", ac, ac.led.Path())
	} else {
		line("ledger", "nothing recorded: %s", noLedgerReason(target, keyEnv))
	}
	return nil
}

// noLedgerReason says why a run records nothing in the ledger.
func noLedgerReason(target, keyEnv string) string {
	if target != "" && keyEnv == "" {
		return "the target takes no key (keyless), so there is no key's quota to track"
	}
	if target != "" {
		return fmt.Sprintf("%s is empty, so the key is not known", keyEnv)
	}
	return "the simulated agent (no --target) gets a fresh key each run"
}

// fmtMinDuration prints a lower bound on a duration: cut (never rounded up)
// to the millisecond, so it stays a lower bound, e.g. 11.95s or 4m17.4s.
func fmtMinDuration(d time.Duration) string {
	return d.Truncate(time.Millisecond).String()
}
