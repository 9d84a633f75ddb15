package scenarios

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func parseOne(t *testing.T, src string) *Scenario {
	t.Helper()
	scs, err := Parse("dir/pricing.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(scs) != 1 {
		t.Fatalf("Parse: %d scenarios, want 1", len(scs))
	}
	return scs[0]
}

const minimal = "turns:\n  - user: hi\n"

func TestParseDefaults(t *testing.T) {
	sc := parseOne(t, minimal)
	if sc.Name != "pricing" || sc.File != "dir/pricing.yaml" || sc.Repeat != 1 || sc.MinPassRate != 1 ||
		sc.OnFail != OnFailStop || sc.ClientID != nil || sc.Description != "" || len(sc.Tags) != 0 || len(sc.Vars) != 0 {
		t.Errorf("defaults: %+v", sc)
	}
	if sc.Pos != (Pos{File: "dir/pricing.yaml", Line: 1, Col: 1}) {
		t.Errorf("Pos = %v", sc.Pos)
	}
	tu := sc.Turns[0]
	if tu.Index != 0 || tu.User.String() != "hi" || tu.Think != 0 || len(tu.Expect) != 0 || len(tu.Captures) != 0 || tu.Pos != (Pos{File: "dir/pricing.yaml", Line: 2, Col: 5}) {
		t.Errorf("turn: %+v", tu)
	}
}

func TestParseFields(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check func(*Scenario) bool
	}{
		{"name", "name: pricing-then-lead\n" + minimal, func(s *Scenario) bool { return s.Name == "pricing-then-lead" }},
		{"numeric name", "name: 42\n" + minimal, func(s *Scenario) bool { return s.Name == "42" }},
		{"description", "description: Visitor asks\n" + minimal, func(s *Scenario) bool { return s.Description == "Visitor asks" }},
		{"tags", "tags: [smoke, sales]\n" + minimal, func(s *Scenario) bool { return reflect.DeepEqual(s.Tags, []string{"smoke", "sales"}) }},
		{"vars", "vars: {company: Acme, seats: 5, ratio: 0.5, on: true}\n" + minimal, func(s *Scenario) bool {
			return reflect.DeepEqual(s.Vars, map[string]string{"company": "Acme", "seats": "5", "ratio": "0.5", "on": "true"})
		}},
		{"client_id", "client_id: 'qa-{{ uuid }}'\n" + minimal, func(s *Scenario) bool { return s.ClientID.String() == "qa-{{ uuid }}" }},
		{"repeat", "repeat: 5\n" + minimal, func(s *Scenario) bool { return s.Repeat == 5 }},
		{"min_pass_rate", "min_pass_rate: 0.8\n" + minimal, func(s *Scenario) bool { return s.MinPassRate == 0.8 }},
		{"min_pass_rate int", "min_pass_rate: 0\n" + minimal, func(s *Scenario) bool { return s.MinPassRate == 0 }},
		{"on_fail continue", "on_fail: continue\n" + minimal, func(s *Scenario) bool { return s.OnFail == OnFailContinue }},
		{"on_fail stop", "on_fail: stop\n" + minimal, func(s *Scenario) bool { return s.OnFail == OnFailStop }},
		{"think", "turns:\n  - user: a\n    think: 1.5s\n  - user: b\n    think: 1m30s\n", func(s *Scenario) bool {
			return s.Turns[0].Think == 1500*time.Millisecond && s.Turns[1].Think == 90*time.Second && s.Turns[1].Index == 1
		}},
		{"user block", "turns:\n  - user: |\n      two\n      lines\n", func(s *Scenario) bool { return s.Turns[0].User.String() == "two\nlines\n" }},
		{"capture", "turns:\n  - user: a\n    capture: {price: '\\$(\\d+)', plan: '(\\w+) plan'}\n", func(s *Scenario) bool {
			c := s.Turns[0].Captures
			return len(c) == 2 && c[0].Name == "price" && c[0].Pattern.String() == `\$(\d+)` && c[1].Name == "plan" && c[0].Pos == (Pos{File: "dir/pricing.yaml", Line: 3, Col: 15})
		}},
		{"empty expect", "turns:\n  - user: a\n    expect: []\n", func(s *Scenario) bool { return len(s.Turns[0].Expect) == 0 }},
		{"anchors", "turns:\n  - user: a\n    expect: &e [{contains: x}]\n  - user: b\n    expect: *e\n", func(s *Scenario) bool {
			return len(s.Turns[1].Expect) == 1 && s.Turns[1].Expect[0].String() == `contains "x"`
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if sc := parseOne(t, tt.src); !tt.check(sc) {
				t.Errorf("unexpected result: %+v", sc)
			}
		})
	}
}

