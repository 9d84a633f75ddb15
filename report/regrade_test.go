package report

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

func mustSuite(t *testing.T, yaml string) *scenarios.Suite {
	t.Helper()
	scs, err := scenarios.Parse("alpha.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return &scenarios.Suite{Scenarios: scs}
}

func TestRegrade(t *testing.T) {
	a := gscen("alpha")
	// 4 conversations of 2 turns; #2 was recorded failing at turn 2 (its
	// reply does contain "plan", so a correct check now passes it).
	res := gresult(Meta{RunID: "r"}, uniform(a, 1, 4, 2, 10*time.Millisecond, time.Millisecond, map[int]bool{1: true}))
	res.Scenarios[0].Conversations[3].Turns[1].Reply = "Sorry, I cannot help."
	res.Thresholds = []ThresholdResult{{Expr: "pass_rate>=1", Value: "75.0% (3 of 4)"}}

	tests := []struct {
		name         string
		yaml         string
		passed       int
		changes      []string // scenario turn change expectation ×n
		outcomeFlips int
	}{
		{"same expectation", `
name: alpha
turns:
  - user: hi
    expect: [{icontains: plan}]
  - user: more
    expect: [{icontains: plan}]
`, 3, []string{
			`alpha 2 newly failing icontains "plan" ×1`, // conversation 4's changed reply
			`alpha 2 newly passing icontains "plan" ×1`, // conversation 2
		}, 2},
		{"changed expectation", `
name: alpha
turns:
  - user: hi
    expect: [{icontains: plan}]
  - user: more
    expect: [{icontains: "$29"}, {max_latency: 5ms}]
`, 0, []string{
			`alpha 2 added icontains "$29" ×3`,
			`alpha 2 newly failing icontains "$29" ×1`,
			`alpha 2 newly failing max_latency 5ms ×4`,
			`alpha 2 removed icontains "plan" ×4`,
		}, 3},
		{"conversation expectations", `
name: alpha
on_fail: continue
turns:
  - user: hi
    expect: [{icontains: plan}]
  - user: more
expect_conversation:
  - never: {icontains: sorry}
  - turns: {max: 2}
`, 3, []string{
			`alpha 0 added never icontains "sorry" ×3`,
			`alpha 0 added turns at most 2 ×4`,
			`alpha 0 newly failing never icontains "sorry" ×1`,
			`alpha 2 removed icontains "plan" ×4`,
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Regrade(res, mustSuite(t, tt.yaml), RegradeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range rep.Changes {
				got = append(got, strings.Join([]string{c.Scenario, strconv.Itoa(c.Turn), c.Change, c.Expectation, "×" + strconv.Itoa(c.Conversations)}, " "))
			}
			if strings.Join(got, "\n") != strings.Join(tt.changes, "\n") {
				t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.changes, "\n"))
			}
			s := rep.Result.Scenarios[0]
			if s.Passed != tt.passed || s.Runs != 4 || s.Passed+s.Failed != 4 || rep.Result.Totals.Passed != tt.passed {
				t.Errorf("scenario %+v, totals %+v; want %d passed", s, rep.Result.Totals, tt.passed)
			}
			if len(rep.Outcomes) != tt.outcomeFlips || rep.Regraded != 4 || rep.NotStored != 0 {
				t.Errorf("outcomes %+v regraded %d not stored %d", rep.Outcomes, rep.Regraded, rep.NotStored)
			}
			if rep.Result.Thresholds[0].Passed != (tt.passed == 4) {
				t.Errorf("threshold not re-evaluated: %+v", rep.Result.Thresholds)
			}
			if err := rep.Result.validate(); err != nil {
				t.Errorf("regraded result invalid: %v", err)
			}
			var buf bytes.Buffer
			if err := rep.WriteText(&buf); err != nil || !strings.Contains(buf.String(), "Regraded 4 of 4 conversations") {
				t.Errorf("text: %v\n%s", err, buf.String())
			}
		})
	}
	// The input is untouched.
	if res.Scenarios[0].Passed != 3 || !res.Scenarios[0].Conversations[3].Turns[1].Verdicts[0].Passed {
		t.Error("Regrade modified its input")
	}
}

