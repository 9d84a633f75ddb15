package report

import (
	"strings"

	"github.com/evalrun/evalrun/runner"
)

// Counts are conversations counted by outcome (runner.Outcome). It is the
// one counts type of a run: Totals and ScenarioResult embed it (its JSON
// names are the result file's), the Aggregator keeps one per scenario and
// Snapshot one for the whole run, and merge and regrade add them with
// Merge.
type Counts struct {
	Passed    int `json:"passed"`
	Failed    int `json:"failed"`
	Errored   int `json:"error"`
	Throttled int `json:"throttled"`
	NotRun    int `json:"not_run"`
}

// field is the count of outcome o; an outcome Counts does not know is
// counted as Errored, as the runner reports anything that is neither a
// pass, a failure, a throttle nor a not-run.
func (c *Counts) field(o runner.Outcome) *int {
	switch o {
	case runner.Passed:
		return &c.Passed
	case runner.Failed:
		return &c.Failed
	case runner.Throttled:
		return &c.Throttled
	case runner.NotRun:
		return &c.NotRun
	default:
		return &c.Errored
	}
}

// Add counts one conversation that ended with outcome o.
func (c *Counts) Add(o runner.Outcome) { *c.field(o)++ }

// Remove takes back one conversation counted with outcome o (Add undone).
func (c *Counts) Remove(o runner.Outcome) { *c.field(o)-- }

// Merge adds the counts of p to c, outcome by outcome.
func (c *Counts) Merge(p Counts) {
	c.Passed += p.Passed
	c.Failed += p.Failed
	c.Errored += p.Errored
	c.Throttled += p.Throttled
	c.NotRun += p.NotRun
}

// Total is the number of conversations counted, every outcome included.
func (c Counts) Total() int {
	return c.Passed + c.Failed + c.Errored + c.Throttled + c.NotRun
}

// Incomplete is the number of conversations that did not finish with a
// verdict: Errored, Throttled and NotRun.
func (c Counts) Incomplete() int { return c.Errored + c.Throttled + c.NotRun }

// describe lists the non-zero counts: "12 passed, 1 not run".
func (c Counts) describe() string {
	var parts []string
	for _, x := range []struct {
		n    int
		word string
	}{{c.Passed, "passed"}, {c.Failed, "failed"}, {c.Errored, "error"}, {c.Throttled, "throttled"}, {c.NotRun, "not run"}} {
		if x.n > 0 {
			parts = append(parts, fmtInt(int64(x.n))+" "+x.word)
		}
	}
	return strings.Join(parts, ", ")
}
