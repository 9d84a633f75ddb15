package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

const optimlyReply = `{"response":"Booked!","tools_executed":[{"tool":"appointment","status":"executed","data":{"date":"2025-05-02","slots":[9,10]}},{"tool":"lead_capture","status":"failed"}],"metadata":{"processing_time":1.25,"tokens_used":812,"knowledge_chunks_used":0},"handoff_data":null}`

// TestEvaluateMoreKinds covers similar, tool data, field and the logic
// kinds: a passing reply, a failing one and the exact reason.
func TestEvaluateMoreKinds(t *testing.T) {
	raw := json.RawMessage(optimlyReply)
	tools := []Tool{
		{Name: "lead_capture", Status: "executed", Data: map[string]any{"email": "ada@example.com", "score": float64(5), "tags": []any{"vip", "new"}, "address": map[string]any{"city": "Oslo", "zip": "0150"}}},
		{Name: "appointment", Status: "failed"},
	}
	tests := []struct {
		item   string
		obs    Observation
		want   string
		pass   bool
		reason string
	}{
		// similar
		{"similar: {to: We have three plans, min: 0.5}", Observation{Text: "We have three plans: Starter, Growth, Scale."}, `similar 0.5 to "We have three plans"`, true, ""},
		{"similar: {to: We have three plans}", Observation{Text: "Sorry, I cannot help."}, `similar 0.7 to "We have three plans"`, false, `similarity 0.00 to "We have three plans" is below 0.7: reply "Sorry, I cannot help."`},
		{"similar: {to: the cat bit the dog, min: 0.95}", Observation{Text: "The dog bit the cat!"}, `similar 0.95 to "the cat bit the dog"`, false, `similarity 0.91 to "the cat bit the dog" is below 0.95: reply "The dog bit the cat!"`},
		// tool with data
		{"tool: {name: lead_capture, data: {email: ada@example.com}}", Observation{Tools: tools}, `tool lead_capture data {"email":"ada@example.com"}`, true, ""},
		{"tool: {name: lead_capture, data: {score: 5.0, tags: [new], address: {city: Oslo}}}", Observation{Tools: tools}, `tool lead_capture data {"address":{"city":"Oslo"},"score":5,"tags":["new"]}`, true, ""},
		{"tool: {name: lead_capture, data: {email: bob@example.com}}", Observation{Tools: tools}, `tool lead_capture data {"email":"bob@example.com"}`, false, `tool lead_capture data.email is "ada@example.com", want "bob@example.com"`},
		{"tool: {name: lead_capture, data: {phone: '555'}}", Observation{Tools: tools}, `tool lead_capture data {"phone":"555"}`, false, `tool lead_capture data.phone is missing (keys: address, email, score, tags)`},
		{"tool: {name: lead_capture, data: {score: 6}}", Observation{Tools: tools}, `tool lead_capture data {"score":6}`, false, `tool lead_capture data.score is 5, want 6`},
		{"tool: {name: lead_capture, data: {tags: [old]}}", Observation{Tools: tools}, `tool lead_capture data {"tags":["old"]}`, false, `tool lead_capture data.tags has no item matching "old" (2 items)`},
		{"tool: {name: lead_capture, data: {address: {zip: 150}}}", Observation{Tools: tools}, `tool lead_capture data {"address":{"zip":150}}`, false, `tool lead_capture data.address.zip is "0150", want 150`},
		{"tool: {name: appointment, status: failed, data: {x: 1}}", Observation{Tools: tools}, `tool appointment status failed data {"x":1}`, false, `tool appointment data.x is missing (keys: none)`},
		{"tool: {name: appointment, data: {x: 1}}", Observation{Tools: tools}, `tool appointment data {"x":1}`, false, `tool appointment has status failed, want executed or called`},
		// field
		{"field: {path: metadata.tokens_used, lte: 1000}", Observation{Raw: raw}, "field metadata.tokens_used <= 1000", true, ""},
		{"field: {path: metadata.tokens_used, lte: 500}", Observation{Raw: raw}, "field metadata.tokens_used <= 500", false, "field metadata.tokens_used is 812, want <= 500"},
		{"field: {path: metadata.processing_time, gte: 0.5, lte: 2}", Observation{Raw: raw}, "field metadata.processing_time >= 0.5 <= 2", true, ""},
		{"field: {path: metadata.processing_time, gte: 2, lte: 3}", Observation{Raw: raw}, "field metadata.processing_time >= 2 <= 3", false, "field metadata.processing_time is 1.25, want >= 2 and <= 3"},
		{"field: {path: metadata.cost, exists: true}", Observation{Raw: raw}, "field metadata.cost exists", false, "field metadata.cost is missing (metadata has keys: knowledge_chunks_used, processing_time, tokens_used)"},
		{"field: {path: metadata.tokens_used, exists: true}", Observation{Raw: raw}, "field metadata.tokens_used exists", true, ""},
		{"field: {path: handoff_data.email, exists: false}", Observation{Raw: raw}, "field handoff_data.email does not exist", true, ""},
		{"field: {path: metadata, exists: false}", Observation{Raw: raw}, "field metadata does not exist", false, `field metadata exists: {"knowledge_chunks_used":0,"processing_time":1.25,"tokens_u…`},
		{"field: {path: 'tools_executed[0].tool', equals: appointment}", Observation{Raw: raw}, `field tools_executed[0].tool == "appointment"`, true, ""},
		{"field: {path: 'tools_executed[1].status', equals: executed}", Observation{Raw: raw}, `field tools_executed[1].status == "executed"`, false, `field tools_executed[1].status is "failed", want "executed"`},
		{"field: {path: 'tools_executed[2].tool', exists: true}", Observation{Raw: raw}, "field tools_executed[2].tool exists", false, "field tools_executed[2] is missing (tools_executed has 2 items)"},
		// the dialect of reply_path: negative indices and quoted keys
		{"field: {path: 'tools_executed[-1].status', equals: failed}", Observation{Raw: raw}, `field tools_executed[-1].status == "failed"`, true, ""},
		{"field: {path: 'tools_executed[-3].tool', exists: true}", Observation{Raw: raw}, "field tools_executed[-3].tool exists", false, "field tools_executed[-3] is missing (tools_executed has 2 items)"},
		{`field: {path: '$["metadata"].tokens_used', lte: 500}`, Observation{Raw: raw}, `field $["metadata"].tokens_used <= 500`, false, "field metadata.tokens_used is 812, want <= 500"},
		{"field: {path: 'tools_executed[*].tool', equals: lead_capture}", Observation{Raw: raw}, `field tools_executed[*].tool == "lead_capture"`, true, ""},
		{"field: {path: 'tools_executed[*].status', equals: pending}", Observation{Raw: raw}, `field tools_executed[*].status == "pending"`, false, `field tools_executed[*].status: no item is "pending" (values: "executed", "failed")`},
		{"field: {path: 'tools_executed[0].data', equals: {date: '2025-05-02', slots: [9, 10.0]}}", Observation{Raw: raw}, `field tools_executed[0].data == {"date":"2025-05-02","slots":[9,10]}`, true, ""},
		{"field: {path: response.text, exists: true}", Observation{Raw: raw}, "field response.text exists", false, `field response is "Booked!", not an object`},
		{"field: {path: response, gte: 1}", Observation{Raw: raw}, "field response >= 1", false, `field response is "Booked!", not a number`},
		{"field: {path: a, exists: true}", Observation{}, "field a exists", false, "reply has no JSON body to check field a in"},
		{"field: {path: a, exists: true}", Observation{Raw: json.RawMessage("{nope")}, "field a exists", false, "reply body is not valid JSON (invalid character 'n' looking for beginning of object key string), so field a cannot be checked"},
		// logic
		{"not: {icontains: sorry}", Observation{Text: "Happy to help"}, `not(icontains "sorry")`, true, ""},
		{"not: {icontains: sorry}", Observation{Text: "Sorry, we are closed."}, `not(icontains "sorry")`, false, `found "Sorry" in "Sorry, we are closed."`},
		{"not: {regex: '\\d+'}", Observation{Text: "Call 555 now"}, `not(regex '\d+')`, false, `regex '\d+' matched "555" in "Call 555 now"`},
		{"not: {not_contains: x}", Observation{Text: "abc"}, `not(not_contains "x")`, false, `"x" not found in "abc"`},
		{"not: {max_length: 100}", Observation{Text: "short"}, `not(max_length 100)`, false, `max_length 100 passed on reply "short"`},
		{"not: {name: polite, icontains: please}", Observation{Text: "please"}, `not("polite")`, false, `found "please" in "please"`},
		{"any: [{icontains: yes}, {icontains: sure}]", Observation{Text: "Sure thing"}, `any(icontains "yes", icontains "sure")`, true, ""},
		{"any: [{icontains: yes}, {name: agrees, icontains: sure}]", Observation{Text: "No"}, `any(icontains "yes", "agrees")`, false, `none of 2 passed: icontains "yes": "yes" (any case) not found in "No"; "agrees": "sure" (any case) not found in "No"`},
		{"all: [{contains: a}, {contains: b}]", Observation{Text: "ab"}, `all(contains "a", contains "b")`, true, ""},
		{"all: [{contains: a}, {contains: b}, {contains: c}]", Observation{Text: "a"}, `all(contains "a", contains "b", contains "c")`, false, `2 of 3 failed: contains "b": "b" not found in "a"`},
		{"not: {any: [{contains: a}, {contains: b}]}", Observation{Text: "xbx"}, `not(any(contains "a", contains "b"))`, false, `any(contains "a", contains "b") passed on reply "xbx"`},
		{"any: [{not: {contains: a}}, {all: [{contains: b}, {max_length: 2}]}]", Observation{Text: "abc"}, `any(not(contains "a"), all(contains "b", max_length 2))`, false, `none of 2 passed: not(contains "a"): found "a" in "abc"; all(contains "b", max_length 2): 2 of 2 failed: max_length 2: reply has 3 characters, want at most 2: "abc"`},
		// judge without a judge
		{"judge: {rubric: mentions the price}", Observation{Text: "x"}, `judge "mentions the price" min_score 0.7`, false, "no judge is configured to grade this reply; add judge: {url, model, api_key_env} to evalrun.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.item, func(t *testing.T) {
			e := parseExpect(t, tt.item)
			if e.String() != tt.want {
				t.Errorf("String() = %s, want %s", e.String(), tt.want)
			}
			v := e.Evaluate(&tt.obs)
			if v.Expectation != tt.want || v.Passed != tt.pass || v.Reason != tt.reason {
				t.Errorf("Evaluate = %+v\nwant {Expectation:%s Passed:%v Reason:%s}", v, tt.want, tt.pass, tt.reason)
			}
			if strings.ContainsAny(v.Reason, "\n\r\t") {
				t.Errorf("reason is not one line: %q", v.Reason)
			}
		})
	}
}

