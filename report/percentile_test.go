package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

func histOf(t testing.TB, values ...int64) *hdrhistogram.Histogram {
	t.Helper()
	h := newLatencyHistogram()
	for _, v := range values {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// TestPercentilesHandComputed checks the stored summary against values
// computed by hand with the reference rule: the value of rank
// max(1, ceil(p/100 × n)). Values below 2048 µs are exact in the histogram;
// larger ones are reported as the top of their bucket.
func TestPercentilesHandComputed(t *testing.T) {
	seq := func(n, step int64) []int64 {
		var v []int64
		for i := int64(1); i <= n; i++ {
			v = append(v, i*step)
		}
		return v
	}
	tests := []struct {
		name   string
		values []int64
		// min p50 p90 p95 p99 p99.9 max
		want [7]int64
	}{
		{"1 call", []int64{500}, [7]int64{500, 500, 500, 500, 500, 500, 500}},
		// p50: ceil(1) = rank 1; p90: ceil(1.8) = 2.
		{"2 calls", []int64{200, 100}, [7]int64{100, 100, 200, 200, 200, 200, 200}},
		// p50: ceil(2.5) = 3; p90: ceil(4.5) = 5.
		{"5 calls", seq(5, 10), [7]int64{10, 30, 50, 50, 50, 50, 50}},
		// p50: ceil(6.5) = 7; p90: ceil(11.7) = 12; p95: ceil(12.35) = 13
		// (rounding the rank to nearest gives 12, a value only 92.3% of
		// the calls are at or below).
		{"13 calls", seq(13, 100), [7]int64{100, 700, 1200, 1300, 1300, 1300, 1300}},
		// p50: 40; p90: 72; p95: 76; p99: ceil(79.2) = 80.
		{"80 calls", seq(80, 10), [7]int64{10, 400, 720, 760, 800, 800, 800}},
		// The case: 12 fast calls and one of 103.456 ms. Values in
		// 65.536–131.071 ms share buckets of 64 µs, 32.768–65.535 ms of 32.
		{"13 calls, one slow", append(slices.Repeat([]int64{60_000}, 12), 103_456),
			[7]int64{60_000, 60_031, 60_031, 103_487, 103_487, 103_487, 103_487}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := summarize(HistTurn, "1", histOf(t, tt.values...))
			got := [7]int64{r.MinUS, r.P50US, r.P90US, r.P95US, r.P99US, r.P999US, r.MaxUS}
			if got != tt.want {
				t.Errorf("min p50 p90 p95 p99 p99.9 max = %v, want %v", got, tt.want)
			}
		})
	}
}

// oracleRank is the reference rank computed in exact integer arithmetic:
// the smallest k ≥ 1 with k/n ≥ tenths/1000.
func oracleRank(tenths int64, n int64) int64 {
	k := (tenths*n + 999) / 1000
	return max(k, 1)
}

// highestEquivalent returns the value the histogram reports for v: the top
// of v's bucket, from the library's own Max of a histogram holding only v.
func highestEquivalent(t testing.TB, v int64) int64 {
	return histOf(t, v).Max()
}

// TestPercentilesMatchSortedOracle checks every percentile against the
// sorted raw values: the value of rank ceil(p × n) mapped to its bucket's
// highest equivalent value, for random data of 1 to 3000 values over the
// whole range, including repeated values.
func TestPercentilesMatchSortedOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 1))
	tenths := []int64{1, 10, 250, 500, 900, 950, 990, 999, 1000}
	for iter := range 300 {
		n := 1 + rng.IntN(60)
		if iter%10 == 0 {
			n = 1 + rng.IntN(3000)
		}
		values := make([]int64, n)
		for i := range values {
			switch rng.IntN(3) {
			case 0:
				values[i] = rng.Int64N(3000)
			case 1:
				values[i] = rng.Int64N(200_000)
			default:
				values[i] = rng.Int64N(HighestLatencyMicros + 1)
			}
			if i > 0 && rng.IntN(4) == 0 {
				values[i] = values[rng.IntN(i)]
			}
		}
		h := histOf(t, values...)
		sorted := slices.Clone(values)
		slices.Sort(sorted)
		for _, p := range tenths {
			want := highestEquivalent(t, sorted[oracleRank(p, int64(n))-1])
			if got := valueAtPercentile(h, float64(p)/10); got != want {
				t.Fatalf("n=%d p%g = %d, want %d (rank %d)", n, float64(p)/10, got, want, oracleRank(p, int64(n)))
			}
		}
		if got, want := valueAtPercentile(h, 0), h.Min(); got != want {
			t.Fatalf("n=%d p0 = %d, want the minimum %d", n, got, want)
		}
		for k := int64(1); k <= int64(n); k += 1 + int64(n)/20 {
			if got, want := valuesAtRanks(h, []int64{k})[0].hi, highestEquivalent(t, sorted[k-1]); got != want {
				t.Fatalf("n=%d rank %d = %d, want %d", n, k, got, want)
			}
		}
	}
}

