package report

import (
	"errors"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// foreignHistogram is a valid HdrHistogram with a geometry evalrun does not
// use (1 µs to 1 h, 2 digits).
func foreignHistogram(t testing.TB) string {
	h := hdrhistogram.New(1, 3_600_000_000, 2)
	_ = h.RecordValue(1000)
	enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	return string(enc)
}

func TestHistogramSummaryAndDecode(t *testing.T) {
	h := newLatencyHistogram()
	// 1..1000 ms, one each: percentiles are known within 0.1%.
	for ms := int64(1); ms <= 1000; ms++ {
		_ = h.RecordValue(latencyMicros(time.Duration(ms) * time.Millisecond))
	}
	r := summarize(HistTurn, "0", h)
	near := func(name string, got, want int64) {
		t.Helper()
		if d := got - want; d < -want/500 || d > want/500 {
			t.Errorf("%s = %d, want %d ±0.2%%", name, got, want)
		}
	}
	if r.Count != 1000 || r.Kind != HistTurn || r.Name != "0" {
		t.Errorf("summary = %+v", r)
	}
	near("min", r.MinUS, 1000)
	near("p50", r.P50US, 500_000)
	near("p90", r.P90US, 900_000)
	near("p95", r.P95US, 950_000)
	near("p99", r.P99US, 990_000)
	near("p99.9", r.P999US, 999_000)
	near("max", r.MaxUS, 1_000_000)
	near("mean", int64(r.MeanUS), 500_500)
	if v, ok := r.Percentile(95); !ok || v != r.P95US {
		t.Errorf("Percentile(95) = %d %v", v, ok)
	}
	if _, ok := r.Percentile(42); ok {
		t.Error("Percentile(42) claims a value the summary does not hold")
	}

	d, err := r.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if !d.Equals(h) {
		t.Error("decoded histogram differs from the recorded one")
	}
	// Decoded histograms merge exactly: counts add.
	d2, _ := r.Decode()
	if dropped := d.Merge(d2); dropped != 0 || d.TotalCount() != 2000 {
		t.Errorf("merge: dropped %d, total %d", dropped, d.TotalCount())
	}
}

func TestLatencyClamp(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want int64
	}{
		{-time.Second, 0},
		{0, 0},
		{999 * time.Nanosecond, 0},
		{1500 * time.Microsecond, 1500},
		{5 * time.Minute, HighestLatencyMicros},
		{time.Hour, HighestLatencyMicros},
	}
	for _, tt := range tests {
		if got := latencyMicros(tt.in); got != tt.want {
			t.Errorf("latencyMicros(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	good := summarize(HistOverall, "all", newLatencyHistogram())
	tests := []struct {
		name     string
		encoded  string
		geometry bool // the error wraps errGeometry
	}{
		{"empty", "", true},
		{"not base64", "%%%", false},
		{"too short", "AAAA", true},
		{"wrong cookie", "AAAAAAAAAAAA", true},
		{"foreign geometry", foreignHistogram(t), true},
		{"truncated", good.Encoded[:len(good.Encoded)-8], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := HistogramResult{Kind: HistOverall, Name: "all", Encoded: tt.encoded}
			_, err := h.Decode()
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, errGeometry); got != tt.geometry {
				t.Errorf("error %q: geometry %v, want %v", err, got, tt.geometry)
			}
		})
	}
}

// TestSummaryMatchesLibrary checks the one-scan summary against the
// library's own Min and Max, and p50 and p99.9 on value sets where the
// library's nearest-rank rounding and the reference rule pick the same
// rank.
func TestSummaryMatchesLibrary(t *testing.T) {
	for _, values := range [][]int64{{0}, {1}, {7, 7, 7}, {1, 1000, 1_000_000, HighestLatencyMicros}, {123_456, 5, 99_999}} {
		h := newLatencyHistogram()
		for _, v := range values {
			_ = h.RecordValue(v)
		}
		r := summarize(HistOverall, "all", h)
		if r.MinUS != h.Min() || r.MaxUS != h.Max() || r.P50US != h.ValueAtQuantile(50) || r.P999US != h.ValueAtQuantile(99.9) {
			t.Errorf("%v: summary %+v, library min %d max %d p50 %d", values, r, h.Min(), h.Max(), h.ValueAtQuantile(50))
		}
	}
}
