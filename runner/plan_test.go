package runner

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/evalrun/evalrun/scenarios"
)

// plan is the reference run order: every conversation of one pass built
// one by one, iteration-major, as the runner did before order. The tests
// check order's arithmetic against it on small suites.
func plan(suite *scenarios.Suite) []planned {
	if suite == nil {
		return nil
	}
	most := 0
	for _, sc := range suite.Scenarios {
		if sc != nil {
			most = max(most, repeats(sc))
		}
	}
	var out []planned
	for it := 0; it < most; it++ {
		for _, sc := range suite.Scenarios {
			if sc != nil && it < repeats(sc) {
				out = append(out, planned{ID: len(out) + 1, Scenario: sc, Iteration: it})
			}
		}
	}
	return out
}

// estimate is the reference estimate of a list of conversations.
func estimate(convs []planned, cc costConfig, costPerCall int64, retryFraction float64) Estimate {
	e := Estimate{Conversations: int64(len(convs)), CostPerCall: max(costPerCall, 1)}
	e.NewChats = e.Conversations * int64(cc.newChat)
	for _, c := range convs {
		e.Calls += int64(c.calls(cc.newChat))
	}
	e.Cost = e.Calls * e.CostPerCall
	e.RetryAllowance = retryAllowance(e.Cost, retryFraction)
	e.WorstCase = e.Cost + e.RetryAllowance
	return e
}

// loopedEstimate is the reference estimate of the first n conversations of
// the pass repeated.
func loopedEstimate(convs []planned, cc costConfig, n, costPerCall int64, retryFraction float64) Estimate {
	var list []planned
	for i := int64(0); len(convs) > 0 && i < n; i++ {
		list = append(list, convs[i%int64(len(convs))])
	}
	return estimate(list, cc, costPerCall, retryFraction)
}

// randomSuite makes up to 6 scenarios (some nil) of 1–5 turns with repeats
// of 1–7 (often equal) or 1–40 (whole blocks of a shard's stride).
func randomSuite(t testing.TB, rng *rand.Rand) *scenarios.Suite {
	var scs []*scenarios.Scenario
	most := []int{7, 40}[rng.IntN(2)]
	for i := range 1 + rng.IntN(6) {
		if rng.IntN(8) == 0 {
			scs = append(scs, nil)
			continue
		}
		scs = append(scs, scenario(t, fmt.Sprintf("s%d", i), 1+rng.IntN(5), 1+rng.IntN(most)))
	}
	return suiteOf(scs...)
}

// TestOrderAgreesWithReference checks, on random suites, that order hands out
// the reference plan's conversations and that its counts and sums over any
// prefix of the repeated order, for any shard, are the reference's.
func TestOrderAgreesWithReference(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		suite := randomSuite(t, rng)
		ref := plan(suite)
		o := newOrder(suite)
		if o.total != int64(len(ref)) {
			t.Fatalf("seed %d: total %d, reference %d", seed, o.total, len(ref))
		}
		for i, want := range ref {
			if got := o.at(int64(i)); got != want {
				t.Fatalf("seed %d: at(%d) = %+v, reference %+v", seed, i, got, want)
			}
		}
		if len(ref) > 0 && o.most != ref[len(ref)-1].Iteration+1 {
			t.Fatalf("seed %d: most %d", seed, o.most)
		}
		// Random access (a shard jumps) gives the same as in order.
		for range 20 {
			if len(ref) == 0 {
				break
			}
			i := rng.IntN(len(ref))
			if got := o.at(int64(i)); got != ref[i] {
				t.Fatalf("seed %d: at(%d) out of order = %+v, reference %+v", seed, i, got, ref[i])
			}
		}
		for range 30 {
			stride := int64(1 + rng.IntN(9))
			off := rng.Int64N(stride)
			upto := rng.Int64N(int64(4*len(ref) + 3))
			var wn, wt int64
			for g := off; g < upto && len(ref) > 0; g += stride {
				wn++
				wt += turnCalls(ref[g%int64(len(ref))].Scenario)
			}
			if n, tc := o.prefix(upto, stride, off); n != wn || tc != wt {
				t.Fatalf("seed %d: prefix(%d, %d, %d) = %d conversations, %d calls; reference %d, %d", seed, upto, stride, off, n, tc, wn, wt)
			}
		}
	}
}

