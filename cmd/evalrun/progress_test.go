package main

import (
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evalrun/evalrun/report"
	"github.com/evalrun/evalrun/runner"
)

func TestProgressLines(t *testing.T) {
	snap := report.Snapshot{Conversations: 142, Counts: report.Counts{Passed: 130, Failed: 10, Errored: 2}, Calls: 1234, P95: 67903 * time.Microsecond, InFlight: 8}
	tests := []struct {
		name   string
		st     progressState
		lines  []string
		status []string
	}{
		{
			name: "one target",
			st:   progressState{elapsed: 62 * time.Second, targets: []targetState{{snap: snap, total: 750, spent: 1300, limit: 5000}}},
			lines: []string{
				"conversations [==>                 ] 142/750  19%  p95 67.90ms  passed 130  failed 10  error 2  throttled 0  budget 1300/5000",
				// ETA: 62s × (750-142)/142 = 265s.
				"elapsed 1m02s  ETA 4m25s  calls 1234  19.9 calls/s  in flight 8",
			},
			status: []string{
				"conversations 142/750  19%  p95 67.90ms  passed 130  failed 10  error 2  throttled 0  budget 1300/5000  elapsed 1m02s  ETA 4m25s  calls 1234  19.9 calls/s  in flight 8",
			},
		},
		{
			name: "before the first conversation",
			st:   progressState{elapsed: 0, targets: []targetState{{total: 10}}},
			lines: []string{
				"conversations [                    ] 0/10   0%  p95 -  passed 0  failed 0  error 0  throttled 0",
				"elapsed 0s  ETA -  calls 0  - calls/s  in flight 0",
			},
		},
		{
			name: "--duration",
			st:   progressState{elapsed: 90 * time.Second, dur: 5 * time.Minute, targets: []targetState{{snap: report.Snapshot{Conversations: 40, Counts: report.Counts{Passed: 38, NotRun: 2}, Calls: 180, InFlight: 3}}}},
			lines: []string{
				"conversations [=====>              ] 40 done  p95 -  passed 38  failed 0  error 0  throttled 0  not run 2",
				"elapsed 1m30s of 5m00s  ETA 3m30s  calls 180  2.0 calls/s  in flight 3",
			},
		},
		{
			name: "two targets, each with its own p95",
			st: progressState{elapsed: 10 * time.Second, targets: []targetState{
				{name: "baseline", total: 20, snap: report.Snapshot{Conversations: 20, Counts: report.Counts{Passed: 20}, Calls: 60, P95: 120 * time.Millisecond}},
				{name: "candidate-b", total: 20, snap: report.Snapshot{Conversations: 5, Counts: report.Counts{Passed: 4, Failed: 1}, Calls: 17, P95: 1401 * time.Millisecond, InFlight: 4}},
			}},
			lines: []string{
				"baseline    [====================] 20/20 100%  p95 120.0ms  passed 20  failed 0  error 0  throttled 0  in flight 0",
				"candidate-b [====>               ] 5/20  25%  p95 1.401s  passed 4  failed 1  error 0  throttled 0  in flight 4",
				// The slowest target sets the ETA: 10s × 15/5.
				"elapsed 10s  ETA 30s  calls 77  7.7 calls/s  in flight 4",
			},
			status: []string{
				"elapsed 10s  ETA 30s  calls 77  7.7 calls/s  in flight 4",
				"baseline 20/20 100%  p95 120.0ms  passed 20  failed 0  error 0  throttled 0  in flight 0",
				"candidate-b 5/20  25%  p95 1.401s  passed 4  failed 1  error 0  throttled 0  in flight 4",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := progressLines(tt.st); strings.Join(got, "\n") != strings.Join(tt.lines, "\n") {
				t.Errorf("terminal lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.lines, "\n"))
			}
			if tt.status == nil {
				return
			}
			if got := statusLines(tt.st); strings.Join(got, "\n") != strings.Join(tt.status, "\n") {
				t.Errorf("status lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.status, "\n"))
			}
		})
	}
}

// movingSnapshots moves on every time it is read, as a run does between
// two reads: a display that read it twice for one frame would show counts
// that do not add up.
type movingSnapshots struct{ reads atomic.Int64 }

func (m *movingSnapshots) Snapshot() report.Snapshot {
	n := m.reads.Add(1)
	return report.Snapshot{Conversations: n, Counts: report.Counts{Passed: int(n)}, Calls: 2 * n}
}

// TestProgressReadsOnce: a frame reads each target once, so the bar, the
// count and the outcomes of a line are of one moment; elapsed time comes
// from the clock given (a fake one here).
func TestProgressReadsOnce(t *testing.T) {
	a, b := &movingSnapshots{}, &movingSnapshots{}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	srcs := []progressSource{{name: "a", snap: a, total: 10}, {name: "b", snap: b, total: 10}}
	for i := int64(1); i <= 3; i++ {
		st := readProgress(start, start.Add(time.Duration(i)*time.Second), 0, srcs)
		if a.reads.Load() != i || b.reads.Load() != i {
			t.Fatalf("frame %d: %d and %d reads, want one per target per frame", i, a.reads.Load(), b.reads.Load())
		}
		for _, l := range progressLines(st)[:2] {
			want := strings.Repeat("=", int(i*2)-1) + ">"
			if !strings.Contains(l, want+strings.Repeat(" ", 20-int(i*2))+"] ") ||
				!strings.Contains(l, " "+itoa(i)+"/10 ") || !strings.Contains(l, "passed "+itoa(i)+" ") {
				t.Errorf("frame %d: %q: bar, count and passed disagree", i, l)
			}
		}
		if st.elapsed != time.Duration(i)*time.Second {
			t.Errorf("frame %d: elapsed %v", i, st.elapsed)
		}
	}
	// A budget is read with the snapshot.
	bud := runner.NewBudget(100, 1, 0)
	st := readProgress(start, start, 0, []progressSource{{snap: a, total: 10, budget: bud}})
	if st.targets[0].limit != 100 {
		t.Errorf("budget limit %d", st.targets[0].limit)
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func TestFitWidth(t *testing.T) {
	for _, tc := range []struct {
		s    string
		w    int
		want string
	}{
		{"abcdef", 10, "abcdef"},
		{"abcdef", 4, "abc…"},
		{"p95 1.000µs", 9, "p95 1.00…"},
		{"abc", 0, "abc"},
	} {
		if got := fitWidth(tc.s, tc.w); got != tc.want {
			t.Errorf("fitWidth(%q, %d) = %q, want %q", tc.s, tc.w, got, tc.want)
		}
	}
}
