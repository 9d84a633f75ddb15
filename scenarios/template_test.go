package scenarios

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func mustTemplate(t *testing.T, src string) *Template {
	t.Helper()
	tm, err := ParseTemplate(src)
	if err != nil {
		t.Fatalf("ParseTemplate(%q): %v", src, err)
	}
	return tm
}

func TestRender(t *testing.T) {
	env := &Env{
		Vars:      map[string]string{"company": "Acme", "n": "5"},
		Captures:  map[string]string{"price": "49"},
		RunID:     "run-1",
		Scenario:  "pricing",
		Iteration: 3,
	}
	tests := []struct{ src, want string }{
		{"plain text", "plain text"},
		{"", ""},
		{"{{company}}", "Acme"},
		{"Hi {{ company }} and {{  price\t}}!", "Hi Acme and 49!"},
		{"{{ n }}{{n}}", "55"},
		{"it {{ iteration }} of {{ scenario }} in {{ run_id }}", "it 3 of pricing in run-1"},
		{"a }} b { c", "a }} b { c"},
		{"{{ company }}}}", "Acme}}"},
	}
	for _, tt := range tests {
		got, err := mustTemplate(t, tt.src).Render(env)
		if err != nil || got != tt.want {
			t.Errorf("Render(%q) = %q, %v; want %q", tt.src, got, err, tt.want)
		}
	}
}

func TestParseTemplateErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"Hi {{ name", `template "Hi {{ name" at byte 3: "{{" is not closed by "}}"`},
		{"{{}}", `empty placeholder`},
		{"{{ a-b }}", `invalid name "a-b"`},
		{"{{ 1x }}", `invalid name "1x"`},
		{"{{ fake. }}", `invalid name "fake."`},
		{"x {{ .a }}", `invalid name ".a"`},
	}
	for _, tt := range tests {
		_, err := ParseTemplate(tt.src)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseTemplate(%q) = %v, want error containing %q", tt.src, err, tt.want)
		}
	}
	tm := mustTemplate(t, "{{ a }} {{ fake.name }} {{ a }}")
	if got := strings.Join(tm.Names(), ","); got != "a,fake.name,a" {
		t.Errorf("Names = %s", got)
	}
}

func TestRenderNoValue(t *testing.T) {
	_, err := mustTemplate(t, "cost {{ price }}").Render(&Env{})
	if !errors.Is(err, ErrNoValue) || !strings.Contains(err.Error(), "{{ price }}") {
		t.Errorf("err = %v, want ErrNoValue naming price", err)
	}
	var nilT *Template
	if s, err := nilT.Render(nil); s != "" || err != nil {
		t.Errorf("nil template: %q, %v", s, err)
	}
	if s, err := mustTemplate(t, "{{ fake.name }}").Render(nil); err != nil || s == "" {
		t.Errorf("nil env: %q, %v", s, err)
	}
}

func TestFakeIsCoherentAndDeterministic(t *testing.T) {
	tm := mustTemplate(t, "{{ fake.name }}|{{ fake.email }}|{{ fake.phone }}|{{ fake.company }}")
	render := func(seed int64, conv int) []string {
		s, err := tm.Render(&Env{Seed: seed, Conversation: conv})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(s, "|")
	}
	a := render(7, 1)
	name, email, phone, company := a[0], a[1], a[2], a[3]
	first, last, _ := strings.Cut(name, " ")
	if !strings.HasPrefix(email, strings.ToLower(first)+".") || !strings.Contains(email, strings.ToLower(strings.ReplaceAll(last, "'", ""))) {
		t.Errorf("email %q is not derived from name %q", email, name)
	}
	if !regexp.MustCompile(`^[a-z.]+\d+@example\.(com|org|net)$`).MatchString(email) {
		t.Errorf("email %q", email)
	}
	if !regexp.MustCompile(`^\+1 \d{3}-555-01\d\d$`).MatchString(phone) {
		t.Errorf("phone %q", phone)
	}
	if len(strings.Fields(company)) != 3 {
		t.Errorf("company %q", company)
	}
	// Same (seed, conversation): same person, also in a separate render.
	if b := render(7, 1); strings.Join(b, "|") != strings.Join(a, "|") {
		t.Errorf("not deterministic: %v vs %v", a, b)
	}
	again, _ := mustTemplate(t, "{{ fake.email }}").Render(&Env{Seed: 7, Conversation: 1})
	if again != email {
		t.Errorf("email changed within the conversation: %q vs %q", again, email)
	}
	// Different conversations and seeds: different people.
	seen := map[string]bool{}
	for conv := range 20 {
		seen[render(7, conv)[1]] = true
	}
	if len(seen) < 19 {
		t.Errorf("only %d distinct emails over 20 conversations", len(seen))
	}
	if render(8, 1)[1] == email {
		t.Errorf("seed does not change fake data")
	}
}

