package report

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

func TestFisherLower(t *testing.T) {
	tests := []struct {
		a1, b1, a2, b2 int
		want           float64
	}{
		{10, 0, 5, 5, 0.0162539},  // 10/10 vs 5/10: significant
		{10, 0, 9, 1, 0.5},        // one failure says little
		{3, 0, 0, 3, 0.05},        // 1/C(6,3)
		{5, 5, 5, 5, 0.6718591},   // equal rates
		{0, 10, 10, 0, 1},         // better
		{0, 0, 3, 3, 1},           // an empty group
		{20, 0, 14, 6, 0.0100980}, // 100% vs 70% of 20: C(34,14)/C(40,20)
	}
	for _, tt := range tests {
		if got := FisherLower(tt.a1, tt.b1, tt.a2, tt.b2); math.Abs(got-tt.want) > 1e-6 {
			t.Errorf("FisherLower(%d,%d,%d,%d) = %.7f, want %.7f", tt.a1, tt.b1, tt.a2, tt.b2, got, tt.want)
		}
	}
}

func TestQuantileRanks(t *testing.T) {
	tests := []struct {
		n    int64
		q    float64
		l, u int64
	}{
		{100, 0.5, 40, 61},     // the textbook order-statistic interval for the median of 100
		{10, 0.5, 2, 9},        // P(B<=1)=0.0107, P(B>=9)=0.0107
		{20, 0.99, 19, 21},     // too few values to bound the p99 above
		{5, 0.5, 0, 6},         // P(B<1)=0.031 > 0.025: unbounded both ways
		{1000, 0.95, 936, 964}, // exact binomial
	}
	for _, tt := range tests {
		l, u := quantileRanks(tt.n, tt.q, 0.95)
		if l != tt.l || u != tt.u {
			t.Errorf("quantileRanks(%d, %v) = %d, %d; want %d, %d", tt.n, tt.q, l, u, tt.l, tt.u)
		}
	}
	// Large n: the normal approximation agrees with the exact sum closely.
	l, u := quantileRanks(20000, 0.95, 0.95)
	if l < 18930 || l > 18945 || u < 19055 || u > 19070 {
		t.Errorf("quantileRanks(20000, 0.95) = %d, %d", l, u)
	}
}

func TestQuantileIntervalCovers(t *testing.T) {
	h := hdrhistogram.New(LowestLatencyMicros, HighestLatencyMicros, SignificantDigits)
	for i := int64(1); i <= 100; i++ {
		_ = h.RecordValue(i * 1000)
	}
	iv := QuantileInterval(h, 50, 0.95)
	if iv.Value < 49900 || iv.Value > 50100 || iv.Lo < 39900 || iv.Lo > 40100 || iv.Hi < 60900 || iv.Hi > 61100 {
		t.Errorf("median interval %+v, want about 50ms in [40ms, 61ms]", iv)
	}
	if iv := QuantileInterval(h, 99.9, 0.95); iv.Hi != -1 {
		t.Errorf("p99.9 of 100 values: %+v, want an interval unbounded above", iv)
	}
}

func TestCompareFlipsAndLatency(t *testing.T) {
	a, b, c, gone, added := gscen("alpha"), gscen("beta"), gscen("gamma"), gscen("gone"), gscen("added")
	var base, next []gconv
	// alpha: passes in both, latency 3× in new (significant).
	base = append(base, uniform(a, 1, 40, 1, 100*time.Millisecond, time.Millisecond, nil)...)
	next = append(next, uniform(a, 1, 40, 1, 300*time.Millisecond, 3*time.Millisecond, nil)...)
	// beta: passes in base, 6 of 20 fail in new: newly failing, significant.
	base = append(base, uniform(b, 41, 20, 2, 50*time.Millisecond, time.Millisecond, nil)...)
	next = append(next, uniform(b, 41, 20, 2, 50*time.Millisecond, time.Millisecond, map[int]bool{1: true, 3: true, 5: true, 7: true, 9: true, 11: true})...)
	// gamma: fails in base, passes in new.
	base = append(base, uniform(c, 61, 5, 1, 50*time.Millisecond, time.Millisecond, map[int]bool{0: true})...)
	next = append(next, uniform(c, 61, 5, 1, 50*time.Millisecond, time.Millisecond, nil)...)
	base = append(base, uniform(gone, 66, 1, 1, time.Millisecond, 0, nil)...)
	next = append(next, uniform(added, 66, 1, 1, time.Millisecond, 0, nil)...)
	br := gresult(Meta{RunID: "base", Target: Target{Name: "sim:baseline"}}, base)
	nr := gresult(Meta{RunID: "new", Target: Target{Name: "sim:candidate"}}, next)

	cmp, err := Compare(br, nr, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"alpha": ChangePassing, "beta": ChangeNewlyFailing, "gamma": ChangeNewlyPassing, "gone": ChangeRemoved, "added": ChangeAdded}
	for _, s := range cmp.Scenarios {
		if want[s.Name] != s.Change {
			t.Errorf("%s: change %q, want %q", s.Name, s.Change, want[s.Name])
		}
		switch s.Name {
		case "alpha":
			if !s.Latency.Regression || s.Regression != true {
				t.Errorf("alpha: latency 3× slower not flagged: %+v", s.Latency)
			}
		case "beta":
			if !s.PassRateRegression || s.PValue > 0.05 {
				t.Errorf("beta: 20/20 → 14/20 not significant: p=%v", s.PValue)
			}
			if len(s.Turns) != 1 || s.Turns[0].Turn != 2 || len(s.Turns[0].NewlyFailing) != 1 || s.Turns[0].NewFailed != 6 {
				t.Errorf("beta turns: %+v, want turn 2 newly failing in 6", s.Turns)
			}
		case "gamma":
			if s.Regression || len(s.Turns) != 1 || len(s.Turns[0].NewlyPassing) != 1 {
				t.Errorf("gamma: %+v", s)
			}
		}
	}
	if !cmp.Regressed() || !cmp.Overall.Regression {
		t.Errorf("regressions %v; want alpha and beta and overall latency", cmp.Regressions)
	}
	var txt, md bytes.Buffer
	if err := cmp.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	if err := cmp.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"beta turn 2: icontains \"plan\" newly fails", "REGRESSED", "newly passing"} {
		if !strings.Contains(txt.String(), s) {
			t.Errorf("text lacks %q:\n%s", s, txt.String())
		}
	}
	if !strings.Contains(md.String(), "❌") || !strings.Contains(md.String(), "| ❌ | beta | 2 |") {
		t.Errorf("markdown:\n%s", md.String())
	}

	// A result compared with itself: no regression, nothing significant.
	same, err := Compare(br, br, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if same.Regressed() {
		t.Errorf("self-comparison regressed: %v", same.Regressions)
	}
	for _, p := range same.Overall.Percentiles {
		if p.Significant {
			t.Errorf("self-comparison p%v significant", p.Percentile)
		}
	}
	// A tolerance above the change silences the latency regression.
	loose, err := Compare(br, nr, CompareOptions{MaxLatencyRegression: 5})
	if err != nil {
		t.Fatal(err)
	}
	if loose.Overall.Regression {
		t.Errorf("a 500%% tolerance still flags latency: %+v", loose.Overall)
	}
	if _, err := Compare(br, nr, CompareOptions{Confidence: 2}); err == nil {
		t.Error("confidence 2 accepted")
	}
}
