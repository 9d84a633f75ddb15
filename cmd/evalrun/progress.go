package main

import (
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/evalrun/evalrun/report"
	"github.com/evalrun/evalrun/runner"
)

// progress shows how a run is going: live lines on a terminal, plain
// status lines every statusEvery otherwise, nothing with --quiet. Every
// line of one refresh comes from one reading of each target's snapshot,
// so the bar, the counts and the rates always add up.
type progress struct {
	done chan struct{}
	wg   sync.WaitGroup
	p    *mpb.Progress
}

const (
	statusEvery  = 10 * time.Second
	refreshEvery = 200 * time.Millisecond
	barWidth     = 20
)

// progressSource is one target's live state for the display.
type progressSource struct {
	name   string // the target's name; "" in a run of one target
	snap   snapshotter
	total  int64          // conversations planned; 0 when not known in advance (--duration)
	budget *runner.Budget // nil without a quota
}

// snapshotter is what the progress display reads: a report.Aggregator.
type snapshotter interface{ Snapshot() report.Snapshot }

// progressState is the display's input at one moment: every target's
// snapshot read once, and the time elapsed.
type progressState struct {
	elapsed time.Duration
	dur     time.Duration // --duration: the run's planned length; 0 for a count-bound run
	targets []targetState
}

type targetState struct {
	name         string
	snap         report.Snapshot
	total        int64
	spent, limit int64 // budget units; limit 0 without a quota
}

// readProgress reads every source once, at now.
func readProgress(start, now time.Time, dur time.Duration, sources []progressSource) progressState {
	st := progressState{elapsed: max(now.Sub(start), 0), dur: dur}
	for _, s := range sources {
		t := targetState{name: s.name, snap: s.snap.Snapshot(), total: s.total}
		if s.budget != nil {
			t.spent, t.limit = s.budget.Spent(), s.budget.Limit()
		}
		st.targets = append(st.targets, t)
	}
	return st
}

