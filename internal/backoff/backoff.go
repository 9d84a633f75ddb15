// Package backoff computes how long a retried call waits: exponential
// backoff with full jitter, or the server's Retry-After (capped, with a
// little jitter). Agent calls (runner) and judge calls (agent) share it.
package backoff

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Policy says how a retryable call is retried. Zero fields take the
// defaults of WithDefaults.
type Policy struct {
	MaxAttempts   int           // attempts, the first included (default 4)
	BaseDelay     time.Duration // backoff ceiling before the first retry (default 250ms)
	MaxDelay      time.Duration // cap of the doubling ceiling (default 10s)
	MaxRetryAfter time.Duration // cap of an honoured Retry-After (default 60s)
}

// WithDefaults returns p with zero fields set to the defaults, or an error
// when a field is negative.
func (p Policy) WithDefaults() (Policy, error) {
	if p.MaxAttempts < 0 || p.BaseDelay < 0 || p.MaxDelay < 0 || p.MaxRetryAfter < 0 {
		return p, fmt.Errorf("retry policy: values must not be negative (MaxAttempts %d, BaseDelay %v, MaxDelay %v, MaxRetryAfter %v)",
			p.MaxAttempts, p.BaseDelay, p.MaxDelay, p.MaxRetryAfter)
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 4
	}
	if p.BaseDelay == 0 {
		p.BaseDelay = 250 * time.Millisecond
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = 10 * time.Second
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = 60 * time.Second
	}
	return p, nil
}

// Delay returns how long to wait before retry number retry (1 for the first
// retry). Without a Retry-After it is full jitter: uniform in
// [0, min(MaxDelay, BaseDelay × 2^(retry-1))]. With one, it is the
// Retry-After capped at MaxRetryAfter, plus up to a tenth of it as jitter
// (still capped), so that throttled callers do not all come back at the same
// instant. rng is not safe for concurrent use; callers own one each or lock.
func (p Policy) Delay(retry int, retryAfter time.Duration, rng *rand.Rand) time.Duration {
	if retryAfter > 0 {
		d := min(retryAfter, p.MaxRetryAfter)
		if j := d / 10; j > 0 {
			d += time.Duration(rng.Int64N(int64(j) + 1))
		}
		return min(d, p.MaxRetryAfter)
	}
	ceiling := p.BaseDelay
	for i := 1; i < retry && ceiling < p.MaxDelay; i++ {
		if ceiling > p.MaxDelay/2 {
			ceiling = p.MaxDelay // doubling would pass the cap (or overflow)
			break
		}
		ceiling *= 2
	}
	ceiling = min(ceiling, p.MaxDelay, math.MaxInt64-1)
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rng.Int64N(int64(ceiling) + 1))
}