// judgeFunc adapts a function to the Judge interface.
type judgeFunc func(ctx context.Context, rubric, reply string) (Grade, error)

func (f judgeFunc) Grade(ctx context.Context, q GradeRequest) (Grade, error) {
	return f(ctx, q.Rubric, q.Reply)
}

func TestJudgeExpectation(t *testing.T) {
	calls := 0
	j := judgeFunc(func(ctx context.Context, rubric, reply string) (Grade, error) {
		calls++
		switch reply {
		case "error":
			return Grade{}, errors.New("judge: server (HTTP 500): boom\nsecond line")
		case "good":
			return Grade{Score: 0.9, Reason: "names the price"}, nil
		}
		return Grade{Score: 0.25, Reason: "does not name\nthe price"}, nil
	})
	tests := []struct {
		item, reply string
		pass        bool
		reason      string
	}{
		{"judge: {rubric: names the price}", "good", true, ""},
		{"judge: {rubric: names the price}", "bad", false, "judge scored 0.25, below 0.7: does not name the price"},
		{"judge: {rubric: names the price, min_score: 0.2}", "bad", true, ""},
		{"judge: {rubric: names the price}", "error", false, "judge failed: judge: server (HTTP 500): boom second line"},
		{"not: {judge: {rubric: names the price}}", "good", false, `judge "names the price" min_score 0.7 passed on reply "good"`},
		{"any: [{contains: zzz}, {judge: {rubric: names the price}}]", "good", true, ""},
		{"all: [{contains: zzz}, {judge: {rubric: names the price}}]", "good", false, `1 of 2 failed: contains "zzz": "zzz" not found in "good"`},
	}
	for _, tt := range tests {
		e := parseExpect(t, tt.item)
		v := e.EvaluateContext(context.Background(), &Observation{Text: tt.reply}, j)
		if v.Passed != tt.pass || v.Reason != tt.reason {
			t.Errorf("%s on %q = %+v, want pass %v reason %q", tt.item, tt.reply, v, tt.pass, tt.reason)
		}
	}
	// all stops at its first failure: the judge is not asked.
	calls = 0
	parseExpect(t, "all: [{contains: zzz}, {judge: {rubric: r}}]").EvaluateContext(context.Background(), &Observation{Text: "x"}, j)
	if calls != 0 {
		t.Errorf("all asked the judge %d times after a failure", calls)
	}
	// Turn.EvaluateContext passes the judge through.
	scs, err := Parse("j.yaml", []byte("turns:\n  - user: hi\n    expect:\n      - judge: {rubric: r}\n      - contains: g\n"))
	if err != nil {
		t.Fatal(err)
	}
	vs := scs[0].Turns[0].EvaluateContext(context.Background(), &Observation{Text: "good"}, nil, j)
	if !Passed(vs) || len(vs) != 2 {
		t.Errorf("Turn.EvaluateContext = %+v", vs)
	}
	if vs := scs[0].Turns[0].Evaluate(&Observation{Text: "good"}, nil); Passed(vs) {
		t.Errorf("Evaluate without a judge passed: %+v", vs)
	}
	if n := (&Suite{Scenarios: []*Scenario{{Repeat: 3, Turns: scs[0].Turns}}}).JudgeCalls(); n != 3 {
		t.Errorf("JudgeCalls = %d, want 3", n)
	}
}

