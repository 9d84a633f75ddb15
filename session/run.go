package session

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// Target is one target of a run: its quota, its account in the ledger and
// how to build its runner options.
type Target struct {
	// Name names the target in errors; "" for the lone target of a run.
	Name string
	// URL is recorded with the reservation (give it redacted).
	URL string
	// ReservationID is the id of the target's reservation in the ledger;
	// targets sharing a key need different ones.
	ReservationID string
	// Quota, Cost and Share are the target's quota settings, the run's
	// cost and the part of the headroom the run may use (nil: all of it),
	// as given to Check.
	Quota Quota
	Cost  CostFunc
	Share func(int64) int64
	// Account is the target's ledger entry; nil records nothing.
	Account *Account
	// Plan is Check's plan for the target (nil: Run checks).
	Plan *Plan
	// Options returns the target's runner options, given the plan it was
	// reserved under. Run sets their Budget (plan.Budget) and
	// MaxConversations (maxConv, unless they set a lower one) itself, and
	// wraps their Observer to record the calls in the ledger.
	Options func(plan *Plan, budget *runner.Budget, maxConv int64) (runner.Options, error)
}

// Outcome is one target's part of a finished run.
type Outcome struct {
	Plan    *Plan           // the plan the reservation was made for
	Budget  *runner.Budget  // nil without a quota
	Summary *runner.Summary // runner.Run's
	// Err is runner.Run's error (runner.ErrInterrupted, ErrRejected,
	// ErrQuotaExhausted, ...).
	Err error
	// LedgerErr is a *LedgerError when the calls could not all be recorded
	// (the run itself went on).
	LedgerErr error
}

// TargetError is a target's reservation that failed: a *RefusedError or
// a *LedgerError.
type TargetError struct {
	Name string
	Err  error
}

func (e *TargetError) Error() string {
	if e.Name == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("target %s: %v", e.Name, e.Err)
}

// Unwrap returns the reservation's error.
func (e *TargetError) Unwrap() error { return e.Err }

// Run replays suite against every target at once with the quota
// guarantee: each target's worst case is reserved in its ledger (planned
// again under the ledger's lock), every target runs the same
// conversations (with Partial, the fewest that fit any target), each
// run's budget stops it before its quota is passed, every call is
// recorded as it is sent, and the ledger is settled when the run ends.
//
// started, if not nil, is called once every target's options are built,
// just before the first call. A reservation that fails is a *TargetError;
// an error of a target's Options is returned as it is. In both cases every
// reservation already taken is released and nothing is sent. Once the
// targets run, Run returns their outcomes, in order, and no error.
func Run(ctx context.Context, suite *scenarios.Suite, targets []Target, started func()) ([]Outcome, error) {
	if len(targets) == 0 {
		return nil, errors.New("session: Run needs at least one target")
	}
	out := make([]Outcome, len(targets))
	reserved := 0
	release := func() {
		for i := range reserved {
			_ = Release(targets[i].Account, targets[i].ReservationID)
		}
	}
	for i, t := range targets {
		p := t.Plan
		if p == nil {
			var err error
			if p, err = Check(t.Quota, t.Cost, t.Share, t.Account); err != nil {
				release()
				return nil, &TargetError{t.Name, err}
			}
		}
		p, err := Reserve(t.Quota, p, t.Account, t.Cost, t.Share, t.ReservationID, t.URL)
		if err != nil {
			release()
			return nil, &TargetError{t.Name, err}
		}
		reserved++
		out[i].Plan = p
	}
	maxConv := int64(0)
	for _, o := range out {
		if m := o.Plan.MaxConv; m > 0 && (maxConv == 0 || m < maxConv) {
			maxConv = m
		}
	}
	opts := make([]runner.Options, len(targets))
	for i, t := range targets {
		out[i].Budget = out[i].Plan.Budget(t.Quota.Retries)
		o, err := t.Options(out[i].Plan, out[i].Budget, maxConv)
		if err != nil {
			release()
			return nil, err
		}
		o.Budget = out[i].Budget
		if m := int(maxConv); m > 0 && (o.MaxConversations == 0 || m < o.MaxConversations) {
			o.MaxConversations = m // a lower limit of the options' own stays
		}
		opts[i] = o
	}
	if started != nil {
		started()
	}
	lrs := make([]*LedgerRun, len(targets))
	for i, t := range targets {
		lrs[i] = StartLedger(t.Account, t.ReservationID, &opts[i])
	}
	var wg sync.WaitGroup
	for i := range targets {
		wg.Go(func() {
			out[i].Summary, out[i].Err = runner.Run(ctx, suite, opts[i])
		})
	}
	wg.Wait()
	for i := range targets {
		out[i].LedgerErr = lrs[i].Finish(out[i].Summary, out[i].Err, out[i].Plan)
	}
	return out, nil
}