func TestParseExpectationKinds(t *testing.T) {
	tests := []struct{ item, kind, str string }{
		{"equals: Hello", "equals", `equals "Hello"`},
		{"equals: ''", "equals", `equals ""`},
		{"contains: 49", "contains", `contains "49"`},
		{"icontains: growth", "icontains", `icontains "growth"`},
		{"not_contains: sorry", "not_contains", `not_contains "sorry"`},
		{"not_icontains: Sorry", "not_icontains", `not_icontains "Sorry"`},
		{"starts_with: Hi", "starts_with", `starts_with "Hi"`},
		{`regex: '\$\s?\d+'`, "regex", `regex '\$\s?\d+'`},
		{`not_regex: '(?i)error'`, "not_regex", `not_regex '(?i)error'`},
		{"contains_any: [a, b]", "contains_any", `contains_any ["a", "b"]`},
		{"contains_all: [a]", "contains_all", `contains_all ["a"]`},
		{"min_length: 0", "min_length", "min_length 0"},
		{"max_length: 200", "max_length", "max_length 200"},
		{"max_latency: 3s", "max_latency", "max_latency 3s"},
		{"max_latency: 1.5s", "max_latency", "max_latency 1.5s"},
		{"max_latency: 800ms", "max_latency", "max_latency 800ms"},
		{"max_tokens: 500", "max_tokens", "max_tokens 500"},
		{"tool: lead_capture", "tool", "tool lead_capture"},
		{"tool: {name: lead_capture, status: executed}", "tool", "tool lead_capture"},
		{"tool: {name: appointment, status: pending}", "tool", "tool appointment status pending"},
		{"no_tool: email_handoff", "no_tool", "no_tool email_handoff"},
		{"no_tool: true", "no_tool", "no_tool true"},
		{"handoff: true", "handoff", "handoff true"},
		{"handoff: false", "handoff", "handoff false"},
		{"tool: {name: lead_capture, data: {email: a@b.c, n: 2}}", "tool", `tool lead_capture data {"email":"a@b.c","n":2}`},
		{"similar: {to: We have three plans}", "similar", `similar 0.7 to "We have three plans"`},
		{"similar: {to: hi there, min: 0.5}", "similar", `similar 0.5 to "hi there"`},
		{"field: {path: metadata.tokens_used, lte: 500}", "field", "field metadata.tokens_used <= 500"},
		{"field: {path: 'tools_executed[*].status', equals: executed}", "field", `field tools_executed[*].status == "executed"`},
		{"field: {path: a.b, gte: 1, lte: 2.5}", "field", "field a.b >= 1 <= 2.5"},
		{"field: {path: handoff_data, exists: false}", "field", "field handoff_data does not exist"},
		{"any: [{icontains: yes}, {regex: '^ok'}]", "any", `any(icontains "yes", regex '^ok')`},
		{"all: [{icontains: yes}, {name: short, max_length: 9}]", "all", `all(icontains "yes", "short")`},
		{"not: {icontains: sorry}", "not", `not(icontains "sorry")`},
		{"not: {any: [{contains: a}, {not: {contains: b}}]}", "not", `not(any(contains "a", not(contains "b")))`},
		{"judge: {rubric: mentions the price}", "judge", `judge "mentions the price" min_score 0.7`},
		{"judge: {rubric: polite, min_score: 0.9}", "judge", `judge "polite" min_score 0.9`},
		{"history: 2", "history", "history turns 2"},
		{"history: {turns: 2}", "history", "history turns 2"},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		e := parseExpect(t, tt.item)
		covered[e.Kind] = true
		if e.Kind != tt.kind || e.String() != tt.str {
			t.Errorf("%s: kind %q, String %s; want %q, %s", tt.item, e.Kind, e.String(), tt.kind, tt.str)
		}
	}
	for _, k := range Kinds() {
		if !covered[k] {
			t.Errorf("kind %s has no parse test", k)
		}
	}
}