// TestPercentileRankFloatingPoint checks ranks where p/100 × n is a whole
// number that floating point misses by an ulp either way.
func TestPercentileRankFloatingPoint(t *testing.T) {
	for n := int64(1); n <= 10_000; n++ {
		for _, tenths := range []int64{1, 10, 500, 900, 950, 990, 999, 1000} {
			if got, want := percentileRank(float64(tenths)/10, n), oracleRank(tenths, n); got != want {
				t.Fatalf("percentileRank(%g, %d) = %d, want %d", float64(tenths)/10, n, got, want)
			}
		}
	}
	for _, p := range []float64{-5, 0} {
		if got := percentileRank(p, 10); got != 1 {
			t.Errorf("percentileRank(%g, 10) = %d, want 1", p, got)
		}
	}
	if got := percentileRank(250, 10); got != 10 {
		t.Errorf("percentileRank(250, 10) = %d, want 10", got)
	}
}

// TestRangeAtMatchesLibrary checks the counts layout against the
// library's: the range of the slot holding v is [lowest, highest]
// equivalent value of v.
func TestRangeAtMatchesLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	values := []int64{0, 1, 2047, 2048, 2049, 4095, 4096, 65_535, 65_536, 103_456, HighestLatencyMicros}
	for range 2000 {
		values = append(values, rng.Int64N(HighestLatencyMicros+1))
	}
	for _, v := range values {
		h := histOf(t, v)
		got := valuesAtRanks(h, []int64{1})[0]
		if got.lo != h.Min() || got.hi != h.Max() {
			t.Fatalf("value %d: slot range [%d, %d], library [%d, %d]", v, got.lo, got.hi, h.Min(), h.Max())
		}
		if got.lo > v || got.hi < v {
			t.Fatalf("value %d outside its slot [%d, %d]", v, got.lo, got.hi)
		}
	}
}

// hgrmRow is one percentile line of an .hgrm file.
type hgrmRow struct {
	value string // milliseconds as printed
	count int64
}

func parseHgrm(t *testing.T, s string) []hgrmRow {
	t.Helper()
	var rows []hgrmRow
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || strings.HasPrefix(f[0], "#") || f[0] == "Value" {
			continue
		}
		c, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			t.Fatalf("hgrm line %q: %v", sc.Text(), err)
		}
		rows = append(rows, hgrmRow{value: f[0], count: c})
	}
	return rows
}