func TestRegradeCounts(t *testing.T) {
	a, b := gscen("alpha"), gscen("beta")
	convs := append(uniform(a, 1, 3, 1, time.Millisecond, 0, nil), uniform(b, 4, 2, 1, time.Millisecond, 0, nil)...)
	res := gresult(Meta{RunID: "r"}, convs)
	// One transcript was not kept; one turn's call failed.
	res.Scenarios[0].Conversations = res.Scenarios[0].Conversations[:2]
	res.Scenarios[0].Conversations[1].Turns[0].Error, res.Scenarios[0].Conversations[1].Turns[0].Outcome = "500", runner.Errored
	rep, err := Regrade(res, mustSuite(t, "name: alpha\nturns:\n  - user: hi\n    expect: [{icontains: nope}]\n"), RegradeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Regraded != 2 || rep.NotStored != 1 || rep.Skipped[`scenario "beta" is not in the given scenario files`] != 2 {
		t.Errorf("regraded %d not stored %d skipped %v", rep.Regraded, rep.NotStored, rep.Skipped)
	}

	// Streamed transcripts: every conversation is regraded from the file.
	var jsonl bytes.Buffer
	for _, s := range res.Scenarios {
		for _, c := range s.Conversations {
			b, _ := json.Marshal(TranscriptLine{Scenario: s.Name, ConversationResult: c})
			jsonl.Write(append(b, '\n'))
		}
	}
	rep, err = Regrade(res, mustSuite(t, "name: beta\nturns:\n  - user: hi\n    expect: [{icontains: nope}]\n"), RegradeOptions{Transcripts: &jsonl})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Regraded != 2 || rep.Result.Scenario("beta").Failed != 2 || rep.Result.Totals.Failed != 2 {
		t.Errorf("streamed: regraded %d, beta %+v", rep.Regraded, rep.Result.Scenario("beta"))
	}

	// The same transcripts twice (files concatenated): each conversation is
	// regraded once, and the counts are not doubled ("Regraded 10 of 5").
	var all bytes.Buffer
	for _, s := range res.Scenarios {
		for _, c := range s.Conversations {
			b, _ := json.Marshal(TranscriptLine{Scenario: s.Name, ConversationResult: c})
			all.Write(append(b, '\n'))
		}
	}
	twice := append(all.Bytes(), all.Bytes()...)
	rep, err = Regrade(res, mustSuite(t, "name: beta\nturns:\n  - user: hi\n    expect: [{icontains: nope}]\n"), RegradeOptions{Transcripts: bytes.NewReader(twice)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Regraded != 2 || rep.Result.Scenario("beta").Failed != 2 || rep.Result.Totals.Failed != 2 || rep.NotStored != 1 {
		t.Errorf("transcripts twice: regraded %d, not stored %d, beta %+v", rep.Regraded, rep.NotStored, rep.Result.Scenario("beta"))
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if rep.Regraded > rep.Conversations || !strings.Contains(text.String(), "appears more than once") {
		t.Errorf("transcripts twice:\n%s", text.String())
	}
}

func TestStoredRaw(t *testing.T) {
	long := `{"pad":"` + strings.Repeat("x", MaxStoredText) + `"}`
	tests := []struct {
		name string
		raw  string
		want string // "" for none
	}{
		{"absent (an older file, a failed call)", "", ""},
		{"a JSON body", `{"response":"hi","confidence":0.4}`, `{"response":"hi","confidence":0.4}`},
		{"a JSON body with a newline", "{\"a\":1}\n", "{\"a\":1}\n"},
		{"cut at the bound", boundText(long), ""},
		{"not JSON", "<html>oops</html>", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(storedRaw(&TurnRecord{Raw: tt.raw})); got != tt.want {
				t.Errorf("storedRaw = %q, want %q", got, tt.want)
			}
		})
	}
}
