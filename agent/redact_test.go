package agent

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		s       string
		secrets []string
		want    string
	}{
		{"no secrets", nil, "no secrets"},
		{"key abc in abc", []string{"abc"}, "key [REDACTED] in [REDACTED]"},
		{"empty secret ignored", []string{""}, "empty secret ignored"},
		{"a=sk-1 b=sk-12", []string{"sk-1", "sk-12", ""}, "a=[REDACTED] b=[REDACTED]"},
		{"a=sk-1 b=sk-12", []string{"sk-12", "sk-1"}, "a=[REDACTED] b=[REDACTED]"},
		{"nothing here", []string{"zzz"}, "nothing here"},
	}
	for _, tt := range tests {
		if got := Redact(tt.s, tt.secrets...); got != tt.want {
			t.Errorf("Redact(%q, %q) = %q, want %q", tt.s, tt.secrets, got, tt.want)
		}
	}
}

// TestRedactorFragments: a key cut short, missing its last characters, or
// with a prefix of MinFragment bytes or more is hidden; shorter parts and
// unrelated text are left alone; overlapping occurrences are one mark.
func TestRedactorFragments(t *testing.T) {
	const key = "sk-live-7f3a9c1e5b2d4e6f0a1b"
	r := NewRedactor(key, "", "pw+/x")
	tests := []struct{ in, want string }{
		{"Bearer " + key, "Bearer [REDACTED]"},
		{"you sent " + key[:len(key)-3] + "...", "you sent [REDACTED]..."},
		{"prefix " + key[:12] + " only", "prefix [REDACTED] only"},
		{"middle " + key[9:20] + ".", "middle [REDACTED]."},
		{"seven " + key[10:17] + " chars", "seven " + key[10:17] + " chars"},
		{key + key, "[REDACTED]"},
		{"short secret pw+/x and escaped pw%2B%2Fx", "short secret [REDACTED] and escaped [REDACTED]"},
		{"nothing to hide", "nothing to hide"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := r.String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	var nilR *Redactor
	if nilR.String("x "+key) != "x "+key || !nilR.Empty() {
		t.Errorf("a nil Redactor changed text")
	}
	var buf strings.Builder
	w := r.Writer(&buf)
	if n, err := w.Write([]byte("echo: " + key + "\n")); err != nil || n != len("echo: "+key+"\n") {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if buf.String() != "echo: [REDACTED]\n" {
		t.Errorf("Writer wrote %q", buf.String())
	}
}

func BenchmarkRedactor4MB(b *testing.B) {
	r := NewRedactor("sk-live-7f3a9c1e5b2d4e6f0a1b", "jk-judge-9e8d7c6b5a")
	text := strings.Repeat("The plans are starter, growth and scale; see https://example.com/pricing for details. ", 4<<20/88)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		r.String(text)
	}
}
