package runner

import (
	"testing"

	"github.com/evalrun/evalrun/scenarios"
)

func TestEstimateCost(t *testing.T) {
	suite := suiteOf(scenario(t, "a", 2, 5), scenario(t, "b", 4, 1)) // 5×3 + 1×5 = 20 calls
	tests := []struct {
		cost     int64
		fraction float64
		want     Estimate
	}{
		{1, 0, Estimate{Conversations: 6, Calls: 20, NewChats: 6, CostPerCall: 1, Cost: 20, WorstCase: 20}},
		{1, 0.25, Estimate{Conversations: 6, Calls: 20, NewChats: 6, CostPerCall: 1, Cost: 20, RetryAllowance: 5, WorstCase: 25}},
		{2, 0.1, Estimate{Conversations: 6, Calls: 20, NewChats: 6, CostPerCall: 2, Cost: 40, RetryAllowance: 4, WorstCase: 44}},
		{1, 0.01, Estimate{Conversations: 6, Calls: 20, NewChats: 6, CostPerCall: 1, Cost: 20, RetryAllowance: 1, WorstCase: 21}}, // ceil(0.2)
		{0, -1, Estimate{Conversations: 6, Calls: 20, NewChats: 6, CostPerCall: 1, Cost: 20, WorstCase: 20}},
	}
	for _, tt := range tests {
		if got := EstimateCost(suite, tt.cost, tt.fraction); got != tt.want {
			t.Errorf("cost %d fraction %v: %+v, want %+v", tt.cost, tt.fraction, got, tt.want)
		}
	}
	if got := EstimateCost(&scenarios.Suite{}, 1, 0.5); got != (Estimate{CostPerCall: 1}) {
		t.Errorf("empty suite: %+v", got)
	}
}

func TestRetryAllowanceRounding(t *testing.T) {
	tests := []struct {
		cost     int64
		fraction float64
		want     int64
	}{
		{10, 0.7, 7}, // 10 × 0.7 is 7.000000000000001 in floats
		{100, 0.3, 30},
		{3, 0.1, 1},
		{1, 1e-9, 0}, // below a part per million
		{7, 1, 7},
		{0, 0.5, 0},
		{5, 2.5, 13},
		{1 << 60, 0.5, 1 << 59},
	}
	for _, tt := range tests {
		if got := retryAllowance(tt.cost, tt.fraction); got != tt.want {
			t.Errorf("retryAllowance(%d, %v) = %d, want %d", tt.cost, tt.fraction, got, tt.want)
		}
	}
}

func TestFitConversations(t *testing.T) {
	// Run order: a0 (3 calls), b0 (5), a1 (3), a2 (3): prefix costs 3, 8, 11, 14.
	suite := suiteOf(scenario(t, "a", 2, 3), scenario(t, "b", 4, 1))
	tests := []struct {
		name     string
		headroom int64
		cost     int64
		fraction float64
		wantN    int
		wantWC   int64
	}{
		{"all fit exactly", 14, 1, 0, 4, 14},
		{"plenty", 1000, 1, 0, 4, 14},
		{"one short of all", 13, 1, 0, 3, 11},
		{"stops at the big one", 7, 1, 0, 1, 3},
		{"nothing fits", 2, 1, 0, 0, 0},
		{"zero headroom", 0, 1, 0, 0, 0},
		{"retry allowance counts", 11, 1, 0.1, 2, 9},   // 11 → 11+ceil(1.1)=13 > 11; 8 → 8+1=9
		{"messages cost two", 22, 2, 0, 3, 22},         // 6, 16, 22, 28
		{"messages with allowance", 28, 2, 0.5, 2, 24}, // 16+8=24; 22+11=33
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, est := FitConversations(suite, tt.headroom, tt.cost, tt.fraction)
			if n != tt.wantN || est.WorstCase != tt.wantWC || est.Conversations != int64(n) {
				t.Fatalf("got n=%d worst case %d (%+v), want n=%d worst case %d", n, est.WorstCase, est, tt.wantN, tt.wantWC)
			}
			if est.WorstCase > tt.headroom {
				t.Fatalf("worst case %d over headroom %d", est.WorstCase, tt.headroom)
			}
			if n < 4 {
				if next := estimate(plan(suite)[:n+1], costOptions(nil), tt.cost, tt.fraction); next.WorstCase <= tt.headroom {
					t.Fatalf("%d conversations would still fit (%d)", n+1, next.WorstCase)
				}
			}
		})
	}
}
