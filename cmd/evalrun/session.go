package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/evalrun/evalrun/report"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
	"github.com/evalrun/evalrun/session"
)

// lone reports whether sides is the lone, unnamed target of a run (no
// --target NAME=URL, no targets: list of several): its errors, files and
// messages carry no target name.
func lone(sides []*sideRun) bool { return len(sides) == 1 && sides[0].t.name == "" }

// wrap prefixes err with the target's name, when it has one.
func (s *sideRun) wrap(err error) error {
	if err == nil || s.t.name == "" {
		return err
	}
	return targetErr(s.t.name, err)
}

// runTargets runs suite against every side at once through session.Run
// (reservation, the same conversations everywhere, budget, ledger) and
// returns each side's result, with its summary and error in the side. The
// sides are checked and connected; their quota plans are Check's.
func (a *app) runTargets(f *runFlags, suite *scenarios.Suite, judge *runJudge, sides []*sideRun) ([]*report.Result, error) {
	single := lone(sides)
	runID := f.newRunID()
	var (
		started time.Time
		sources = make([]progressSource, len(sides))
		prog    *progress
	)
	targets := make([]session.Target, len(sides))
	for i, s := range sides {
		qs, err := s.q.settings()
		if err != nil {
			return nil, s.wrap(err)
		}
		s.resID = runID
		if !single {
			// One reservation per target: two targets may share a key.
			s.resID = runID + "/" + s.t.name
		}
		targets[i] = session.Target{Name: s.t.name, URL: s.tgt.URL, ReservationID: s.resID, Quota: qs, Cost: s.cf,
			Share: f.gates.headroom, Account: s.ac, Plan: s.qp,
			Options: func(p *session.Plan, budget *runner.Budget, maxConv int64) (runner.Options, error) {
				if i == 0 {
					tuneGC(a.getenv, len(sides)*max(f.concurrency, f.load.conns()))
					started = time.Now()
				}
				s.qp, s.budget = p, budget
				var tr report.Transcripts
				var err error
				if single {
					tr, err = f.reports.openTranscripts()
				} else {
					tr, err = a.openSideTranscripts(&f.reports, s)
				}
				if err != nil {
					return runner.Options{}, err
				}
				if tr.Stream != nil {
					tr.Stream = a.redactor().Writer(tr.Stream)
				}
				cutBy, planned := partialPlan(f, suite, maxConv)
				s.agg = report.NewAggregator(report.Meta{
					CutBy:   cutBy,
					Planned: planned,
					RunID:   runID,
					Version: version,
					Started: started,
					Target:  s.tgt,
					Seed:    f.seed,
					Load:    f.load.info(),
					Settings: map[string]any{
						"concurrency":  f.concurrency,
						"limits":       s.limStr,
						"timeout":      s.timeout,
						"max_attempts": f.attempts,
						"quota":        p.Label,
						"cost_unit":    s.q.unit(),
						"partial":      maxConv > 0,
					},
					Transcripts: tr,
				})
				est := p.Est.Conversations
				if maxConv > 0 {
					est = min(est, maxConv)
				}
				sources[i] = progressSource{name: s.t.name, snap: s.agg, total: est, budget: budget}
				opts := runner.Options{
					Conn:        s.conn,
					Concurrency: f.concurrency,
					Retry:       runner.RetryPolicy{MaxAttempts: f.attempts},
					RunID:       runID,
					Seed:        f.seed,
					Observer:    redactingObserver{s.agg, a.redactor()},
					Abort:       a.abort,
					// No CallTimeout: the Conn enforces the target's timeout
					// on every attempt itself; a second timer and context per
					// call cost CPU for nothing.
					Shard: f.gates.shard,
				}
				if opts.User, s.recordUser, err = f.openUser(); err != nil {
					return opts, s.wrap(err)
				}
				var jv scenarios.Judge
				jv, s.recordJudge = judge.view()
				if jv != nil {
					opts.Judge = redactingJudge{jv, a.redactor()}
				}
				if err := s.lims.apply(&opts); err != nil {
					return opts, s.wrap(err)
				}
				if err := f.load.apply(&opts, f.seed); err != nil {
					return opts, err
				}
				return opts, nil
			}}
	}
	outs, err := session.Run(a.stop, suite, targets, func() {
		if !single {
			names := make([]string, len(sides))
			for i, s := range sides {
				names[i] = s.t.name
			}
			fmt.Fprintf(a.stderr, "evalrun: %d targets side by side: %s\n", len(sides), strings.Join(names, ", "))
		}
		prog = a.startProgress(f, sources)
	})
	if prog != nil {
		prog.stop()
	}
	if err != nil {
		for _, s := range sides {
			if s.tfile != nil {
				s.tfile.Close()
			}
		}
		return nil, sessionErr(err)
	}
	results := make([]*report.Result, len(sides))
	for i, s := range sides {
		o := outs[i]
		s.qp, s.budget, s.sum, s.err = o.Plan, o.Budget, o.Summary, o.Err
		if o.LedgerErr != nil {
			if single {
				fmt.Fprintf(a.stderr, "evalrun: warning: usage ledger: %v\n", o.LedgerErr)
			} else {
				fmt.Fprintf(a.stderr, "evalrun: warning: usage ledger of target %s: %v\n", s.t.name, o.LedgerErr)
			}
		}
		fin := report.Finish{Ended: time.Now()}
		if s.sum != nil {
			fin.Interrupted, fin.StopReason, fin.Schedule = s.sum.Interrupted, s.sum.StopReason, s.sum.Schedule
		}
		if s.budget != nil {
			fin.Budget = report.BudgetInfo{Unit: s.q.unit(), Limit: s.qp.Limit, UsedBefore: s.qp.UsedBefore(), Spent: s.budget.Spent()}
		}
		res := s.agg.Result(fin)
		s.recordJudge(res)
		s.recordUser(res)
		f.load.settings(res.Settings)
		f.gates.settings(res.Settings, suite)
		results[i] = res
	}
	return results, nil
}

