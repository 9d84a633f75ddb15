package scenarios

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDateBuiltin(t *testing.T) {
	now := time.Date(2025, 3, 29, 22, 30, 5, 0, time.UTC) // a Saturday
	tests := []struct{ src, want string }{
		{"{{ date }}", "2025-03-29"},
		{"{{date}}", "2025-03-29"},
		{"{{ date +2d }}", "2025-03-31"},
		{"{{ date -1w }}", "2025-03-22"},
		{"{{ date +3h \"2006-01-02 15:04\" }}", "2025-03-30 01:30"},
		{"{{ date +30m time }}", "23:00"},
		{"{{ date -90s '15:04:05' }}", "22:28:35"},
		{"{{ date +1d weekday }}", "Sunday"},
		{"{{ date +1mo }}", "2025-04-29"},
		{"{{ date -1y datetime }}", "2024-03-29 22:30"},
		{"{{ date rfc3339 }}", "2025-03-29T22:30:05Z"},
		{"Book {{ date +2d weekday }} at {{ date +2d time }}", "Book Monday at 22:30"},
	}
	for _, tt := range tests {
		tm, err := ParseTemplate(tt.src)
		if err != nil {
			t.Errorf("ParseTemplate(%q): %v", tt.src, err)
			continue
		}
		got, err := tm.Render(&Env{Now: now})
		if err != nil || got != tt.want {
			t.Errorf("Render(%q) = %q, %v; want %q", tt.src, got, err, tt.want)
		}
	}
	// A zero Now means the time of rendering.
	tm, _ := ParseTemplate("{{ date }}")
	if got, _ := tm.Render(&Env{}); got != time.Now().Format("2006-01-02") && got != time.Now().Add(-time.Minute).Format("2006-01-02") {
		t.Errorf("zero Now: %q", got)
	}
}

func TestDateBuiltinErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"{{ date 2d }}", `template "{{ date 2d }}" at byte 0: {{ date 2d }}: unknown layout "2d": use a quoted Go layout such as "2006-01-02 15:04" or one of date, datetime, rfc3339, time, weekday; an offset comes first, e.g. +2d`},
		{"{{ date +2x }}", `template "{{ date +2x }}" at byte 0: {{ date +2x }}: offset "+2x": want a sign, a number and a unit, e.g. +2d, -1w, +3h, +30m, +1mo (units: s, m = minutes, h, d, w, mo = months, y)`},
		{"{{ date +2d \"15:04 }}", `template "{{ date +2d \"15:04 }}" at byte 0: {{ date +2d "15:04 }}: layout "15:04: write one quoted Go layout after the offset, e.g. "2006-01-02 15:04"`},
		{"x {{ date +1d \"\" }}", `template "x {{ date +1d \"\" }}" at byte 2: {{ date +1d "" }}: empty layout`},
	}
	for _, tt := range tests {
		_, err := ParseTemplate(tt.src)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseTemplate(%q) = %v\nwant %s", tt.src, err, tt.want)
		}
	}
}

func TestEnvBuiltin(t *testing.T) {
	lookup := func(name string) (string, bool) {
		v, ok := map[string]string{"QA_REGION": "eu-west", "QA_EMPTY": ""}[name]
		return v, ok
	}
	opts := LoadOptions{EnvAllow: []string{"QA_REGION", "QA_EMPTY", "QA_UNSET", "OPENAI_API_KEY"}, LookupEnv: lookup}
	// {{ env.NAME }} (the spelling of the HTTP target's templates) is {{ env NAME }}.
	scs, err := ParseWith(opts, "e.yaml", []byte("turns:\n  - user: 'region {{ env QA_REGION }}{{ env.QA_EMPTY }}'\n"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := scs[0].Turns[0].User.Render(&Env{LookupEnv: lookup})
	if err != nil || got != "region eu-west" {
		t.Errorf("Render = %q, %v", got, err)
	}
	// Unset at render time: ErrNoValue.
	_, err = scs[0].Turns[0].User.Render(&Env{LookupEnv: func(string) (string, bool) { return "", false }})
	if !errors.Is(err, ErrNoValue) || !strings.Contains(err.Error(), "environment variable QA_REGION is not set") {
		t.Errorf("unset: %v", err)
	}
	tests := []struct {
		name string
		opts LoadOptions
		user string
		want string
	}{
		{"not allowed", opts, "{{ env HOME }}", "e.yaml:2:12: user: {{ env HOME }}: HOME is not in the allow-list; list it under env_allow in evalrun.yaml to read it"},
		{"Parse allows none", LoadOptions{}, "{{ env QA_REGION }}", "e.yaml:2:12: user: {{ env QA_REGION }}: QA_REGION is not in the allow-list; list it under env_allow in evalrun.yaml to read it"},
		{"unset", opts, "{{ env QA_UNSET }}", "e.yaml:2:12: user: {{ env QA_UNSET }}: environment variable QA_UNSET is not set"},
		{"key even if listed", opts, "{{ env OPENAI_API_KEY }}", "e.yaml:2:12: user: {{ env OPENAI_API_KEY }}: names like *KEY*, *TOKEN*, *SECRET*, *PASSWORD* are never readable from scenarios: the rendered text lands in transcripts and reports"},
		{"token", opts, "x {{ env gh_token }}", "e.yaml:2:14: user: {{ env gh_token }}: names like *KEY*, *TOKEN*, *SECRET*, *PASSWORD* are never readable from scenarios: the rendered text lands in transcripts and reports"},
		{"no name", opts, "{{ env }}", "e.yaml:2:12: user: {{ env }} needs a variable name, e.g. {{ env QA_REGION }}"},
		{"two names", opts, "{{ env A B }}", `e.yaml:2:12: user: {{ env A B }}: invalid variable name "A B": use letters, digits and '_'`},
		{"dotted, not allowed", opts, "{{ env.HOME }}", "e.yaml:2:12: user: {{ env HOME }}: HOME is not in the allow-list; list it under env_allow in evalrun.yaml to read it"},
		{"dotted, bad name", opts, "{{ env.A-B }}", `e.yaml:2:12: user: {{ env.A-B }}: invalid variable name "A-B": use letters, digits and '_' (e.g. {{ env.QA_REGION }})`},
		{"args on a var", opts, "{{ uuid x }}", `e.yaml:2:12: user: {{ uuid }} takes no arguments, got "x"`},
	}
	for _, tt := range tests {
		_, err := ParseWith(tt.opts, "e.yaml", []byte("turns:\n  - user: '"+tt.user+"'\n"))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: got %v\nwant %s", tt.name, err, tt.want)
		}
	}
}
