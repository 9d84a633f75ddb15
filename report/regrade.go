package report

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

// RegradeOptions tune Regrade.
type RegradeOptions struct {
	// Transcripts, when set, is the JSON Lines transcripts file of the run
	// (--transcripts all): every conversation in it is regraded, not only
	// those the result keeps. The result's own copies are updated too.
	Transcripts io.Reader
}

// Verdict changes, the value of VerdictChange.Change.
const (
	ChangeNewlyFailingExpectation = "newly failing"
	ChangeNewlyPassingExpectation = "newly passing"
	ChangeAddedExpectation        = "added"
	ChangeRemovedExpectation      = "removed"
)

// VerdictChange is one expectation of one turn whose verdict changed,
// with the number of conversations it changed in.
type VerdictChange struct {
	Scenario    string
	Turn        int // 1-based, as in the summary; 0 for the conversation's own (expect_conversation)
	Expectation string
	Change      string // one of the ChangeXxxExpectation constants
	// Conversations counts the conversations it changed in; Reason is the
	// new failure reason in the first of them (empty when it passes now).
	Conversations int
	Reason        string
}

// OutcomeChange is a conversation whose outcome changed.
type OutcomeChange struct {
	Scenario     string
	Conversation int
	Iteration    int
	From, To     runner.Outcome
}

// RegradeReport is what Regrade found and the regraded result.
type RegradeReport struct {
	// Result is a copy of the result with the new verdicts, turn and
	// conversation outcomes, scenario counts, statuses and thresholds.
	Result *Result
	// Conversations is the number of conversations the run counted.
	Conversations int
	// Regraded counts the conversations regraded; NotStored those the run
	// counted but kept no transcript of; Skipped those with a transcript
	// that could not be regraded, by reason.
	Regraded  int
	NotStored int
	Skipped   map[string]int
	// Incomplete counts regraded conversations that stopped at a failure
	// that now passes: their later turns were never sent, so they stay
	// failed.
	Incomplete int
	// KeptVerdicts counts expectations that need what the stored turn
	// does not hold (a judge for judge:; for field:, the reply's JSON body,
	// absent in files written before it was kept and cut when over
	// MaxStoredText): they keep their recorded verdicts.
	KeptVerdicts int
	// Changes are sorted by scenario, turn, change and expectation.
	Changes []VerdictChange
	// Outcomes are the conversations whose outcome changed, by scenario
	// and conversation number.
	Outcomes []OutcomeChange
}

// Changed reports whether any verdict or outcome changed.
func (r *RegradeReport) Changed() bool { return len(r.Changes) > 0 || len(r.Outcomes) > 0 }