// planSide resolves the side's limits and cost and checks its quota
// against the ledger (nothing is written): s.q and s.t are set.
func (a *app) planSide(f *runFlags, suite *scenarios.Suite, s *sideRun) error {
	if !f.quota.dryRun {
		if err := a.checkKey(s.t); err != nil {
			return s.wrap(err)
		}
	}
	lims, err := f.limits.resolve(s.t.kind, s.t.url)
	if err != nil {
		return s.wrap(err)
	}
	s.limStr, s.lims = lims.String(), lims.shard(f.gates.shard) // limStr: the whole run's, the same in every shard
	s.cf = shardCost(&f.gates, suite, s.q.retries)
	if f.load.shapesCount() {
		s.cf = f.load.cost(suite, s.q.retries)
	}
	s.qp, s.ac, err = a.checkQuota(&s.q, s.cf, f.gates.headroom, s.t.url, s.t.keyEnv)
	return s.wrap(err)
}

// runErrExit maps how the side's run ended to the exit error: nil when
// runner.Run finished.
func (s *sideRun) runErrExit() error {
	name := s.t.name
	switch {
	case errors.Is(s.err, runner.ErrInterrupted) || (s.err == nil && s.sum.Interrupted):
		return unfinishedErr("interrupted; the reports written are marked interrupted")
	case errors.Is(s.err, runner.ErrRejected) && name == "":
		return unfinishedErr("the target refused %s (%v); the run stopped", keyWhat(s.t.keyEnv), s.err)
	case errors.Is(s.err, runner.ErrRejected):
		return unfinishedErr("target %s refused %s (%v); its run stopped", name, keyWhat(s.t.keyEnv), s.err)
	case errors.Is(s.err, runner.ErrQuotaExhausted) && name == "":
		return unfinishedErr("the agent's quota is used up; the run stopped cleanly (results written)")
	case errors.Is(s.err, runner.ErrQuotaExhausted):
		return unfinishedErr("the quota of target %s is used up; its run stopped cleanly (results written)", name)
	case s.err != nil && name == "":
		return unfinishedErr("run failed: %v", s.err)
	case s.err != nil:
		return unfinishedErr("target %s: run failed: %v", name, s.err)
	}
	return nil
}

// checkHealth checks every side's target at once, unless --no-health-check.
// Interrupted during the check, it goes on, so that the run reports every
// conversation not_run ("interrupted") and writes its reports.
func (a *app) checkHealth(f *runFlags, sides []*sideRun) error {
	if f.tx.noHealth {
		return nil
	}
	errs := make([]error, len(sides))
	var wg sync.WaitGroup
	for i, s := range sides {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(a.stop, 10*time.Second)
			defer cancel()
			errs[i] = s.conn.Health(ctx)
		})
	}
	wg.Wait()
	for i, s := range sides {
		switch {
		case errs[i] == nil || a.stop.Err() != nil:
		case s.t.name == "":
			return unfinishedErr("target %s is not healthy: %v%s", s.tgt.URL, errs[i], healthHint(s.t.kind))
		default:
			return unfinishedErr("target %s (%s) is not healthy: %v%s", s.t.name, s.tgt.URL, errs[i], healthHint(s.t.kind))
		}
	}
	return nil
}
