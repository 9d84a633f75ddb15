package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/evalrun/evalrun/session"
)

// checkQuota works out the run's cost against the quota and what the ledger
// says is used, without writing anything. The account is nil when nothing is
// recorded: the simulated agent (no --target; its key is fresh each run) or
// a target whose key variable is empty (the run stops on it later).
func (a *app) checkQuota(q *quotaFlags, cf session.CostFunc, share func(int64) int64, target, keyEnv string) (*session.Plan, *session.Account, error) {
	if err := q.check(); err != nil {
		return nil, nil, err
	}
	qs, err := q.settings()
	if err != nil {
		return nil, nil, err
	}
	var ac *session.Account
	if key := a.secret(keyEnv); target != "" && keyEnv != "" && key != "" {
		if ac, err = a.openAccount(q, key, keyEnv); err != nil {
			return nil, nil, err
		}
	}
	p, err := session.Check(qs, cf, share, ac)
	if err != nil {
		return nil, nil, quotaErr(err, "")
	}
	return p, ac, nil
}

// refusalErr is the error of a run the quota refuses: bad usage (exit 2)
// when it does not fit, could not finish (exit 3) when the ledger says the
// server declared the quota used up.
func refusalErr(p *session.Plan) error { return quotaErr(p.Err(), "") }

// dryRun prints what a run would do: its conversations, its expected and
// worst-case cost, the quota headroom, the limits and the least time they
// allow the run to take. It makes no call.
func (a *app) dryRun(w io.Writer, p *session.Plan, ac *session.Account, lims runLimits, target, keyEnv string) error {
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-17s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	fmt.Fprintln(w, "evalrun dry run: nothing is sent, not even a health check")
	e := p.Full
	if p.Bounded {
		line("conversations", "%d", e.Conversations)
		if f := p.FewestCalls; f < e.Calls {
			// Simulated conversations end when their users do: the run's
			// calls are a range, and the worst case counts them all.
			line("calls", "%d to %d expected (%d new chats + %d to %d turns, no retries: simulated conversations end when their users do), %d worst case (with %d %s of retry allowance)",
				f, e.Calls, e.NewChats, f-e.NewChats, e.Calls-e.NewChats, e.WorstCase/p.CostPerCall, e.RetryAllowance, p.Unit)
		} else {
			line("calls", "%d expected (%d new chats + %d turns, no retries), %d worst case (with %d %s of retry allowance)",
				e.Calls, e.NewChats, e.Calls-e.NewChats, e.WorstCase/p.CostPerCall, e.RetryAllowance, p.Unit)
		}
		if p.CostPerCall != 1 {
			line("cost", "%d %s expected, %d worst case (%d %s per call)", e.Cost, p.Unit, e.WorstCase, p.CostPerCall, p.Unit)
		}
	} else {
		line("conversations", "not known in advance: the run repeats until its duration ends, bounded by the quota")
	}
	switch {
	case p.Limit < 0:
		line("quota", "%s", p.Label)
	default:
		line("quota", "%d %s (%s)", p.Limit, p.Unit, p.Label)
	}
	used := fmt.Sprintf("%d %s", p.UsedBefore(), p.Unit)
	if ac != nil {
		used += fmt.Sprintf(" (ledger %d", p.LedgerUsed)
		if p.ExtraUsed > 0 {
			used += fmt.Sprintf(" + --quota-used %d", p.ExtraUsed)
		}
		used += ")"
		if p.Reserved > 0 {
			used += fmt.Sprintf(", %d reserved by runs in progress", p.Reserved)
		}
	}
	line("used", "%s", used)
	if p.Headroom >= 0 {
		line("headroom", "%d %s", p.Headroom, p.Unit)
	}
	switch {
	case p.Refusal != nil:
		line("verdict", "the run would be refused: %v", p.Refusal)
	case p.MaxConv > 0:
		line("verdict", "--partial runs the first %d conversations (up to %d %s)", p.MaxConv, p.Est.WorstCase, p.Unit)
	case p.Limit >= 0 && p.Bounded:
		line("verdict", "fits: %d %s left after the worst case", p.Headroom-p.Est.WorstCase, p.Unit)
	default:
		line("verdict", "runs")
	}
	line("limits", "%s", lims)
	if p.Bounded && p.Refusal == nil {
		run := p.Est
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
		line("ledger", "%s, %s", ac, ac.Ledger.Path())
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

// sessionErr maps an error of session.Run to its exit code: a reservation
// that failed is a quota error of its target (quotaErr); an error of a
// target's options is already the CLI's.
func sessionErr(err error) error {
	var te *session.TargetError
	if !errors.As(err, &te) {
		return err
	}
	if te.Name == "" {
		return quotaErr(te.Err, "")
	}
	return targetErr(te.Name, quotaErr(te.Err, ""))
}
