package report

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/evalrun/evalrun/runner"
)

// SimulationStats are the simulated conversations of one scenario: how
// many, how many met their goal, how each ended (runner.EndGoalMet, …)
// and the distribution of turns used (turns → conversations).
type SimulationStats struct {
	Conversations int            `json:"conversations"`
	GoalMet       int            `json:"goal_met"`
	Ended         map[string]int `json:"ended"`
	Turns         map[int]int    `json:"turns"`
}

// add counts one simulated conversation that sent turns turns.
func (s *SimulationStats) add(sim *runner.Simulation, turns int) {
	if s.Ended == nil {
		s.Ended, s.Turns = map[string]int{}, map[int]int{}
	}
	s.Conversations++
	if sim.GoalMet {
		s.GoalMet++
	}
	s.Ended[sim.Ended]++
	s.Turns[turns]++
}

// merge returns the sum of s and o (either may be nil) in a new value.
func (s *SimulationStats) merge(o *SimulationStats) *SimulationStats {
	if s == nil && o == nil {
		return nil
	}
	out := &SimulationStats{Ended: map[string]int{}, Turns: map[int]int{}}
	for _, x := range []*SimulationStats{s, o} {
		if x == nil {
			continue
		}
		out.Conversations += x.Conversations
		out.GoalMet += x.GoalMet
		for k, n := range x.Ended {
			out.Ended[k] += n
		}
		for k, n := range x.Turns {
			out.Turns[k] += n
		}
	}
	return out
}

// GoalMetRate is GoalMet / Conversations (0 with none).
func (s *SimulationStats) GoalMetRate() float64 {
	if s == nil || s.Conversations == 0 {
		return 0
	}
	return float64(s.GoalMet) / float64(s.Conversations)
}

// simulationLines describe each simulated scenario on one line: `goal met
// 9 of 10 (90.0%) · turns used 2×3 3×6 5×1 · ended goal_met 9, max_turns
// 1`; empty when the run had none.
func simulationLines(r *Result) []string {
	var out []string
	for i := range r.Scenarios {
		s := r.Scenarios[i].Simulation
		if s == nil || s.Conversations == 0 {
			continue
		}
		goal, turns, ended := simParts(s)
		out = append(out, fmt.Sprintf("%s: goal met %s · turns used %s · ended %s", r.Scenarios[i].Name, goal, turns, ended))
	}
	if len(out) > 0 {
		if line := userModelLine(r); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// simParts describes s in three parts: the goal met ("9 of 10 (90.0%)"),
// the turns used, each count times its conversations ("2×3 3×6"), and how
// the conversations ended ("goal_met 9, max_turns 1").
func simParts(s *SimulationStats) (goal, turns, ended string) {
	var ts []string
	for _, k := range slices.Sorted(maps.Keys(s.Turns)) {
		ts = append(ts, strconv.Itoa(k)+"×"+strconv.Itoa(s.Turns[k]))
	}
	var es []string
	for _, k := range slices.Sorted(maps.Keys(s.Ended)) {
		es = append(es, k+" "+strconv.Itoa(s.Ended[k]))
	}
	return fmt.Sprintf("%d of %d (%.1f%%)", s.GoalMet, s.Conversations, 100*s.GoalMetRate()), strings.Join(ts, " "), strings.Join(es, ", ")
}

// userModelLine says who played the simulated user and what it cost:
// `simulated user gpt-4o-mini: 12 answers, 13 calls, 0 failures (limit
// 2/s)`; empty when the result has no user model.
func userModelLine(r *Result) string {
	u := r.UserModel
	if u == nil {
		return ""
	}
	line := "simulated user " + u.Model
	if u.Calls > 0 || u.Failures > 0 || u.Turns > 0 {
		line += fmt.Sprintf(": %s, %s, %s", plural(u.Turns, "answer"), plural(u.Calls, "call"), plural(u.Failures, "failure"))
		if u.Limit != "" {
			line += " (limit " + u.Limit + ")"
		}
	}
	return line
}

// GoalMetDiff compares the goal-met rates of a simulated scenario in two
// results, as pass rates are compared: Regression when the new rate is
// lower with Fisher's one-sided p-value below alpha.
type GoalMetDiff struct {
	BaseMet, BaseRuns, NewMet, NewRuns int
	Delta                              float64 // new rate minus base rate
	PValue                             float64
	Regression                         bool
}

// goalMetDiff compares b and n; nil unless both have simulated
// conversations.
func goalMetDiff(b, n *SimulationStats, alpha float64) *GoalMetDiff {
	if b == nil || n == nil || b.Conversations == 0 || n.Conversations == 0 {
		return nil
	}
	d := &GoalMetDiff{BaseMet: b.GoalMet, BaseRuns: b.Conversations, NewMet: n.GoalMet, NewRuns: n.Conversations}
	d.Delta = n.GoalMetRate() - b.GoalMetRate()
	d.PValue = FisherLower(b.GoalMet, b.Conversations-b.GoalMet, n.GoalMet, n.Conversations-n.GoalMet)
	d.Regression = d.Delta < 0 && d.PValue < alpha
	return d
}

// goalMetLines are the comparison's goal-met rates, one line per
// simulated scenario: `simulated-lead: 10/10 → 7/10 (-30.0pp, p=0.11)`,
// after lead and, for a regression, bad.
func goalMetLines(c *Comparison, lead, bad string) []string {
	var out []string
	for _, s := range c.Scenarios {
		g := s.GoalMet
		if g == nil {
			continue
		}
		mark := ""
		if g.Regression {
			mark = bad
		}
		p := "—"
		if g.Delta < 0 {
			p = strconv.FormatFloat(g.PValue, 'g', 2, 64)
		}
		out = append(out, fmt.Sprintf("%s%s%s: %d/%d → %d/%d (%+.1fpp, p=%s)", lead, mark, s.Name, g.BaseMet, g.BaseRuns, g.NewMet, g.NewRuns, g.Delta*100, p))
	}
	return out
}
