package ledger

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CycleStart returns the start (00:00 UTC) of the billing cycle that holds t
// when cycles start on day startDay of each month. startDay must be 1 to 28,
// so that every month has it: with startDay 15, the cycle of 2025-03-10 starts
// on 2025-02-15 and the cycle of 2025-03-15 on 2025-03-15.
func CycleStart(t time.Time, startDay int) (time.Time, error) {
	if startDay < 1 || startDay > 28 {
		return time.Time{}, fmt.Errorf("cycle start day %d: must be 1 to 28 (a day every month has)", startDay)
	}
	y, m, d := t.UTC().Date()
	if d < startDay {
		m-- // time.Date normalises month 0 to December of the year before
	}
	return time.Date(y, m, startDay, 0, 0, 0, 0, time.UTC), nil
}

// CycleEnd returns the start of the cycle after the one starting at start.
func CycleEnd(start time.Time) time.Time { return start.AddDate(0, 1, 0) }

// CycleID returns the ledger's name of the billing cycle that holds t: the
// date it starts on, as YYYY-MM-DD.
func CycleID(t time.Time, startDay int) (string, error) {
	s, err := CycleStart(t, startDay)
	if err != nil {
		return "", err
	}
	return s.Format(time.DateOnly), nil
}

// ParseCycleDay parses a billing cycle's start day (1 to 28), as given to
// --cycle-start or the config key quota.cycle_start.
func ParseCycleDay(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > 28 {
		return 0, fmt.Errorf("cycle start %q: want a day of the month from 1 to 28", s)
	}
	return n, nil
}
