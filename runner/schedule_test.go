package runner

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock whose sleeps return at once, moving its time forward.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) SleepUntil(ctx context.Context, t time.Time) bool {
	if ctx.Err() != nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	return true
}

// openFake returns an open schedule on a fake clock.
func openFake(t *testing.T, o OpenOptions) (*OpenSchedule, *fakeClock) {
	t.Helper()
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	c := newFakeClock()
	s.clock = c
	return s, c
}

// offsets takes n arrivals (freeing each slot at once) and returns their
// offsets from the schedule's start; fewer when the schedule ends.
func offsets(t *testing.T, s *OpenSchedule, c *fakeClock, n int) []time.Duration {
	t.Helper()
	start := c.Now()
	var out []time.Duration
	for range n {
		at, err := s.Next(context.Background())
		if errors.Is(err, ErrScheduleEnded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		s.Done()
		out = append(out, at.Sub(start))
	}
	return out
}

func near(a, b, tol time.Duration) bool { return (a - b).Abs() <= tol }

func TestOpenConstantIsEvenlySpaced(t *testing.T) {
	for _, rate := range []float64{1, 20, 2000, 1.0 / 60} {
		s, c := openFake(t, OpenOptions{Rate: rate})
		got := offsets(t, s, c, 500)
		gap := time.Duration(float64(time.Second) / rate)
		for k, off := range got {
			if want := time.Duration(k) * gap; !near(off, want, time.Microsecond) {
				t.Fatalf("rate %v: arrival %d at %v, want %v", rate, k, off, want)
			}
		}
		if len(got) != 500 {
			t.Errorf("rate %v: %d arrivals, want 500 (a constant rate never ends)", rate, len(got))
		}
	}
}

func TestOpenPoissonGaps(t *testing.T) {
	const n, rate = 20000, 100.0
	s, c := openFake(t, OpenOptions{Rate: rate, Arrival: ArrivalPoisson, Seed: 7})
	got := offsets(t, s, c, n)
	var sum, sumSq float64
	prev := time.Duration(0)
	for _, off := range got {
		g := (off - prev).Seconds()
		if g < 0 {
			t.Fatalf("arrivals out of order at %v", off)
		}
		sum += g
		sumSq += g * g
		prev = off
	}
	mean := sum / n
	sd := math.Sqrt(sumSq/n - mean*mean)
	// The standard error of the mean is 1/(rate·√n) ≈ 0.7% of the mean; 3%
	// is more than four of them. An exponential's sd equals its mean, which
	// tells it from evenly spaced arrivals (sd 0).
	if want := 1 / rate; math.Abs(mean-want) > 0.03*want {
		t.Errorf("mean gap %.5fs, want %.5fs ± 3%%", mean, want)
	}
	if cv := sd / mean; cv < 0.95 || cv > 1.05 {
		t.Errorf("coefficient of variation %.3f, want about 1 (exponential gaps)", cv)
	}

	// The same seed gives the same arrivals; another seed others.
	again, c2 := openFake(t, OpenOptions{Rate: rate, Arrival: ArrivalPoisson, Seed: 7})
	other, c3 := openFake(t, OpenOptions{Rate: rate, Arrival: ArrivalPoisson, Seed: 8})
	a, b := offsets(t, again, c2, 100), offsets(t, other, c3, 100)
	for i := range a {
		if a[i] != got[i] {
			t.Fatalf("seed 7 again: arrival %d at %v, first time %v", i, a[i], got[i])
		}
	}
	if a[10] == b[10] && a[50] == b[50] {
		t.Error("seeds 7 and 8 gave the same arrivals")
	}
}

func TestStagesRampLinearly(t *testing.T) {
	// 0 → 10/s over 10 s, 10 → 50/s over 10 s, hold 50/s for 5 s.
	stages := []Stage{{10, 10 * time.Second}, {50, 10 * time.Second}, {50, 5 * time.Second}}
	p := profile{stages: stages}
	for _, tc := range []struct{ at, rate float64 }{
		{0, 0}, {5, 5}, {9.999, 9.999}, {10, 10}, {15, 30}, {20, 50}, {22, 50}, {25, 0}, {100, 0},
	} {
		if got := p.rateAt(tc.at); math.Abs(got-tc.rate) > 1e-9 {
			t.Errorf("rate at %vs: %v, want %v", tc.at, got, tc.rate)
		}
	}
	// Integrals: 0.5·10·10 = 50; (10+50)/2·10 = 300; 50·5 = 250.
	for _, tc := range []struct {
		d    time.Duration
		want float64
	}{{10 * time.Second, 50}, {20 * time.Second, 350}, {0, 600}, {time.Hour, 600}, {15 * time.Second, 150}} {
		if got := p.expected(tc.d); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("integral over %v: %v, want %v", tc.d, got, tc.want)
		}
	}

	s, c := openFake(t, OpenOptions{Stages: stages})
	got := offsets(t, s, c, 10000)
	if len(got) != 600 {
		t.Fatalf("%d arrivals, want 600 (the integral of the stages)", len(got))
	}
	per := map[int]int{} // arrivals per stage
	for _, off := range got {
		switch {
		case off < 10*time.Second:
			per[0]++
		case off < 20*time.Second:
			per[1]++
		default:
			per[2]++
		}
	}
	if per[0] != 50 || per[1] != 300 || per[2] != 250 {
		t.Errorf("arrivals per stage %v, want 50, 300, 250", per)
	}
	// Around 15 s the rate is 30/s: the gaps there are about 1/30 s.
	for i := 1; i < len(got); i++ {
		if got[i] >= 15*time.Second {
			if g := got[i] - got[i-1]; !near(g, time.Second/30, 2*time.Millisecond) {
				t.Errorf("gap at 15s: %v, want about %v", g, time.Second/30)
			}
			break
		}
	}
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrScheduleEnded) {
		t.Errorf("after the last stage: %v, want ErrScheduleEnded", err)
	}
}

