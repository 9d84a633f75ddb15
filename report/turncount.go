package report

import (
	"sync"

	"github.com/evalrun/evalrun/runner"
)

// TurnCount counts the turns sent at one turn index, over every scenario,
// and how many of them passed (every expectation held). It is what the
// side-by-side reports show as a turn's pass rate; unlike the stored
// transcripts it counts every conversation, kept or not.
type TurnCount struct {
	// Index is the 0-based turn index.
	Index  int   `json:"index"`
	Sent   int64 `json:"sent"`
	Passed int64 `json:"passed"`
}

// PassRate is Passed/Sent, 0 when none was sent.
func (t TurnCount) PassRate() float64 {
	if t.Sent == 0 {
		return 0
	}
	return float64(t.Passed) / float64(t.Sent)
}

// turnCounter accumulates TurnCounts; it is safe for concurrent use. One
// short critical section per conversation.
type turnCounter struct {
	mu     sync.Mutex
	counts []TurnCount
}

// add counts the turns of a finished conversation.
func (tc *turnCounter) add(c *runner.Conversation) {
	if len(c.Turns) == 0 {
		return
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for i := range c.Turns {
		t := &c.Turns[i]
		if t.Index < 0 {
			continue
		}
		for len(tc.counts) <= t.Index {
			tc.counts = append(tc.counts, TurnCount{Index: len(tc.counts)})
		}
		tc.counts[t.Index].Sent++
		if t.Outcome == runner.Passed {
			tc.counts[t.Index].Passed++
		}
	}
}

// result returns a copy of the counts, by index; nil when no turn was sent.
func (tc *turnCounter) result() []TurnCount {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if len(tc.counts) == 0 {
		return nil
	}
	return append([]TurnCount(nil), tc.counts...)
}

// mergeTurnCounts adds the turn counts of results index by index.
func mergeTurnCounts(results []*Result) []TurnCount {
	var out []TurnCount
	for _, r := range results {
		for _, t := range r.Turns {
			if t.Index < 0 {
				continue
			}
			for len(out) <= t.Index {
				out = append(out, TurnCount{Index: len(out)})
			}
			out[t.Index].Sent += t.Sent
			out[t.Index].Passed += t.Passed
		}
	}
	return out
}

// TurnCount returns the count of turn index i (0-based); ok is false when
// the result has none (e.g. a file written before turn counts existed).
func (r *Result) TurnCount(i int) (TurnCount, bool) {
	for _, t := range r.Turns {
		if t.Index == i {
			return t, true
		}
	}
	return TurnCount{Index: i}, false
}