// TestParseErrors checks one message per kind of mistake; the golden files
// under testdata/scenarios/malformed check whole files.
func TestParseErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"repeat string", "repeat: five\n" + minimal, `p.yaml:1:9: repeat: expected an integer, got string "five"`},
		{"repeat zero", "repeat: 0\n" + minimal, "p.yaml:1:9: repeat: must be between 1 and 1000000, got 0"},
		{"repeat float", "repeat: 1.5\n" + minimal, "p.yaml:1:9: repeat: expected an integer, got number 1.5"},
		{"repeat huge", "repeat: 99999999999999999999\n" + minimal, "p.yaml:1:9: repeat: expected an integer, got number 99999999999999999999"},
		{"min_pass_rate high", "min_pass_rate: 80\n" + minimal, "p.yaml:1:16: min_pass_rate: must be between 0 and 1, got 80 (for 80% write 0.8)"},
		{"min_pass_rate negative", "min_pass_rate: -0.1\n" + minimal, "p.yaml:1:16: min_pass_rate: must be between 0 and 1, got -0.1"},
		{"min_pass_rate nan", "min_pass_rate: .nan\n" + minimal, "p.yaml:1:16: min_pass_rate: must be between 0 and 1, got .nan"},
		{"min_pass_rate string", "min_pass_rate: high\n" + minimal, `p.yaml:1:16: min_pass_rate: expected a number, got string "high"`},
		{"on_fail", "on_fail: halt\n" + minimal, `p.yaml:1:10: on_fail: expected stop or continue, got "halt"`},
		{"tags string", "tags: smoke\n" + minimal, `p.yaml:1:7: tags: expected a list, got string "smoke"`},
		{"tags empty item", "tags: [a, '']\n" + minimal, "p.yaml:1:11: tags item: must not be empty"},
		{"vars list", "vars: [a]\n" + minimal, "p.yaml:1:7: vars: expected a mapping of names to values, got a list"},
		{"vars bad name", "vars: {a-b: 1}\n" + minimal, `p.yaml:1:8: vars: invalid name "a-b"`},
		{"vars builtin", "vars: {uuid: 1}\n" + minimal, `p.yaml:1:8: vars: "uuid" is a built-in template name; choose another`},
		{"vars null", "vars: {a: }\n" + minimal, "p.yaml:1:11: vars.a: expected a string, got null (no value)"},
		{"name empty", "name: ''\n" + minimal, "p.yaml:1:7: name: must not be empty"},
		{"name list", "name: [a]\n" + minimal, "p.yaml:1:7: name: expected a string, got a list"},
		{"unknown key", "turn:\n  - user: a\n", `p.yaml:1:1: unknown key "turn" in scenario (did you mean turns?); valid keys: name, description, tags, vars, matrix, matrix_csv, client_id, repeat, min_pass_rate, on_fail, openai, turns`},
		{"duplicate key", "repeat: 1\nrepeat: 2\n" + minimal, `p.yaml:2:1: duplicate key "repeat" (first at line 1)`},
		{"openai duplicate key", "openai: {seed: 1, seed: 2}\n" + minimal, `p.yaml:1:19: openai: duplicate key "seed"`},
		{"openai duplicate header", "openai: {headers: {X-A: a, x-a: b}}\n" + minimal, `p.yaml:1:28: openai.headers: duplicate header "x-a" (also given as "X-A")`},
		{"no turns", "name: x\n", `p.yaml:1:1: scenario "x" has no turns: add ` + "`turns:`"},
		{"empty turns", "turns: []\n", "p.yaml:1:8: turns: a scenario needs at least one turn"},
		{"turn not mapping", "turns: [hello]\n", `p.yaml:1:9: turn 1: expected a mapping, got string "hello"`},
		{"missing user", "turns:\n  - think: 1s\n", "p.yaml:2:5: turn 1: missing user: the message to send"},
		{"empty user", "turns:\n  - user: '  '\n", "p.yaml:2:11: user: must not be empty"},
		{"think int", "turns:\n  - user: a\n    think: 2\n", "p.yaml:3:12: think: expected a duration such as 2s or 500ms, got integer 2 (add a unit: 2s or 2ms)"},
		{"think bad", "turns:\n  - user: a\n    think: 2 sec\n", `p.yaml:3:12: think: invalid duration "2 sec": use a number and a unit`},
		{"think negative", "turns:\n  - user: a\n    think: -1s\n", "p.yaml:3:12: think: duration must not be negative, got -1s"},
		{"expect mapping", "turns:\n  - user: a\n    expect: {contains: x}\n", "p.yaml:3:13: expect: expected a list, got a mapping"},
		{"expect string item", "turns:\n  - user: a\n    expect: [contains]\n", "p.yaml:3:14: expectation: expected a mapping such as `icontains: growth`, got string \"contains\""},
		{"no kind", "turns:\n  - user: a\n    expect: [{name: x}]\n", "p.yaml:3:14: expectation has no kind; valid kinds: all, any, contains,"},
		{"unknown kind", "turns:\n  - user: a\n    expect: [{icontain: x}]\n", `p.yaml:3:15: unknown expectation kind "icontain" (did you mean icontains?); valid kinds: all, any, contains, contains_all,`},
		{"unknown kind far", "turns:\n  - user: a\n    expect: [{xyzzy: x}]\n", `p.yaml:3:15: unknown expectation kind "xyzzy"; valid kinds:`},
		{"two kinds", "turns:\n  - user: a\n    expect: [{contains: x, regex: y}]\n", "p.yaml:3:28: expectation has two kinds, contains and regex: give each check its own list item"},
		{"bad regex", "turns:\n  - user: a\n    expect: [{regex: 'a(b'}]\n", "p.yaml:3:22: regex: invalid regular expression: error parsing regexp: missing closing ): `a(b`"},
		{"contains empty", "turns:\n  - user: a\n    expect: [{contains: ''}]\n", "p.yaml:3:25: contains: must not be empty"},
		{"contains template", "turns:\n  - user: a\n    expect: [{contains: '{{ x }}'}]\n", "p.yaml:3:25: contains: expectation values are matched literally, not templated"},
		{"contains_any empty", "turns:\n  - user: a\n    expect: [{contains_any: []}]\n", "p.yaml:3:29: contains_any: list must not be empty"},
		{"max_length negative", "turns:\n  - user: a\n    expect: [{max_length: -1}]\n", "p.yaml:3:27: max_length: must be 0 or more, got -1"},
		{"max_latency int", "turns:\n  - user: a\n    expect: [{max_latency: 3}]\n", "p.yaml:3:28: max_latency: expected a duration such as 2s or 500ms, got integer 3 (add a unit: 3s or 3ms)"},
		{"max_latency zero", "turns:\n  - user: a\n    expect: [{max_latency: 0s}]\n", "p.yaml:3:28: max_latency: must be more than 0"},
		{"handoff yes", "turns:\n  - user: a\n    expect: [{handoff: yes}]\n", `p.yaml:3:24: handoff: expected true or false, got string "yes"`},
		{"tool list", "turns:\n  - user: a\n    expect: [{tool: [a]}]\n", "p.yaml:3:21: tool: expected a tool name or a mapping {name, status, data}, got a list"},
		{"tool no name", "turns:\n  - user: a\n    expect: [{tool: {status: executed}}]\n", "p.yaml:3:21: tool: missing name"},
		{"tool unknown key", "turns:\n  - user: a\n    expect: [{tool: {name: a, stat: b}}]\n", `p.yaml:3:31: unknown key "stat" in tool (did you mean status?); valid keys: name, status, data`},
		{"no_tool false", "turns:\n  - user: a\n    expect: [{no_tool: false}]\n", "p.yaml:3:24: no_tool: false checks nothing"},
		{"no_tool int", "turns:\n  - user: a\n    expect: [{no_tool: 3}]\n", "p.yaml:3:24: no_tool: expected a tool name or true, got integer 3"},
		{"capture no group", "turns:\n  - user: a\n    capture: {p: '\\d+'}\n", `p.yaml:3:18: capture p: pattern '\d+' has no group`},
		{"capture bad regex", "turns:\n  - user: a\n    capture: {p: '('}\n", "p.yaml:3:18: capture p: invalid regular expression"},
		{"capture list", "turns:\n  - user: a\n    capture: ['(a)']\n", "p.yaml:3:14: capture: expected a mapping"},
		{"capture var clash", "vars: {p: 1}\nturns:\n  - user: a\n    capture: {p: '(a)'}\n", `p.yaml:4:15: capture: "p" is already a var`},
		{"yaml syntax", "turns:\n  - user: [a\n", "p.yaml:2:12: invalid YAML: did not find expected ',' or ']'"},
		{"yaml scanner", "turns:\n  - user: a\n    bad\n", "p.yaml:3:5: invalid YAML: could not find expected ':'"},
		{"yaml first line", "a: b: c\n", "p.yaml:1:5: invalid YAML: mapping values are not allowed in this context"},
		{"yaml tab", "turns:\n\t- user: hi\n", "p.yaml:2:1: invalid YAML: found character that cannot start any token"},
		{"control character", "turns:\n  - user: a\x01b\n", "p.yaml:2:12: invalid YAML: control characters are not allowed"},
		{"invalid utf8", "turns:\n  - user: \xff\n", "p.yaml:2:11: invalid YAML: invalid leading UTF-8 octet"},
		{"empty file", "# nothing\n", "p.yaml: no scenario in this file"},
		{"document not mapping", "- a\n", "p.yaml:1:1: scenario: expected a mapping, got a list"},
		{"merge key", "base: &b {repeat: 2}\n<<: *b\n" + minimal, `p.yaml:1:1: unknown key "base"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.src))
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("err = %v (%T), want an ErrorList", err, err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant prefix:\n%s", err, tt.want)
			}
		})
	}
}

func TestParseCollectsAllErrors(t *testing.T) {
	src := `name: a
repeat: five
turns:
  - user: x
    think: soon
    expect:
      - icontain: x
      - regex: '('
---
name: b
on_fail: never
turns: []
`
	_, err := Parse("m.yaml", []byte(src))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 6 {
		t.Fatalf("want 6 errors, got %d:\n%v", len(list), err)
	}
	for i := 1; i < len(list); i++ {
		if list[i-1].Pos.Line > list[i].Pos.Line {
			t.Errorf("not sorted by line: %v", err)
		}
	}
	if got := strings.Count(err.Error(), "\n"); got != 5 {
		t.Errorf("Error() has %d newlines, want 5", got)
	}
}

func TestParseMultiDocNames(t *testing.T) {
	src := "turns: [{user: a}]\n---\nname: named\nturns: [{user: b}]\n---\nturns: [{user: c}]\n---\n# empty\n"
	scs, err := Parse("x/multi.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sc := range scs {
		names = append(names, sc.Name)
	}
	if got := strings.Join(names, ","); got != "multi,named,multi#3" {
		t.Errorf("names = %s", got)
	}
	if scs[2].Pos.Line != 6 {
		t.Errorf("third scenario at %v, want line 6", scs[2].Pos)
	}
	_, err = Parse("d.yaml", []byte("name: same\nturns: [{user: a}]\n---\nname: same\nturns: [{user: b}]\n"))
	if err == nil || err.Error() != `d.yaml:4:7: duplicate scenario name "same" (also at d.yaml:1:7); names must be unique in the suite` {
		t.Errorf("duplicate: %v", err)
	}
}

func TestAliasBomb(t *testing.T) {
	// Each alias of t expands to a turn holding 1,000 expectations.
	var b strings.Builder
	b.WriteString("x: &t {user: a, expect: [")
	for i := range 1000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("{contains: a}")
	}
	b.WriteString("]}\nturns: [")
	for i := range 1000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("*t")
	}
	b.WriteString("]\n")
	_, err := Parse("bomb.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "YAML aliases expand to more than 100000 nodes") {
		t.Fatalf("err = %.300v", err)
	}
}
