package report

import (
	"slices"
	"testing"
)

func TestFormatMicros(t *testing.T) {
	tests := []struct {
		us   float64
		want string
	}{
		{0, "0µs"},
		{850, "850µs"},
		{999.4, "999µs"},
		{999.6, "1.000ms"},
		{1000, "1.000ms"},
		{1234.5, "1.235ms"}, // 1.2345 rounds half away from zero
		{67_903, "67.90ms"},
		{67_950, "67.95ms"},
		{99_996, "100.0ms"},
		{103_487, "103.5ms"},
		{191_100, "191.1ms"},
		{999_960, "1.000s"},
		{1_401_000, "1.401s"},
		{2_000_000, "2.000s"},
		{59_999_000, "60.00s"},
		{300_000_000, "300.0s"},
		{1_500_000_000, "25m0s"},
	}
	for _, tt := range tests {
		got := FormatMicros(tt.us)
		if got != tt.want {
			t.Errorf("FormatMicros(%g) = %q, want %q", tt.us, got, tt.want)
		}
		// The value as printed parses back to PrintedMicros.
		th, err := ParseThreshold("p95<=" + got)
		if err != nil {
			t.Errorf("%q does not parse as a threshold value: %v", got, err)
			continue
		}
		if p := PrintedMicros(tt.us); th.Value != p {
			t.Errorf("FormatMicros(%g) = %q reads back as %g µs, PrintedMicros says %g", tt.us, got, th.Value, p)
		}
	}
}

// TestThresholdAtPrintedValue: a gate written from the printed value
// agrees with the print, and percentiles follow the reference rule.
func TestThresholdAtPrintedValue(t *testing.T) {
	one := func(values ...int64) *Result {
		return &Result{Histograms: []HistogramResult{summarize(HistTurn, "1", histOf(t, values...))}}
	}
	slow := one(append(slices.Repeat([]int64{60_000}, 12), 103_456)...)
	exact := one(67_903)
	tests := []struct {
		res    *Result
		expr   string
		passed bool
		value  string
	}{
		{exact, "turn:2 p95<=67.9ms", true, "67.90ms"},
		{exact, "turn:2 p95<=67.90ms", true, "67.90ms"},
		{exact, "turn:2 p95<67.9ms", false, "67.90ms"},
		{exact, "turn:2 p95>=67.9ms", true, "67.90ms"},
		{exact, "turn:2 p95==67.9ms", true, "67.90ms"},
		{exact, "turn:2 max<67.91ms", true, "67.90ms"},
		// 12 calls of 60 ms and one of 103.5 ms: p95 is the 13th call
		// (ceil(0.95 × 13) = 13), so the gate under 100 ms fails.
		{slow, "turn:2 p95<100ms", false, "103.5ms"},
		{slow, "turn:2 p90<100ms", true, "60.03ms"},
		{slow, "turn:2 p95<=103.5ms", true, "103.5ms"},
	}
	for _, tt := range tests {
		th, err := ParseThreshold(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		got := th.Evaluate(tt.res)
		if got.Passed != tt.passed || got.Value != tt.value {
			t.Errorf("%s: passed %v value %q, want %v %q", tt.expr, got.Passed, got.Value, tt.passed, tt.value)
		}
	}
}
