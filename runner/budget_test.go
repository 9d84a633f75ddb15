package runner

import (
	"math/rand/v2"
	"sync"
	"testing"
)

func TestBudgetReserveChargeRelease(t *testing.T) {
	b := NewBudget(10, 2, 3) // 3 units of allowance, 7 reservable
	if b.Available() != 7 || b.RetryAllowance() != 3 || b.Remaining() != 10 {
		t.Fatalf("fresh budget: available %d allowance %d remaining %d", b.Available(), b.RetryAllowance(), b.Remaining())
	}
	if _, ok := b.Reserve(4); ok {
		t.Fatal("reserved 8 units out of 7")
	}
	r, ok := b.Reserve(3) // 6 units
	if !ok {
		t.Fatal("could not reserve 6 of 7 units")
	}
	if _, ok := b.Reserve(1); ok {
		t.Fatal("reserved 2 units with 1 available")
	}
	for i := range 3 {
		if !r.Charge() {
			t.Fatalf("charge %d refused", i+1)
		}
	}
	if r.Charge() {
		t.Fatal("charged past the reservation")
	}
	if !b.ChargeRetry() {
		t.Fatal("retry refused with 3 units of allowance")
	}
	if b.ChargeRetry() {
		t.Fatal("retry charged with 1 unit of allowance at cost 2")
	}
	if b.Spent() != 8 || b.Remaining() != 2 {
		t.Fatalf("spent %d remaining %d, want 8 and 2", b.Spent(), b.Remaining())
	}

	r2, ok := b.Reserve(0)
	if !ok {
		t.Fatal("empty reservation refused")
	}
	r2.Release()
	r.Release()
	r.Release() // idempotent
	if b.Available() != 1 {
		t.Fatalf("available %d after release, want 1", b.Available())
	}
}

func TestBudgetReleaseReturnsUnused(t *testing.T) {
	b := NewBudget(6, 1, 0)
	r, _ := b.Reserve(6)
	r.Charge()
	r.Release()
	if b.Available() != 5 || b.Spent() != 1 {
		t.Fatalf("available %d spent %d", b.Available(), b.Spent())
	}
	if _, ok := b.Reserve(5); !ok {
		t.Fatal("released units not reusable")
	}
}

func TestBudgetEdgeArguments(t *testing.T) {
	b := NewBudget(5, 0, 100) // cost counts as 1; allowance cut to the limit
	if b.CostPerCall() != 1 || b.RetryAllowance() != 5 || b.Available() != 0 {
		t.Fatalf("cost %d allowance %d available %d", b.CostPerCall(), b.RetryAllowance(), b.Available())
	}
	if _, ok := b.Reserve(-1); ok {
		t.Fatal("negative reservation accepted")
	}
	if _, ok := NewBudget(1<<62, 4, 0).Reserve(1 << 61); ok {
		t.Fatal("overflowing reservation accepted")
	}
	var unlimited *Budget
	r, ok := unlimited.Reserve(1000)
	if !ok || !r.Charge() || !unlimited.ChargeRetry() || unlimited.Spent() != 0 {
		t.Fatal("nil budget is not unlimited")
	}
	r.Release()
}

// TestBudgetInvariant hammers a budget from many goroutines and checks
// Spent() <= Limit() throughout and that units are conserved at the end.
func TestBudgetInvariant(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		limit := rng.Int64N(200)
		cost := 1 + rng.Int64N(3)
		b := NewBudget(limit, cost, rng.Int64N(limit+1))
		var wg sync.WaitGroup
		var mu sync.Mutex
		var charged int64
		for g := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				local := rand.New(rand.NewPCG(seed, uint64(g)+100))
				var n int64
				for range 40 {
					if r, ok := b.Reserve(1 + local.IntN(4)); ok {
						for local.IntN(3) != 0 && r.Charge() {
							n++
						}
						r.Release()
					}
					if local.IntN(2) == 0 && b.ChargeRetry() {
						n++
					}
					if s := b.Spent(); s > b.Limit() {
						t.Errorf("spent %d > limit %d", s, b.Limit())
					}
				}
				mu.Lock()
				charged += n
				mu.Unlock()
			}()
		}
		wg.Wait()
		if b.Spent() != charged*cost || b.Spent() > b.Limit() {
			t.Fatalf("seed %d: spent %d, charged %d calls at %d, limit %d", seed, b.Spent(), charged, cost, b.Limit())
		}
		if b.Available()+b.RetryAllowance()+b.Spent() != b.Limit() {
			t.Fatalf("seed %d: units not conserved: available %d + allowance %d + spent %d != %d",
				seed, b.Available(), b.RetryAllowance(), b.Spent(), b.Limit())
		}
	}
}
