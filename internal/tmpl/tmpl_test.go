package tmpl

import (
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		src  string
		want string // the parts, placeholders as <name|args@off>
		err  string // "off: msg"
	}{
		{"plain }} text", "[plain }} text]", ""},
		{"", "", ""},
		{"hi {{ name }}!", "[hi ]<name|@3>[!]", ""},
		{"{{name}}{{ fake.email }}", "<name|@0><fake.email|@8>", ""},
		{`{{ date +2d "Monday" }}`, `<date|+2d "Monday"@0>`, ""},
		{"{{ env QA }}", "<env|QA@0>", ""},
		{"{{ env.QA }}", "<env|QA@0>", ""}, // the HTTP target's spelling
		{"x {{ env.A-B }}", "", `2: {{ env.A-B }}: invalid variable name "A-B": use letters, digits and '_' (e.g. {{ env.QA_REGION }})`},
		{"a {{ b", "", `2: "{{" is not closed by "}}"`},
		{"a {{  }}", "", `2: empty placeholder "{{}}": put a name inside, e.g. {{ uuid }}`},
		{"{{ 1x }}", "", `0: invalid name "1x" in placeholder: use letters, digits, '_' and '.' (e.g. {{ fake.email }})`},
		{"{{ a..b }}", "", `0: invalid name "a..b" in placeholder: use letters, digits, '_' and '.' (e.g. {{ fake.email }})`},
		{"é {{ a. }}", "", `3: invalid name "a." in placeholder: use letters, digits, '_' and '.' (e.g. {{ fake.email }})`},
	}
	for _, tt := range tests {
		parts, err := Parse(tt.src)
		if tt.err != "" {
			if err == nil {
				t.Errorf("Parse(%q) = %v, want error %s", tt.src, parts, tt.err)
			} else if got := strings.Join([]string{strconv.Itoa(err.Off), err.Msg}, ": "); got != tt.err {
				t.Errorf("Parse(%q) error %s, want %s", tt.src, got, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.src, err)
			continue
		}
		if got := show(parts); got != tt.want {
			t.Errorf("Parse(%q) = %s, want %s", tt.src, got, tt.want)
		}
	}
}

func TestMessages(t *testing.T) {
	if got, want := Undefined("contnet", []string{"session", "content"}), "undefined name {{ contnet }} (did you mean content?)"; got != want {
		t.Errorf("Undefined = %q, want %q", got, want)
	}
	if got, want := Undefined("zzz", []string{"session"}), "undefined name {{ zzz }}"; got != want {
		t.Errorf("Undefined = %q, want %q", got, want)
	}
	if got, want := NoArgs("uuid", "x"), `{{ uuid }} takes no arguments, got "x"`; got != want {
		t.Errorf("NoArgs = %q, want %q", got, want)
	}
}

func show(parts []Part) string {
	var b strings.Builder
	for _, p := range parts {
		if p.Ph == nil {
			b.WriteString("[" + p.Lit + "]")
			continue
		}
		b.WriteString("<" + p.Ph.Name + "|" + p.Ph.Args + "@" + strconv.Itoa(p.Ph.Off) + ">")
	}
	return b.String()
}

// FuzzParse checks that Parse never panics, that an error points inside
// the source, and that the literal parts and placeholders give back the
// source's text in order.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"hi {{ name }}!", "{{", "}}", "{{ env.X }}", "{{ date +2d \"Mon\" }}", "{{}}", "a{{b}}c{{ d.e f }}", "{{ {{ x }} }}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		parts, err := Parse(src)
		if err != nil {
			if err.Off < 0 || err.Off >= len(src) || !strings.HasPrefix(src[err.Off:], "{{") || err.Msg == "" {
				t.Fatalf("error %+v outside %q", err, src)
			}
			return
		}
		at := 0
		for _, p := range parts {
			if p.Ph == nil {
				if !strings.HasPrefix(src[at:], p.Lit) || p.Lit == "" {
					t.Fatalf("literal %q not at %d of %q", p.Lit, at, src)
				}
				at += len(p.Lit)
				continue
			}
			if p.Ph.Off != at || !strings.HasPrefix(src[at:], "{{") {
				t.Fatalf("placeholder %+v not at %d of %q", p.Ph, at, src)
			}
			end := strings.Index(src[at+2:], "}}")
			if end < 0 || p.Ph.Name == "" {
				t.Fatalf("placeholder %+v in %q", p.Ph, src)
			}
			at += 2 + end + 2
		}
		if at != len(src) {
			t.Fatalf("parts cover %d of %d bytes of %q", at, len(src), src)
		}
	})
}
