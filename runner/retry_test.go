package runner

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/agent"
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

func TestRetryDelayExtremes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	huge := RetryPolicy{MaxAttempts: 100, BaseDelay: time.Duration(1 << 61), MaxDelay: time.Duration(math.MaxInt64), MaxRetryAfter: time.Hour}
	p, err := huge.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for retry := 1; retry < 100; retry++ {
		if d := p.delay(retry, 0, rng); d < 0 {
			t.Fatalf("retry %d: negative delay %v (overflow)", retry, d)
		}
	}
	if err := (RetryPolicy{BaseDelay: -1}).Validate(); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("Validate of a negative delay: %v", err)
	}
	if err := (RetryPolicy{}).Validate(); err != nil {
		t.Errorf("Validate of the zero policy: %v", err)
	}
}

// TestRetryAfterHTTPDate checks that a Retry-After given as an HTTP date is
// honoured as a wait until that date: never retried earlier, and capped.
func TestRetryAfterHTTPDate(t *testing.T) {
	p, _ := RetryPolicy{MaxRetryAfter: time.Minute}.withDefaults()
	rng := rand.New(rand.NewPCG(8, 9))
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		header string
		lo, hi time.Duration
	}{
		{"Mon, 10 Mar 2025 12:00:30 GMT", 30 * time.Second, 33 * time.Second},
		{"Monday, 10-Mar-25 12:00:05 GMT", 5 * time.Second, 5500 * time.Millisecond},
		{"Mon Mar 10 12:00:02 2025", 2 * time.Second, 2200 * time.Millisecond},
		{"7", 7 * time.Second, 7700 * time.Millisecond},
		{"Mon, 10 Mar 2025 13:00:00 GMT", time.Minute, time.Minute}, // capped
	}
	for _, tt := range tests {
		ra := agent.ParseRetryAfter(tt.header, now)
		for range 50 {
			if d := p.delay(1, ra, rng); d < tt.lo || d > tt.hi {
				t.Fatalf("Retry-After %q: delay %v outside [%v, %v]", tt.header, d, tt.lo, tt.hi)
			}
		}
	}
}