// TestEstimatesAgreeWithReference checks the exported estimates against the
// reference on random suites, sharded and not.
func TestEstimatesAgreeWithReference(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 11))
		suite := randomSuite(t, rng)
		ref := plan(suite)
		cc := costConfig{newChat: rng.IntN(2)}
		opt := NewChatCalls(cc.newChat)
		cost, frac := int64(1+rng.IntN(2)), float64(rng.IntN(4))/10
		if got, want := EstimateCost(suite, cost, frac, opt), estimate(ref, cc, cost, frac); got != want {
			t.Fatalf("seed %d: EstimateCost %+v, reference %+v", seed, got, want)
		}
		headroom := rng.Int64N(60)
		n, e := FitConversations(suite, headroom, cost, frac, opt)
		wantN := 0
		for wantN < len(ref) && estimate(ref[:wantN+1], cc, cost, frac).WorstCase <= headroom {
			wantN++
		}
		if n != wantN || e != estimate(ref[:n], cc, cost, frac) {
			t.Fatalf("seed %d: FitConversations(%d) = %d %+v, reference %d", seed, headroom, n, e, wantN)
		}
		repeat := 1 + rng.IntN(4)
		ld := Load{Repeat: repeat}
		se, ok := ScheduleEstimate(suite, ld, cost, frac, opt)
		if want := loopedEstimate(ref, cc, int64(repeat*len(ref)), cost, frac); !ok || se != want {
			t.Fatalf("seed %d: ScheduleEstimate %+v, reference %+v", seed, se, want)
		}
		count := 1 + rng.IntN(5)
		sh := Shard{Index: 1 + rng.IntN(count), Count: count}
		whole := int64(repeat * len(ref))
		var mine []planned
		for g := int64(sh.Index - 1); g < whole; g += int64(count) {
			mine = append(mine, ref[g%int64(len(ref))])
		}
		if got, want := sh.EstimateCost(suite, whole, cost, frac, opt), estimate(mine, cc, cost, frac); got != want {
			t.Fatalf("seed %d: shard %s EstimateCost %+v, reference %+v", seed, sh, got, want)
		}
		m, fe := sh.Fit(suite, whole, headroom, cost, frac, opt)
		wantM := 0
		for wantM < len(mine) && estimate(mine[:wantM+1], cc, cost, frac).WorstCase <= headroom {
			wantM++
		}
		if m != int64(wantM) || fe != estimate(mine[:m], cc, cost, frac) {
			t.Fatalf("seed %d: shard %s Fit(%d) = %d %+v, reference %d", seed, sh, headroom, m, fe, wantM)
		}
	}
}

// hugeSuite is a matrix of 100 rows with repeat: 1000000 each, the largest
// repeat a scenario file may ask for: 100,000,000 conversations.
func hugeSuite(t testing.TB) *scenarios.Suite {
	var scs []*scenarios.Scenario
	for i := range 100 {
		scs = append(scs, scenario(t, fmt.Sprintf("boom[%d]", i), 1+i%3, 1_000_000))
	}
	return suiteOf(scs...)
}

// TestHugeSuitePlansByArithmetic: planning, estimating and fitting a suite
// of 100,000,000 conversations allocates next to nothing (it used to build
// every conversation: 3.2 GB), and a run of a few of them only makes those
// it starts.
func TestHugeSuitePlansByArithmetic(t *testing.T) {
	suite := hugeSuite(t)
	const convs = 100_000_000
	calls := int64(convs) + 1_000_000*int64(33*(1+2+3)+1) // new chats + turns: rows cycle 1, 2, 3 turns
	var e Estimate
	var n int
	var m int64
	var se Estimate
	allocated := allocatedBy(func() {
		e = EstimateCost(suite, 1, 0.1)
		n, _ = FitConversations(suite, 20, 1, 0)
		se, _ = ScheduleEstimate(suite, Load{Repeat: 1 << 40}, 1, 0.1)
		m, _ = (Shard{2, 3}).Fit(suite, convs, 1_000_000, 1, 0)
	})
	if e.Conversations != convs || e.Calls != calls || e.WorstCase != calls+calls/10 {
		t.Errorf("estimate %+v, want %d conversations, %d calls", e, convs, calls)
	}
	if n != 7 { // 2+3+4+2+3+4+2 = 20; an eighth (3) makes 23
		t.Errorf("FitConversations(20) = %d, want 7", n)
	}
	if se.Conversations != math.MaxInt64 || se.WorstCase != math.MaxInt64 {
		t.Errorf("repeated 2^40 times: %+v; want a saturated worst case, not a wrapped one", se)
	}
	if m <= 0 || m > 1_000_000/2 {
		t.Errorf("shard Fit = %d", m)
	}
	t.Logf("planning, estimating and fitting allocated %d bytes", allocated)
	// Planning takes a few KB; the margin is for whatever else the test
	// process allocates meanwhile. Building the conversations took 3.2 GB.
	if allocated > 16<<20 {
		t.Errorf("planning 100,000,000 conversations allocated %d bytes; want a few KB", allocated)
	}

	// A run of the first 5 of them makes 5 conversations.
	rec := &recorder{}
	allocated = allocatedBy(func() {
		sum, err := Run(context.Background(), suite, Options{Conn: &fakeConn{}, Concurrency: 2, Observer: rec, MaxConversations: 5})
		if err != nil || sum.Conversations != 5 {
			t.Errorf("run: %v, %+v", err, sum)
		}
	})
	if len(rec.convs) != 5 {
		t.Errorf("%d conversations reported, want 5", len(rec.convs))
	}
	if allocated > 32<<20 {
		t.Errorf("a 5-conversation run of a huge suite allocated %d bytes", allocated)
	}
}

// allocatedBy returns the bytes f allocates on the heap.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
