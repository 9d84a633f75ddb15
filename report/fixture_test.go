package report

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// conv describes one conversation to feed an Aggregator: the calls it
// makes follow from its turns.
type conv struct {
	id      int
	scen    *scenarios.Scenario
	iter    int
	outcome runner.Outcome
	reason  string
	// chatErr makes the new-chat call fail with this error; no turns follow.
	chatErr *agent.Error
	turns   []runner.TurnResult
}

// feed sends c's calls and then c itself to a, as the runner would.
func feed(a *Aggregator, c conv) {
	start := t0.Add(time.Duration(c.id) * time.Second)
	elapsed := time.Duration(0)
	if c.outcome != runner.NotRun || len(c.turns) > 0 || c.chatErr != nil {
		lat := time.Duration(40+c.id%10) * time.Millisecond
		call := &runner.Call{Kind: runner.CallNewChat, Scenario: c.scen.Name, Conversation: c.id, Turn: -1,
			Intended: start, Latency: lat, Service: lat, Attempts: 1, Status: 200}
		if c.chatErr != nil {
			call.Err, call.Status = c.chatErr, c.chatErr.Status
		}
		a.CallDone(call)
		elapsed += lat
	}
	for _, t := range c.turns {
		call := &runner.Call{Kind: runner.CallTurn, Scenario: c.scen.Name, Conversation: c.id, Turn: t.Index,
			Intended: start.Add(elapsed), Latency: t.Latency, Service: t.Latency, Attempts: max(t.Attempts, 1), Status: 200}
		switch t.Outcome {
		case runner.Errored:
			call.Err = &agent.Error{Kind: agent.KindServer, Op: "send", Status: 500}
			call.Status = 500
		case runner.Throttled:
			call.Err = &agent.Error{Kind: agent.KindThrottled, Op: "send", Status: 429}
			call.Status = 429
		}
		a.CallDone(call)
		elapsed += t.Latency
	}
	a.ConversationDone(&runner.Conversation{
		ID: c.id, Scenario: c.scen, Iteration: c.iter,
		ChatID: "chat-" + itoa(c.id), ClientID: "evalrun-test-" + itoa(c.id),
		Outcome: c.outcome, Reason: c.reason,
		Start: start, End: start.Add(elapsed), Turns: c.turns,
	})
}

func itoa(i int) string { return fmtInt(int64(i)) }

func scen(name string, repeat int, minPass float64, tags ...string) *scenarios.Scenario {
	return &scenarios.Scenario{Name: name, File: "examples/" + name + ".yaml", Tags: tags, Repeat: repeat, MinPassRate: minPass}
}

func ok(expect string) scenarios.Verdict { return scenarios.Verdict{Expectation: expect, Passed: true} }

func bad(expect, reason string) scenarios.Verdict {
	return scenarios.Verdict{Expectation: expect, Reason: reason}
}

func turn(i int, ms int, out runner.Outcome, sent, reply string, v ...scenarios.Verdict) runner.TurnResult {
	return runner.TurnResult{Index: i, Sent: sent, Reply: reply, Latency: time.Duration(ms) * time.Millisecond,
		Attempts: 1, Outcome: out, Verdicts: v, Tokens: 50 + i}
}

// mixedConvs is a run with every outcome: a passing scenario, one below
// its min_pass_rate, one with an error and a 429, and one not run.
func mixedConvs() []conv {
	appointment := scen("appointment", 1, 1, "booking")
	pricing := scen("pricing", 5, 0.8, "smoke", "sales")
	handoff := scen("human-handoff", 2, 1)
	lead := scen("lead-capture", 1, 1)
	growth := "We have three plans: Starter at $0, Growth at $49 per month and Scale at $199 per month.\nWhich one fits?"
	short := "Our plans start at $0."
	pass := func(id, iter int) conv {
		return conv{id: id, scen: pricing, iter: iter, outcome: runner.Passed, turns: []runner.TurnResult{
			turn(0, 110+iter*10, runner.Passed, "What does Growth cost?", growth, ok(`icontains "growth"`), ok(`regex '\$\s?\d+'`)),
			turn(1, 240+iter*10, runner.Passed, "Can I pay yearly?", "Yes, yearly billing saves 20%.", ok(`contains "yearly"`)),
		}}
	}
	return []conv{
		{id: 1, scen: appointment, iter: 0, outcome: runner.Passed, turns: []runner.TurnResult{
			turn(0, 95, runner.Passed, "Can I book a demo?", "Sure, which day suits you?", ok(`icontains "day"`)),
			turn(1, 130, runner.Passed, "Tuesday at 10am", "Booked for Tuesday 10:00.", ok(`tool appointment`)),
		}},
		pass(2, 0),
		// Delivered before iteration 1, but iteration 1 is the first failure.
		{id: 5, scen: pricing, iter: 3, outcome: runner.Failed, reason: "turn 1: 1 expectation failed", turns: []runner.TurnResult{
			turn(0, 150, runner.Failed, "What does Growth cost?", short, bad(`icontains "growth"`, `reply does not contain "growth"`)),
		}},
		{id: 3, scen: pricing, iter: 1, outcome: runner.Failed, reason: "turn 2: 1 expectation failed", turns: []runner.TurnResult{
			turn(0, 120, runner.Passed, "What does Growth cost?", growth, ok(`icontains "growth"`)),
			turn(1, 260, runner.Failed, "Can I pay yearly?", "I'm sorry, I can only help with questions about our products and services, such as plans, pricing, features and booking a demo with our sales team.",
				ok(`not_icontains "error"`), bad(`contains "yearly"`, `reply does not contain "yearly"`), bad(`max_latency 200ms`, "took 260ms")),
		}},
		pass(4, 2),
		pass(6, 4),
		{id: 7, scen: handoff, iter: 0, outcome: runner.Errored, reason: "turn 1: send: server (HTTP 500)", turns: []runner.TurnResult{
			{Index: 0, Sent: "I want a human", Latency: 900 * time.Millisecond, Attempts: 3, Outcome: runner.Errored, Error: "send: server (HTTP 500)"},
		}},
		{id: 8, scen: handoff, iter: 1, outcome: runner.Throttled, reason: "turn 1: send: throttled (HTTP 429)", turns: []runner.TurnResult{
			{Index: 0, Sent: "I want a human", Latency: 2500 * time.Millisecond, Attempts: 4, Outcome: runner.Throttled, Error: "send: throttled (HTTP 429)"},
		}},
		{id: 9, scen: lead, iter: 0, outcome: runner.NotRun, reason: "budget exhausted"},
	}
}

