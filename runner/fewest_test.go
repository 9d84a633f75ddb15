package runner

import (
	"testing"

	"github.com/evalrun/evalrun/scenarios"
)

// TestFewestTurns: with FewestTurns an estimate counts a simulated
// conversation at its scripted turns and its opening, not at max_turns;
// scripted conversations count the same; shards add up to the whole.
func TestFewestTurns(t *testing.T) {
	src := `name: sim-open
repeat: 3
turns: [{user: hi}]
simulate: {persona: p, goal: g, max_turns: 5, opening: hello}
---
name: sim-bare
repeat: 2
simulate: {persona: p, goal: g, max_turns: 4}
---
name: scripted
repeat: 4
turns: [{user: a}, {user: b}]
`
	scs, err := scenarios.Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	suite := &scenarios.Suite{Scenarios: scs}
	most := EstimateCost(suite, 1, 0)
	least := EstimateCost(suite, 1, 0, FewestTurns())
	// Most: 9 conversations (new chats) + 3×5 + 2×4 + 4×2 turns = 40.
	// Fewest: 9 + 3×(1 scripted + 1 opening) + 2×0 + 4×2 = 23.
	if most.Calls != 40 || least.Calls != 23 || least.Conversations != 9 || least.NewChats != 9 {
		t.Errorf("most %+v, fewest %+v; want 40 and 23 calls", most, least)
	}
	if e := EstimateCost(suite, 1, 0, FewestTurns(), NewChatCalls(0)); e.Calls != 14 {
		t.Errorf("fewest without new-chat calls: %+v, want 14", e)
	}
	var sum int64
	for i := 1; i <= 3; i++ {
		sum += Shard{Index: i, Count: 3}.EstimateCost(suite, 9, 1, 0, FewestTurns()).Calls
	}
	if sum != least.Calls {
		t.Errorf("shards' fewest calls add up to %d, want %d", sum, least.Calls)
	}
	scripted := &scenarios.Suite{Scenarios: scs[2:]}
	if a, b := EstimateCost(scripted, 1, 0), EstimateCost(scripted, 1, 0, FewestTurns()); a != b {
		t.Errorf("scripted suite: %+v with FewestTurns, %+v without", b, a)
	}
}
