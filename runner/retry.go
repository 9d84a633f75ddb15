package runner

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// RetryPolicy says how a call that failed in a retryable way (see
// agent.Error.Retryable: 429, timeouts, transport failures, 502/503/504) is
// retried. Zero fields take the defaults shown.
type RetryPolicy struct {
	// MaxAttempts is the most attempts of one call, the first included
	// (default 4). 1 means no retries.
	MaxAttempts int
	// BaseDelay is the backoff ceiling before the first retry (default
	// 250ms); it doubles with each retry up to MaxDelay.
	BaseDelay time.Duration
	// MaxDelay caps the backoff ceiling (default 10s).
	MaxDelay time.Duration
	// MaxRetryAfter caps how long a server's Retry-After is honoured
	// (default 60s).
	MaxRetryAfter time.Duration
}

// Validate reports whether the policy is usable: no field may be negative.
// It is the check of the config keys retry.max_attempts, retry.base_delay,
// retry.max_delay and retry.max_retry_after (and --max-attempts).
func (p RetryPolicy) Validate() error {
	_, err := p.withDefaults()
	return err
}

func (p RetryPolicy) withDefaults() (RetryPolicy, error) {
	if p.MaxAttempts < 0 || p.BaseDelay < 0 || p.MaxDelay < 0 || p.MaxRetryAfter < 0 {
		return p, fmt.Errorf("runner: retry policy: values must not be negative (MaxAttempts %d, BaseDelay %v, MaxDelay %v, MaxRetryAfter %v)",
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

// delay returns how long to wait before retry number retry (1 for the first
// retry). Without a Retry-After it is full jitter: uniform in
// [0, min(MaxDelay, BaseDelay × 2^(retry-1))]. With one, it is the Retry-After
// capped at MaxRetryAfter, plus up to a tenth of it as jitter (still capped),
// so that throttled conversations do not all come back at the same instant.
func (p RetryPolicy) delay(retry int, retryAfter time.Duration, rng *rand.Rand) time.Duration {
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
