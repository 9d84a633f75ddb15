package ledger

import (
	"strconv"
	"testing"
	"time"
)

// FuzzParseCycleDay checks that the --cycle-start parser never panics and
// accepts only days every month has, for which CycleStart works.
func FuzzParseCycleDay(f *testing.F) {
	for _, s := range []string{"1", "28", "29", "0", "-1", " 15 ", "1e1", "", "0x10", "99999999999999999999"} {
		f.Add(s)
	}
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseCycleDay(s)
		if err != nil {
			return
		}
		if d < 1 || d > 28 {
			t.Fatalf("ParseCycleDay(%q) = %d", s, d)
		}
		if _, err := strconv.Atoi(strconv.Itoa(d)); err != nil {
			t.Fatal(err)
		}
		if _, err := CycleStart(now, d); err != nil {
			t.Fatalf("accepted day %d fails CycleStart: %v", d, err)
		}
	})
}