// TestJudgeUndecided: a judge that fails leaves its expectation
// undecided, and not/any/all never turn an undecided child into a pass:
// `not` of it is undecided, `any` only passes on another child's pass,
// `all` only fails on another child's failure.
func TestJudgeUndecided(t *testing.T) {
	var users []string
	j := judgeFunc(func(ctx context.Context, rubric, reply string) (Grade, error) {
		return Grade{}, errors.New("judge: server (HTTP 500)")
	})
	seen := gradeFunc(func(ctx context.Context, q GradeRequest) (Grade, error) {
		users = append(users, q.User)
		return j.Grade(ctx, q)
	})
	tests := []struct {
		item            string
		pass, undecided bool
		reason          string
	}{
		{"judge: {rubric: r}", false, true, "judge failed: judge: server (HTTP 500)"},
		{"not: {judge: {rubric: r}}", false, true, `undecided: judge "r" min_score 0.7: judge failed: judge: server (HTTP 500)`},
		{"not: {not: {judge: {rubric: r}}}", false, true, ""},
		{"any: [{contains: zzz}, {judge: {rubric: r}}]", false, true, ""},
		{"any: [{judge: {rubric: r}}, {contains: ok}]", true, false, ""},
		{"all: [{contains: ok}, {judge: {rubric: r}}]", false, true, ""},
		{"all: [{judge: {rubric: r}}, {contains: zzz}]", false, false, `2 of 2 failed: contains "zzz": "zzz" not found in "ok"`},
		{"not: {all: [{judge: {rubric: r}}, {contains: zzz}]}", true, false, ""},
		{"not: {any: [{judge: {rubric: r}}, {contains: zzz}]}", false, true, ""},
	}
	for _, tt := range tests {
		v := parseExpect(t, tt.item).EvaluateContext(context.Background(), &Observation{User: "hi there", Text: "ok"}, seen)
		if v.Passed != tt.pass || v.Undecided != tt.undecided || (tt.reason != "" && v.Reason != tt.reason) {
			t.Errorf("%s = %+v, want pass %v undecided %v reason %q", tt.item, v, tt.pass, tt.undecided, tt.reason)
		}
	}
	if len(users) == 0 || users[0] != "hi there" {
		t.Errorf("the judge saw user messages %q, want the observation's", users)
	}
}

