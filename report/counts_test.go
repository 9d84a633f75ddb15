package report

import (
	"encoding/json"
	"testing"

	"github.com/evalrun/evalrun/runner"
)

func TestCountsAddRemoveMerge(t *testing.T) {
	tests := []struct {
		name     string
		add      []runner.Outcome
		remove   []runner.Outcome
		want     Counts
		describe string
	}{
		{"empty", nil, nil, Counts{}, ""},
		{"each outcome once",
			[]runner.Outcome{runner.Passed, runner.Failed, runner.Errored, runner.Throttled, runner.NotRun}, nil,
			Counts{Passed: 1, Failed: 1, Errored: 1, Throttled: 1, NotRun: 1}, "1 passed, 1 failed, 1 error, 1 throttled, 1 not run"},
		{"an unknown outcome counts as an error",
			[]runner.Outcome{"exploded", ""}, nil, Counts{Errored: 2}, "2 error"},
		{"remove undoes add",
			[]runner.Outcome{runner.Passed, runner.Passed, runner.Failed}, []runner.Outcome{runner.Passed},
			Counts{Passed: 1, Failed: 1}, "1 passed, 1 failed"},
		{"remove below zero is kept (a regrade delta)",
			nil, []runner.Outcome{runner.Failed}, Counts{Failed: -1}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Counts
			for _, o := range tc.add {
				c.Add(o)
			}
			for _, o := range tc.remove {
				c.Remove(o)
			}
			if c != tc.want {
				t.Fatalf("counts = %+v, want %+v", c, tc.want)
			}
			if got, want := c.Total(), len(tc.add)-len(tc.remove); got != want {
				t.Errorf("Total = %d, want %d", got, want)
			}
			if got := c.describe(); got != tc.describe {
				t.Errorf("describe = %q, want %q", got, tc.describe)
			}
			// Merging into a non-empty count adds field by field.
			m := Counts{Passed: 10, Failed: 20, Errored: 30, Throttled: 40, NotRun: 50}
			m.Merge(c)
			want := Counts{10 + c.Passed, 20 + c.Failed, 30 + c.Errored, 40 + c.Throttled, 50 + c.NotRun}
			if m != want {
				t.Errorf("merge = %+v, want %+v", m, want)
			}
			if m.Incomplete() != want.Errored+want.Throttled+want.NotRun {
				t.Errorf("Incomplete = %d for %+v", m.Incomplete(), m)
			}
		})
	}
}

// TestCountsJSONNames pins the result file's names of the outcome counts:
// the Go spelling (Errored) is not the file's (error), and the embedded
// Counts add no level of nesting.
func TestCountsJSONNames(t *testing.T) {
	c := Counts{Passed: 1, Failed: 2, Errored: 3, Throttled: 4, NotRun: 5}
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"totals", Totals{Conversations: 15, Counts: c},
			`{"conversations":15,"passed":1,"failed":2,"error":3,"throttled":4,"not_run":5,"calls":0,"attempts":0,"turns":0}`},
		{"scenario", ScenarioResult{Name: "s", Runs: 15, Counts: c},
			`{"name":"s","runs":15,"passed":1,"failed":2,"error":3,"throttled":4,"not_run":5,`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); len(got) < len(tc.want) || got[:len(tc.want)] != tc.want {
				t.Errorf("JSON = %s\nwant prefix %s", got, tc.want)
			}
			var back Totals
			if tc.name == "totals" {
				if err := json.Unmarshal(b, &back); err != nil || back.Counts != c {
					t.Errorf("read back %+v (%v), want %+v", back.Counts, err, c)
				}
			}
		})
	}
}
