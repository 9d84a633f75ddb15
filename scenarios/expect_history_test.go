package scenarios

import (
	"strings"
	"testing"
)

func TestHistoryExpectation(t *testing.T) {
	two := []HistoryEntry{{"user", "a"}, {"assistant", "b"}, {"user", "c"}, {"assistant", "d"}}
	tests := []struct {
		item   string
		obs    Observation
		pass   bool
		reason string
	}{
		{"history: {turns: 2}", Observation{History: two}, true, ""},
		{"history: 2", Observation{History: two}, true, ""},
		{"history: {turns: 3}", Observation{History: two}, false, "holds 2 user messages (4 messages in all), want at least 3"},
		{"history: {turns: 1}", Observation{}, false, "holds 0 user messages"},
		{"history: {turns: 1}", Observation{HistoryError: "client (HTTP 404): Chat not found"}, false, "could not be read: client (HTTP 404)"},
	}
	for _, tt := range tests {
		e := parseExpect(t, tt.item)
		v := e.Evaluate(&tt.obs)
		if v.Passed != tt.pass || !strings.Contains(v.Reason, tt.reason) {
			t.Errorf("%s on %+v: %+v, want pass %v reason %q", tt.item, tt.obs, v, tt.pass, tt.reason)
		}
	}
}

func TestNeedsHistory(t *testing.T) {
	src := `turns:
  - user: a
    expect: [{icontains: x}]
  - user: b
    expect: [{history: {turns: 2}}]
  - user: c
    expect: [{not: {history: 9}}]
`
	scs, err := Parse("h.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{false, true, true} {
		tn := scs[0].Turns[i]
		if tn.NeedsHistory() != want || tn.ExtraCalls() != map[bool]int{false: 0, true: 1}[want] {
			t.Errorf("turn %d: NeedsHistory %v ExtraCalls %d, want %v", i, tn.NeedsHistory(), tn.ExtraCalls(), want)
		}
	}
}

func TestHistoryExpectationErrors(t *testing.T) {
	for _, tt := range []struct{ item, want string }{
		{"history: 0", "at least 1"},
		{"history: {turns: 0}", "at least 1"},
		{"history: {}", "missing turns"},
		{"history: {turn: 2}", "turn"},
		{"history: [1]", "expected {turns: N}"},
	} {
		src := "turns:\n  - user: hi\n    expect:\n      - " + tt.item + "\n"
		_, err := Parse("x.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "x.yaml:4:") {
			t.Errorf("%s: %v, want %q at x.yaml:4", tt.item, err, tt.want)
		}
	}
}