// gradeFunc adapts a function of a GradeRequest to the Judge interface.
type gradeFunc func(ctx context.Context, q GradeRequest) (Grade, error)

func (f gradeFunc) Grade(ctx context.Context, q GradeRequest) (Grade, error) { return f(ctx, q) }

func TestJudgeLoadOptions(t *testing.T) {
	src := []byte("turns:\n  - user: hi\n    expect:\n      - any: [{contains: a}, {judge: {rubric: polite}}]\n")
	if _, err := Parse("j.yaml", src); err != nil {
		t.Errorf("Parse: %v", err)
	}
	if _, err := ParseWith(LoadOptions{JudgeConfigured: true}, "j.yaml", src); err != nil {
		t.Errorf("ParseWith(judge): %v", err)
	}
	_, err := ParseWith(LoadOptions{}, "j.yaml", src)
	want := "j.yaml:4:38: judge: no judge is configured; add judge: {url, model, api_key_env} to evalrun.yaml, or remove this expectation"
	if err == nil || err.Error() != want {
		t.Errorf("ParseWith(no judge) = %v\nwant %s", err, want)
	}
}

func TestSimilarity(t *testing.T) {
	tests := []struct {
		a, b string
		want float64
	}{
		{"", "", 1},
		{"hello", "", 0},
		{"Hello, World!", "hello world", 1},
		{"don't stop", "Dont STOP", 1},
		{"the cat bit the dog", "the dog bit the cat", 0.909},
		{"We have three plans", "We have three plans: Starter, Growth and Scale", 0.683},
		{"alpha beta", "gamma delta", 0},
	}
	for _, tt := range tests {
		got := Similarity(tt.a, tt.b)
		if math.Abs(got-tt.want) > 0.0005 {
			t.Errorf("Similarity(%q, %q) = %.4f, want %.3f", tt.a, tt.b, got, tt.want)
		}
		if back := Similarity(tt.b, tt.a); math.Abs(back-got) > 1e-12 {
			t.Errorf("not symmetric: %v vs %v", got, back)
		}
	}
}