func (a *app) startProgress(f *runFlags, sources []progressSource) *progress {
	pr := &progress{done: make(chan struct{})}
	if f.quiet {
		return pr
	}
	start, dur := time.Now(), f.load.duration
	read := func() progressState { return readProgress(start, time.Now(), dur, sources) }
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
					for _, l := range statusLines(read()) {
						fmt.Fprintln(a.stderr, "evalrun:", l)
					}
				}
			}
		}()
		return pr
	}

	// On a terminal: one mpb line per display line, each showing its part
	// of the latest frame; the frame is computed in one place.
	var mu sync.Mutex
	frame := progressLines(read())
	pr.p = mpb.New(mpb.WithOutput(a.stderr), mpb.WithRefreshRate(refreshEvery))
	bars := make([]*mpb.Bar, len(frame))
	for i := range frame {
		bars[i] = pr.p.New(1, mpb.NopStyle(), mpb.PrependDecorators(decor.Any(func(s decor.Statistics) string {
			mu.Lock()
			defer mu.Unlock()
			return fitWidth(frame[i], s.AvailableWidth-1)
		})))
	}
	pr.wg.Add(1)
	go func() {
		defer pr.wg.Done()
		t := time.NewTicker(refreshEvery)
		defer t.Stop()
		update := func() {
			lines := progressLines(read())
			mu.Lock()
			frame = lines
			mu.Unlock()
		}
		for {
			select {
			case <-pr.done:
				update()
				for _, b := range bars {
					b.SetTotal(-1, true) // complete: draw the last frame and stop
				}
				return
			case <-t.C:
				update()
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

// progressLines renders the terminal display: one line per target, with
// a bar (conversations done of planned, or the time for a --duration run),
// the counts and its p95, then a line with the elapsed time, the ETA, the
// calls and their rate and the conversations in flight.
func progressLines(st progressState) []string {
	width := 0
	for _, t := range st.targets {
		width = max(width, utf8.RuneCountInString(targetLabel(t)))
	}
	var out []string
	for _, t := range st.targets {
		label := targetLabel(t)
		label += strings.Repeat(" ", width-utf8.RuneCountInString(label))
		out = append(out, label+" "+progressBar(fraction(st, t))+" "+targetCounts(st, t, len(st.targets) > 1))
	}
	return append(out, summaryLine(st))
}

// statusLines renders the plain status written every statusEvery when
// stderr is not a terminal: for one target one line, for several a
// summary line and a line per target.
func statusLines(st progressState) []string {
	if len(st.targets) == 1 {
		t := st.targets[0]
		return []string{targetLabel(t) + " " + targetCounts(st, t, false) + "  " + summaryLine(st)}
	}
	out := []string{summaryLine(st)}
	for _, t := range st.targets {
		out = append(out, targetLabel(t)+" "+targetCounts(st, t, true))
	}
	return out
}

func targetLabel(t targetState) string {
	if t.name == "" {
		return "conversations"
	}
	return t.name
}

// fraction is how far a target is: conversations done of planned, or the
// time elapsed of a --duration run's length.
func fraction(st progressState, t targetState) float64 {
	switch {
	case st.dur > 0:
		return min(float64(st.elapsed)/float64(st.dur), 1)
	case t.total > 0:
		return min(float64(t.snap.Conversations)/float64(t.total), 1)
	}
	return 0
}

func progressBar(f float64) string {
	n := int(f * barWidth)
	switch {
	case n >= barWidth:
		return "[" + strings.Repeat("=", barWidth) + "]"
	case n > 0:
		return "[" + strings.Repeat("=", n-1) + ">" + strings.Repeat(" ", barWidth-n) + "]"
	}
	return "[" + strings.Repeat(" ", barWidth) + "]"
}

// targetCounts is the counts part of a target's line; inFlight adds the
// target's own conversations in flight (several targets).
func targetCounts(st progressState, t targetState, inFlight bool) string {
	s := t.snap
	var b strings.Builder
	if st.dur > 0 || t.total <= 0 {
		fmt.Fprintf(&b, "%d done", s.Conversations)
	} else {
		fmt.Fprintf(&b, "%d/%d %3.0f%%", s.Conversations, t.total, 100*fraction(st, t))
	}
	// p95 first: on a narrow terminal the end of the line is cut.
	fmt.Fprintf(&b, "  p95 %s  passed %d  failed %d  error %d  throttled %d", fmtP95(s.P95), s.Passed, s.Failed, s.Errored, s.Throttled)
	if s.NotRun > 0 {
		fmt.Fprintf(&b, "  not run %d", s.NotRun)
	}
	if inFlight {
		fmt.Fprintf(&b, "  in flight %d", s.InFlight)
	}
	if t.limit > 0 {
		fmt.Fprintf(&b, "  budget %d/%d", t.spent, t.limit)
	}
	return b.String()
}

// summaryLine says how long the run has gone and has to go, and how busy
// it is: the calls so far and their rate since the start, and the
// conversations in flight (all targets together).
func summaryLine(st progressState) string {
	var calls, inFlight int64
	for _, t := range st.targets {
		calls += t.snap.Calls
		inFlight += t.snap.InFlight
	}
	el := fmtClock(st.elapsed)
	if st.dur > 0 {
		el += " of " + fmtClock(st.dur)
	}
	rate := "-"
	if st.elapsed >= time.Second/10 {
		rate = fmt.Sprintf("%.1f", float64(calls)/st.elapsed.Seconds())
	}
	return fmt.Sprintf("elapsed %s  ETA %s  calls %d  %s calls/s  in flight %d", el, eta(st), calls, rate, inFlight)
}

// eta estimates the time left: the rest of a --duration run, or for a
// count-bound run the slowest target's conversations left at its average
// pace so far ("-" before any conversation is done).
func eta(st progressState) string {
	if st.dur > 0 {
		return fmtClock(max(st.dur-st.elapsed, 0))
	}
	var left time.Duration
	for _, t := range st.targets {
		done := t.snap.Conversations
		if t.total <= 0 || done <= 0 {
			return "-"
		}
		left = max(left, time.Duration(float64(st.elapsed)*float64(max(t.total-done, 0))/float64(done)))
	}
	return fmtClock(left)
}

// fmtClock formats a run's elapsed time or ETA to the second: 0s, 12s,
// 4m05s, 1h02m.
func fmtClock(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// fmtP95 formats a latency as every report prints it (4 significant
// digits); "-" before the first call.
func fmtP95(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return report.FormatMicros(float64(d.Microseconds()))
}

// fitWidth cuts s to at most w runes (a terminal line must not wrap).
func fitWidth(s string, w int) string {
	if w <= 0 || utf8.RuneCountInString(s) <= w {
		return s
	}
	r := []rune(s)
	if w == 1 {
		return "…"
	}
	return string(r[:w-1]) + "…"
}
