package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/evalrun/evalrun/internal/jsonpath"
)

// seedFiles adds every scenario file under testdata/scenarios to f.
func seedFiles(f *testing.F) {
	f.Helper()
	err := filepath.WalkDir(testdata, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || !isScenarioFile(p) {
			return err
		}
		data, err := os.ReadFile(p)
		f.Add(data)
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
}

// FuzzParse checks that no input makes Parse panic, that errors always come
// as a non-empty ErrorList naming the file, and that whatever loads is
// valid: every template renders and every expectation evaluates.
func FuzzParse(f *testing.F) {
	seedFiles(f)
	f.Add([]byte("turns: [{user: '{{ uuid }}', expect: [{tool: {name: a}}, {no_tool: true}]}]"))
	f.Add([]byte("a: &a [*a]\nturns: *a\n"))
	f.Add([]byte("matrix: [{p: a}, {p: b, q: c}]\nturns: [{user: '{{ p }} {{ q }} {{ date +1d weekday }}', expect: [{any: [{not: {field: {path: 'a[*].b', gte: 1}}}, {similar: {to: x}}]}, {judge: {rubric: r}}, {tool: {name: t, data: {a: [1]}}}]}]\n"))
	f.Add([]byte("turns: [{user: a}, {user: b}]\nexpect_conversation: [{tool: lead_capture, at: any, name: n}, {never: [{icontains: x}, {not: {regex: a}}]}, {every_turn: {max_latency: 1s}}, {turns: {min: 1, max: 2}}, {turns: 2}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		scs, err := Parse("f.yaml", data)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 || scs != nil {
				t.Fatalf("err %v (%T), %d scenarios", err, err, len(scs))
			}
			for _, e := range list {
				if e.Pos.File != "f.yaml" || e.Msg == "" {
					t.Fatalf("bad error %+v", e)
				}
			}
			return
		}
		seen := map[string]bool{}
		for _, sc := range scs {
			if seen[sc.Name] || sc.Name == "" || sc.Repeat < 1 || !(sc.MinPassRate >= 0 && sc.MinPassRate <= 1) || len(sc.Turns) == 0 {
				t.Fatalf("invalid scenario loaded: %+v", sc)
			}
			seen[sc.Name] = true
			env := &Env{Vars: sc.Vars, Captures: map[string]string{}}
			if _, err := sc.ClientID.Render(env); err != nil {
				t.Fatalf("client_id: %v", err)
			}
			for _, tu := range sc.Turns {
				if _, err := tu.User.Render(env); err != nil {
					t.Fatalf("turn %d: %v", tu.Index, err)
				}
				vs := tu.Evaluate(&Observation{Text: "reply", Tools: []Tool{{Name: "lead_capture", Status: "executed"}}}, env.Captures)
				if len(vs) != len(tu.Expect)+len(tu.Captures) {
					t.Fatalf("%d verdicts", len(vs))
				}
				for _, c := range tu.Captures {
					env.Captures[c.Name] = "x" // as if every capture matched
				}
			}
			obs := []*Observation{{Text: "reply"}, {Text: "x", Tools: []Tool{{Name: "lead_capture", Status: "executed"}}}}
			if vs := EvaluateConversation(context.Background(), sc.ExpectConversation, obs, &GoalVerdict{Met: true}, nil); len(vs) < len(sc.ExpectConversation) {
				t.Fatalf("%d conversation verdicts for %d checks", len(vs), len(sc.ExpectConversation))
			}
		}
	})
}

// FuzzTemplate checks that no source makes the template parser or
// renderer panic, that a parsed template renders once its names have
// values, and that the loader places template errors inside the file.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"{{ date +2d \"15:04\" }}", "{{ date -1w weekday }}", "{{ env QA }}", "{{ date +1x }}", "{{ date '' }}", "", "plain", "{{ a }}", "{{a}}{{ b.c }}", "{{", "}} {{ x", "{{ uuid x }}", "{{{ a }}}", "é{{ fake.name }}\n{{ n }}", "{{ 1 }}", "{{ \t }}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		tm, err := ParseTemplate(src)
		if err == nil {
			vars := map[string]string{}
			for _, n := range tm.Names() {
				vars[n] = "v"
			}
			out, err := tm.Render(&Env{Vars: vars})
			if err != nil {
				t.Fatalf("Render(%q): %v", src, err)
			}
			if len(tm.Names()) == 0 && out != src {
				t.Fatalf("Render(%q) = %q", src, out)
			}
		}
		doc := "vars: {a: x, n: y}\nturns:\n  - user: " + strconv.Quote(src) + "\n  - user: |\n      " + strings.ReplaceAll(src, "\n", "\n      ") + "\n"
		_, perr := Parse("t.yaml", []byte(doc))
		var list ErrorList
		if perr != nil && !errors.As(perr, &list) {
			t.Fatalf("Parse: %v", perr)
		}
		lines := len(splitLines(doc))
		for _, e := range list {
			if e.Pos.Line > lines || e.Pos.Line < 0 || e.Pos.Col < 0 {
				t.Fatalf("error outside the file: %v", e)
			}
		}
	})
}