func TestFieldPathParse(t *testing.T) {
	tests := []struct{ src, err string }{
		{"metadata.tokens_used", ""},
		{"tools_executed[0].tool", ""},
		{"tools_executed[*].status", ""},
		{"[0].id", ""},
		{"a[1][2].b-c", ""},
		{"messages[-1].text", ""}, // the dialect of reply_path: one grammar
		{`$.a["c.d"]`, ""},
		{"", "at character 1: empty path; e.g. metadata.tokens_used or choices[0].message.content"},
		{"a..b", "at character 3: missing name"},
		{"a.", "at character 3: missing name"},
		{"a[x]", `at character 3: index "x": want a number (negative counts from the end), * for every item, or a quoted key`},
		{"a[1", `at character 2: "[" is not closed by "]"`},
		{"a]", `at character 2: unexpected ']'; steps are joined by '.' or written [N]`},
		{"a b", `at character 2: white space or control character in a name; quote such a key: ["a b"]`},
		{"a[0]b", `at character 5: unexpected 'b'; steps are joined by '.' or written [N]`},
	}
	for _, tt := range tests {
		p, err := parseFieldPath(tt.src)
		got := ""
		if err != nil {
			got = err.Error()
		} else if p.String() != tt.src {
			t.Errorf("String() = %q, want %q", p, tt.src)
		}
		if got != tt.err {
			t.Errorf("parseFieldPath(%q) error = %q, want %q", tt.src, got, tt.err)
		}
	}
}

// TestMaxTokensWithoutUsage: a reply that reports no token count leaves
// max_tokens undecided (never a pass on a count not made), alone and under
// not/any/all.
func TestMaxTokensWithoutUsage(t *testing.T) {
	tests := []struct {
		item            string
		tokens          int
		pass, undecided bool
		reason          string
	}{
		{"max_tokens: 500", 0, false, true, "the reply reports no token count (no usage), so max_tokens 500 cannot be decided"},
		{"max_tokens: 500", 1, true, false, ""},
		{"max_tokens: 500", 501, false, false, "reply used 501 tokens, limit 500"},
		{"not: {max_tokens: 500}", 0, false, true, ""},
		{"any: [{max_tokens: 5}, {contains: ok}]", 0, true, false, ""},
		{"all: [{max_tokens: 5}, {contains: ok}]", 0, false, true, ""},
	}
	for _, tt := range tests {
		v := parseExpect(t, tt.item).EvaluateContext(context.Background(), &Observation{Text: "ok", TokensUsed: tt.tokens}, nil)
		if v.Passed != tt.pass || v.Undecided != tt.undecided || (tt.reason != "" && v.Reason != tt.reason) {
			t.Errorf("%s with %d tokens = %+v, want pass %v undecided %v reason %q", tt.item, tt.tokens, v, tt.pass, tt.undecided, tt.reason)
		}
	}
}
