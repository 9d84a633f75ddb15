package scenarios

import (
	"context"

	"go.yaml.in/yaml/v3"
)

// A simulated conversation: a scenario's `simulate:` gives a simulated
// user a persona and a goal; after the scenario's scripted `turns:` (if
// any), the user writes each next message from the persona, the goal and
// the transcript, until it judges the goal met, gives up, or max_turns
// turns were sent.

// maxSimTurns bounds simulate.max_turns.
const maxSimTurns = 100

// simulateKeys are the keys of `simulate:`.
var simulateKeys = []string{"persona", "goal", "max_turns", "opening", "think"}

func init() {
	keyDocs["simulate"] = "a simulated user with a persona and a goal writes the messages after the scripted turns: {persona, goal, max_turns, opening, think}"
	keyDocs["persona"] = "who the simulated user is (a template)"
	keyDocs["goal"] = "what the simulated user wants from the conversation (a template)"
	keyDocs["max_turns"] = "the most user turns of the conversation, scripted ones included (1 to 100)"
	keyDocs["opening"] = "the first simulated message as written (a template); default: the user writes it"
}

// Simulation is a scenario's `simulate:`.
type Simulation struct {
	Pos      Pos
	Persona  *Template
	Goal     *Template
	MaxTurns int       // user turns in all, scripted ones included
	Opening  *Template // nil: the simulated user writes the first message too
	// Turn is the turn each simulated message is sent as: no message of
	// its own (User is nil), the think time of simulate.think (else the
	// suite default's) and the suite defaults' expectations.
	Turn *Turn
}

// Simulated reports whether the scenario has a simulated user.
func (s *Scenario) Simulated() bool { return s.Simulate != nil }

// UserTurns returns the most user turns one conversation of the scenario
// sends: simulate.max_turns for a simulated scenario, else its turns.
func (s *Scenario) UserTurns() int {
	if s.Simulate != nil {
		return s.Simulate.MaxTurns
	}
	return len(s.Turns)
}

// UserSimulator writes the messages of a simulated user and judges when
// its goal is met. Implementations are safe for concurrent use;
// agentsim.SimUser is a deterministic, rule-based one and
// agent.UserModel asks an OpenAI-compatible model.
type UserSimulator interface {
	// Next reads the conversation so far and returns the user's next
	// message, or Done with its verdict on the goal. With q.Last set no
	// message may follow (max_turns was reached): only the verdict counts.
	Next(ctx context.Context, q SimRequest) (SimStep, error)
}

// SimRequest is what a simulated user sees.
type SimRequest struct {
	Persona, Goal string
	// Transcript is the conversation so far, oldest first.
	Transcript []SimTurn
	// MaxTurns is simulate.max_turns; Last is set after the last turn.
	MaxTurns int
	Last     bool
	// Seed makes a rule-based user deterministic per conversation.
	Seed uint64
}

// SimTurn is one turn of a transcript as a simulated user sees it.
type SimTurn struct {
	User, Agent string
	Tools       []Tool
	Handoff     bool
}

// SimStep is a simulated user's answer.
type SimStep struct {
	// Message is the next message; empty when Done.
	Message string
	// Done ends the conversation; GoalMet says whether the user judged its
	// goal met (else it gave up), Reason why in one line.
	Done    bool
	GoalMet bool
	Reason  string
}

// GoalVerdict is how a simulated conversation ended, as the goal_met
// expectation reads it.
type GoalVerdict struct {
	Met    bool
	Reason string
}

// simulation decodes `simulate:`; nTurns is the number of scripted turns.
func (d *decoder) simulation(n *yaml.Node, nTurns int, scope *tmplScope) *Simulation {
	fs, ok := d.fields(n, "simulate", simulateKeys)
	if !ok {
		return nil
	}
	before := len(d.errs)
	s := &Simulation{Pos: d.pos(n), Turn: &Turn{Index: -1, Pos: d.pos(n)}}
	scope.turn = nTurns // the captures of every scripted turn are known
	seen := map[string]bool{}
	for _, f := range fs {
		seen[f.name] = true
		switch f.name {
		case "persona", "goal", "opening":
			if src, ok := d.nonEmpty(f.val, f.name); ok {
				t := d.template(f.val, f.name, src, scope)
				switch f.name {
				case "persona":
					s.Persona = t
				case "goal":
					s.Goal = t
				default:
					s.Opening = t
				}
			}
		case "max_turns":
			if m, ok := d.int(f.val, "max_turns"); ok {
				switch {
				case m < 1 || m > maxSimTurns:
					d.errorf(f.val, "max_turns: must be between 1 and %d, got %d", maxSimTurns, m)
				case m <= nTurns:
					d.errorf(f.val, "max_turns: %d leaves no turn to simulate after the %d scripted turns; make it at least %d", m, nTurns, nTurns+1)
				default:
					s.MaxTurns = m
				}
			}
		case "think":
			s.Turn.hasThink = true
			if dur, ok := d.duration(f.val, "think"); ok {
				s.Turn.Think = dur
			}
		}
	}
	for _, k := range []string{"persona", "goal", "max_turns"} {
		if !seen[k] {
			d.errorf(n, "simulate: missing %s (simulate takes persona, goal and max_turns; opening and think are optional)", k)
		}
	}
	if len(d.errs) > before {
		return nil
	}
	return s
}

// goalVerdict is the goal_met check: the simulated user's verdict
// against the one wanted.
func goalVerdict(want bool, g *GoalVerdict) (bool, string) {
	if g == nil {
		return false, "no simulated user judged a goal: the scenario has no simulate:, or a turn ended the conversation first"
	}
	if g.Met == want {
		return true, ""
	}
	if g.Met {
		return false, "the simulated user judged its goal met: " + g.Reason
	}
	return false, "the simulated user did not meet its goal: " + g.Reason
}

// checkGoalMet reports goal_met items of a scenario without simulate:
// that no judge decides.
func (d *decoder) checkGoalMet(sc *Scenario, simulated bool) {
	if simulated {
		return
	}
	for _, c := range sc.ExpectConversation {
		if c.Kind == "goal_met" && !c.judged() {
			d.errs.Add(c.Pos, "goal_met: the scenario has no simulated user to judge a goal; add simulate: {persona, goal, max_turns}, let the judge grade the conversation with goal_met: {judge: RUBRIC}, or check the replies with at: any")
		}
	}
}

// simulateSchema is the JSON Schema of `simulate:`.
func simulateSchema() map[string]any {
	str := func(k string) map[string]any {
		return map[string]any{"type": "string", "minLength": 1, "description": keyDocs[k]}
	}
	return obj(map[string]any{
		"persona":   str("persona"),
		"goal":      str("goal"),
		"opening":   str("opening"),
		"max_turns": map[string]any{"type": "integer", "minimum": 1, "maximum": maxSimTurns, "description": keyDocs["max_turns"]},
		"think":     ref("duration"),
	}, "persona", "goal", "max_turns")
}

// turnsOrSimulate makes a scenario schema require turns or simulate.
func turnsOrSimulate(scenario map[string]any) {
	delete(scenario, "required")
	scenario["anyOf"] = []any{
		map[string]any{"required": []any{"turns"}, "properties": map[string]any{"turns": true}},
		map[string]any{"required": []any{"simulate"}, "properties": map[string]any{"simulate": true}},
	}
}