// FuzzMatrixCSV checks that no CSV makes the matrix parser panic, that
// errors carry a position inside the file, and that rows have every
// header column.
func FuzzMatrixCSV(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "", "a\n", "\xef\xbb\xbfa,b\r\n\"x,y\",\"q\"\"\"\n", "a,b\n1\n", "a\n\"x\n", "a,,a,uuid\n1,2,3,4\n", "a\n\xff\n", "\"a\nb\"\n1\n"} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob(filepath.Join(testdata, "malformed", "*.csv"))
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, names, errs := parseMatrixCSV("f.csv", data)
		lines := len(splitLines(string(data))) + 1
		for _, e := range errs {
			if e.Pos.File != "f.csv" || e.Pos.Line < 1 || e.Pos.Line > lines || e.Pos.Col < 1 || e.Msg == "" {
				t.Fatalf("bad error %+v (%d lines)", e, lines)
			}
		}
		if len(errs) > maxCSVErrors+1 {
			t.Fatalf("%d errors", len(errs))
		}
		if len(errs) == 0 {
			if len(rows) == 0 {
				t.Fatal("no rows and no error")
			}
			for _, r := range rows {
				for _, n := range names {
					if _, ok := r.vars[n]; !ok {
						t.Fatalf("row %+v lacks %s", r, n)
					}
				}
			}
		}
	})
}

// FuzzFieldPath checks that the path parser never panics, that a parsed
// path keeps its source, and that looking it up in any JSON is safe.
func FuzzFieldPath(f *testing.F) {
	for _, s := range []string{"metadata.tokens_used", "tools_executed[0].tool", "tools_executed[*].status", "[0]", "a..b", "a[", "a[99999999999999999999]", "a[*][*].b", "]", "a. b", "é.ü[1]"} {
		f.Add(s, `{"metadata":{"tokens_used":3},"tools_executed":[{"tool":"a","status":"executed"}],"a":[[{"b":1}]]}`)
	}
	f.Fuzz(func(t *testing.T, path, doc string) {
		p, err := parseFieldPath(path)
		if err != nil {
			var pe *jsonpath.Error
			if !errors.As(err, &pe) || pe.Col < 1 || pe.Col > len([]rune(path))+1 {
				t.Fatalf("error %v outside %q", err, path)
			}
			return
		}
		if p.String() != path {
			t.Fatalf("parsed %q as %+v", path, p)
		}
		var root any
		if json.Unmarshal([]byte(doc), &root) != nil {
			return
		}
		vals, paths, miss := p.lookup(root)
		if len(vals) != len(paths) || (len(vals) == 0 && miss == "") {
			t.Fatalf("lookup(%q) = %v, %v, %q", path, vals, paths, miss)
		}
		c := &fieldCheck{path: p, exists: new(bool)}
		c.check(&Observation{Raw: json.RawMessage(doc)})
	})
}

// FuzzParseDefaults checks that evalrun.yaml's defaults node never makes
// ParseDefaults panic and that errors name the file.
func FuzzParseDefaults(f *testing.F) {
	for _, s := range []string{"defaults: {tags: [a], vars: {x: y}, expect: [{max_latency: 5s}], on_fail: continue, think: 1s}", "defaults: 3", "defaults: {expect: [{any: [{not: {contains: x}}]}]}", "defaults: {vars: [a]}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var doc yaml.Node
		if decodeDoc(yaml.NewDecoder(strings.NewReader(src)), &doc) != nil || len(doc.Content) == 0 {
			return
		}
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode || len(root.Content) < 2 {
			return
		}
		_, err := ParseDefaults("c.yaml", root.Content[1])
		var list ErrorList
		if err != nil && (!errors.As(err, &list) || list[0].Pos.File != "c.yaml") {
			t.Fatalf("error %v", err)
		}
	})
}

