package runner

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/evalrun/evalrun/internal/backoff"
)

// RetryPolicy says how a call that failed in a retryable way is sent
// again. A call is re-sent only when the agent cannot have processed it
// (agent.Error.Retryable): an answer of 429, 502, 503 or 504, or a failure
// before any byte of the request was written (a refused connection, a
// failed dial). A timeout or broken connection after the request was
// written ends the call, so that no turn is ever processed twice by the
// fault of evalrun. Zero fields take the defaults shown.
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
	b, err := backoff.Policy(p).WithDefaults()
	if err != nil {
		return p, fmt.Errorf("runner: %w", err)
	}
	return RetryPolicy(b), nil
}

// delay returns how long to wait before retry number retry (1 for the first
// retry): full jitter, or the Retry-After capped (see backoff.Policy.Delay).
func (p RetryPolicy) delay(retry int, retryAfter time.Duration, rng *rand.Rand) time.Duration {
	return backoff.Policy(p).Delay(retry, retryAfter, rng)
}
