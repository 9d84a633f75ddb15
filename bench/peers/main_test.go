package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestParsers reads outputs the tools really printed (bench/peers/testdata,
// key redacted) and evalrun's JSON result.
func TestParsers(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name     string
		parse    func(*sample) error
		p50, p99 time.Duration
		errors   int64
		wantErr  bool
	}{
		{name: "hey", parse: func(s *sample) error { return parseHey(string(read("hey.txt")), s) },
			p50: 100 * time.Microsecond, p99: 600 * time.Microsecond},
		{name: "hey, every answer 401", parse: func(s *sample) error { return parseHey(string(read("hey-401.txt")), s) },
			p50: 100 * time.Microsecond, p99: 600 * time.Microsecond, errors: 23738},
		{name: "hey, no status counts", parse: func(s *sample) error { return parseHey("Summary:\n  Total: 1 secs\n", s) }, wantErr: true},
		{name: "bombardier", parse: func(s *sample) error { return parseBombardier(read("bombardier.json"), s) },
			p50: 32 * time.Microsecond, p99: 376 * time.Microsecond},
		{name: "bombardier, not JSON", parse: func(s *sample) error { return parseBombardier([]byte("Bombarding…"), s) }, wantErr: true},
		{name: "wrk", parse: func(s *sample) error {
			return parseWrk("wrk calls=1000 elapsed=1.000 rate=1000.0 p50_us=812 p99_us=10690 errors=3\n", s)
		}, p50: 812 * time.Microsecond, p99: 10690 * time.Microsecond, errors: 3},
		{name: "wrk, no line", parse: func(s *sample) error { return parseWrk("Running 5s test\n", s) }, wantErr: true},
		{name: "evalrun", parse: func(s *sample) error { return parseEvalrun(filepath.Join("testdata", "evalrun.json"), s) },
			p50: 3585 * time.Microsecond, p99: 16895 * time.Microsecond, errors: 2},
		{name: "evalrun, no file", parse: func(s *sample) error { return parseEvalrun(filepath.Join("testdata", "none.json"), s) }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s sample
			err := tt.parse(&s)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if s.p50 != tt.p50 || s.p99 != tt.p99 || s.errors != tt.errors {
				t.Errorf("p50 %v p99 %v errors %d, want %v %v %d", s.p50, s.p99, s.errors, tt.p50, tt.p99, tt.errors)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
