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
	// elapsed is the time bar's position in milliseconds (--duration runs).
	elapsed func() int64
}

const statusEvery = 10 * time.Second

func (a *app) startProgress(f *runFlags, agg snapshotter, total int64, budget *runner.Budget) *progress {
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
	outcomes := decor.Any(func(decor.Statistics) string {
		s := agg.Snapshot()
		return fmt.Sprintf(" passed %d  failed %d  error %d  throttled %d  p95 %s",
			s.Passed, s.Failed, s.Errored, s.Throttled, fmtDur(s.P95))
	})
	// A --duration run has no conversation count in advance: its bar is
	// the time, and the conversations done are counted beside it.
	dur := f.load.duration
	byTime := dur > 0
	var convs *mpb.Bar
	if byTime {
		start := time.Now()
		convs = pr.p.AddBar(dur.Milliseconds(),
			mpb.PrependDecorators(decor.Name("elapsed       ", decor.WC{C: decor.DindentRight}), decor.Any(func(decor.Statistics) string {
				return fmt.Sprintf("%s/%s", time.Since(start).Round(time.Second), dur)
			})),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
				return fmt.Sprintf(" conversations %d ", agg.Snapshot().Conversations)
			}), outcomes),
		)
		startTime := start
		pr.elapsed = func() int64 { return min(time.Since(startTime).Milliseconds(), dur.Milliseconds()) }
	} else {
		convs = pr.p.AddBar(max(total, 1),
			mpb.PrependDecorators(decor.Name("conversations ", decor.WC{C: decor.DindentRight}), decor.CountersNoUnit("%d/%d")),
			mpb.AppendDecorators(outcomes),
		)
	}
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
			if byTime {
				convs.SetCurrent(pr.elapsed())
			} else {
				convs.SetCurrent(agg.Snapshot().Conversations)
			}
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
	of := fmt.Sprintf("/%d", total)
	if total <= 0 {
		of = "" // a --duration run: no count in advance
	}
	line := fmt.Sprintf("conversations %d%s  passed %d  failed %d  error %d  throttled %d  calls %d  p95 %s",
		s.Conversations, of, s.Passed, s.Failed, s.Errored, s.Throttled, s.Calls, fmtDur(s.P95))
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
