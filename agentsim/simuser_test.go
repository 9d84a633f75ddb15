package agentsim

import (
	"context"
	"testing"

	"github.com/evalrun/evalrun/scenarios"
)

func TestSimUser(t *testing.T) {
	persona := "I'm Ana Lima, head of support at Acme. You can reach me at ana@example.com."
	goal := `I want a quote for "Enterprise" and a call back "within one business day".`
	turn := func(user, agent string, tools ...string) scenarios.SimTurn {
		st := scenarios.SimTurn{User: user, Agent: agent}
		for _, n := range tools {
			st.Tools = append(st.Tools, scenarios.Tool{Name: n, Status: "executed"})
		}
		return st
	}
	tests := []struct {
		name string
		goal string
		tr   []scenarios.SimTurn
		last bool
		seed uint64
		want scenarios.SimStep
	}{
		{name: "opens with the goal", goal: goal,
			want: scenarios.SimStep{Message: "I want a quote for Enterprise and a call back within one business day."}},
		{name: "answers the question about email with the persona's email sentence", goal: goal,
			tr:   []scenarios.SimTurn{turn("hi", "Enterprise has custom pricing. What email can we reach you at?")},
			want: scenarios.SimStep{Message: "OK. You can reach me at ana@example.com."}},
		{name: "else the first sentence left; the seed picks the acknowledgement", goal: goal, seed: 1,
			tr:   []scenarios.SimTurn{turn("hi", "Enterprise has custom pricing.")},
			want: scenarios.SimStep{Message: "Thanks. I'm Ana Lima, head of support at Acme."}},
		{name: "goal met across replies", goal: goal,
			tr:   []scenarios.SimTurn{turn("hi", "Enterprise has custom pricing."), turn("x", "Sales will call you within one business day.")},
			want: scenarios.SimStep{Done: true, GoalMet: true, Reason: `the agent covered "Enterprise", "within one business day"`}},
		{name: "a quoted term may name a tool the agent ran", goal: `Get my details saved by "lead_capture".`,
			tr:   []scenarios.SimTurn{turn("x", "Thanks!", "lead_capture")},
			want: scenarios.SimStep{Done: true, GoalMet: true, Reason: `the agent covered "lead_capture"`}},
		{name: "persona said: asks about what is missing", goal: goal,
			tr:   []scenarios.SimTurn{turn("hi", "Enterprise."), turn("I'm Ana Lima, head of support at Acme.", "ok"), turn("You can reach me at ana@example.com.", "noted")},
			want: scenarios.SimStep{Message: "I see. What about within one business day?"}},
		{name: "then gives up", goal: goal,
			tr:   []scenarios.SimTurn{turn("hi", "Enterprise."), turn("I'm Ana Lima, head of support at Acme.", "ok"), turn("You can reach me at ana@example.com.", "noted"), turn("What about within one business day?", "hmm")},
			want: scenarios.SimStep{Done: true, Reason: `gave up: the agent never mentioned "within one business day"`}},
		{name: "last: the verdict only", goal: goal, last: true,
			tr:   []scenarios.SimTurn{turn("hi", "Enterprise has custom pricing.")},
			want: scenarios.SimStep{Done: true, Reason: `after 1 turns the agent never mentioned "within one business day"`}},
		{name: "a goal without quoted terms is never met", goal: "I want a quote.", last: true,
			tr:   []scenarios.SimTurn{turn("hi", "Here is a quote.")},
			want: scenarios.SimStep{Done: true, Reason: "the goal names no quoted terms to check"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := scenarios.SimRequest{Persona: persona, Goal: tt.goal, Transcript: tt.tr, MaxTurns: 5, Last: tt.last, Seed: tt.seed}
			got, err := NewSimUser().Next(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			again, _ := NewSimUser().Next(context.Background(), q)
			if again != got {
				t.Errorf("not deterministic: %+v then %+v", got, again)
			}
		})
	}
}
