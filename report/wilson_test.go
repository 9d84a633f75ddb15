package report

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestWilsonInterval(t *testing.T) {
	for _, tc := range []struct {
		passed, runs int
		low, high    float64 // reference values (R: prop.test(correct=FALSE) / binom::binom.wilson)
		text, short  string
	}{
		{4, 5, 0.3755, 0.9638, "37.6–96.4%", "37–97%"},
		{5, 5, 0.5655, 1, "56.6–100.0%", "56–100%"},
		{0, 5, 0, 0.4345, "0.0–43.4%", "0–44%"},
		{3, 5, 0.2307, 0.8824, "23.1–88.2%", "23–89%"},
		{50, 100, 0.4038, 0.5962, "40.4–59.6%", "40–60%"},
		{95, 100, 0.8883, 0.9785, "88.8–97.8%", "88–98%"},
		{1, 1, 0.2065, 1, "20.7–100.0%", "20–100%"},
		{0, 0, 0, 1, "0.0–100.0%", "0–100%"},
	} {
		iv := WilsonInterval(tc.passed, tc.runs)
		if math.Abs(iv.Low-tc.low) > 5e-4 || math.Abs(iv.High-tc.high) > 5e-4 {
			t.Errorf("%d/%d: [%.4f, %.4f], want [%.4f, %.4f]", tc.passed, tc.runs, iv.Low, iv.High, tc.low, tc.high)
		}
		if got := iv.String(); got != tc.text {
			t.Errorf("%d/%d: String %q, want %q", tc.passed, tc.runs, got, tc.text)
		}
		if got := iv.compact(); got != tc.short {
			t.Errorf("%d/%d: compact %q, want %q", tc.passed, tc.runs, got, tc.short)
		}
	}
	// The interval holds the observed rate and narrows as runs grow.
	prev := 1.0
	for _, n := range []int{2, 5, 10, 100, 1000} {
		iv := WilsonInterval(n*8/10, n)
		if p := float64(n*8/10) / float64(n); iv.Low > p || iv.High < p {
			t.Errorf("%d runs: %v does not hold %v", n, iv, p)
		}
		if w := iv.High - iv.Low; w >= prev {
			t.Errorf("%d runs: width %v not below %v", n, w, prev)
		} else {
			prev = w
		}
	}
}

// TestPassRateCI checks that Result sets the interval only for scenarios
// that ran more than once, and that it is stored in the result file.
func TestPassRateCI(t *testing.T) {
	res := mixedResult()
	for _, s := range res.Scenarios {
		if (s.PassRateCI != nil) != (s.Runs > 1) {
			t.Errorf("%s: %d runs, interval %v", s.Name, s.Runs, s.PassRateCI)
		}
		if s.PassRateCI != nil && *s.PassRateCI != WilsonInterval(s.Passed, s.Runs) {
			t.Errorf("%s: interval %v", s.Name, *s.PassRateCI)
		}
	}
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"pass_rate_ci":{"low":0.230`) {
		t.Errorf("result JSON lacks pricing's pass_rate_ci: %.400s", data)
	}
	if _, err := ReadResult(strings.NewReader(strings.Replace(string(data), `"pass_rate_ci":{"low":0.230`, `"pass_rate_ci":{"low":1.230`, 1))); err == nil || !strings.Contains(err.Error(), "pass_rate_ci") {
		t.Errorf("a bad interval reads: %v", err)
	}
}