// FuzzRegexExpect checks the regex and not_regex expectations end to end:
// a pattern loads exactly when it is a non-blank RE2 expression, never
// panics on any reply, passes exactly when Go's regexp says it matches
// (inverted for not_regex), and fails with a one-line reason of bounded
// length that names the kind and the pattern.
func FuzzRegexExpect(f *testing.F) {
	for _, s := range [][2]string{
		{`\$\s?\d+`, "The Growth plan is $49 a month."},
		{`\$\s?\d+`, "We have three plans."},
		{`(?i)^hello`, "HELLO there"},
		{`[`, "x"},
		{`a{1001}`, "aaa"},
		{`(?P<n>\d+)`, "no digits"},
		{"\\p{Greek}+", "αβγ and abc"},
		{"line\nbreak", "line\nbreak"},
		{"x", "\xff\xfe invalid utf-8 x"},
		{" ", "spaces"},
		{`\bplan\b`, strings.Repeat("long reply without it ", 20) + "plan"},
		{"^$", ""},
		{".*", strings.Repeat("a long reply that the regex matches whole ", 100)},
	} {
		f.Add(s[0], s[1], false)
		f.Add(s[0], s[1], true)
	}
	f.Fuzz(func(t *testing.T, pattern, reply string, negate bool) {
		kind := "regex"
		if negate {
			kind = "not_regex"
		}
		if !utf8.ValidString(pattern) {
			return // YAML files are UTF-8; the reply need not be
		}
		// yaml.Marshal does not round-trip every string (e.g. "\n0").
		doc := "turns: [{user: hi, expect: [{" + kind + ": " + yamlQuote(pattern) + "}]}]\n"
		scs, err := Parse("r.yaml", []byte(doc))
		re, cerr := regexp.Compile(pattern)
		wantLoad := cerr == nil && strings.TrimSpace(pattern) != ""
		if (err == nil) != wantLoad {
			t.Fatalf("%s %q: Parse error %v, regexp.Compile error %v", kind, pattern, err, cerr)
		}
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 || list[0].Pos.Line < 1 {
				t.Fatalf("%s %q: error %v", kind, pattern, err)
			}
			return
		}
		vs := scs[0].Turns[0].Evaluate(&Observation{Text: reply}, nil)
		if len(vs) != 1 {
			t.Fatalf("%d verdicts", len(vs))
		}
		v := vs[0]
		if want := re.MatchString(reply) != negate; v.Passed != want {
			t.Fatalf("%s %q on %q: passed %v, want %v", kind, pattern, reply, v.Passed, want)
		}
		if v.Passed {
			if v.Reason != "" {
				t.Fatalf("passed with reason %q", v.Reason)
			}
			return
		}
		// (not_regex explains itself as "regex '…' matched …")
		if !strings.HasPrefix(v.Reason, "regex '") || strings.ContainsAny(v.Reason, "\n\r") {
			t.Fatalf("reason %q: not one line naming the regex", v.Reason)
		}
		if shown := strings.TrimPrefix(v.Expectation, "not_"); shown[len("regex '"):len(shown)-1] != patternText(re) {
			t.Fatalf("expectation %q does not show the pattern", v.Expectation)
		}
		if again, err := regexp.Compile(patternText(re)); err != nil || again.MatchString(reply) != re.MatchString(reply) {
			t.Fatalf("the pattern as shown, %q, is not the same expression: %v", patternText(re), err)
		}
		// Bounded whatever the reply: the pattern, and excerpts of at most
		// 80 runes of the reply (each rune at most 10 characters quoted).
		if n, limit := utf8.RuneCountInString(v.Reason), utf8.RuneCountInString(patternText(re))+2*(80*10+2)+40; n > limit {
			t.Fatalf("reason of %d runes (limit %d): %q", n, limit, v.Reason)
		}
	})
}

// yamlQuote writes s as a YAML double-quoted scalar, escaping what YAML
// does not allow raw in a file (control characters, DEL, C1 controls,
// surrogates, U+FFFE/U+FFFF) or reads as a line break (NEL, U+2028/9).
func yamlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == 0x2028 || r == 0x2029: // line breaks to yaml.v3
			fmt.Fprintf(&b, `\u%04X`, r)
		case r >= 0x20 && r <= 0x7e, r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000:
			b.WriteRune(r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			fmt.Fprintf(&b, `\U%08X`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TestPatternText checks that a pattern with control characters shows on
// one line as an expression matching the same text.
func TestPatternText(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`\$\s?\d+`, `\$\s?\d+`},
		{"line\nbreak", `line\nbreak`},
		{"a\tb\r", `a\tb\r`},
		{"\\\x03", `\x{3}`},     // an escaped control character
		{"\\\\\x03", `\\\x{3}`}, // a literal backslash, then the character
		{"[\x01-\x1f]", `[\x{1}-\x{1F}]`},
	} {
		re := regexp.MustCompile(tc.src)
		got := patternText(re)
		if got != tc.want {
			t.Errorf("%q shown as %q, want %q", tc.src, got, tc.want)
		}
		again := regexp.MustCompile(got)
		for _, s := range []string{"line\nbreak", "a\tb\r", "\x03", "\\\x03", "\x1f", "$ 4"} {
			if again.MatchString(s) != re.MatchString(s) {
				t.Errorf("%q and %q differ on %q", tc.src, got, s)
			}
		}
	}
}

// FuzzSplitLines checks splitLines against a plain rune-by-rune reference:
// lines end at LF, CR, CRLF, NEL, LINE and PARAGRAPH SEPARATOR.
func FuzzSplitLines(f *testing.F) {
	for _, s := range []string{"", "a", "a\nb", "a\r\nb\rc\n", "x\u0085y\u2028z\u2029", "\xff\r\xc2", "é\n\n", "\r\r\n\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want []string
		start := 0
		for i := 0; i < len(s); {
			r, w := utf8.DecodeRuneInString(s[i:])
			switch r {
			case '\r':
				want = append(want, s[start:i])
				if i+1 < len(s) && s[i+1] == '\n' {
					w = 2
				}
				start = i + w
			case '\n', '\u0085', '\u2028', '\u2029':
				want = append(want, s[start:i])
				start = i + w
			}
			i += w
		}
		want = append(want, s[start:])
		if got := splitLines(s); !slices.Equal(got, want) {
			t.Fatalf("splitLines(%q) = %q, want %q", s, got, want)
		}
	})
}