// Regrade evaluates the expectations of the scenarios in suite, as they are
// now, against the replies stored in res, without calling any agent, and
// reports which verdicts and outcomes changed. Scenarios are matched by
// name and turns by index; captures are replayed from the stored replies.
// A max_latency expectation judges the stored service time (the turn's
// latency in results that predate it).
//
// Only conversations with a stored transcript can be regraded (see
// Transcripts; opts.Transcripts adds a streamed file): the report says how
// many were and were not. A scenario's counts change by the outcome changes
// of its regraded conversations, and its status is decided again with the
// scenario's current min_pass_rate. res is not modified.
func Regrade(res *Result, suite *scenarios.Suite, opts RegradeOptions) (*RegradeReport, error) {
	if res == nil || suite == nil {
		return nil, fmt.Errorf("regrade: a result and a suite are required")
	}
	out := cloneForRegrade(res)
	rep := &RegradeReport{Result: out, Conversations: res.Totals.Conversations, Skipped: map[string]int{}}
	changes := map[VerdictChange]*VerdictChange{}
	delta := map[string]*Counts{} // per scenario: +1/-1 by outcome
	// A conversation is known by its scenario, id, chat and start: ids
	// alone repeat in results merged from repeats of a run, and a line
	// given twice (transcripts files concatenated) is graded once.
	type convKey struct {
		scenario, chat, client string
		id                     int
		start                  int64
	}
	keyOf := func(scenario string, c *ConversationResult) convKey {
		return convKey{scenario, c.ChatID, c.ClientID, c.ID, c.Start.UnixNano()}
	}
	regraded := map[convKey]ConversationResult{}
	seen := map[convKey]bool{}

	do := func(scenario string, c *ConversationResult) {
		k := keyOf(scenario, c)
		if seen[k] {
			rep.Skipped[fmt.Sprintf("conversation %d of scenario %q appears more than once; it is graded once", c.ID, scenario)]++
			return
		}
		seen[k] = true
		sc := suite.Lookup(scenario)
		if sc == nil {
			rep.Skipped[fmt.Sprintf("scenario %q is not in the given scenario files", scenario)]++
			return
		}
		nc, ok, why := regradeConversation(sc, c, rep, changes)
		if !ok {
			rep.Skipped[why]++
			return
		}
		rep.Regraded++
		regraded[k] = nc
		if nc.Outcome != c.Outcome {
			rep.Outcomes = append(rep.Outcomes, OutcomeChange{scenario, c.ID, c.Iteration, c.Outcome, nc.Outcome})
			d := delta[scenario]
			if d == nil {
				d = &Counts{}
				delta[scenario] = d
			}
			d.Add(nc.Outcome)
			d.Remove(c.Outcome)
		}
	}

	if opts.Transcripts != nil {
		err := ReadTranscripts(opts.Transcripts, func(l *TranscriptLine) error {
			c := l.ConversationResult
			do(l.Scenario, &c)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("regrade: transcripts: %w", err)
		}
	} else {
		for i := range res.Scenarios {
			s := &res.Scenarios[i]
			for j := range s.Conversations {
				do(s.Name, &s.Conversations[j])
			}
		}
	}
	stored := len(seen) // each conversation once
	rep.NotStored = max(0, res.Totals.Conversations-stored)

	// Apply: new transcripts, counts, statuses.
	out.Totals.Counts = Counts{}
	for i := range out.Scenarios {
		s := &out.Scenarios[i]
		for j := range s.Conversations {
			if nc, ok := regraded[keyOf(s.Name, &s.Conversations[j])]; ok {
				s.Conversations[j] = nc
			}
		}
		acc := &scenarioAcc{file: s.File, tags: s.Tags, minPassRate: s.MinPassRate, convs: s.Conversations,
			outcomes: s.Counts}
		if sc := suite.Lookup(s.Name); sc != nil {
			acc.minPassRate = sc.MinPassRate
		}
		if d := delta[s.Name]; d != nil {
			acc.outcomes.Merge(*d)
		}
		first := s.FirstFailure
		*s = scenarioResult(s.Name, acc)
		s.FirstFailure = firstFailure(s.Conversations)
		if s.FirstFailure == nil && delta[s.Name] == nil {
			s.FirstFailure = first // a failure whose transcript was not kept
		}
		t := &out.Totals
		t.Counts.Merge(s.Counts)
	}
	if len(res.Thresholds) > 0 {
		out.Thresholds = nil
		for _, tr := range res.Thresholds {
			th, err := ParseThreshold(tr.Expr)
			if err != nil {
				out.Thresholds = append(out.Thresholds, tr)
				continue
			}
			out.Thresholds = append(out.Thresholds, th.Evaluate(out))
		}
	}

	for _, c := range changes {
		rep.Changes = append(rep.Changes, *c)
	}
	slices.SortFunc(rep.Changes, func(a, b VerdictChange) int {
		return cmp.Or(strings.Compare(a.Scenario, b.Scenario), cmp.Compare(a.Turn, b.Turn),
			strings.Compare(a.Change, b.Change), strings.Compare(a.Expectation, b.Expectation))
	})
	slices.SortFunc(rep.Outcomes, func(a, b OutcomeChange) int {
		return cmp.Or(strings.Compare(a.Scenario, b.Scenario), cmp.Compare(a.Conversation, b.Conversation))
	})
	return rep, nil
}

// cloneForRegrade copies what Regrade changes: scenarios, their
// conversations and turns.
func cloneForRegrade(res *Result) *Result {
	out := *res
	out.Settings = maps.Clone(res.Settings)
	out.Thresholds = slices.Clone(res.Thresholds)
	out.Scenarios = slices.Clone(res.Scenarios)
	for i := range out.Scenarios {
		s := &out.Scenarios[i]
		s.Conversations = slices.Clone(s.Conversations)
		for j := range s.Conversations {
			s.Conversations[j].Turns = slices.Clone(s.Conversations[j].Turns)
		}
	}
	return &out
}

// needsUnstored reports whether an expectation needs what the stored turn
// does not hold: a judge, or the reply's JSON body (field) when haveRaw is
// false.
func needsUnstored(e *scenarios.Expectation, haveRaw bool) bool {
	switch e.Kind {
	case "judge":
		return true
	case "field":
		return !haveRaw
	case "any", "all", "not":
		return unstoredIn(e.String(), haveRaw)
	}
	return false
}

// unstoredIn reports whether the description of a check names one that
// needs what the stored turns do not hold (see needsUnstored).
func unstoredIn(desc string, haveRaw bool) bool {
	return strings.Contains(desc, "judge") || (!haveRaw && strings.Contains(desc, "field "))
}

// storedRaw returns a turn's stored reply body for field: expectations, or
// nil when the result has none to give: a file written before bodies were
// kept, a failed call, or a body cut at MaxStoredText (no longer JSON).
func storedRaw(t *TurnRecord) json.RawMessage {
	if t.Raw == "" || !json.Valid([]byte(t.Raw)) {
		return nil
	}
	return json.RawMessage(t.Raw)
}

// regradeConversation evaluates one stored conversation again. It returns
// the new conversation, or false and why it cannot be regraded.
func regradeConversation(sc *scenarios.Scenario, c *ConversationResult, rep *RegradeReport, changes map[VerdictChange]*VerdictChange) (ConversationResult, bool, string) {
	for _, t := range c.Turns {
		if t.Index < 0 || t.Index >= sc.UserTurns() {
			return *c, false, fmt.Sprintf("scenario %q has fewer turns than the run sent", sc.Name)
		}
	}
	nc := *c
	nc.Turns = slices.Clone(c.Turns)
	captures := map[string]string{}
	var firstBad *TurnRecord
	obsAll := make([]*scenarios.Observation, len(nc.Turns))
	for k := range nc.Turns {
		t := &nc.Turns[k]
		if t.Error != "" || (t.Outcome != runner.Passed && t.Outcome != runner.Failed && t.Outcome != "") {
			// The call failed: nothing to evaluate.
			if firstBad == nil {
				firstBad = t
			}
			continue
		}
		turn := scenarioTurn(sc, t.Index)
		lat := t.ServiceMS
		if lat <= 0 {
			lat = t.LatencyMS
		}
		obs := &scenarios.Observation{Text: t.Reply, Handoff: t.Handoff, TokensUsed: t.Tokens,
			Latency: time.Duration(lat * float64(time.Millisecond)), Raw: storedRaw(t)}
		for _, tool := range t.Tools {
			obs.Tools = append(obs.Tools, scenarios.Tool{Name: tool.Tool, Status: tool.Status, Data: tool.Data})
		}
		obsAll[k] = obs
		vs := turn.Evaluate(obs, captures)
		// Expectations needing unstored data keep their recorded verdict.
		old := map[string][]scenarios.Verdict{}
		for _, v := range t.Verdicts {
			key := verdictKey(v.Name, v.Expectation)
			old[key] = append(old[key], v)
		}
		used := map[string]int{}
		for i, e := range turn.Expect {
			if i < len(vs) && needsUnstored(e, obs.Raw != nil) {
				key := verdictKey(vs[i].Name, vs[i].Expectation)
				if o := old[key]; len(o) > used[key] {
					vs[i] = o[used[key]]
				}
				rep.KeptVerdicts++
			}
		}
		diffVerdicts(sc.Name, t.Index, t.Verdicts, vs, changes)
		t.Verdicts = vs
		t.Outcome = runner.Passed
		if !scenarios.Passed(vs) {
			t.Outcome = runner.Failed
			if firstBad == nil {
				firstBad = t
			}
		}
	}
	switch {
	case firstBad != nil && firstBad.Outcome == runner.Failed:
		nc.Outcome = runner.Failed
		v := firstFailedVerdict(firstBad)
		why := v.Expectation
		if v.Reason != "" {
			why += ": " + v.Reason
		}
		nc.Reason = fmt.Sprintf("turn %d: %s", firstBad.Index+1, why)
	case firstBad != nil:
		nc.Outcome, nc.Reason = c.Outcome, c.Reason // the failed call decides
	case c.Outcome == runner.Failed && len(c.Turns) < len(sc.Turns):
		nc.Outcome = runner.Failed
		nc.Reason = fmt.Sprintf("regrade: every sent turn passes now, but turns %d to %d were never sent (the run stopped at a failure)", len(c.Turns)+1, len(sc.Turns))
		rep.Incomplete++
	case c.Outcome == runner.Failed || c.Outcome == runner.Passed:
		nc.Outcome, nc.Reason = runner.Passed, ""
	default:
		nc.Outcome, nc.Reason = c.Outcome, c.Reason // not run, cut short
	}
	regradeWhole(sc, c, &nc, obsAll, firstBad, rep, changes)
	return nc, true, ""
}

// diffVerdicts records the expectations whose verdict changed between old
// and new (matched by name and description, in order of occurrence).
func diffVerdicts(scenario string, turn int, old, new []scenarios.Verdict, changes map[VerdictChange]*VerdictChange) {
	record := func(exp, change, reason string) {
		k := VerdictChange{Scenario: scenario, Turn: turn + 1, Expectation: exp, Change: change}
		c := changes[k]
		if c == nil {
			c = &VerdictChange{Scenario: k.Scenario, Turn: k.Turn, Expectation: k.Expectation, Change: k.Change, Reason: reason}
			changes[k] = c
		}
		c.Conversations++
	}
	olds := map[string][]scenarios.Verdict{}
	for _, v := range old {
		key := verdictKey(v.Name, v.Expectation)
		olds[key] = append(olds[key], v)
	}
	seen := map[string]int{}
	for _, v := range new {
		key := verdictKey(v.Name, v.Expectation)
		i := seen[key]
		seen[key]++
		if i >= len(olds[key]) {
			if !v.Passed {
				record(key, ChangeNewlyFailingExpectation, v.Reason)
			} else {
				record(key, ChangeAddedExpectation, "")
			}
			continue
		}
		switch o := olds[key][i]; {
		case o.Passed && !v.Passed:
			record(key, ChangeNewlyFailingExpectation, v.Reason)
		case !o.Passed && v.Passed:
			record(key, ChangeNewlyPassingExpectation, "")
		}
	}
	for key, vs := range olds {
		for i := seen[key]; i < len(vs); i++ {
			record(key, ChangeRemovedExpectation, "")
		}
	}
}

// WriteText writes the regrade report for a terminal.
func (r *RegradeReport) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Regraded %d of %d conversations", r.Regraded, r.Conversations)
	if r.NotStored > 0 {
		fmt.Fprintf(&b, "; %d had no stored transcript (run with --transcripts all to keep them)", r.NotStored)
	}
	b.WriteString(".\n")
	for _, why := range slices.Sorted(maps.Keys(r.Skipped)) {
		fmt.Fprintf(&b, "  not regraded: %d conversation(s): %s\n", r.Skipped[why], why)
	}
	if r.KeptVerdicts > 0 {
		fmt.Fprintf(&b, "  %d verdict(s) of field:/judge: expectations kept as recorded (regrade calls no judge, and field: needs the reply's body, which the result does not hold whole for those turns)\n", r.KeptVerdicts)
	}
	if r.Incomplete > 0 {
		fmt.Fprintf(&b, "  %d conversation(s) stopped at a failure that now passes; their later turns were never sent, so they stay failed\n", r.Incomplete)
	}
	if !r.Changed() {
		b.WriteString("\nNo verdict changed.\n")
	}
	if len(r.Changes) > 0 {
		b.WriteString("\nExpectations\n")
		for _, c := range r.Changes {
			mark := map[string]string{ChangeNewlyFailingExpectation: "✗", ChangeNewlyPassingExpectation: "✓"}[c.Change]
			where := "turn " + strconv.Itoa(c.Turn)
			if c.Turn == 0 {
				where = "conversation"
			}
			fmt.Fprintf(&b, "  %-1s %s %s: %s %s in %d conversation(s)", mark, c.Scenario, where, c.Expectation, c.Change, c.Conversations)
			if c.Reason != "" {
				b.WriteString(" — " + excerpt(c.Reason, 120))
			}
			b.WriteString("\n")
		}
	}
	if len(r.Outcomes) > 0 {
		b.WriteString("\nConversations\n")
		for _, o := range r.Outcomes {
			fmt.Fprintf(&b, "  %s #%d (iteration %d): %s → %s\n", o.Scenario, o.Conversation, o.Iteration+1, o.From, o.To)
		}
	}
	b.WriteString("\nScenarios\n")
	for i := range r.Result.Scenarios {
		s := &r.Result.Scenarios[i]
		fmt.Fprintf(&b, "  %s %s: %d of %d passed (%d required)\n", map[string]string{StatusPassed: "✓", StatusFailed: "✗"}[s.Status], s.Name, s.Passed, s.Runs, s.Required)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// regradeWhole evaluates the scenario's expect_conversation again over the
// regraded turns, when the runner would have checked it: every turn was
// sent and none ended the conversation (an error, or a failure without
// on_fail: continue). Otherwise the conversation keeps no verdicts of its
// own. Checks that need what the stored turns do not hold (judge, and
// field when a turn has no stored body) keep their recorded verdict.
func regradeWhole(sc *scenarios.Scenario, c, nc *ConversationResult, obs []*scenarios.Observation, firstBad *TurnRecord, rep *RegradeReport, changes map[VerdictChange]*VerdictChange) {
	ended := firstBad != nil && (firstBad.Outcome != runner.Failed || sc.OnFail != scenarios.OnFailContinue)
	if firstBad == nil && nc.Outcome == runner.Errored && len(c.Verdicts) > 0 {
		// Every turn passed: the conversation's own undecided check made it
		// an error, and is decided again below.
		nc.Outcome, nc.Reason = runner.Passed, ""
	}
	ranAll := len(nc.Turns) == len(sc.Turns)
	if sc.Simulate != nil {
		ranAll = nc.Simulation != nil && nc.Simulation.Ended != runner.EndStopped
	}
	if len(sc.ExpectConversation) == 0 || ended || !ranAll ||
		(nc.Outcome != runner.Passed && nc.Outcome != runner.Failed) {
		diffVerdicts(sc.Name, -1, c.Verdicts, nil, changes)
		nc.Verdicts = nil
		return
	}
	var goal *scenarios.GoalVerdict
	if s := nc.Simulation; s != nil && s.Ended != runner.EndStopped {
		goal = &scenarios.GoalVerdict{Met: s.GoalMet, Reason: s.Reason}
	}
	vs := scenarios.EvaluateConversation(context.Background(), sc.ExpectConversation, obs, goal, nil)
	old := map[string][]scenarios.Verdict{}
	for _, v := range c.Verdicts {
		key := verdictKey(v.Name, v.Expectation)
		old[key] = append(old[key], v)
	}
	allRaw := true // every turn's body is stored: field: checks run again
	for _, o := range obs {
		if o != nil && o.Raw == nil {
			allRaw = false
		}
	}
	used := map[string]int{}
	for i, v := range vs {
		if !unstoredIn(v.Expectation, allRaw) {
			continue
		}
		key := verdictKey(v.Name, v.Expectation)
		if o := old[key]; len(o) > used[key] {
			vs[i] = o[used[key]]
			used[key]++
		}
		rep.KeptVerdicts++
	}
	diffVerdicts(sc.Name, -1, c.Verdicts, vs, changes)
	nc.Verdicts = vs
	if nc.Outcome != runner.Passed {
		return
	}
	// As the runner decides: a failed check fails the conversation, else
	// an undecided one makes it an error.
	var undecided *scenarios.Verdict
	for i := range vs {
		v := &vs[i]
		switch {
		case v.Undecided:
			if undecided == nil {
				undecided = v
			}
		case !v.Passed:
			nc.Outcome, nc.Reason = runner.Failed, "conversation: "+verdictLabelWhy(v)
			return
		}
	}
	if undecided != nil {
		nc.Outcome, nc.Reason = runner.Errored, "conversation: "+verdictLabelWhy(undecided)
	}
}

// verdictLabelWhy is a verdict on one line as the runner writes it in a
// conversation's reason: the expectation and why it did not pass.
func verdictLabelWhy(v *scenarios.Verdict) string {
	if v.Reason != "" {
		return v.Expectation + ": " + v.Reason
	}
	return v.Expectation
}

// scenarioTurn is turn i of a conversation of sc: a scripted turn, or the
// simulated user's turn after them.
func scenarioTurn(sc *scenarios.Scenario, i int) *scenarios.Turn {
	if i < len(sc.Turns) {
		return sc.Turns[i]
	}
	return sc.Simulate.Turn
}
