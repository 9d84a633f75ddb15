package runner

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestRetryDelay(t *testing.T) {
	p, err := RetryPolicy{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if p.MaxAttempts != 4 || p.BaseDelay != 250*time.Millisecond || p.MaxDelay != 10*time.Second || p.MaxRetryAfter != 60*time.Second {
		t.Fatalf("defaults %+v", p)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		retry      int
		retryAfter time.Duration
		lo, hi     time.Duration
	}{
		{1, 0, 0, 250 * time.Millisecond},
		{2, 0, 0, 500 * time.Millisecond},
		{3, 0, 0, time.Second},
		{10, 0, 0, 10 * time.Second},
		{1000, 0, 0, 10 * time.Second},
		{1, 2 * time.Second, 2 * time.Second, 2200 * time.Millisecond},
		{1, time.Hour, 60 * time.Second, 60 * time.Second},
	}
	for _, tt := range tests {
		var most time.Duration
		for range 200 {
			d := p.delay(tt.retry, tt.retryAfter, rng)
			if d < tt.lo || d > tt.hi {
				t.Fatalf("retry %d, Retry-After %v: delay %v outside [%v, %v]", tt.retry, tt.retryAfter, d, tt.lo, tt.hi)
			}
			most = max(most, d)
		}
		if tt.retryAfter == 0 && most < tt.hi/2 {
			t.Errorf("retry %d: delays never above %v; full jitter should spread up to %v", tt.retry, most, tt.hi)
		}
	}
}
