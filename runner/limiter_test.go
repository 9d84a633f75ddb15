package runner

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// maxInWindow returns the most grants found in any closed window [t, t+w].
func maxInWindow(grants []time.Time, w time.Duration) int {
	most, j := 0, 0
	for i := range grants {
		for j < len(grants) && grants[j].Sub(grants[i]) <= w {
			j++
		}
		most = max(most, j-i)
	}
	return most
}

func mustLimits(t testing.TB, ls ...Limit) *Limits {
	t.Helper()
	l, err := NewLimits(ls...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// exactLimits returns limits without a safety margin.
func exactLimits(t testing.TB, ls ...Limit) *Limits {
	t.Helper()
	l, err := NewLimitsMargin(0, ls...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// reserveAt is waitJoint on a simulated clock: it asks at now and, when
// the own stacks hold the call back, asks again when they allow it.
func reserveAt(now time.Time, shared, own []*Limits) time.Time {
	for {
		at, ok := reserveJoint(now, shared, own)
		if ok {
			return at
		}
		now = at
	}
}

var (
	perMin100 = Limit{100, time.Minute}
	perHour1k = Limit{1000, time.Hour}
	chats30   = Limit{30, time.Minute}
)

func TestStackedLimitsNeverExceedAnyWindow(t *testing.T) {
	for _, tc := range []struct {
		name string
		// gap returns how long after the previous grant the next call asks.
		gap func(rng *rand.Rand) time.Duration
	}{
		{"greedy", func(*rand.Rand) time.Duration { return 0 }},
		{"random arrivals", func(rng *rand.Rand) time.Duration { return time.Duration(rng.Int64N(int64(2 * time.Second))) }},
		{"bursts after pauses", func(rng *rand.Rand) time.Duration {
			if rng.IntN(50) == 0 {
				return time.Duration(rng.Int64N(int64(20 * time.Minute)))
			}
			return 0
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := exactLimits(t, perMin100, perHour1k)
			rng := rand.New(rand.NewPCG(7, 11))
			now := epoch
			var grants []time.Time
			for range 3500 {
				now = reserveAt(now.Add(tc.gap(rng)), []*Limits{l}, nil)
				if len(grants) > 0 && now.Before(grants[len(grants)-1]) {
					t.Fatalf("grant %v before the previous one", now)
				}
				grants = append(grants, now)
			}
			if got := maxInWindow(grants, time.Minute); got > 100 {
				t.Errorf("%d calls in one 60 s window, limit 100", got)
			}
			if got := maxInWindow(grants, time.Hour); got > 1000 {
				t.Errorf("%d calls in one hour, limit 1000", got)
			}
			for i := 1; i < len(grants); i++ {
				if d := grants[i].Sub(grants[i-1]); d < 600*time.Millisecond {
					t.Fatalf("calls %d and %d only %v apart; the pace of 100/min is 600ms", i, i+1, d)
				}
			}
			if tc.name == "greedy" {
				// The hourly allowance goes at the per-minute pace, then the
				// hour window holds the rest back.
				if d := grants[999].Sub(grants[0]); d > 10*time.Minute {
					t.Errorf("1000 greedy calls took %v; 100/min allows them in under 10 min", d)
				}
				if d := grants[1000].Sub(grants[0]); d <= time.Hour {
					t.Errorf("call 1001 came %v after the first, within the hour", d)
				}
			}
		})
	}
}

func TestJointLimitsHoldForEveryStack(t *testing.T) {
	all := mustLimits(t, perMin100, perHour1k)
	chats := mustLimits(t, chats30)
	rng := rand.New(rand.NewPCG(3, 4))
	now := epoch
	var every, newChats []time.Time
	for range 2500 {
		now = now.Add(time.Duration(rng.Int64N(int64(time.Second))))
		if rng.IntN(3) == 0 { // a new chat: both stacks at once
			at := reserveAt(now, []*Limits{all}, []*Limits{chats})
			every, newChats = append(every, at), append(newChats, at)
		} else {
			every = append(every, reserveAt(now, []*Limits{all}, nil))
		}
	}
	// Grants of different goroutines need not be in order; sort by time.
	sortTimes(every)
	sortTimes(newChats)
	if got := maxInWindow(every, time.Minute); got > 100 {
		t.Errorf("%d calls in 60 s, limit 100", got)
	}
	if got := maxInWindow(every, time.Hour); got > 1000 {
		t.Errorf("%d calls in an hour, limit 1000", got)
	}
	if got := maxInWindow(newChats, time.Minute); got > 30 {
		t.Errorf("%d new chats in 60 s, limit 30", got)
	}
}

func TestMarginWidensEveryWindow(t *testing.T) {
	for _, tc := range []struct {
		limits []Limit
		margin time.Duration
	}{
		{[]Limit{{20, time.Second}, {300, time.Minute}}, AutoMargin},
		{[]Limit{{10, 200 * time.Millisecond}}, 5 * time.Millisecond},
		{[]Limit{perMin100, perHour1k}, AutoMargin},
		{[]Limit{{3, time.Second}}, 250 * time.Millisecond},
	} {
		l, err := NewLimitsMargin(tc.margin, tc.limits...)
		if err != nil {
			t.Fatal(err)
		}
		margins := l.Margins()
		rng := rand.New(rand.NewPCG(5, 9))
		now := epoch
		var grants []time.Time
		for i := range 2500 {
			if i%7 == 0 { // now and then a pause, then greedy again
				now = now.Add(time.Duration(rng.Int64N(int64(2 * time.Second))))
			}
			now = reserveAt(now, []*Limits{l}, nil)
			grants = append(grants, now)
		}
		for i, lim := range tc.limits {
			want := tc.margin
			if want == AutoMargin {
				want = DefaultMargin(lim.Per)
			}
			if margins[i] != want {
				t.Errorf("%v: margin %v, want %v", lim, margins[i], want)
			}
			// Any window of the limit's length plus the margin holds at
			// most Count calls: an agent whose clock lags evalrun's by up
			// to the margin between two calls still sees at most Count.
			if got := maxInWindow(grants, lim.Per+margins[i]); got > int(lim.Count) {
				t.Errorf("%v with margin %v: %d calls in a window of %v", lim, margins[i], got, lim.Per+margins[i])
			}
		}
	}
	for _, m := range []time.Duration{-2, -time.Second, 2 * time.Hour} {
		if _, err := NewLimitsMargin(m, perMin100); err == nil || !strings.Contains(err.Error(), "margin") {
			t.Errorf("NewLimitsMargin(%v): error %v, want one naming the margin", m, err)
		}
	}
}

func TestDefaultMargin(t *testing.T) {
	for per, want := range map[time.Duration]time.Duration{
		100 * time.Millisecond: 10 * time.Millisecond,
		time.Second:            20 * time.Millisecond,
		time.Minute:            1200 * time.Millisecond,
		time.Hour:              2 * time.Second,
	} {
		if got := DefaultMargin(per); got != want {
			t.Errorf("DefaultMargin(%v) = %v, want %v", per, got, want)
		}
	}
}

func TestNewChatWaitingHoldsNoSharedSlot(t *testing.T) {
	// Every call 20/s, new chats 6/s. Two new chats ask at once: the second
	// must wait 1/6 s for its own limit. Turns asking meanwhile get the
	// shared slots at the shared pace, not after the waiting new chat.
	all := exactLimits(t, Limit{20, time.Second})
	chats := exactLimits(t, Limit{6, time.Second})
	t0 := epoch.Add(time.Hour)
	if at, ok := reserveJoint(t0, []*Limits{all}, []*Limits{chats}); !ok || !at.Equal(t0) {
		t.Fatalf("first new chat: %v, %v; want at once", at.Sub(t0), ok)
	}
	at, ok := reserveJoint(t0, []*Limits{all}, []*Limits{chats})
	if ok {
		t.Fatalf("second new chat took a slot at +%v while its own limit holds it back", at.Sub(t0))
	}
	if want := t0.Add(time.Second / 6); !at.Equal(want) {
		t.Fatalf("second new chat told to come back at +%v, want +%v", at.Sub(t0), want.Sub(t0))
	}
	for i := 1; i <= 3; i++ {
		turn := reserveAt(t0, []*Limits{all}, nil)
		if want := t0.Add(time.Duration(i) * 50 * time.Millisecond); !turn.Equal(want) {
			t.Fatalf("turn %d at +%v, want +%v (the shared pace)", i, turn.Sub(t0), want.Sub(t0))
		}
	}
	// At its time the new chat takes the next shared slot.
	if got := reserveAt(at, []*Limits{all}, []*Limits{chats}); !got.Equal(t0.Add(200 * time.Millisecond)) {
		t.Errorf("second new chat at +%v, want +200ms", got.Sub(t0))
	}
}

func TestLateCallPushesTheNextOnes(t *testing.T) {
	// 4 per second, no margin, and a call that went out 300 ms after its
	// slot: the next calls' slots were reserved from the slot, but the
	// calls really sent are what count, so the 5th call waits until 1 s
	// after the late one really went, not after its slot.
	l := exactLimits(t, Limit{4, time.Second})
	t0 := time.Now()
	limitsMu.Lock()
	base := int64(t0.Sub(epoch))
	for i, late := range []int64{300, 0, 0, 0} {
		at := base + int64(i)*int64(250*time.Millisecond)
		l.slots.record(at)
		l.sends.record(at + late*int64(time.Millisecond))
	}
	limitsMu.Unlock()
	// The first call went at +300ms: the 5th may go at +1.3s, not +1s.
	at, ok := reserveJoint(t0, []*Limits{l}, nil)
	if want := t0.Add(1300*time.Millisecond + 1); !ok || !at.Equal(want) {
		t.Errorf("5th call reserved at +%v, want +%v", at.Sub(t0), want.Sub(t0))
	}
	// Checked at its wake: before +1.3s the sends do not allow it yet.
	limitsMu.Lock()
	wait := time.Duration(l.sends.earliest(l, l.pace/2) - int64(time.Since(epoch)))
	limitsMu.Unlock()
	if wait <= 0 || wait > 1300*time.Millisecond {
		t.Errorf("a send now would have to wait %v, want up to 1.3s", wait)
	}
}

func sortTimes(ts []time.Time) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].Before(ts[j-1]); j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}

func TestExactRateLimitClosedWindow(t *testing.T) {
	// 10/s: 600 greedy calls; no closed 1 s window holds 11, and the long
	// run rate is 10/s to within a microsecond per window.
	l := exactLimits(t, Limit{10, time.Second})
	now := epoch
	var grants []time.Time
	for range 600 {
		now = reserveAt(now, []*Limits{l}, nil)
		grants = append(grants, now)
	}
	if got := maxInWindow(grants, time.Second); got != 10 {
		t.Errorf("most calls in a closed 1 s window: %d, want exactly 10", got)
	}
	if d := grants[len(grants)-1].Sub(grants[0]); d < 59900*time.Millisecond || d > 59901*time.Millisecond {
		t.Errorf("600 calls at 10/s took %v, want 59.9 s", d)
	}
}

func TestMinDuration(t *testing.T) {
	tests := []struct {
		calls  int64
		limits []Limit
		lo, hi time.Duration
	}{
		{430, []Limit{perMin100, perHour1k}, 4*time.Minute + 17*time.Second, 4*time.Minute + 18*time.Second},
		{1, []Limit{perMin100}, 0, 0},
		{500, nil, 0, 0},
		{2000, []Limit{perMin100, perHour1k}, time.Hour, time.Hour + 11*time.Minute},
		{31, []Limit{chats30}, time.Minute, time.Minute + time.Millisecond},
		// Beyond the simulation: extrapolated at the slowest rate.
		{3_000_000, []Limit{{1000, time.Second}}, 2999 * time.Second, 3001 * time.Second},
	}
	for _, tt := range tests {
		d, err := MinDuration(tt.calls, tt.limits...)
		if err != nil || d < tt.lo || d > tt.hi {
			t.Errorf("MinDuration(%d, %v) = %v, %v; want in [%v, %v]", tt.calls, tt.limits, d, err, tt.lo, tt.hi)
		}
	}
	if _, err := MinDuration(5, Limit{0, time.Second}); err == nil {
		t.Error("MinDuration with a zero count: no error")
	}
}

func TestParseRateLimit(t *testing.T) {
	ok := map[string]Limit{
		"100/min":   {100, time.Minute},
		"1000/h":    {1000, time.Hour},
		" 5 / s ":   {5, time.Second},
		"30/minute": {30, time.Minute},
		"2.5/s":     {5, 2 * time.Second},
		"0.5/s":     {1, 2 * time.Second},
		"1/hour":    {1, time.Hour},
		"7/SEC":     {7, time.Second},
	}
	for in, want := range ok {
		got, err := ParseRateLimit(in)
		if err != nil || got != want {
			t.Errorf("ParseRateLimit(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":            "COUNT/UNIT",
		"100":         "COUNT/UNIT",
		"0/s":         "above 0",
		"-1/s":        "above 0",
		"x/s":         "above 0",
		"NaN/s":       "above 0",
		"10/day":      "unknown unit",
		"2000000/s":   "at most",
		"0.0001234/s": "decimals",
	}
	for in, want := range bad {
		_, err := ParseRateLimit(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseRateLimit(%q): error %v, want one saying %q", in, err, want)
		}
	}
	for _, l := range []Limit{perMin100, perHour1k, {5, time.Second}} {
		if back, err := ParseRateLimit(l.String()); err != nil || back != l {
			t.Errorf("%v does not round-trip through String: %v, %v", l, back, err)
		}
	}
}

func FuzzParseRateLimit(f *testing.F) {
	for _, s := range []string{"100/min", "1000/h", "2.5/s", "0/s", "1e9/s", "5/", "/s", "0.333/min"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseRateLimit(s)
		if err != nil {
			return
		}
		if l.Count < 1 || l.Count > maxLimitCount || l.Per <= 0 {
			t.Fatalf("ParseRateLimit(%q) = %+v", s, l)
		}
		if _, err := NewLimits(l); err != nil {
			t.Fatalf("ParseRateLimit(%q) = %+v, which NewLimits refuses: %v", s, l, err)
		}
	})
}

func TestLimitsWaitHonoursContext(t *testing.T) {
	l := mustLimits(t, Limit{1, time.Hour})
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err) // the first call goes at once
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Wait(ctx) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after its context was cancelled")
	}
	var nilLimits *Limits
	if err := nilLimits.Wait(context.Background()); err != nil {
		t.Errorf("nil Limits: %v", err)
	}
}

func TestWaitAllMixesLimiters(t *testing.T) {
	bucket := rate.NewLimiter(rate.Inf, 1)
	a, b := mustLimits(t, Limit{1000, time.Second}), mustLimits(t, Limit{1000, time.Second})
	var none *Limits
	for range 5 {
		if err := waitAll(context.Background(), []Limiter{bucket, nil, none, a, b}); err != nil {
			t.Fatal(err)
		}
	}
	limitsMu.Lock()
	defer limitsMu.Unlock()
	for _, h := range []struct {
		name string
		a, b *history
	}{{"slots", &a.slots, &b.slots}, {"sends", &a.sends, &b.sends}} {
		if h.a.windows[0].n != 5 || h.b.windows[0].n != 5 {
			t.Errorf("joint waits recorded %d and %d %s, want 5 each", h.a.windows[0].n, h.b.windows[0].n, h.name)
		}
		if h.a.last != h.b.last {
			t.Errorf("joint stacks recorded different %s times for the same call", h.name)
		}
	}
}
