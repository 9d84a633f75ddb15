package scenarios

import (
	"testing"
	"time"
)

// benchTurn is one turn with the expectations a typical suite uses.
func benchTurn(b *testing.B) *Turn {
	b.Helper()
	src := `name: bench
vars: {company: Acme}
turns:
  - user: "Hi, I'm {{ fake.name }} from {{ company }}, {{ fake.email }}. What does Growth cost?"
    expect:
      - icontains: growth
      - regex: '\$\s?\d+'
      - not_icontains: sorry
      - tool: lead_capture
      - max_latency: 3s
      - any: [{contains: "/mo"}, {contains: "per month"}]
    capture: {price: '\$(\d+)'}
`
	scs, err := Parse("bench.yaml", []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	return scs[0].Turns[0]
}

// BenchmarkEvaluateTurn measures checking one reply against six
// expectations and a capture: the work evalrun adds to every turn call.
func BenchmarkEvaluateTurn(b *testing.B) {
	turn := benchTurn(b)
	obs := &Observation{
		Text:    "Thanks Ana, the Growth plan costs $99/mo and includes 10 seats. Our sales team will contact you.",
		Tools:   []Tool{{Name: "lead_capture", Status: StatusExecuted}},
		Latency: 40 * time.Millisecond,
	}
	captures := map[string]string{}
	b.ReportAllocs()
	for b.Loop() {
		if vs := turn.Evaluate(obs, captures); !Passed(vs) {
			b.Fatalf("verdicts %+v", vs)
		}
	}
}

// BenchmarkRenderTemplate measures rendering a user message with vars and
// fake data, once per turn sent.
func BenchmarkRenderTemplate(b *testing.B) {
	turn := benchTurn(b)
	env := &Env{Vars: map[string]string{"company": "Acme"}, RunID: "r", Scenario: "bench", Seed: 1}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		env.Conversation = n
		if _, err := turn.User.Render(env); err != nil {
			b.Fatal(err)
		}
	}
}