func mixedMeta() Meta {
	return Meta{
		RunID: "20250301-120000-ab12", Version: "0.1.0", Started: t0, Seed: 42,
		Target:   Target{Name: "sim", Kind: "simulated", URL: "http://user:secret@127.0.0.1:8787/?key=sk-secret"},
		Settings: map[string]any{"concurrency": float64(4), "rate": "10/s", "retries": true},
	}
}

// mixedResult builds the mixed run through an Aggregator.
func mixedResult() *Result { return cached("mixedResult", buildMixedResult) }

func buildMixedResult() *Result {
	a := NewAggregator(mixedMeta())
	for _, c := range mixedConvs() {
		feed(a, c)
	}
	return a.Result(Finish{Ended: t0.Add(12345 * time.Millisecond),
		Budget: BudgetInfo{Unit: "calls", Plan: "starter", Limit: 1000, Spent: a.Snapshot().Calls + 5}})
}

// passedResult is a small run where everything passed, with a budget that
// had been used before and a target without credentials.
func passedResult() *Result { return cached("passedResult", buildPassedResult) }

func buildPassedResult() *Result {
	a := NewAggregator(Meta{RunID: "r2", Version: "0.1.0", Started: t0,
		Target: Target{Name: "optimly", Kind: "optimly", URL: "https://api.optimly.io"}})
	s := scen("knowledge", 3, 1)
	for i := 0; i < 3; i++ {
		feed(a, conv{id: i, scen: s, iter: i, outcome: runner.Passed, turns: []runner.TurnResult{
			turn(0, 800+i, runner.Passed, "hi", "Hello!", ok(`icontains "hello"`)),
			turn(1, 1500+i*100, runner.Passed, "refunds?", "Refunds within 30 days.", ok(`contains "30 days"`)),
			turn(2, 999, runner.Passed, "thanks", "You're welcome.", ok(`icontains "welcome"`)),
		}})
	}
	return a.Result(Finish{Ended: t0.Add(3*time.Minute + 7*time.Second),
		Budget: BudgetInfo{Unit: "messages", Plan: "growth", Limit: 10000, UsedBefore: 9000, Spent: 24}})
}

// interruptedResult is a run stopped by Ctrl-C with conversations left.
func interruptedResult() *Result { return cached("interruptedResult", buildInterruptedResult) }

func buildInterruptedResult() *Result {
	a := NewAggregator(Meta{RunID: "r3", Started: t0, Target: Target{Name: "local", Kind: "optimly", URL: "http://127.0.0.1:9/"}})
	s := scen("a-very-long-scenario-name-that-does-not-fit-in-a-narrow-terminal-at-all", 4, 0.5)
	feed(a, conv{id: 0, scen: s, iter: 0, outcome: runner.Passed, turns: []runner.TurnResult{turn(0, 300, runner.Passed, "q", "a", ok("x"))}})
	feed(a, conv{id: 1, scen: s, iter: 1, outcome: runner.Errored, reason: "new chat: transport: connection refused",
		chatErr: &agent.Error{Kind: agent.KindTransport, Op: "new-chat"}})
	feed(a, conv{id: 2, scen: s, iter: 2, outcome: runner.NotRun, reason: "interrupted"})
	feed(a, conv{id: 3, scen: s, iter: 3, outcome: runner.NotRun, reason: "interrupted"})
	return a.Result(Finish{Ended: t0.Add(800 * time.Millisecond), Interrupted: true, StopReason: "interrupt signal",
		Budget: BudgetInfo{Unit: "calls", Limit: 0, Spent: 3}})
}

// emptyResult is a run in which nothing ran and no budget was kept.
func emptyResult() *Result { return cached("emptyResult", buildEmptyResult) }

func buildEmptyResult() *Result {
	a := NewAggregator(Meta{RunID: "r4", Started: t0})
	return a.Result(Finish{Ended: t0})
}

var (
	cacheMu sync.Mutex
	cache   = map[string][]byte{}
)

// cached builds a fixture result once and returns a fresh deep copy each
// time, so tests may change what they get.
func cached(name string, build func() *Result) *Result {
	cacheMu.Lock()
	b, ok := cache[name]
	if !ok {
		var err error
		if b, err = json.Marshal(build()); err != nil {
			panic(err)
		}
		cache[name] = b
	}
	cacheMu.Unlock()
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		panic(err)
	}
	return &r
}