func TestStagesStartFromRate(t *testing.T) {
	// From 100/s down to 0 over 2 s: 100 arrivals, denser at the start.
	s, c := openFake(t, OpenOptions{Rate: 100, Stages: []Stage{{0, 2 * time.Second}}})
	got := offsets(t, s, c, 1000)
	if len(got) != 100 {
		t.Fatalf("%d arrivals, want 100", len(got))
	}
	if first, last := got[1]-got[0], got[99]-got[98]; first >= last {
		t.Errorf("ramping down: first gap %v should be shorter than the last %v", first, last)
	}
	if got[99] >= 2*time.Second {
		t.Errorf("last arrival at %v, after the stage", got[99])
	}
}

func TestOpenPoissonFollowsStages(t *testing.T) {
	stages := []Stage{{200, 10 * time.Second}, {0, 10 * time.Second}}
	s, c := openFake(t, OpenOptions{Stages: stages, Arrival: ArrivalPoisson, Seed: 3})
	got := offsets(t, s, c, 100000)
	// The integral is 2000; a Poisson count has sd √2000 ≈ 45.
	if n := float64(len(got)); math.Abs(n-2000) > 200 {
		t.Errorf("%v arrivals, want about 2000", n)
	}
}

func TestOpenCapOnConversationsInFlight(t *testing.T) {
	s, _ := openFake(t, OpenOptions{Rate: 1000, MaxInFlight: 2})
	ctx := context.Background()
	for range 2 {
		if _, err := s.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.CapHits != 0 || st.MaxInFlight != 2 {
		t.Fatalf("stats %+v before the cap was reached", st)
	}
	got := make(chan time.Time)
	go func() {
		at, err := s.Next(ctx)
		if err != nil {
			t.Error(err)
		}
		got <- at
	}()
	select {
	case <-got:
		t.Fatal("a third conversation started with the cap of 2 reached")
	case <-time.After(20 * time.Millisecond):
	}
	s.Done()
	at := <-got
	if st := s.Stats(); st.CapHits != 1 || st.FirstCapHit != 2*time.Millisecond {
		t.Errorf("stats %+v, want one cap hit at 2ms", st)
	}
	// The arrival keeps its scheduled time, so the wait counts as lag.
	if at.IsZero() {
		t.Error("zero arrival time")
	}

	// A cancelled wait for a slot returns the context's error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Next(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestOpenOptionsChecked(t *testing.T) {
	for _, o := range []OpenOptions{
		{},
		{Rate: -1},
		{Rate: math.NaN()},
		{Rate: 2e6},
		{Rate: 1, MaxInFlight: -1},
		{Stages: []Stage{{10, 0}}},
		{Stages: []Stage{{-1, time.Second}}},
		{Rate: 1, Arrival: Arrival(9)},
	} {
		if _, err := Open(o); err == nil {
			t.Errorf("Open(%+v) accepted", o)
		}
	}
	if _, err := Open(OpenOptions{Stages: []Stage{{10, time.Second}}}); err != nil {
		t.Errorf("stages from 0: %v", err)
	}
}

func TestParseStage(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Stage
		err  bool
	}{
		{in: "10/s:1m", want: Stage{10, time.Minute}},
		{in: " 600/min : 30s ", want: Stage{10, 30 * time.Second}},
		{in: "3600/h:1h30m", want: Stage{1, 90 * time.Minute}},
		{in: "0/s:10s", want: Stage{0, 10 * time.Second}},
		{in: "2.5:1s", want: Stage{2.5, time.Second}},
		{in: "10/s", err: true},
		{in: "10/s:0s", err: true},
		{in: "10/s:-1s", err: true},
		{in: "10/s:5", err: true},
		{in: "10/d:1m", err: true},
		{in: "-1/s:1m", err: true},
		{in: "x/s:1m", err: true},
		{in: "inf/s:1m", err: true},
		{in: "NaN/s:1m", err: true},
		{in: "2000000/s:1m", err: true},
		{in: "", err: true},
	} {
		got, err := ParseStage(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("ParseStage(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || math.Abs(got.Target-tc.want.Target) > 1e-12 || got.Duration != tc.want.Duration {
			t.Errorf("ParseStage(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseArrivalRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		err  bool
	}{
		{in: "20/s", want: 20},
		{in: "20", want: 20},
		{in: "600/min", want: 10},
		{in: "36/h", want: 0.01},
		{in: "0/s", err: true},
		{in: "0", err: true},
		{in: "/s", err: true},
		{in: "5/week", err: true},
		{in: "0x10/s", err: true},
		{in: "1e7/s", err: true},
	} {
		got, err := ParseArrivalRate(tc.in)
		if tc.err != (err != nil) || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("ParseArrivalRate(%q) = %v, %v", tc.in, got, err)
		}
	}
	for in, want := range map[string]Arrival{"constant": ArrivalConstant, "Poisson": ArrivalPoisson, "": ArrivalConstant} {
		if got, err := ParseArrival(in); err != nil || got != want {
			t.Errorf("ParseArrival(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseArrival("bursty"); err == nil {
		t.Error(`ParseArrival("bursty") accepted`)
	}
}

func FuzzParseStage(f *testing.F) {
	for _, s := range []string{"10/s:1m", "600/min:30s", "0/s:10s", "1e3/h:1h", "5:1s", ":", "/:", "1/s:1ns"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseStage(s)
		if err != nil {
			return
		}
		if st.Duration <= 0 || !(st.Target >= 0) || st.Target > maxArrivalRate {
			t.Fatalf("ParseStage(%q) = %+v: out of range", s, st)
		}
		// What String prints reads back the same.
		back, err := ParseStage(st.String())
		if err != nil || back != st {
			t.Fatalf("ParseStage(%q).String() = %q reads back as %+v, %v", s, st.String(), back, err)
		}
		if _, err := Open(OpenOptions{Stages: []Stage{st}}); err != nil {
			t.Fatalf("a parsed stage is refused by Open: %v", err)
		}
	})
}

func FuzzParseArrivalRate(f *testing.F) {
	for _, s := range []string{"20/s", "20", "600/min", "1/h", "0", "-1/s", "1e6/s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseArrivalRate(s)
		if err != nil {
			return
		}
		if !(r > 0) || r > maxArrivalRate {
			t.Fatalf("ParseArrivalRate(%q) = %v: out of range", s, r)
		}
	})
}

func TestOpenStartsArrivalsDueBeforeTheEndWhenLate(t *testing.T) {
	// 1000/s, the run ends 10 ms after the start; the clock is already 50 ms
	// past the start (the run fell behind): the 10 arrivals due before the
	// end are returned, late, and then the deadline.
	s, c := openFake(t, OpenOptions{Rate: 1000})
	start := c.Now()
	ctx := withEnd(context.Background(), start.Add(10*time.Millisecond))
	if _, err := s.Next(ctx); err != nil { // starts the schedule at start
		t.Fatal(err)
	}
	c.mu.Lock()
	c.now = start.Add(50 * time.Millisecond)
	c.mu.Unlock()
	n := 1
	for {
		at, err := s.Next(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if want := start.Add(time.Duration(n) * time.Millisecond); !at.Equal(want) {
			t.Errorf("arrival %d at +%v, want +%v", n, at.Sub(start), want.Sub(start))
		}
		n++
	}
	if n != 10 {
		t.Errorf("%d arrivals before the end, want 10", n)
	}
}

func TestOpenReportsDueArrivalsWhenStopped(t *testing.T) {
	// Stopped 5.5 ms after the start with 1 started: the arrivals due at
	// 1..5 ms come back as *MissedArrival, then the stop's error.
	s, c := openFake(t, OpenOptions{Rate: 1000})
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := s.Next(ctx); err != nil {
		t.Fatal(err)
	}
	start := c.Now()
	c.mu.Lock()
	c.now = start.Add(5500 * time.Microsecond)
	c.mu.Unlock()
	cancel()
	var missed []time.Duration
	for {
		_, err := s.Next(ctx)
		var m *MissedArrival
		if !errors.As(err, &m) {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("after the missed arrivals: %v, want context.Canceled", err)
			}
			break
		}
		if m.Capped || !errors.Is(m, context.Canceled) {
			t.Errorf("missed arrival %+v", m)
		}
		missed = append(missed, m.At.Sub(start))
	}
	want := []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond, 5 * time.Millisecond}
	if !slices.Equal(missed, want) {
		t.Errorf("missed %v, want %v", missed, want)
	}
	if st := s.Stats(); st.Missed != 5 || st.MissedCapped != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestClosedRecordsItsWaits(t *testing.T) {
	s := Closed(1)
	st := s.(interface{ Stats() ScheduleStats })
	ctx := context.Background()
	if _, err := s.Next(ctx); err != nil {
		t.Fatal(err)
	}
	if got := st.Stats(); !got.Closed || len(got.Waits) != 0 {
		t.Fatalf("stats %+v before any wait", got)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := s.Next(ctx); err != nil {
			t.Error(err)
		}
	}()
	time.Sleep(30 * time.Millisecond)
	s.Done()
	<-done
	got := st.Stats()
	var total time.Duration
	for _, w := range got.Waits {
		total += w
	}
	if total <= 0 || total > time.Since(got.WaitStart) {
		t.Errorf("waited %v in all (buckets %v), want more than 0 and at most the time since the start", total, got.Waits)
	}
	if d := got.WaitedDuring(got.WaitStart, time.Now()); d != total {
		t.Errorf("WaitedDuring the whole run = %v, want %v", d, total)
	}
	if d := got.WaitedDuring(got.WaitStart.Add(-time.Hour), got.WaitStart.Add(-time.Minute)); d != 0 {
		t.Errorf("WaitedDuring before the start = %v", d)
	}
}