// TestStoredPercentilesMatchHgrm is the property the issue asks for: every
// stored pN equals the value of the first .hgrm row whose cumulative count
// covers at least N% of the calls. The .hgrm rows come at fixed percentile
// ticks (5 per halving of the distance to 100%); they hold a row at every
// recorded value that crosses a tick, which for N = 99 and 99.9 (not ticks
// themselves) is every value when the run has at most 640 calls, so the
// property is checked up to 600.
func TestStoredPercentilesMatchHgrm(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for iter := range 200 {
		n := 1 + rng.IntN(40)
		if iter%5 == 0 {
			n = 1 + rng.IntN(600)
		}
		values := make([]int64, n)
		for i := range values {
			values[i] = 1000 + rng.Int64N(200_000)
			if rng.IntN(5) == 0 {
				values[i] = values[0]
			}
		}
		r := summarize(HistTurn, "1", histOf(t, values...))
		var b strings.Builder
		if err := WriteHgrm(&b, &r); err != nil {
			t.Fatal(err)
		}
		rows := parseHgrm(t, b.String())
		for _, pc := range []struct {
			tenths int64
			stored int64
		}{{500, r.P50US}, {900, r.P90US}, {950, r.P95US}, {990, r.P99US}, {999, r.P999US}, {1000, r.MaxUS}} {
			i := slices.IndexFunc(rows, func(row hgrmRow) bool { return row.count*1000 >= pc.tenths*int64(n) })
			if i < 0 {
				t.Fatalf("n=%d: no .hgrm row covers p%g", n, float64(pc.tenths)/10)
			}
			if want := strconv.FormatFloat(float64(pc.stored)/1000, 'f', 3, 64); rows[i].value != want {
				t.Fatalf("n=%d: stored p%g = %s ms, first .hgrm row covering it (%d of %d) = %s ms\n%s",
					n, float64(pc.tenths)/10, want, rows[i].count, n, rows[i].value, b.String())
			}
		}
	}
}

// TestQuantileIntervalReferenceValue: compare's intervals are centred on
// the reference percentile too.
func TestQuantileIntervalReferenceValue(t *testing.T) {
	h := histOf(t, append(slices.Repeat([]int64{60_000}, 12), 103_456)...)
	if iv := QuantileInterval(h, 95, 0.95); iv.Value != 103_487 {
		t.Errorf("QuantileInterval p95 value = %d, want 103487 (the 13th of 13 calls)", iv.Value)
	}
}

// TestPercentilesMatchHdrHistogramJS is a differential test against
// HdrHistogram's JavaScript library: it decodes our encoded histograms and
// must report every stored percentile. It runs only with EVALRUN_HDRJS_DIR
// set to a directory holding node_modules/hdr-histogram-js
// (bench/hdr-js.sh installs it and runs this test).
func TestPercentilesMatchHdrHistogramJS(t *testing.T) {
	dir := os.Getenv("EVALRUN_HDRJS_DIR")
	if dir == "" {
		t.Skip("EVALRUN_HDRJS_DIR not set; bench/hdr-js.sh runs this test")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found")
	}
	type jsCase struct {
		Encoded     string    `json:"encoded"`
		Percentiles []float64 `json:"percentiles"`
	}
	ps := []float64{0, 1, 25, 50, 75, 90, 95, 99, 99.9, 100}
	rng := rand.New(rand.NewPCG(42, 13))
	var cases []jsCase
	var want [][]int64
	for i := range 500 {
		n := []int{1, 2, 5, 13, 80}[i%5]
		if i >= 50 {
			n = 1 + rng.IntN(2000)
		}
		h := newLatencyHistogram()
		for range n {
			v := rng.Int64N(150_000)
			if rng.IntN(10) == 0 {
				v = rng.Int64N(HighestLatencyMicros + 1)
			}
			_ = h.RecordValue(v)
		}
		r := summarize(HistTurn, "1", h)
		cases = append(cases, jsCase{Encoded: r.Encoded, Percentiles: ps})
		w := valuesAtPercentiles(h, ps)
		// The stored summary is what is checked where it holds the value.
		w[0], w[3], w[5], w[6], w[7], w[8], w[9] = r.MinUS, r.P50US, r.P90US, r.P95US, r.P99US, r.P999US, r.MaxUS
		want = append(want, append(w, int64(n)))
	}
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "../bench/hdrjs/check.js", dir)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var got [][]int64
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node output: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d answers for %d histograms", len(got), len(want))
	}
	bad := 0
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			bad++
			if bad <= 5 {
				t.Errorf("histogram %d (n=%d): hdr-histogram-js %v, evalrun %v (percentiles %v, then count)", i, want[i][len(ps)], got[i], want[i], ps)
			}
		}
	}
	t.Logf("%d histograms, %d percentiles each: %d differ", len(want), len(ps), bad)
}