func TestUUID(t *testing.T) {
	tm := mustTemplate(t, "{{ uuid }} {{ uuid }}")
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	env := &Env{RunID: "r1", Seed: 1, Conversation: 2}
	s1, _ := tm.Render(env)
	s2, _ := tm.Render(env)
	u := append(strings.Fields(s1), strings.Fields(s2)...)
	seen := map[string]bool{}
	for _, x := range u {
		if !uuidRE.MatchString(x) {
			t.Errorf("not a v4 UUID: %q", x)
		}
		seen[x] = true
	}
	if len(seen) != 4 {
		t.Errorf("uuids repeat within a conversation: %v", u)
	}
	// The same sequence for the same run, seed and conversation.
	r1, _ := tm.Render(&Env{RunID: "r1", Seed: 1, Conversation: 2})
	if r1 != s1 {
		t.Errorf("not reproducible: %q vs %q", r1, s1)
	}
	for _, other := range []*Env{{RunID: "r2", Seed: 1, Conversation: 2}, {RunID: "r1", Seed: 2, Conversation: 2}, {RunID: "r1", Seed: 1, Conversation: 3}} {
		if s, _ := tm.Render(other); s == s1 {
			t.Errorf("%+v renders the same uuids as another run/conversation", other)
		}
	}
}

func TestTemplateNamesAtLoad(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"var", "vars: {a: x}\nturns:\n  - user: '{{ a }} {{ fake.company }}'\n", ""},
		{"undefined", "vars: {company: x}\nturns:\n  - user: 'Hi {{ compnay }}'\n",
			`t.yaml:3:15: user: undefined name {{ compnay }} (did you mean company?); defined here: company; built-ins: date, env, fake.company, fake.email, fake.name, fake.phone, iteration, run_id, scenario, uuid`},
		{"builtin typo", "turns:\n  - user: \"{{ fake.emial }}\"\n", `t.yaml:2:12: user: undefined name {{ fake.emial }} (did you mean fake.email?)`},
		{"capture later", "turns:\n  - user: 'it is {{ p }}'\n  - user: x\n    capture: {p: '(\\d)'}\n",
			"t.yaml:2:18: user: {{ p }} is captured by turn 2; it can be used from turn 3 on"},
		{"capture same turn", "turns:\n  - user: '{{ p }}'\n    capture: {p: '(\\d)'}\n",
			"t.yaml:2:12: user: {{ p }} is captured from this turn's reply; it can be used from the next turn on"},
		{"capture earlier", "turns:\n  - user: a\n    capture: {p: '(\\d)'}\n  - user: '{{ p }}'\n", ""},
		{"client_id capture", "client_id: 'c-{{ p }}'\nturns:\n  - user: a\n    capture: {p: '(\\d)'}\n",
			"t.yaml:1:15: client_id: {{ p }} is captured from a reply, but client_id is set before the first turn"},
		{"arguments", "turns:\n  - user: '{{ uuid v4 }}'\n", `t.yaml:2:12: user: {{ uuid }} takes no arguments, got "v4"`},
		{"unclosed", "turns:\n  - user: hello {{ name\n", `t.yaml:2:17: user: "{{" is not closed by "}}"`},
		{"double quoted escapes", "vars: {a: x}\nturns:\n  - user: \"\\u00e9\\\"{{ a }} {{ b }}\"\n", "t.yaml:3:28: user: undefined name {{ b }}"},
		{"literal block", "turns:\n  - user: |\n      line one\n        and {{ nope }}\n", "t.yaml:4:13: user: undefined name {{ nope }}"},
		{"folded block", "turns:\n  - user: >\n      line one\n      and {{ nope }}\n", "t.yaml:2:11: user: undefined name {{ nope }}"},
		{"flow mapping", "turns: [{think: 1s, user: 'a {{ x }}'}]\n", "t.yaml:1:30: user: undefined name {{ x }}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.src))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Errorf("error:\n%v\nwant prefix:\n%s", err, tt.want)
			}
		})
	}
}

func TestLoadedTemplatesRender(t *testing.T) {
	src := `vars: {company: Acme, size: 12, vip: true}
client_id: "qa-{{ uuid }}-{{ iteration }}"
turns:
  - user: "Hi, {{ company }} ({{ size }}, {{ vip }}) here"
    capture: {plan: '(Growth)'}
  - user: "I'm {{ fake.name }}, {{ fake.email }}. {{ plan }} please."
`
	scs, err := Parse("r.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	sc := scs[0]
	env := &Env{Vars: sc.Vars, Captures: map[string]string{}, Scenario: sc.Name, Iteration: 1, Seed: 3, Conversation: 9}
	if got, _ := sc.Turns[0].User.Render(env); got != "Hi, Acme (12, true) here" {
		t.Errorf("turn 1: %q", got)
	}
	sc.Turns[0].Evaluate(&Observation{Text: "Growth it is"}, env.Captures)
	got, err := sc.Turns[1].User.Render(env)
	if err != nil || !strings.HasSuffix(got, ". Growth please.") || !strings.HasPrefix(got, "I'm ") {
		t.Errorf("turn 2: %q, %v", got, err)
	}
	id, err := sc.ClientID.Render(env)
	if err != nil || !regexp.MustCompile(`^qa-[0-9a-f-]{36}-1$`).MatchString(id) {
		t.Errorf("client_id: %q, %v", id, err)
	}
}
