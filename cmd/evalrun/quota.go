package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// plans maps a plan name to its monthly API calls; -1 is unlimited.
var plans = map[string]int64{
	"starter":    1_000,
	"growth":     10_000,
	"scale":      100_000,
	"enterprise": -1,
}

// quotaFlags are the quota settings of a run.
type quotaFlags struct {
	plan     string
	quota    int64
	used     int64
	costUnit string
	partial  bool
	retries  float64 // retry allowance as a fraction of the worst-case calls
}

// limit returns the call quota (-1 for unlimited) and a label for reports.
func (q *quotaFlags) limit() (int64, string, error) {
	switch {
	case q.plan != "" && q.quota != 0:
		return 0, "", usageErr("--plan and --quota both set; give one")
	case q.quota < 0:
		return 0, "", usageErr("--quota %d: must be a positive number of calls", q.quota)
	case q.quota > 0:
		return q.quota, fmt.Sprintf("quota %d", q.quota), nil
	case q.plan != "":
		n, ok := plans[strings.ToLower(q.plan)]
		if !ok {
			return 0, "", usageErr("--plan %q: valid plans are starter (1,000 calls/month), growth (10,000), scale (100,000), enterprise (unlimited)", q.plan)
		}
		return n, "plan " + strings.ToLower(q.plan), nil
	}
	return -1, "no quota set", nil
}

// costPerCall is what one agent call costs in the quota's unit. With
// "messages" a turn counts the user's message and the agent's reply; a
// new-chat call is charged the same (conservatively) so that one price
// bounds every call.
func (q *quotaFlags) costPerCall() (int64, error) {
	switch q.costUnit {
	case "calls", "":
		return 1, nil
	case "messages":
		return 2, nil
	}
	return 0, usageErr("--cost-unit %q: valid units are calls, messages", q.costUnit)
}

// parseRate parses a rate such as "10/s", "100/min", "1000/h" or "5" (per
// second). "none" or "" means no limit (rate.Inf).
func parseRate(flagName, s string) (rate.Limit, int, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return rate.Inf, 0, nil
	}
	num, per, hasPer := strings.Cut(s, "/")
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n <= 0 {
		return 0, 0, usageErr("%s %q: want a positive number of calls per unit, e.g. 10/s, 100/min, 1000/h, or none", flagName, s)
	}
	d := time.Second
	if hasPer {
		switch per {
		case "s", "sec", "second":
			d = time.Second
		case "m", "min", "minute":
			d = time.Minute
		case "h", "hour":
			d = time.Hour
		default:
			return 0, 0, usageErr("%s %q: unknown unit %q; valid: s, min, h", flagName, s, per)
		}
	}
	perSec := n / d.Seconds()
	burst := int(n)
	if burst < 1 {
		burst = 1
	}
	// A burst of the whole window's allowance would let a per-hour limit
	// send everything at once; cap it at one second's worth (at least 1).
	if b := int(perSec); b < burst {
		burst = max(b, 1)
	}
	return rate.Limit(perSec), burst, nil
}
