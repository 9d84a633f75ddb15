package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/evalrun/evalrun/report"
	"github.com/evalrun/evalrun/runner"
)

// progress shows how a run is going: bars on a terminal, a plain status line
// every statusEvery otherwise, nothing with --quiet.
type progress struct {
	done chan struct{}
	wg   sync.WaitGroup
	p    *mpb.Progress
}

const statusEvery = 10 * time.Second

func (a *app) startProgress(f *runFlags, agg *report.Aggregator, total int64, budget *runner.Budget) *progress {
	pr := &progress{done: make(chan struct{})}
	if f.quiet {
		return pr
	}
	if !a.tty {
		pr.wg.Add(1)
		go func() {
			defer pr.wg.Done()
			t := time.NewTicker(statusEvery)
			defer t.Stop()
			for {
				select {
				case <-pr.done:
					return
				case <-t.C:
					fmt.Fprintln(a.stderr, "evalrun:", statusLine(agg.Snapshot(), total, budget))
				}
			}
		}()
		return pr
	}

	pr.p = mpb.New(mpb.WithOutput(a.stderr), mpb.WithWidth(40), mpb.WithRefreshRate(200*time.Millisecond))
	convs := pr.p.AddBar(total,
		mpb.PrependDecorators(decor.Name("conversations ", decor.WC{C: decor.DindentRight}), decor.CountersNoUnit("%d/%d")),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			s := agg.Snapshot()
			return fmt.Sprintf(" passed %d  failed %d  error %d  throttled %d  p95 %s",
				s.Passed, s.Failed, s.Errored, s.Throttled, fmtDur(s.P95))
		})),
	)
	var calls *mpb.Bar
	if budget != nil {
		calls = pr.p.AddBar(budget.Limit(),
			mpb.PrependDecorators(decor.Name("calls/budget  ", decor.WC{C: decor.DindentRight}), decor.CountersNoUnit("%d/%d")),
		)
	}
	pr.wg.Add(1)
	go func() {
		defer pr.wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		update := func() {
			convs.SetCurrent(agg.Snapshot().Conversations)
			if calls != nil {
				calls.SetCurrent(budget.Spent())
			}
		}
		for {
			update()
			select {
			case <-pr.done:
				update()
				convs.SetTotal(-1, true) // complete at the count reached
				if calls != nil {
					calls.Abort(false) // keep showing spent of budget
				}
				return
			case <-t.C:
			}
		}
	}()
	return pr
}

// stop ends the display and waits until it is flushed.
func (pr *progress) stop() {
	close(pr.done)
	pr.wg.Wait()
	if pr.p != nil {
		pr.p.Wait()
	}
}

func statusLine(s report.Snapshot, total int64, budget *runner.Budget) string {
	line := fmt.Sprintf("conversations %d/%d  passed %d  failed %d  error %d  throttled %d  calls %d  p95 %s",
		s.Conversations, total, s.Passed, s.Failed, s.Errored, s.Throttled, s.Calls, fmtDur(s.P95))
	if budget != nil {
		line += fmt.Sprintf("  budget %d/%d", budget.Spent(), budget.Limit())
	}
	return line
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}
