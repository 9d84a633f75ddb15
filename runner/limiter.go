package runner

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Limiter paces agent calls: Wait blocks until one call may be sent, or
// returns an error when ctx is done first. A *rate.Limiter is a Limiter.
type Limiter interface {
	Wait(ctx context.Context) error
}

var _ Limiter = (*rate.Limiter)(nil)

// waitAll waits until every limiter of the stack allows one call. Each
// limiter is consulted in order, so a call is sent only when all allow it and
// no limiter is ever exceeded. Nil entries are skipped.
func waitAll(ctx context.Context, stack []Limiter) error {
	for _, l := range stack {
		if l == nil {
			continue
		}
		if err := l.Wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

// ParseLimit parses a rate limit written as COUNT/UNIT, e.g. "5/s", "100/min"
// or "1000/h" (units: s, sec, second, m, min, minute, h, hour; COUNT may be a
// decimal), and returns a token bucket with that rate and a burst of one, so
// calls are spread evenly and never bunch up.
func ParseLimit(s string) (*rate.Limiter, error) {
	count, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return nil, fmt.Errorf("rate limit %q: want COUNT/UNIT, e.g. 10/s, 100/min or 1000/h", s)
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(count), 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || n <= 0 {
		return nil, fmt.Errorf("rate limit %q: count must be a positive number", s)
	}
	var per time.Duration
	switch strings.ToLower(strings.TrimSpace(unit)) {
	case "s", "sec", "second":
		per = time.Second
	case "m", "min", "minute":
		per = time.Minute
	case "h", "hour":
		per = time.Hour
	default:
		return nil, fmt.Errorf("rate limit %q: unknown unit %q; valid units: s, min, h", s, unit)
	}
	return rate.NewLimiter(rate.Limit(n/per.Seconds()), 1), nil
}
