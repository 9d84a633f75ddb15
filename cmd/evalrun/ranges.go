package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/evalrun/evalrun/ledger"
)

// flagRange is the valid range of a numeric flag, checked once the flag is
// set: from the command line (checkRanges, every flag out of range at once)
// or from evalrun.yaml (applyConfig, at the setting's file:line:col).
type flagRange struct {
	ok    func(v any) bool
	valid string // what is valid, e.g. "at least 1"
}

// flagRanges are the ranges of the flags that have one, by flag name.
var flagRanges = map[string]flagRange{
	"concurrency":        {intAtLeast(1), "at least 1"},
	"max-attempts":       {intAtLeast(1), "at least 1"},
	"timeout":            {durationPositive, "a positive duration such as 30s"},
	"cycle-start":        {intBetween(1, 28), "a day from 1 to 28 (every month has it)"},
	"retry-allowance":    {floatBetween(0, 1), "between 0 and 1"},
	"transcripts-sample": {intAtLeast(0), "0 or more"},
	"repeat":             {intAtLeast(0), "at least 1"},
	"max-conversations":  {intAtLeast(0), "0 (no limit) or more"},
	"max-in-flight":      {intAtLeast(0), "0 (the default) or more"},
	"duration":           {durationAtLeast0, "a positive duration such as 10m"},
	"grace":              {durationAtLeast0, "0 or a positive duration such as 30s"},
}

func intAtLeast(lo int64) func(any) bool { return intBetween(lo, 1<<63-1) }

func intBetween(lo, hi int64) func(any) bool {
	return func(v any) bool {
		switch n := v.(type) {
		case int:
			return int64(n) >= lo && int64(n) <= hi
		case int64:
			return n >= lo && n <= hi
		}
		return true
	}
}

func floatBetween(lo, hi float64) func(any) bool {
	return func(v any) bool {
		f, ok := v.(float64)
		return !ok || (f >= lo && f <= hi) // NaN is refused
	}
}

func durationPositive(v any) bool { d, ok := v.(time.Duration); return !ok || d > 0 }
func durationAtLeast0(v any) bool { d, ok := v.(time.Duration); return !ok || d >= 0 }

// rangeErr returns why fl's value is out of its range, or "" when it is in
// range or the flag has none.
func rangeErr(fl *flag.Flag) string {
	r, ok := flagRanges[fl.Name]
	if !ok {
		return ""
	}
	g, ok := fl.Value.(flag.Getter)
	if !ok || r.ok(g.Get()) {
		return ""
	}
	return "must be " + r.valid
}

// checkRanges returns a usage error listing every flag given on the command
// line whose value is out of its range, or nil.
func checkRanges(fs *flag.FlagSet) error {
	var msgs []string
	fs.Visit(func(fl *flag.Flag) {
		if msg := rangeErr(fl); msg != "" {
			msgs = append(msgs, fmt.Sprintf("--%s %s: %s", fl.Name, fl.Value, msg))
		}
	})
	if len(msgs) == 0 {
		return nil
	}
	return usageErr("%s", strings.Join(msgs, "\nevalrun: "))
}

// maxCount is the largest count of calls (or messages) a quota flag takes:
// far above any plan, and small enough that sums of counts never overflow.
const maxCount = ledger.MaxCalls

// countValue is an int64 flag for a count of quota units, refused outside
// [0, maxCount] with the valid range, so a sum of counts cannot overflow.
type countValue struct{ p *int64 }

func (c countValue) String() string {
	if c.p == nil {
		return "0"
	}
	return strconv.FormatInt(*c.p, 10)
}

func (c countValue) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > maxCount {
		return fmt.Errorf("want a whole number from 0 to %d", int64(maxCount))
	}
	*c.p = n
	return nil
}

func (c countValue) Get() any { return *c.p }
